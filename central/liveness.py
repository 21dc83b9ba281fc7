"""Consumer group "liveness": gateway heartbeats to InfluxDB, and gateways that stop beating.

A gateway is offline once `missed_beats` times its heartbeat interval has passed without one;
the interval is learned from consecutive heartbeats (a configured default until then). The
alert (type gateway_offline, severity critical) clears with the next heartbeat. On assignment
the group re-reads the last `forget_after_s` of heartbeats to rebuild what it knows. Each
heartbeat is written to the InfluxDB measurement "gateway_status" with its numeric figures.
Silent sensors are the detect group's business (Detector.check_silence).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import structlog
from aiokafka import TopicPartition

from central.alert_sink import AlertSink
from central.config import Liveness
from central.consumer import Record, skip_record
from central.influx_writer import InfluxWriter, Wait
from central.line_protocol import escape_key, field_text, series_key
from central.metrics import CentralMetrics
from edge.messages import Alert, GatewayStatus

log = structlog.get_logger("central.liveness")

MEASUREMENT = "gateway_status"
ALERT_TYPE = "gateway_offline"


_decoder = msgspec.json.Decoder(GatewayStatus)


def flatten_figures(status: GatewayStatus) -> dict[str, float]:
    """Numeric figures as floats; a mapping of counts (journal_dropped by type) is summed."""
    out: dict[str, float] = {"uptime_s": float(status.uptime_s)}
    for name, value in status.figures.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[name] = float(value)
        elif isinstance(value, dict):
            numbers = [v for v in value.values() if isinstance(v, int | float)]
            out[name] = float(sum(numbers))
    return out


def status_line(status: GatewayStatus) -> str | None:
    fields = [
        f"{escape_key(k)}={text}"
        for k, v in flatten_figures(status).items()
        if (text := field_text(v)) is not None
    ]
    series = series_key(MEASUREMENT, (("gateway_id", status.gateway_id),))
    return f"{series} {','.join(fields)} {status.ts}" if fields else None


@dataclass
class _Gateway:
    last_ts: int
    interval_s: float
    learned: bool = False
    partition: TopicPartition | None = None
    offline: Alert | None = None


class LivenessWatch:
    """Pure state: heartbeats in, offline/online transitions out (the clock is passed in)."""

    def __init__(self, cfg: Liveness) -> None:
        self.cfg = cfg
        self.gateways: dict[str, _Gateway] = {}

    def beat(self, status: GatewayStatus, partition: TopicPartition | None = None) -> list[Alert]:
        gw = self.gateways.get(status.gateway_id)
        if gw is None:
            self.gateways[status.gateway_id] = _Gateway(
                status.ts, self.cfg.default_interval_s, partition=partition
            )
            return []
        if status.ts <= gw.last_ts:
            return []  # a replayed or reordered heartbeat says nothing new
        gap_s = (status.ts - gw.last_ts) / 1e9
        if gw.offline is None and gap_s <= self.cfg.missed_beats * gw.interval_s:
            gw.interval_s = gap_s if not gw.learned else 0.7 * gw.interval_s + 0.3 * gap_s
            gw.learned = True
        gw.last_ts = status.ts
        gw.partition = partition or gw.partition
        if gw.offline is None:
            return []
        cleared = msgspec.structs.replace(
            gw.offline,
            state="cleared",
            end=status.ts,
            explanation=f"cleared: gateway {status.gateway_id} is sending heartbeats again",
        )
        gw.offline = None
        return [cleared]

    def check(self, now_ns: int) -> list[Alert]:
        out = []
        for gateway_id, gw in self.gateways.items():
            quiet_s = (now_ns - gw.last_ts) / 1e9
            limit = self.cfg.missed_beats * gw.interval_s
            if gw.offline is not None or quiet_s <= limit or quiet_s > self.cfg.forget_after_s:
                continue
            gw.offline = Alert(
                alert_id=f"{gateway_id}:{ALERT_TYPE}:{gw.last_ts}",
                sensor_id=gateway_id,
                sensor_type="gateway",
                district="",
                type=ALERT_TYPE,
                severity="critical",
                state="raised",
                start=now_ns,
                end=None,
                value=round(quiet_s, 3),
                explanation=(
                    f"no heartbeat from gateway {gateway_id} for {quiet_s:.0f}s "
                    f"(expected every {gw.interval_s:.1f}s)"
                ),
                seq=None,  # not caused by a reading
            )
            out.append(gw.offline)
        return out

    def forget(self, partitions: set[TopicPartition]) -> None:
        for gateway_id in [g for g, s in self.gateways.items() if s.partition in partitions]:
            del self.gateways[gateway_id]

    @property
    def offline(self) -> int:
        return sum(1 for g in self.gateways.values() if g.offline is not None)


class LivenessHandler:
    name = "liveness"

    def __init__(
        self, cfg: Liveness, writer: InfluxWriter, sink: AlertSink, metrics: CentralMetrics
    ) -> None:
        self.cfg = cfg
        self.writer = writer
        self.sink = sink
        self.metrics = metrics
        self.watch = LivenessWatch(cfg)
        self._next_check = 0.0

    async def handle(self, records: Sequence[Record], wait: Wait) -> None:
        lines: list[str] = []
        transitions: list[Alert] = []
        for rec in records:
            try:
                status = _decoder.decode(rec.value or b"")
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                skip_record(self.metrics, self.name, rec, exc)
                continue
            transitions += self.watch.beat(status, TopicPartition(rec.topic, rec.partition))
            line = status_line(status)
            if line is not None:
                lines.append(line)
        await self.writer.write(lines, MEASUREMENT, wait)
        await self.sink.publish(transitions, wait)
        self.metrics.gateways_offline.set(self.watch.offline)

    async def tick(self, wait: Wait, caught_up: bool) -> None:
        now = time.monotonic()
        if now < self._next_check or not caught_up:
            return
        self._next_check = now + self.cfg.check_s
        await self.sink.publish(self.watch.check(time.time_ns()), wait)
        self.metrics.gateways_offline.set(self.watch.offline)

    def assigned(self, partitions: set[TopicPartition]) -> None:
        return None

    def revoked(self, partitions: set[TopicPartition]) -> None:
        self.watch.forget(partitions)

    def rewind_s(self) -> float:
        return self.cfg.forget_after_s
