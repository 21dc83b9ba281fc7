"""Live updates: a Kafka consumer of city.alerts.v1 and city.gateway-status.v1 whose records fan
out to every browser connected by server-sent events.

The consumer has no group (each dashboard sees everything and commits nothing) and starts a
little in the past, so a fresh dashboard already knows the last hour's alerts and the gateways'
last heartbeats before InfluxDB has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from edge.messages import Alert, GatewayStatus
from edge.topics import ALERTS as ALERTS_TOPIC
from edge.topics import GATEWAY_STATUS as STATUS_TOPIC
from edge.topics import PARTITIONS

_KEEP_ALERTS: Final = 5000
_alert = msgspec.json.Decoder(Alert)
_status = msgspec.json.Decoder(GatewayStatus)
_QUEUE: Final = 1000

log = structlog.get_logger("citygate.dashboard.live")


@dataclass
class Hub:
    """What the live feed knows, and the queues of the connected browsers."""

    alerts: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    gateways: dict[str, dict[str, Any]] = field(default_factory=dict)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    connected: bool = False
    _clients: set[asyncio.Queue[str]] = field(default_factory=set)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        message = f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        for queue in list(self._clients):
            if queue.full():  # a browser that stopped reading loses its oldest updates
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    def add_alert(self, alert: dict[str, Any], *, push: bool = True) -> None:
        row = alert_row(alert)
        key = row["alert_id"]
        self.alerts.pop(key, None)
        self.alerts[key] = row
        while len(self.alerts) > _KEEP_ALERTS:
            self.alerts.popitem(last=False)
        if push:
            self.publish("alert", row)

    def add_heartbeat(self, beat: dict[str, Any], *, push: bool = True) -> None:
        gid = str(beat.get("gateway_id") or "")
        if not gid:
            return
        figures = dict(beat.get("figures") or {})
        dropped = figures.get("journal_dropped")
        if isinstance(dropped, dict):  # per sensor type on the wire, one number on the dashboard
            figures["journal_dropped"] = sum(dropped.values())
        seen = float(beat.get("ts") or time.time_ns()) / 1e9
        previous = self.gateways.get(gid)
        rates: dict[str, float] = {}
        if previous is not None and seen > previous["last_seen"]:
            dt = seen - previous["last_seen"]
            for name in ("messages_in", "records_out"):
                now_v, then_v = figures.get(name), previous["figures"].get(name)
                if isinstance(now_v, int | float) and isinstance(then_v, int | float):
                    rates[name] = max(0.0, (now_v - then_v) / dt)
        row = {
            "gateway_id": gid,
            "last_seen": seen,
            "uptime_s": beat.get("uptime_s"),
            "figures": figures,
            "rates": rates or (previous or {}).get("rates", {}),
        }
        self.gateways[gid] = row
        if push:
            self.publish("gateway", row)

    def add_ack(self, alert_id: str, ack: dict[str, Any]) -> None:
        self.acks[alert_id] = ack
        self.publish("ack", {"alert_id": alert_id, **ack})

    async def subscribe(self) -> AsyncGenerator[str, None]:
        """Server-sent events for one browser, with a comment line every 15 s to keep it open."""
        queue: asyncio.Queue[str] = asyncio.Queue(_QUEUE)
        self._clients.add(queue)
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            self._clients.discard(queue)

    @property
    def clients(self) -> int:
        return len(self._clients)


def alert_row(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert record (edge/schemas/alert.v1.json) as the feed shows it."""
    end = alert.get("end")
    start = alert.get("start") or 0
    at = end if alert.get("state") == "cleared" and end else start
    return {
        "alert_id": str(alert.get("alert_id") or ""),
        "sensor_id": str(alert.get("sensor_id") or ""),
        "sensor_type": str(alert.get("sensor_type") or ""),
        "district": str(alert.get("district") or ""),
        "type": str(alert.get("type") or ""),
        "severity": str(alert.get("severity") or "info"),
        "state": str(alert.get("state") or "raised"),
        "value": alert.get("value"),
        "explanation": str(alert.get("explanation") or ""),
        "time": (at / 1e9) if at else time.time(),
    }


async def consume(
    hub: Hub, bootstrap: str, stop: asyncio.Event, *, alerts_back_s: float = 3600
) -> None:
    """Feed `hub` from Kafka until `stop` is set; reconnects while Kafka is away."""
    while not stop.is_set():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            client_id="citygate-dashboard",
        )
        try:
            await consumer.start()
            assigned, behind = await _assign_from(consumer, alerts_back_s)
            hub.connected = True
            log.info("live_connected", bootstrap=bootstrap, topics=sorted(assigned))
            recheck = time.monotonic() + 10
            while not stop.is_set():
                if len(assigned) < 2 and time.monotonic() > recheck:
                    recheck = time.monotonic() + 10
                    if len(await consumer.topics() & {ALERTS_TOPIC, STATUS_TOPIC}) > len(assigned):
                        break  # a topic appeared: assign again
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                for tp, records in batches.items():
                    # The past hour is read to know it, not pushed record by record: browsers
                    # asked for it when they loaded and are told to ask again once it is read.
                    end = behind.get(tp)
                    for rec in records:
                        _dispatch(hub, tp.topic, rec.value, push=end is None)
                    if end is not None and records[-1].offset + 1 >= end:
                        del behind[tp]
                        if not behind:
                            hub.publish("caught_up", {})
        except KafkaError as exc:
            log.warning("live_kafka_error", bootstrap=bootstrap, error=repr(exc))
        finally:
            hub.connected = False
            with contextlib.suppress(Exception):
                await consumer.stop()
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=3)


async def _assign_from(
    consumer: AIOKafkaConsumer, alerts_back_s: float
) -> tuple[set[str], dict[TopicPartition, int]]:
    """Assign every partition of both topics, positioned a little in the past; also the end
    offset of each partition that has records to catch up on."""
    partitions: list[TopicPartition] = []
    since: dict[TopicPartition, int] = {}
    now_ms = int(time.time() * 1000)
    existing = await consumer.topics()
    for topic, back_s in ((ALERTS_TOPIC, alerts_back_s), (STATUS_TOPIC, 60.0)):
        if topic not in existing:
            continue
        # The consumer knows partitions only of topics it subscribed; the project's counts are data.
        known = consumer.partitions_for_topic(topic) or set(range(PARTITIONS[topic]))
        for p in sorted(known):
            tp = TopicPartition(topic, p)
            partitions.append(tp)
            since[tp] = now_ms - int(back_s * 1000)
    if not partitions:
        raise _NoTopics(f"neither {ALERTS_TOPIC} nor {STATUS_TOPIC} exists yet")
    consumer.assign(partitions)
    offsets = await consumer.offsets_for_times(since)
    ends = await consumer.end_offsets(partitions)
    behind: dict[TopicPartition, int] = {}
    for tp in partitions:
        found_offset = offsets.get(tp)
        start = found_offset.offset if found_offset is not None else ends[tp]
        consumer.seek(tp, start)
        if start < ends[tp]:
            behind[tp] = ends[tp]
    return {tp.topic for tp in partitions}, behind


class _NoTopics(KafkaError):
    """The topics are not there yet; the loop waits and looks again."""


def _dispatch(hub: Hub, topic: str, value: bytes | None, *, push: bool = True) -> None:
    if not value:
        return
    try:
        if topic == ALERTS_TOPIC:
            hub.add_alert(msgspec.structs.asdict(_alert.decode(value)), push=push)
        else:
            hub.add_heartbeat(msgspec.structs.asdict(_status.decode(value)), push=push)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("live_undecodable", topic=topic, size=len(value), error=str(exc)[:200])
