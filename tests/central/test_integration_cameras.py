"""The camera family end to end on the real stack: `citygate sim run --scenario cameras` over
Mosquitto, a real gateway into city.camera.v1, the central tsdb consumer into InfluxDB.

The shared stack may carry other cameras (the demo city has some): everything here is told apart
by this test's own gateway id, which the gateway stamps on every reading it ships.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from central.config import parse
from deploy.connections import Connections
from edge import reading, topics
from tests.central.conftest import TEST_BUCKET
from tests.central.test_integration_central import Running, flux, wait_for
from tests.gateway.harness import CITYGATE, GatewayProcess, KafkaCollector

pytestmark = pytest.mark.integration

CAMERA_TOPIC = topics.reading_topic("camera")
DURATION_S = 60


async def _start_group_at(
    conn: Connections, group_id: str, offsets: dict[TopicPartition, int]
) -> None:
    """Commit `group_id`'s offsets where this test begins: the tsdb group then takes only what
    the test publishes, not every camera reading the shared topic ever carried (a fuzz run's
    wild timestamps would make InfluxDB open a shard for every hour they span)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=conn.kafka.bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


def _cameras_of_the_scenario() -> set[str]:
    from firmware_sim.fleet import Fleet
    from firmware_sim.scenario import load_scenario
    from firmware_sim.shipped import scenario_path

    fleet = Fleet(load_scenario(scenario_path("cameras")))
    return {d.sensor_id for d in fleet.devices if d.sensor_type == "camera"}


def test_simulated_cameras_reach_kafka_and_influxdb(
    connections: Connections,
    influx: Connections,
    tmp_path: Path,
) -> None:
    cameras = _cameras_of_the_scenario()
    gateway = GatewayProcess(
        tmp_path,
        connections,
        "centro",
        overrides={
            "mqtt.topics": ["city/centro/camera/+/telemetry", "city/vallecas/camera/+/telemetry"]
        },
    )
    collector = KafkaCollector(connections, [CAMERA_TOPIC])
    tag = gateway.gateway_id
    cfg = parse(
        {
            "run": ["tsdb"],
            "tsdb": {"group_id": f"{tag}-tsdb", "topics": [CAMERA_TOPIC], "max_records": 2000},
            "influx": {"bucket": TEST_BUCKET, "retry_max_s": 2.0, "timeout_ms": 5000},
        }
    )
    asyncio.run(_start_group_at(connections, f"{tag}-tsdb", collector.start))
    gateway.start()
    try:
        with Running(cfg):
            sim = subprocess.run(
                [
                    CITYGATE,
                    "sim",
                    "run",
                    "--scenario",
                    "cameras",
                    "--duration",
                    str(DURATION_S),
                    "--quiet",
                    "--labels",
                    str(tmp_path / "labels.jsonl"),
                ],
                capture_output=True,
                timeout=DURATION_S + 60,
            )
            assert sim.returncode == 0, sim.stderr.decode()[-3000:]
            gateway.wait_drained()

            shipped: dict[str, list[int]] = {}

            def all_cameras(records: list[object]) -> bool:
                return set(shipped) == cameras and all(len(s) >= 10 for s in shipped.values())

            def ours(record: object) -> bool:
                r = reading.decode(record.value)  # type: ignore[attr-defined]
                if r.gateway_id != tag:
                    return False
                assert r.sensor_type == "camera" and r.sensor_id in cameras
                assert set(r.fields) >= {"peopleCount", "intensity_car", "tamper", "frameRate"}
                shipped.setdefault(r.sensor_id, []).append(r.seq)
                return True

            collector.collect(all_cameras, timeout=60, keep=ours)
            assert set(shipped) == cameras
            for sensor, seqs in shipped.items():
                # Every reading of every camera, in order, none twice, none missing.
                assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), sensor
            # About one reading every 5 s over the run.
            assert all(10 <= len(s) <= DURATION_S / 5 + 1 for s in shipped.values())

            def stored() -> dict[str, int]:
                rows = flux(
                    influx,
                    f"""from(bucket: "BUCKET") |> range(start: -1h)
                    |> filter(fn: (r) => r._measurement == "camera" and r.gateway == "{tag}")
                    |> filter(fn: (r) => r._field == "seq")
                    |> group(columns: ["sensor_id"]) |> count()""",
                )
                got = {row["sensor_id"]: int(row["_value"]) for row in rows}
                return got if got == {s: len(q) for s, q in shipped.items()} else {}

            wait_for(stored, 60, "every camera reading in InfluxDB")
            tamper = flux(
                influx,
                f"""from(bucket: "BUCKET") |> range(start: -1h)
                |> filter(fn: (r) => r._measurement == "camera" and r.gateway == "{tag}")
                |> filter(fn: (r) => r._field == "tamper" or r._field == "intensity_bus")
                |> last()""",
            )
            values = {row["_field"]: row["_value"] for row in tamper}
            # Strings stay strings; counts are stored as floats, like every number (tsdb).
            assert values["tamper"] == "none" and float(values["intensity_bus"]).is_integer()
    finally:
        gateway.stop()
