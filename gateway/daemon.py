"""The gateway daemon: sources -> route -> journal (fsync) -> ack; journal -> Kafka -> release.

SIGTERM stops the sources, lets the sink drain for a while, and closes the journal: what Kafka
has not acknowledged stays in the journal (and what was not acknowledged to the broker stays in
the broker's session) for the next start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import structlog

from deploy.health import HealthServer, make_app
from deploy.supervise import Supervisor, cancel, run_until_signalled
from edge.codec import ClockWindow
from edge.messages import GatewayStatus
from edge.topics import GATEWAY_STATUS
from gateway.config import GatewayConfig
from gateway.errors import GatewayFailed, GatewayStateError
from gateway.health import degraded_reasons
from gateway.journal import Journal
from gateway.kafka_sink import KafkaSink
from gateway.metrics import GatewayMetrics
from gateway.mqtt_source import MQTTSourceRunner
from gateway.routing import Router
from gateway.serial_source import SerialSourceRunner
from gateway.sinks import drain
from gateway.sources import Inbound, Source
from gateway.state import GatewayState, SerialSeqs

log = structlog.get_logger("gateway")


class Gateway:
    def __init__(self, cfg: GatewayConfig) -> None:
        self.cfg = cfg
        self.metrics = GatewayMetrics()
        self.state = GatewayState.load(cfg.journal.path)
        self.serial_seqs = SerialSeqs(self.state)
        mqtt = cfg.mqtt
        clock = (
            ClockWindow(mqtt.max_clock_ahead_s, mqtt.max_clock_behind_s)
            if mqtt is not None
            else None
        )
        self.router = Router(cfg.gateway_id, self.metrics, cfg.serial, self.serial_seqs, clock)
        self.started = time.time()
        self.journal: Journal | None = None
        self.sink: KafkaSink | None = None
        self.sources: list[Source] = []

    def deliver(self, batch: Sequence[Inbound]) -> Awaitable[int]:
        assert self.journal is not None
        return self.journal.append(self.router.route(batch))

    def figures(self) -> dict[str, Any]:
        j = self.journal
        oldest = j.oldest_unsent_ts if j else None
        totals = self.metrics.totals()
        return {
            "messages_in": totals.get("citygate_gateway_messages_in", 0),
            "messages_journaled": totals.get("citygate_gateway_messages_journaled", 0),
            "records_out": totals.get("citygate_gateway_records_out", 0),
            "deadletters": totals.get("citygate_gateway_deadletters", 0),
            "decode_errors": totals.get("citygate_gateway_decode_errors", 0),
            "kafka_errors": totals.get("citygate_gateway_kafka_errors", 0),
            "mqtt_redelivered": totals.get("citygate_gateway_mqtt_redelivered", 0),
            "journal_depth_records": j.depth_records if j else 0,
            "journal_depth_bytes": j.depth_bytes if j else 0,
            "journal_oldest_unsent_age_s": (time.time_ns() - oldest) / 1e9 if oldest else 0.0,
            "journal_dropped": dict(j.dropped_by_type) if j else {},
            "journal_torn_records": j.recovered_torn_records if j else 0,
            "journal_corrupt_records": j.corrupt_records if j else 0,
            "journal_corrupt_bytes": j.corrupt_bytes if j else 0,
        }

    def status(self) -> dict[str, Any]:
        mqtt = [s for s in self.sources if isinstance(s, MQTTSourceRunner)]
        mqtt_ok = all(s.connected.is_set() for s in mqtt)
        subscribed = all(s.subscribed.is_set() for s in mqtt)  # a refused filter takes no data
        sink = self.sink
        kafka_ok = sink is not None and sink.connected
        figures = self.figures()
        reasons = degraded_reasons(
            journal_open=self.journal is not None,
            mqtt_connected=mqtt_ok,
            mqtt_subscribed=subscribed,
            kafka_connected=kafka_ok,
            oldest_unsent_age_s=figures["journal_oldest_unsent_age_s"],
            max_unsent_age_s=self.cfg.kafka.max_unsent_age_s,
        )
        last_ok = sink.last_ok if sink else None
        return {
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "gateway_id": self.cfg.gateway_id,
            "mqtt_connected": mqtt_ok,
            "mqtt_subscribed": subscribed,
            "mqtt_subscription_problems": {t: why for s in mqtt for t, why in s.problems.items()},
            "kafka_connected": kafka_ok,  # the last request to Kafka succeeded
            "kafka_last_ok_age_s": time.monotonic() - last_ok if last_ok else None,
            "journal_full": bool(self.journal and self.journal.full),
            **figures,
        }

    def _refresh_gauges(self) -> None:
        j = self.journal
        if j is None:
            return
        m = self.metrics
        m.journal_depth_records.set(j.depth_records)
        m.journal_depth_bytes.set(j.depth_bytes)
        oldest = j.oldest_unsent_ts
        m.journal_oldest_age.set((time.time_ns() - oldest) / 1e9 if oldest else 0.0)
        for sensor_type, n in j.dropped_by_type.items():
            m.journal_dropped.labels(sensor_type).set(n)
        m.journal_torn.set(j.recovered_torn_records)
        m.journal_corrupt_records.set(j.corrupt_records)
        m.journal_corrupt_bytes.set(j.corrupt_bytes)
        m.journal_full.set(1 if j.full else 0)

    async def _housekeeping(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Gauges twice a second, a status heartbeat every heartbeat_s (clock and sleep are
        seams for unit tests)."""
        next_beat = 0.0
        beats: set[asyncio.Task[None]] = set()
        while True:
            self._refresh_gauges()
            now = clock()
            if self.sink is not None and now >= next_beat:
                next_beat = now + self.cfg.heartbeat_s
                beat = GatewayStatus(
                    self.cfg.gateway_id,
                    time.time_ns(),
                    round(time.time() - self.started, 3),
                    self.figures(),
                )
                beat_task = asyncio.create_task(
                    self.sink.send_status(
                        GATEWAY_STATUS, self.cfg.gateway_id.encode(), msgspec.json.encode(beat)
                    )
                )
                beats.add(beat_task)
                beat_task.add_done_callback(beats.discard)
            await sleep(0.5)

    async def run(self, stop: asyncio.Event, drain_timeout_s: float = 10.0) -> None:
        jcfg = self.cfg.journal
        self.journal = await Journal.open(
            jcfg.path,
            max_bytes=jcfg.max_bytes,
            policy=jcfg.policy,
            drop_sensor_type=jcfg.drop_sensor_type,
            commit_interval_ms=jcfg.commit_interval_ms,
            commit_records=jcfg.commit_records,
            memory_bytes=jcfg.memory_bytes,
            segment_bytes=jcfg.segment_bytes,
        )
        log.info(
            "gateway_starting",
            gateway_id=self.cfg.gateway_id,
            journal=str(jcfg.path),
            backlog=self.journal.depth_records,
            torn_records=self.journal.recovered_torn_records,
            corrupt_records=self.journal.corrupt_records,
        )
        self.sink = KafkaSink(self.cfg.kafka, self.metrics)
        if self.cfg.mqtt is not None:
            self.sources.append(MQTTSourceRunner(self.cfg.mqtt, self.metrics, self.state))
        self.sources += [SerialSourceRunner(p, self.metrics) for p in self.cfg.serial]
        http = HealthServer(
            make_app(self.metrics.registry, self.status), self.cfg.http.host, self.cfg.http.port
        )
        http.start()
        async with Supervisor("gateway") as tasks:
            kafka = self.cfg.kafka
            sink_task = tasks.start(
                "kafka-sink",
                drain(
                    self.journal,
                    self.sink,
                    max_records=kafka.max_inflight_records,
                    max_bytes=kafka.max_inflight_bytes,
                ),
            )
            source_tasks = [tasks.start(s.name, s.run(self.deliver)) for s in self.sources]
            house = tasks.start("housekeeping", self._housekeeping())
            await tasks.wait(stop)
            log.info("gateway_stopping", backlog=self.journal.depth_records)
            for source in self.sources:
                await source.close()
            await cancel(*source_tasks)
            try:
                self.serial_seqs.close()
            except GatewayStateError as exc:  # the reservations stand: the next start skips ahead
                log.error("gateway_state_write_failed", error=str(exc))
            deadline = time.monotonic() + drain_timeout_s
            while (
                self.journal.depth_records and time.monotonic() < deadline and not sink_task.done()
            ):
                await asyncio.sleep(0.05)
            await cancel(sink_task, house)
        await self.sink.close()
        self._refresh_gauges()
        await self.journal.close()
        http.stop()
        log.info("gateway_stopped", unsent=self.journal.depth_records)
        # Exit non-zero so the service manager restarts us; the journal kept everything.
        tasks.raise_if_failed(GatewayFailed)


def run_forever(cfg: GatewayConfig) -> None:
    run_until_signalled(Gateway(cfg).run)
