"""Fuzz the real gateway: a million hostile MQTT payloads, and not one may stop it or go missing.

Against the running local stack, starts `citygate gateway run` for a district of its own,
publishes `--count` payloads drawn from `--seed` (valid readings, mutations of them, hostile JSON
from tests/edge/hostile.py, random bytes, hostile topic levels) with QoS 1, waiting for PUBACKs
and keeping at most WINDOW ahead of the gateway, then counts what reached Kafka: readings on
city.<type>.v1 and dead letters on city.deadletter.v1 from that district. The result: crashes
(gateway exits, must be 0), the balance published - readings - dead letters (must be 0), and the
dead letters by code against what the edge decoder predicts for each payload locally.
Writes bench/results/fuzz.json (or --out).

    .venv/bin/python bench/fuzz_gateway.py [--count 1000000] [--seed 10] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the hostile generators and the gateway harness live in tests/

from deploy.connections import Connections  # noqa: E402
from deploy.connections import load as load_connections  # noqa: E402
from edge import deadletter, mqtt_json  # noqa: E402
from edge.codec import ClockWindow, Rejected  # noqa: E402
from edge.topics import DEADLETTER, reading_topic  # noqa: E402
from firmware_sim.mqtt_publisher import MqttPublisher  # noqa: E402
from tests.edge import hostile  # noqa: E402
from tests.gateway.harness import GatewayProcess, KafkaCollector  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BATCH = 1000
WINDOW = 50_000  # messages published ahead of the gateway's intake: bounds the broker's queue
SENSORS = 500
CLK_TCK = os.sysconf("SC_CLK_TCK")
READING_TOPICS = [reading_topic(t) for t in hostile.TYPES]


def topic_levels(rng: random.Random, sensor_type: str, sensor_id: str) -> tuple[str, str]:
    """Mostly the reading's own type and id; now and then levels the catalog or names refuse
    (always legal in an MQTT topic, so the broker delivers them)."""
    if rng.random() < 0.9:
        return sensor_type, sensor_id
    return (
        rng.choice([sensor_type, "parking", "Air_quality", "ü", ""]),
        rng.choice([sensor_id, "a b", "ü", "x" * 100, "-lead", ""]),
    )


def payloads(seed: int, district: str, count: int, now_ms: int) -> Iterator[tuple[str, bytes]]:
    """`count` (topic, payload) pairs, the same for the same seed and `now_ms` whatever the
    district; valid readings are timestamped around `now_ms`, as a device's clock would be."""
    rng = random.Random(seed)
    for n in range(count):
        sensor_id = f"{district}-s{n % SENSORS}"
        reading = hostile.valid_reading(rng, district, sensor_id, n, around_ms=now_ms)
        _, valid = mqtt_json.encode(reading)
        roll = rng.random()
        if roll < 0.25:
            payload = valid
        elif roll < 0.5:
            payload = hostile.mutate(rng, valid)
        elif roll < 0.85:
            payload = hostile.hostile_json(rng, reading.sensor_type)
        else:
            payload = rng.randbytes(rng.randint(0, 300))
        sensor_type, sensor_id = topic_levels(rng, reading.sensor_type, reading.sensor_id)
        yield f"city/{district}/{sensor_type}/{sensor_id}/telemetry", payload


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class _Located(msgspec.Struct):
    class _Where(msgspec.Struct):
        district: str = ""

    location: _Where | None = None


