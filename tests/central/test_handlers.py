"""The consumer groups' handlers with fakes for their outputs (no Kafka, no InfluxDB): what each
does with a batch of records, a record it cannot read, and a partition taken away."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from central.config import parse
from central.detect import Detector
from central.detect_service import DetectHandler
from central.liveness import LivenessHandler
from central.metrics import CentralMetrics
from edge.messages import Alert, GatewayStatus
from edge.reading import Location, Reading, encode

T0 = 1_717_000_000_000_000_000


class FakeSink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def publish(self, alerts: Sequence[Alert], wait: Any) -> None:
        self.alerts += alerts


class FakeWriter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    async def write(self, lines: Sequence[str], measurement: Any, wait: Any) -> None:
        self.lines += lines


async def _no_wait(_s: float) -> None:
    return None


def record(
    value: bytes, topic: str = "city.air_quality.v1", partition: int = 0, offset: int = 0
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, partition, offset, 0, 0, b"k", value, None, 1, len(value), [])


def reading(sensor: str, i: int, pm25: float) -> bytes:
    return encode(
        Reading(
            sensor_id=sensor,
            sensor_type="air_quality",
            seq=i,
            ts=T0 + i * 60_000_000_000,
            fields={"pm25": pm25, "pm10": pm25 * 1.5},
            location=Location("centro"),
            received_ts=T0 + i * 60_000_000_000,
        )
    )


def skipped(metrics: CentralMetrics, group: str) -> float:
    return sum(
        s.value
        for m in metrics.registry.collect()
        for s in m.samples
        if m.name.endswith("records_skipped")
        and s.labels.get("group") == group
        and s.name.endswith("_total")
    )


def test_detect_raises_alerts_for_its_readings_and_skips_what_is_not_one() -> None:
    sink, metrics = FakeSink(), CentralMetrics()
    handler = DetectHandler(Detector(), sink, metrics)  # type: ignore[arg-type]
    records = [record(reading("aq-1", i, 12.0), offset=i) for i in range(5)]
    records.append(record(reading("aq-1", 5, 99_999.0), offset=5))  # beyond the catalog's range
    records.append(record(b"not a reading", offset=6))
    asyncio.run(handler.handle(records, _no_wait))
    raised = [a for a in sink.alerts if a.state == "raised"]
    assert {a.sensor_id for a in raised} == {"aq-1"}
    assert any(a.type.startswith("out_of_range") for a in raised), [a.type for a in raised]
    assert skipped(metrics, "detect") == 1


def test_detect_forgets_the_sensors_of_a_revoked_partition() -> None:
    detector = Detector()
    handler = DetectHandler(detector, FakeSink(), CentralMetrics())  # type: ignore[arg-type]
    batch = [record(reading("aq-1", 0, 10.0)), record(reading("aq-2", 0, 10.0), partition=1)]
    asyncio.run(handler.handle(batch, _no_wait))
    assert detector.sensors == 2
    handler.revoked({TopicPartition("city.air_quality.v1", 1)})
    assert detector.sensors == 1


def test_liveness_stores_each_heartbeat_and_skips_garbage() -> None:
    cfg = parse({})
    writer, sink, metrics = FakeWriter(), FakeSink(), CentralMetrics()
    handler = LivenessHandler(cfg.liveness, writer, sink, metrics)  # type: ignore[arg-type]
    beat = msgspec.json.encode(
        GatewayStatus("gw-1", T0, 12.5, {"messages_in": 40, "journal_dropped": {"air_quality": 2}})
    )
    topic = "city.gateway-status.v1"
    asyncio.run(handler.handle([record(beat, topic), record(b"{", topic, offset=1)], _no_wait))
    assert len(writer.lines) == 1 and "gw-1" in writer.lines[0]
    assert "messages_in=40" in writer.lines[0] and "journal_dropped=2" in writer.lines[0]
    assert skipped(metrics, "liveness") == 1
    assert sink.alerts == []  # a gateway that beats is not offline
