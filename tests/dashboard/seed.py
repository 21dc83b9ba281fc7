"""Real data for the dashboard's tests and benchmark: points written to the real InfluxDB in the
schema the central consumers use, and alerts and heartbeats produced to the real Kafka topics."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import msgspec
from aiokafka import AIOKafkaProducer
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS

from central.alert_sink import alert_line
from deploy.connections import Connections
from edge.messages import Alert
from edge.topics import ALERTS, GATEWAY_STATUS

T = TypeVar("T")


def _esc(tag: str) -> str:
    return tag.replace(" ", "\\ ").replace(",", "\\,").replace("=", "\\=")


def air_fields(rng: random.Random, level: float) -> dict[str, Any]:
    pm25 = max(0.5, rng.gauss(6 + 40 * level, 3))
    return {
        "pm1": round(pm25 * 0.7, 2),
        "pm25": round(pm25, 2),
        "pm10": round(pm25 * 1.6, 2),
        "no2": round(max(1.0, rng.gauss(20 + 60 * level, 5)), 2),
        "o3": round(max(1.0, rng.gauss(30, 5)), 2),
        "co": round(max(0.05, rng.gauss(0.5 + 2 * level, 0.1)), 3),
        "temperature": round(rng.gauss(17, 2), 2),
        "relativeHumidity": round(min(1.0, max(0.0, rng.gauss(0.55, 0.05))), 3),
        "batteryLevel": 0.9,
    }


def traffic_fields(rng: random.Random, faulty: bool) -> dict[str, Any]:
    green = rng.choice("NESW")
    fields: dict[str, Any] = {
        "intensity": rng.randint(5, 120),
        "occupancy": round(rng.uniform(0.05, 0.6), 3),
        "averageVehicleSpeed": round(rng.uniform(15, 55), 1),
        "cycleLength": 90,
        "conflictMonitor": False,
    }
    for a in "NESW":
        fields[f"phase_{a}"] = "green" if a == green else "red"
        fields[f"split_{a}"] = 20
        fields[f"pedestrianCall_{a}"] = False
    for n in range(1, 9):
        fields[f"d{n}_intensity"] = rng.randint(0, 30)
        fields[f"d{n}_occupancy"] = round(rng.uniform(0, 0.5), 3)
        fields[f"d{n}_fault"] = "stuck_on" if faulty and n == 3 else "none"
    return fields


def camera_fields(rng: random.Random, faulty: bool) -> dict[str, Any]:
    people = rng.randint(0, 80)
    return {
        "peopleCount": people,
        "occupancy": round(people / 300, 3),
        "averageCrowdSpeed": round(rng.uniform(3.5, 5.5), 1) if people else 0.0,
        "congested": False,
        "intensity_car": rng.randint(0, 40),
        "intensity_bus": rng.randint(0, 3),
        "intensity_bicycle": rng.randint(0, 6),
        "intensity_motorcycle": rng.randint(0, 5),
        "online": True,
        "frameRate": round(rng.gauss(25, 0.3), 1),
        "tamper": "moved" if faulty else "none",
        "lowLight": False,
    }


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}i"
    if isinstance(v, float):
        return repr(v)
    return '"' + str(v).replace('"', '\\"') + '"'


def line(measurement: str, tags: dict[str, str], fields: dict[str, Any], ts_ns: int) -> str:
    tag_text = ",".join(f"{k}={_esc(v)}" for k, v in sorted(tags.items()))
    field_text = ",".join(f"{k}={_value(v)}" for k, v in fields.items())
    return f"{measurement},{tag_text} {field_text} {ts_ns}"


def sensor_lines(
    sensors: Iterable[tuple[str, str, str]], *, points: int = 6, step_s: float = 30.0, seed: int = 7
) -> list[str]:
    """Readings of (sensor_id, sensor_type, district) over the last points*step_s seconds."""
    rng = random.Random(seed)
    now = time.time_ns()
    out = []
    for i, (sid, stype, district) in enumerate(sensors):
        level = (i % 7) / 6  # spread sensors over the AQI bands
        for k in range(points):
            ts = now - int((points - 1 - k) * step_s * 1e9) - 1_000_000
            if stype == "air_quality":
                fields = air_fields(rng, level)
            elif stype == "camera":
                fields = camera_fields(rng, faulty=i % 11 == 0)
            else:
                fields = traffic_fields(rng, faulty=i % 11 == 0)
            fields["seq"] = k
            tags = {"sensor_id": sid, "district": district, "gateway": f"gw-{district}"}
            out.append(line(stype, tags, fields, ts))
    return out


def gateway_lines(districts: Iterable[str]) -> list[str]:
    now = time.time_ns()
    out = []
    for n, d in enumerate(districts):
        for k in range(3):
            figures = {
                "journal_depth_records": 12 * n,
                "journal_depth_bytes": 4096 * n,
                "journal_oldest_unsent_age_s": 0.2 * n,
                "messages_in": 1000 + 50 * k,
                "records_out": 1000 + 50 * k,
                "deadletters": n,
                "kafka_errors": 0,
                "journal_dropped": 0,
            }
            out.append(
                line(
                    "gateway_status",
                    {"gateway_id": f"gw-{d}"},
                    figures,
                    now - (2 - k) * 5_000_000_000,
                )
            )
    return out


def write_lines(conn: Connections, lines: list[str], batch: int = 5000) -> None:
    with InfluxDBClient(
        url=conn.influx.url, token=conn.influx.token.get_secret_value(), org=conn.influx.org
    ) as client:
        api = client.write_api(write_options=SYNCHRONOUS)
        for i in range(0, len(lines), batch):
            api.write(bucket=conn.influx.bucket, org=conn.influx.org, record=lines[i : i + batch])


def alert_doc(sensor_id: str, district: str, **overrides: Any) -> dict[str, Any]:
    """An alert.v1 record (edge/schemas/alert.v1.json)."""
    doc: dict[str, Any] = {
        "alert_id": f"test-{uuid.uuid4().hex[:12]}",
        "sensor_id": sensor_id,
        "sensor_type": "traffic_signal",
        "district": district,
        "type": "conflicting_greens",
        "severity": "critical",
        "state": "raised",
        "start": time.time_ns(),
        "end": None,
        "value": 1,
        "explanation": "conflict monitor tripped: conflicting greens on N and E",
        "seq": 42,
    }
    doc.update(overrides)
    return doc


async def produce(conn: Connections, topic: str, docs: list[dict[str, Any]], key: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=conn.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for doc in docs:
            await producer.send_and_wait(
                topic, json.dumps(doc).encode(), key=str(doc.get(key, "")).encode()
            )
    finally:
        await producer.stop()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to the end in a thread of its own: Playwright's sync API keeps an event loop
    running in the test's thread, where asyncio.run is refused."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def produce_alerts(conn: Connections, docs: list[dict[str, Any]]) -> None:
    run_async(produce(conn, ALERTS, docs, "sensor_id"))


def deliver_alerts(conn: Connections, docs: list[dict[str, Any]]) -> None:
    """What central's alert sink does with an alert: the city.alerts.v1 record and the InfluxDB
    point. The dashboard's live feed holds only the latest alerts of a shared, busy topic;
    InfluxDB holds them all."""
    produce_alerts(conn, docs)
    write_lines(conn, [alert_line(msgspec.convert(doc, Alert)) for doc in docs])


def produce_heartbeats(conn: Connections, gateways: Iterable[str]) -> None:
    docs = [
        {
            "gateway_id": g,
            "ts": time.time_ns(),
            "uptime_s": 120.0,
            "figures": {
                "messages_in": 5000,
                "records_out": 4990,
                "deadletters": 1,
                "kafka_errors": 0,
                "journal_depth_records": 10,
                "journal_depth_bytes": 2048,
                "journal_oldest_unsent_age_s": 0.05,
                "journal_dropped": {"air_quality": 0},
            },
        }
        for g in gateways
    ]
    run_async(produce(conn, GATEWAY_STATUS, docs, "gateway_id"))


def ensure_bucket(conn: Connections, name: str) -> Connections:
    """`conn` pointed at bucket `name` (created if missing), apart from other tests' data."""
    with InfluxDBClient(
        url=conn.influx.url, token=conn.influx.token.get_secret_value(), org=conn.influx.org
    ) as client:
        buckets = client.buckets_api()
        if buckets.find_bucket_by_name(name) is None:
            buckets.create_bucket(bucket_name=name, org=conn.influx.org)
    return conn.with_influx(bucket=name)


def drop_bucket(conn: Connections) -> None:
    with InfluxDBClient(
        url=conn.influx.url, token=conn.influx.token.get_secret_value(), org=conn.influx.org
    ) as client:
        buckets = client.buckets_api()
        found = buckets.find_bucket_by_name(conn.influx.bucket)
        if found is not None:
            buckets.delete_bucket(found)