async def count_kafka(
    conn: Connections, start: dict[TopicPartition, int], district: str
) -> tuple[int, Counter[str]]:
    """Readings of `district` and its dead letters by code, from `start` to today's end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=conn.kafka.bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        end = await consumer.end_offsets(list(start))
        consumer.assign([tp for tp in start if end[tp] > start[tp]])
        for tp in consumer.assignment():
            consumer.seek(tp, start[tp])
        origin = f"city/{district}/"
        located = msgspec.json.Decoder(_Located).decode
        readings, letters = 0, Counter[str]()
        remaining = {tp for tp in consumer.assignment()}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=50_000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset >= end[tp] or r.value is None:
                        continue
                    if tp.topic == DEADLETTER:
                        dl = deadletter.decode(r.value)
                        if dl.origin.startswith(origin):
                            letters[dl.code] += 1
                    else:
                        where = located(r.value).location
                        readings += where is not None and where.district == district
                if records and records[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return readings, letters
    finally:
        await consumer.stop()


def run(count: int, seed: int) -> dict[str, Any]:
    conn = load_connections()
    tag = uuid.uuid4().hex[:8]
    district = f"fuzz{tag}"
    start = KafkaCollector(conn, [*READING_TOPICS, DEADLETTER]).start
    tmp = Path(tempfile.mkdtemp(prefix="citygate-fuzz-"))
    gw = GatewayProcess(tmp, conn, district).start()
    assert gw.proc is not None
    pub = MqttPublisher(conn.mqtt.host, conn.mqtt.port, client_id=f"fuzz-pub-{tag}")
    pub.connect()
    crashes = 0
    predicted_readings, predicted = 0, Counter[str]()
    started = time.monotonic()
    cpu_at_start = cpu_seconds(gw.proc.pid)

    def intake() -> int:
        """Messages durable in the gateway's journal so far; restarts it (and counts a crash) if it exited."""
        nonlocal crashes, cpu_at_start
        assert gw.proc is not None
        if gw.proc.poll() is not None:
            crashes += 1
            print(f"gateway exited with {gw.proc.returncode}; restarting", flush=True)
            gw.start()
            cpu_at_start = cpu_seconds(gw.proc.pid)  # the CPU figure covers the last process
        health = gw.health()
        return int(health["messages_journaled"]) if health else 0

    batch: list[tuple[str, bytes, int]] = []
    now_ms = time.time_ns() // 1_000_000
    for n, (topic, payload) in enumerate(payloads(seed, district, count, now_ms), 1):
        # The gateway judges device timestamps against its receipt, a moment from now: the
        # fuzzer's times are far from the window's edges, so the two verdicts agree.
        verdict = mqtt_json.decode(topic, payload, time.time_ns(), ClockWindow())
        if isinstance(verdict, Rejected):
            predicted[verdict.code] += 1
        else:
            predicted_readings += 1
        batch.append((topic, payload, 1))
        if len(batch) == BATCH or n == count:
            while pub.published - intake() > WINDOW:
                pub.service(0.05)
            pub.publish_many(batch)
            batch = []
            if n % 50_000 == 0 or n == count:
                print(
                    f"{n:>9,} published, {pub.completed:,} acknowledged, "
                    f"{time.monotonic() - started:.0f}s",
                    flush=True,
                )
    drained = pub.drain(timeout=300)
    published = pub.completed
    pub.close()
    publish_s = time.monotonic() - started
    deadline = time.monotonic() + 600
    health: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        taken = intake()
        health = gw.health()
        if health and taken >= published and health["journal_depth_records"] == 0:
            break
        time.sleep(0.5)
    gateway_cpu = cpu_seconds(gw.proc.pid) - cpu_at_start
    metrics = gw.metrics()
    exit_code = gw.stop()
    readings, letters = asyncio.run(count_kafka(conn, start, district))
    dead = sum(letters.values())
    total_s = time.monotonic() - started
    return {
        "benchmark": "fuzz_gateway",
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        },
        "seed": seed,
        "count": count,
        "published": published,
        "all_acknowledged": drained,
        "crashes": crashes,
        "gateway_exit_code": exit_code,
        "readings": readings,
        "deadletters": dead,
        "unaccounted": published - readings - dead,
        "predicted_readings": predicted_readings,
        "deadletters_by_code": dict(letters.most_common()),
        "predicted_by_code": dict(predicted.most_common()),
        "matches_prediction": readings == predicted_readings and letters == predicted,
        "decoder_errors_metric": _metric(metrics, 'reason="decoder_error"'),
        "publish_seconds": round(publish_s, 1),
        "total_seconds": round(total_s, 1),
        "gateway_cpu_seconds": round(gateway_cpu, 1),
        "gateway_cpu_us_per_message": round(gateway_cpu / max(published, 1) * 1e6, 1),
        "final_health": health,
    }


def _metric(text: str, label: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("citygate_gateway_deadletters_total") and label in line
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz.json")
    args = parser.parse_args()
    result = run(args.count, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine", "final_health")}))
    ok = result["crashes"] == 0 and result["unaccounted"] == 0 and result["gateway_exit_code"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
