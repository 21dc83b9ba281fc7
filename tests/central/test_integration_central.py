"""The central consumers against the real Kafka and InfluxDB of the local stack.

Each test has its own topics, consumer groups, sensor ids and district, so tests (and other
users of the shared stack) do not see each other's data. Readings come from the simulator's step
function and travel with the real Reading encoding.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from influxdb_client import InfluxDBClient

from central.config import CentralConfig, parse
from central.detect import Detector
from central.service import CentralService
from deploy.connections import Connections
from deploy.local import Stack
from edge import mqtt_json
from edge.codec import Rejected
from edge.reading import Reading, encode
from edge.topics import ALERTS
from firmware_sim.scenario import parse_scenario
from firmware_sim.simulator import Simulator
from tests.central.conftest import TEST_BUCKET

pytestmark = pytest.mark.integration

# Simulated devices follow the time of day, so the fleet always starts at the same instant and
# its readings are then moved, by whole hours, to end within the last hour: the same values on
# every run, and every detector's time-of-day bucket keeps its boundaries.
_SIM_START = datetime(2024, 5, 13, 4, 0, tzinfo=UTC)
_HOUR_NS = 3600 * 1_000_000_000


def _sim_readings(
    district: str, *, air: int, traffic: int, seconds: int, faults: list[Any]
) -> tuple[list[Reading], dict[str, int]]:
    """Readings of a small fleet over `seconds` (one per device per second, ending in the last
    hour), and when each fault started on the same clock."""
    end_ns = round((_SIM_START + timedelta(seconds=seconds)).timestamp() * 1e9)
    shift = (time.time_ns() - end_ns) // _HOUR_NS * _HOUR_NS
    scenario = parse_scenario(
        {
            "name": district,
            "seed": 3,
            "clock": {"start": _SIM_START.isoformat(), "tick_ms": 1000},
            "transport": {"kind": "mqtt", "qos": 1},
            "districts": [
                {
                    "name": district,
                    "latitude": 52.52,
                    "longitude": 13.40,
                    "devices": {
                        "air_quality": {"count": air, "interval_s": 1},
                        "traffic_signal": {"count": traffic, "interval_s": 1},
                    },
                }
            ],
            "faults": faults,
        }
    )
    sim = Simulator(scenario)
    readings: list[Reading] = []
    fault_start: dict[str, int] = {}
    for tick in range(seconds):
        batch = sim.step(tick)
        for w in batch.started:
            fault_start[w.sensor_id] = w.start_ns + shift
        for topic, payload, _ in batch.mqtt:
            r = mqtt_json.decode(topic, payload, batch.t_ns + shift)
            assert not isinstance(r, Rejected)
            readings.append(msgspec.structs.replace(r, ts=r.ts + shift, gateway_id="gw-test"))
    return readings, fault_start


class Topics:
    """Topics of one test, created with 3 partitions and deleted afterwards."""

    def __init__(self, conn: Connections, *names: str) -> None:
        self.conn = conn
        self.names = names

    async def create(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.conn.kafka.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(n, 3, 1) for n in self.names])
        finally:
            await admin.close()
        # Until the brokers' metadata knows them, producers fail with UnknownTopicOrPartition.
        consumer = AIOKafkaConsumer(bootstrap_servers=self.conn.kafka.bootstrap)
        await consumer.start()
        try:
            deadline = time.monotonic() + 20
            while not set(self.names) <= await consumer.topics():
                assert time.monotonic() < deadline, f"topics {self.names} did not appear"
                await asyncio.sleep(0.2)
        finally:
            await consumer.stop()

    async def delete(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.conn.kafka.bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(list(self.names))
        finally:
            await admin.close()


@pytest.fixture
def tag() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topics(connections: Connections, tag: str) -> Iterator[Topics]:
    t = Topics(connections, f"test.{tag}.readings", f"test.{tag}.status")
    asyncio.run(t.create())
    yield t
    asyncio.run(t.delete())


class Running:
    """A CentralService on its own event loop in a thread, as `citygate central run` runs it."""

    def __init__(self, cfg: CentralConfig) -> None:
        self.service = CentralService(cfg)
        self.loop = asyncio.new_event_loop()
        self.stop_event = asyncio.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.service.run(self.stop_event, http=False))
        except BaseException as exc:  # reported by the test
            self.error = exc

    def __enter__(self) -> Running:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not all(c.started.is_set() for c in self.service.consumers):
            assert self.thread.is_alive(), f"service died: {self.error!r}"
            assert time.monotonic() < deadline, "consumer groups were not assigned partitions"
            time.sleep(0.1)
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)
        assert self.error is None, repr(self.error)

    def metric(self, name: str, **labels: str) -> float:
        value = self.service.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


def _config(tag: str, run: list[str], topics: Topics, **sections: Any) -> CentralConfig:
    readings, status = topics.names
    return parse(
        {
            "run": run,
            "tsdb": {"group_id": f"{tag}-tsdb", "topics": [readings], "max_records": 2000},
            "detect": {"group_id": f"{tag}-detect", "topics": [readings], "silence_check_s": 1},
            "liveness": {"group_id": f"{tag}-liveness", "topics": [status]},
            "influx": {"bucket": TEST_BUCKET, "retry_max_s": 2.0, "timeout_ms": 5000},
            **sections,
        }
    )


async def _produce(conn: Connections, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=conn.kafka.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        batch = [await producer.send(topic, value, key=key) for key, value in items]
        await asyncio.gather(*batch)
    finally:
        await producer.stop()


def produce_readings(conn: Connections, topic: str, readings: list[Reading]) -> None:
    asyncio.run(_produce(conn, topic, [(r.sensor_id.encode(), encode(r)) for r in readings]))


def flux(conn: Connections, query: str) -> list[dict[str, Any]]:
    with InfluxDBClient(
        url=conn.influx.url, token=conn.influx.token.get_secret_value(), org=conn.influx.org
    ) as c:
        tables = c.query_api().query(query.replace("BUCKET", conn.influx.bucket))
        return [rec.values for t in tables for rec in t.records]


def counts_per_sensor(conn: Connections, district: str) -> dict[str, int]:
    rows = flux(
        conn,
        f"""from(bucket: "BUCKET") |> range(start: -2h)
        |> filter(fn: (r) => r.district == "{district}" and r._field == "seq")
        |> group(columns: ["sensor_id"]) |> count()""",
    )
    return {row["sensor_id"]: int(row["_value"]) for row in rows}


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_readings_reach_influxdb_and_read_back_with_flux(
    connections: Connections, influx: Connections, tag: str, topics: Topics
) -> None:
    readings, _ = _sim_readings(tag, air=6, traffic=4, seconds=20, faults=[])
    expected = {}
    for r in readings:
        expected[r.sensor_id] = expected.get(r.sensor_id, 0) + 1
    produce_readings(connections, topics.names[0], readings)
    asyncio.run(_produce(connections, topics.names[0], [(b"junk", b"{not a reading")]))
    with Running(_config(tag, ["tsdb"], topics)) as svc:
        wait_for(lambda: counts_per_sensor(influx, tag) == expected, 60, "all points")
        assert (
            svc.metric(
                "citygate_central_records_skipped_total", group="tsdb", topic=topics.names[0]
            )
            == 1
        )
        # Re-delivered readings overwrite the same points.
        produce_readings(connections, topics.names[0], readings[:50])
        wait_for(
            lambda: (
                svc.metric(
                    "citygate_central_records_consumed_total", group="tsdb", topic=topics.names[0]
                )
                >= len(readings) + 51
            ),
            30,
            "the duplicates to be consumed",
        )
        wait_for(
            lambda: svc.metric("citygate_central_commits_total", group="tsdb") >= 2, 10, "commit"
        )
    assert counts_per_sensor(influx, tag) == expected

    sample = next(r for r in readings if r.sensor_type == "air_quality")
    rows = flux(
        influx,
        f"""from(bucket: "BUCKET") |> range(start: -2h)
        |> filter(fn: (r) => r._measurement == "air_quality" and r.sensor_id == "{sample.sensor_id}")
        |> filter(fn: (r) => r.gateway == "gw-test" and r.district == "{tag}")""",
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    # Exact integer microseconds: timestamp() is a float and loses them at today's epoch.
    at = {
        (row["_field"], (row["_time"] - epoch) // timedelta(microseconds=1)): row["_value"]
        for row in rows
    }
    ts_us = sample.ts // 1000
    assert at[("seq", ts_us)] == sample.seq and isinstance(at[("seq", ts_us)], int)
    for name, value in sample.fields.items():
        if isinstance(value, bool | str):
            assert at[(name, ts_us)] == value
        else:
            assert at[(name, ts_us)] == pytest.approx(float(value))


def test_influxdb_down_for_30s_loses_nothing(
    connections: Connections, influx: Connections, stack: Stack, tag: str, topics: Topics
) -> None:
    readings, _ = _sim_readings(tag, air=10, traffic=10, seconds=45, faults=[])
    readings.sort(key=lambda r: r.ts)
    expected: dict[str, int] = {}
    for r in readings:
        expected[r.sensor_id] = expected.get(r.sensor_id, 0) + 1
    per_second = [readings[i : i + 20] for i in range(0, len(readings), 20)]

    with Running(_config(tag, ["tsdb"], topics)) as svc:

        def stream() -> None:
            for chunk in per_second:
                produce_readings(connections, topics.names[0], chunk)
                time.sleep(0.8)

        producer = threading.Thread(target=stream)
        producer.start()
        time.sleep(3)
        stack.down(("influxdb",))
        paused_seen = False
        try:
            # Another user of the shared stack may bring InfluxDB back early; what matters is
            # that the group paused while it was gone and lost nothing.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                paused_seen |= svc.metric("citygate_central_paused", group="tsdb") == 1
                time.sleep(0.2)
        finally:
            stack.up(("influxdb",))
        assert paused_seen
        assert (
            svc.metric(
                "citygate_central_write_errors_total",
                group="tsdb",
                target="influx",
                error="unreachable",
            )
            >= 1
        )
        producer.join(120)
        wait_for(
            lambda: counts_per_sensor(influx, tag) == expected,
            90,
            "every point after the outage",
        )
        assert svc.metric("citygate_central_paused", group="tsdb") == 0
    assert sum(expected.values()) == len(readings)


async def _alerts_from(
    conn: Connections,
    start: dict[TopicPartition, int],
    sensors: set[str],
    until: set[tuple[str, str]],
    timeout: float,
) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=conn.kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = await consumer.getmany(timeout_ms=500)
            for recs in got.values():
                for rec in recs:
                    doc = msgspec.json.decode(rec.value or b"")
                    if doc["sensor_id"] in sensors:
                        found.append(doc)
            seen = {(a["sensor_id"], a["type"].split(":")[0]) for a in found}
            if until <= seen:
                break
    finally:
        await consumer.stop()
    return found


async def _end_offsets(conn: Connections, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=conn.kafka.bootstrap)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            await consumer._client.force_metadata_update()
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


async def _alert_offsets(conn: Connections) -> dict[TopicPartition, int]:
    return await _end_offsets(conn, ALERTS)


async def _group_done(conn: Connections, group: str, topic: str) -> bool:
    """Whether consumer group `group` has committed every record now in `topic`."""
    ends = await _end_offsets(conn, topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=conn.kafka.bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return bool(ends) and all(
        end == 0 or (tp in committed and committed[tp].offset >= end) for tp, end in ends.items()
    )


async def _alerts_to_end(
    conn: Connections, start: dict[TopicPartition, int], sensors: set[str]
) -> list[dict[str, Any]]:
    """Every alert of `sensors` published between `start` and the topic's end now."""
    end = await _alert_offsets(conn)
    consumer = AIOKafkaConsumer(bootstrap_servers=conn.kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        consumer.assign(list(end))
        for tp in end:
            consumer.seek(tp, start.get(tp, 0))
        deadline = time.monotonic() + 30
        while [tp for tp, offset in end.items() if await consumer.position(tp) < offset]:
            assert time.monotonic() < deadline, "the alerts topic could not be read to its end"
            got = await consumer.getmany(timeout_ms=500)
            for tp, recs in got.items():
                for rec in recs:
                    if rec.offset < end[tp]:
                        doc = msgspec.json.decode(rec.value or b"")
                        if doc["sensor_id"] in sensors:
                            found.append(doc)
    finally:
        await consumer.stop()
    return found


def test_conflicting_greens_and_stuck_sensor_raise_alerts(
    connections: Connections, influx: Connections, tag: str, topics: Topics
) -> None:
    ts_sensor, aq_sensor = f"{tag}-ts-00001", f"{tag}-aq-00001"
    readings, fault_start = _sim_readings(
        tag,
        air=3,
        traffic=3,
        seconds=110,
        faults=[
            {"type": "conflicting_greens", "sensor": ts_sensor, "start": "60s", "duration": "20s"},
            {"type": "stuck", "sensor": aq_sensor, "start": "40s", "duration": "60s"},
        ],
    )
    start = asyncio.run(_alert_offsets(connections))
    produce_readings(connections, topics.names[0], readings)
    with Running(_config(tag, ["detect"], topics)):
        # Alerts are published before offsets are committed: once every reading is committed,
        # every alert they cause is in the topic, however the consumer cut them into batches.
        wait_for(
            lambda: asyncio.run(_group_done(connections, f"{tag}-detect", topics.names[0])),
            90,
            "the detect group to commit every reading",
        )
        alerts = asyncio.run(_alerts_to_end(connections, start, {ts_sensor, aq_sensor}))
    # Silence is judged against the consumer's clock, not decided by the readings.
    by_readings = [a for a in alerts if a["type"] != "silence"]
    # The same readings through a Detector in one batch: detection does not depend on batching.
    expected = [
        msgspec.json.decode(msgspec.json.encode(a))
        for a in Detector().process_batch(readings)
        if a.sensor_id in (ts_sensor, aq_sensor) and a.type != "silence"
    ]
    for sensor in (ts_sensor, aq_sensor):  # one sensor's alerts keep their order (its key)
        assert [a for a in by_readings if a["sensor_id"] == sensor] == [
            a for a in expected if a["sensor_id"] == sensor
        ]
    raised: dict[tuple[str, str], dict[str, Any]] = {}
    for a in by_readings:
        if a["state"] == "raised":
            raised.setdefault((a["sensor_id"], a["type"].split(":")[0]), a)  # the first one
    greens = raised[(ts_sensor, "conflicting_greens")]
    assert greens["severity"] == "critical" and greens["district"] == tag
    stuck = raised[(aq_sensor, "flatline")]
    # Samples (one a second) between the fault's start and the alert.
    assert (greens["start"] - fault_start[ts_sensor]) / 1e9 <= 2
    assert (stuck["start"] - fault_start[aq_sensor]) / 1e9 <= 12  # a few samples after it froze
    rows = flux(
        influx,
        f"""from(bucket: "BUCKET") |> range(start: -2h)
        |> filter(fn: (r) => r._measurement == "alerts" and r.sensor_id == "{ts_sensor}")
        |> filter(fn: (r) => r._field == "alert_id")""",
    )
    assert greens["alert_id"] in {row["_value"] for row in rows}


def test_gateway_heartbeat_that_stops_raises_gateway_offline(
    connections: Connections, influx: Connections, tag: str, topics: Topics
) -> None:
    gateway = f"{tag}-gw"
    start = asyncio.run(_alert_offsets(connections))
    cfg = _config(
        tag,
        ["liveness"],
        topics,
        liveness={
            "group_id": f"{tag}-liveness",
            "topics": [topics.names[1]],
            "default_interval_s": 1.0,
            "check_s": 0.2,
        },
    )

    def beat() -> None:
        doc = {
            "gateway_id": gateway,
            "ts": time.time_ns(),
            "uptime_s": 1.0,
            "figures": {"messages_in": 5, "journal_dropped": {"air_quality": 2, "x": 1}},
        }
        asyncio.run(
            _produce(connections, topics.names[1], [(gateway.encode(), msgspec.json.encode(doc))])
        )

    with Running(cfg):
        for _ in range(4):
            beat()
            time.sleep(0.5)
        alerts = asyncio.run(
            _alerts_from(connections, start, {gateway}, {(gateway, "gateway_offline")}, 20)
        )
        (offline,) = [a for a in alerts if a["state"] == "raised"]
        assert offline["severity"] == "critical" and offline["seq"] is None
        beat()
        wait_for(
            lambda: any(
                a["state"] == "cleared"
                for a in asyncio.run(_alerts_from(connections, start, {gateway}, set(), 1))
            ),
            15,
            "the cleared alert",
        )
    rows = flux(
        influx,
        f"""from(bucket: "BUCKET") |> range(start: -1h)
        |> filter(fn: (r) => r._measurement == "gateway_status" and r.gateway_id == "{gateway}")
        |> filter(fn: (r) => r._field == "journal_dropped")""",
    )
    assert len(rows) == 5 and all(row["_value"] == 3.0 for row in rows)
