"""tsdb writer throughput into the local InfluxDB, written to bench/results/tsdb.json.

Two figures: (1) the writer alone: Kafka records (real Reading encoding) -> TsdbHandler.handle
(decode, line protocol, InfluxDB), batches as the consumer polls them, timed without Kafka;
(2) end to end: readings pre-loaded into a bench topic and drained by the real "tsdb" consumer
group (poll, decode, write, commit). Points go to a bucket of their own ("citygate-bench", 1 day
retention). Both use the tsdb group's configured defaults. Besides wall time, each records the CPU
seconds of this process and of influxd, and the load average (the machine is shared).
Needs the local stack (`citygate stack up`).

    .venv/bin/python bench/tsdb_bench.py [--sensors 2000] [--readings 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord
from influxdb_client import BucketRetentionRules, InfluxDBClient

from central.config import parse
from central.influx_writer import InfluxWriter
from central.metrics import CentralMetrics
from central.service import CentralService
from central.tsdb import TsdbHandler
from deploy import connections
from deploy.local import Stack
from edge.reading import Location, Reading, encode

BUCKET = "citygate-bench"
TSDB_SETTINGS = ("max_records", "lines_per_request", "concurrent_requests")  # bench options


def readings(sensors: int, total: int) -> list[bytes]:
    now = time.time_ns() - 3_600_000_000_000
    out = []
    for i in range(total):
        s, k = i % sensors, i // sensors
        out.append(
            encode(
                Reading(
                    sensor_id=f"bench-aq-{s:05d}",
                    sensor_type="air_quality",
                    seq=k,
                    ts=now + k * 1_000_000_000 + s,
                    fields={
                        "pm1": 5.0 + s % 7,
                        "pm25": 10.0 + (k % 13) * 0.1,
                        "pm10": 20.0 + s % 5,
                        "no2": 18.5,
                        "temperature": 12.5 + (k % 10) * 0.1,
                        "relativeHumidity": 0.612,
                    },
                    location=Location(f"bench-d{s % 20}", 52.5, 13.4),
                    gateway_id="gw-bench",
                )
            )
        )
    return out


def ensure_bucket() -> None:
    conn = connections.load()
    with InfluxDBClient(
        url=conn.influx.url, token=conn.influx.token.get_secret_value(), org=conn.influx.org
    ) as c:
        api = c.buckets_api()
        if api.find_bucket_by_name(BUCKET) is None:
            rules = BucketRetentionRules(type="expire", every_seconds=86400)
            api.create_bucket(bucket_name=BUCKET, org=conn.influx.org, retention_rules=rules)


class Usage:
    """Wall time, CPU seconds of this process and of influxd, and load average over a span."""

    def __init__(self) -> None:
        self.influxd = Stack().process("influxdb").pid()

    def _influxd_cpu(self) -> float:
        if self.influxd is None:
            return math.nan
        stat = Path(f"/proc/{self.influxd}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Usage:
        self.wall, self.cpu, self.influx = (
            time.perf_counter(),
            time.process_time(),
            self._influxd_cpu(),
        )
        self.load_before = os.getloadavg()[0]
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.influx = self._influxd_cpu() - self.influx

    def figures(self, points: int) -> dict[str, Any]:
        return {
            "points": points,
            "wall_s": round(self.wall, 3),
            "points_per_s": round(points / self.wall),
            "cpu_s_python_process": round(self.cpu, 3),
            "cpu_s_influxd": round(self.influx, 3),
            "cpu_us_per_point": {
                "python": round(self.cpu / points * 1e6, 1),
                "influxd": round(self.influx / points * 1e6, 1),
            },
            "load_avg_1m": {"before": self.load_before, "after": os.getloadavg()[0]},
        }


async def writer_alone(values: list[bytes], tsdb: dict[str, int]) -> dict[str, Any]:
    cfg = parse({"influx": {"bucket": BUCKET}, "tsdb": tsdb})
    metrics = CentralMetrics()
    writer = InfluxWriter(
        cfg.influx,
        metrics,
        "tsdb",
        lines_per_request=cfg.tsdb.lines_per_request,
        concurrency=cfg.tsdb.concurrent_requests,
    )
    handler = TsdbHandler(writer, metrics)
    records = [
        ConsumerRecord("bench", 0, i, 0, 0, b"k", v, None, 1, len(v), ())
        for i, v in enumerate(values)
    ]
    batch = cfg.tsdb.max_records
    build = time.process_time()
    for i in range(0, len(records), batch):
        handler.chunk(records[i : i + batch])
    build = time.process_time() - build
    with Usage() as usage:
        for i in range(0, len(records), batch):
            await handler.handle(records[i : i + batch], asyncio.sleep)
    writer.close()
    return {
        **usage.figures(len(records)),
        "batch_records": batch,
        "lines_per_request": cfg.tsdb.lines_per_request,
        "concurrent_requests": cfg.tsdb.concurrent_requests,
        "decode_and_build_alone_points_per_s": round(len(records) / build),
    }


async def end_to_end(values: list[bytes], tsdb: dict[str, int]) -> dict[str, Any]:
    conn = connections.load()
    topic = f"bench.tsdb.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=conn.kafka.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    try:
        producer = AIOKafkaProducer(
            bootstrap_servers=conn.kafka.bootstrap,
            linger_ms=20,
            max_batch_size=512 * 1024,
            compression_type="lz4",
        )
        await producer.start()
        for _ in range(50):
            try:
                await producer.partitions_for(topic)
                break
            except Exception:  # metadata of a new topic takes a moment
                await asyncio.sleep(0.2)
        futures = [await producer.send(topic, v, key=v[15:30]) for v in values]
        await asyncio.gather(*futures)
        await producer.stop()
        cfg = parse(
            {
                "run": ["tsdb"],
                "influx": {"bucket": BUCKET},
                "tsdb": {"group_id": f"bench-{topic}", "topics": [topic], **tsdb},
            }
        )
        service = CentralService(cfg)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop, http=False))
        while not service.consumers:
            await asyncio.sleep(0.05)
        await service.wait_assigned(60)
        registry = service.metrics.registry
        deadline = time.monotonic() + 600
        with Usage() as usage:
            while True:
                done = (
                    registry.get_sample_value(
                        "citygate_central_points_written_total",
                        {"group": "tsdb", "measurement": "air_quality"},
                    )
                    or 0
                )
                if done >= len(values):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {done} of {len(values)} points after 600 s")
                await asyncio.sleep(0.05)
        stop.set()
        await task
        return usage.figures(len(values))
    finally:
        await admin.delete_topics([topic])
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=2000)
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/tsdb.json"))
    for key in TSDB_SETTINGS:
        parser.add_argument(
            f"--{key.replace('_', '-')}", type=int, help="tsdb setting (default: its default)"
        )
    args = parser.parse_args()
    ensure_bucket()
    values = readings(args.sensors, args.readings)
    given = vars(args)
    tsdb = {k: given[k] for k in TSDB_SETTINGS if given[k] is not None}
    alone = asyncio.run(writer_alone(values, tsdb))
    print(f"writer alone: {alone}")
    e2e = asyncio.run(end_to_end(values, tsdb))
    print(f"end to end (Kafka -> tsdb group -> InfluxDB): {e2e}")
    result = {
        "what": "tsdb group: Kafka records -> InfluxDB points (6 float fields + seq, 3 tags)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "sensors": args.sensors,
        "tsdb_settings_given": tsdb,
        "writer_alone": alone,
        "end_to_end": e2e,
        "target_points_per_s": 100_000,
        "note": (
            "2 cores shared by influxd, Kafka and this process (and other users: see the load "
            "averages); influxd flags from deploy/local/influxdb.py"
        ),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
