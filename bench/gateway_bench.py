"""Benchmark of the edge gateway against Telegraf, a naive bridge and the machine's limits.

Against the real local Mosquitto and Kafka, on one backlog size: the limits (Kafka's own
ProducerPerformance with the gateway's records; mosquitto_sub draining a queued backlog), then
each bridge (the gateway, the gateway pinned to one core, Telegraf, the naive bridge): drain of a
backlog the broker queued for its offline persistent session, timed until Kafka had it all, with
the bridge's CPU µs per reading (utime + stime from /proc) and peak RSS (VmHWM); count and
per-sensor order checked in Kafka; a live run; publish-to-Kafka latency at 1,000 and 10,000
readings/s. Repeated, with median and spread; writes bench/results/gateway.{json,md,png}.
`--profile` instead samples the gateway with py-spy during a drain, by pipeline stage.

    .venv/bin/python bench/gateway_bench.py [--quick] [--readings N] [--repetitions N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec
import paho.mqtt.client as mqtt
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from gateway_peers import (
    TelegrafBridge,
    mosquitto_sub_drain,
    mosquitto_sub_session,
    producer_performance,
    telegraf_version,
)
from gateway_report import markdown, plot, summarise
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from proc_stats import cpu_seconds, peak_rss_mb

from deploy.connections import Connections
from deploy.connections import load as load_connections
from firmware_sim.mqtt_publisher import MqttPublisher
from gateway.metrics import GatewayMetrics
from gateway.routing import Router
from gateway.sources import Inbound

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
# The gateway runs from its own install, as on a Raspberry Pi: no extras, no dev tools (a dev
# install's import-linter brings rich, which structlog then imports: 6 MB of RSS a Pi never has).
GATEWAY_VENV = BENCH.parent / ".cache" / "gateway-venv"
KAFKA_TOPIC = "city.air_quality.v1"
PERF_TOPIC = "bench.producer-perf.v1"  # ProducerPerformance's own, created and deleted per run
PUBLISHERS = 2
SENSORS_PER_PUBLISHER = 500
T = TypeVar("T")


# -- helpers -------------------------------------------------------------------------------


def gateway_install() -> None:
    """The gateway-only install the bridges run from, made as deploy/pi/install.sh makes it:
    exactly the lock without the dev group or any extra, citygate itself as a built package
    (rebuilt every run, so it is this checkout's code) and everything compiled to bytecode. A Pi's
    service cannot write __pycache__ into its root-owned install, and a process that compiles its
    imports on start holds about 6 MB more for it (uv's cache keeps a second run to seconds)."""
    print(f"gateway-only install in {GATEWAY_VENV}", flush=True)
    subprocess.run(
        [
            str(BIN / "uv"),
            "sync",
            "--locked",
            "--no-dev",
            "--no-editable",
            "--compile-bytecode",
            "--reinstall-package",
            "citygate",
            "--quiet",
        ],
        check=True,
        cwd=BENCH.parent,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(GATEWAY_VENV)},
    )


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def delete_session(conn: Connections, client_id: str) -> None:
    """Connect once with clean start and session expiry 0, so the broker forgets the session."""
    done = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.on_connect = lambda *_: done.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    client.connect(conn.mqtt.host, conn.mqtt.port, clean_start=True, properties=props)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] / 1e6


def payload(seq: int, ts_ms: int, i: int) -> bytes:
    """One air-quality reading in citygate's MQTT JSON, as the publishers send it."""
    return (
        b'{"seq":%d,"ts":%d,"fields":{"pm25":%d.5,"pm10":21.0,"temperature":12.5},'
        b'"lat":52.5,"lon":13.4}' % (seq, ts_ms, i % 40)
    )


def gateway_records(n: int) -> list[bytes]:
    """The Kafka values the gateway writes for `n` sensors' readings (ProducerPerformance's)."""
    router = Router("gw-bench-perf", GatewayMetrics())
    now = time.time_ns()
    items = [
        Inbound(
            "mqtt", f"city/perf/air_quality/perf-{i}/telemetry", payload(1, now // 10**6, i), now
        )
        for i in range(n)
    ]
    return [rec.value for rec in router.route(items)]


# -- publisher and collector subprocesses --------------------------------------------------


def run_publisher(args: argparse.Namespace) -> None:
    """Publish `count` air-quality readings round-robin over this process's sensors, as fast
    as possible or paced at `rate`; the reading's `ts` is its publish time in milliseconds."""
    conn = load_connections()
    pub = MqttPublisher(conn.mqtt.host, conn.mqtt.port, client_id=f"bench-pub-{args.tag}")
    pub.connect()
    topics = [
        f"city/{args.district}/air_quality/{args.district}-{args.first_sensor + s}/telemetry"
        for s in range(args.sensors)
    ]
    n_topics = len(topics)
    tick = max(1, int(args.rate / 100)) if args.rate else 1000
    sent = 0
    t0 = time.monotonic()
    reported = t0
    while sent < args.count:
        if args.rate:
            ahead = t0 + sent / args.rate - time.monotonic()
            if ahead > 0:
                pub.service(ahead)
                continue
        ts_ms = time.time_ns() // 1_000_000
        batch = [
            (topics[i % n_topics], payload(i // n_topics + 1, ts_ms, i), 1)
            for i in range(sent, min(args.count, sent + tick))
        ]
        pub.publish_many(batch)
        sent += len(batch)
        while pub.client.want_write():
            pub.service(0.005)
        if args.progress and time.monotonic() - reported > 5:
            reported = time.monotonic()
            print(f"  publisher {args.tag}: {sent:,} of {args.count:,}", file=sys.stderr)
    drained = pub.drain(timeout=120.0)
    seconds = time.monotonic() - t0
    pub.close()
    result = {"sent": sent, "acked": pub.completed, "seconds": seconds, "drained": drained}
    print(json.dumps(result), flush=True)


class _Stamp(msgspec.Struct):
    """The publish time in a bridge's Kafka value: `ts` (gateway, ns) or `timestamp` (Telegraf,
    serialised in ns)."""

    ts: int | None = None
    timestamp: int | None = None


async def _collect(args: argparse.Namespace) -> dict[str, Any]:
    conn = load_connections()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=conn.kafka.bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=5,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(KAFKA_TOPIC, p) for p in consumer.partitions_for_topic(KAFKA_TOPIC)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:
            await consumer.position(tp)
        print("ready", flush=True)
        prefix = f"{args.district}-".encode()
        decode = msgspec.json.Decoder(_Stamp).decode
        latencies: list[int] = []
        deadline = time.monotonic() + args.timeout
        while len(latencies) < args.expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100, max_records=20000)
            now = time.time_ns()
            for records in batch.values():
                for r in records:
                    if r.key is not None and r.key.startswith(prefix) and r.value is not None:
                        stamp = decode(r.value)
                        latencies.append(now - (stamp.ts or stamp.timestamp or now))
    finally:
        await consumer.stop()
    latencies.sort()
    return {
        "received": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(percentile(latencies, 1.0), 1),
    }


def run_collector(args: argparse.Namespace) -> None:
    print(json.dumps(asyncio.run(_collect(args))), flush=True)


def _self(*argv: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *argv]


def publish(
    district: str, total: int, rate: float | None = None, tag: str = "", progress: bool = False
) -> dict[str, Any]:
    """`total` readings from PUBLISHERS processes (each with its own sensors); waits for PUBACKs."""
    procs = [
        subprocess.Popen(
            _self(
                "publish",
                f"--district={district}",
                f"--first-sensor={k * SENSORS_PER_PUBLISHER}",
                f"--sensors={SENSORS_PER_PUBLISHER}",
                f"--count={total // PUBLISHERS}",
                f"--rate={rate / PUBLISHERS if rate else 0}",
                f"--tag={tag}{k}-{uuid.uuid4().hex[:6]}",
                *(["--progress"] if progress and k == 0 else []),
            ),
            stdout=subprocess.PIPE,
        )
        for k in range(PUBLISHERS)
    ]
    results = [json.loads(p.communicate(timeout=900)[0]) for p in procs]
    # The rate over the publishers' own clocks (from their first publish), not their start-up.
    seconds = max(r["seconds"] for r in results)
    acked = sum(r["acked"] for r in results)
    return {"published": acked, "seconds": round(seconds, 2), "rate": round(acked / seconds)}


# -- Kafka: progress and verification ------------------------------------------------------


class _Seq(msgspec.Struct):
    """The reading's sequence number: top level (gateway, naive) or among Telegraf's fields."""

    seq: int | None = None
    fields: dict[str, Any] | None = None


class KafkaWatch:
    """The readings topic seen from Kafka, on an event loop of its own: end offsets (how many
    records Kafka acknowledged, for every bridge alike) and a check of what a run wrote."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.consumer = self._run(self._start())

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 600) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        await consumer._client.force_metadata_update()
        self.parts = [
            TopicPartition(KAFKA_TOPIC, p)
            for p in sorted(consumer.partitions_for_topic(KAFKA_TOPIC))
        ]
        return consumer

    def ends(self) -> dict[TopicPartition, int]:
        return dict(self._run(self.consumer.end_offsets(self.parts)))

    def total(self) -> int:
        return sum(self.ends().values())

    def verify(
        self, start: dict[TopicPartition, int], end: dict[TopicPartition, int], district: str
    ) -> dict[str, Any]:
        return self._run(self._verify(start, end, f"{district}-".encode()))

    async def _verify(
        self, start: dict[TopicPartition, int], end: dict[TopicPartition, int], prefix: bytes
    ) -> dict[str, Any]:
        """Every record of `district` between the offsets: how many, how many distinct (sensor,
        seq), and how often a sensor's seq went backwards (duplicates of the last are not)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        decode = msgspec.json.Decoder(_Seq).decode
        last: dict[bytes, int] = {}
        seen: set[tuple[bytes, int]] = set()
        records = backwards = 0
        try:
            wanted = [tp for tp in self.parts if end[tp] > start[tp]]
            consumer.assign(wanted)
            for tp in wanted:
                consumer.seek(tp, start[tp])
            left = set(wanted)
            while left:
                batch = await consumer.getmany(*left, timeout_ms=1000, max_records=50000)
                for tp, recs in batch.items():
                    for r in recs:
                        if r.offset >= end[tp]:
                            break
                        if r.key is None or not r.key.startswith(prefix) or r.value is None:
                            continue
                        v = decode(r.value)
                        seq = int(v.seq if v.seq is not None else (v.fields or {})["seq"])
                        records += 1
                        seen.add((r.key, seq))
                        if seq < last.get(r.key, 0):
                            backwards += 1
                        last[r.key] = max(seq, last.get(r.key, 0))
                    if recs and recs[-1].offset >= end[tp] - 1:
                        left.discard(tp)
                for tp in list(left):
                    if await consumer.position(tp) >= end[tp]:
                        left.discard(tp)
        finally:
            await consumer.stop()
        return {
            "records": records,
            "unique": len(seen),
            "duplicates": records - len(seen),
            "order_violations": backwards,
            "sensors": len(last),
        }

    def recreate_perf_topic(self, partitions: int) -> None:
        self._run(self._perf_topic(create=True, partitions=partitions))

    def delete_perf_topic(self) -> None:
        self._run(self._perf_topic(create=False, partitions=0))

    async def _perf_topic(self, create: bool, partitions: int) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            if PERF_TOPIC in await admin.list_topics():
                await admin.delete_topics([PERF_TOPIC])
                await asyncio.sleep(1.0)
            if create:
                await admin.create_topics([NewTopic(PERF_TOPIC, partitions, 1)])
                await asyncio.sleep(1.0)
        finally:
            await admin.close()

    def close(self) -> None:
        self._run(self.consumer.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


# -- the bridges under test ----------------------------------------------------------------


class Bridge(Protocol):
    name: str
    district: str
    client_id: str
    proc: subprocess.Popen[bytes] | None

    def start(self) -> None: ...
    def ready(self) -> bool: ...


@dataclass
class GatewayBridge:
    conn: Connections
    tmp: Path
    pin: bool = False  # taskset -c 0: one core, as a Raspberry Pi would give it
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.name = "gateway_1core" if self.pin else "gateway"
        self.district = f"benchgw{self.tag}"
        self.client_id = f"citygate-bench-gw-{self.tag}"
        self.port = free_port()
        self.dir = self.tmp / f"{self.name}-{self.tag}"
        self.dir.mkdir()
        self.config = self.dir / "gateway.yaml"
        cfg = {
            "gateway_id": f"gw-bench-{self.tag}",
            "mqtt": {
                "host": self.conn.mqtt.host,
                "port": self.conn.mqtt.port,
                "client_id": self.client_id,
                "topics": [f"city/{self.district}/+/+/telemetry"],
                "session_expiry_s": 600,
            },
            "journal": {"path": str(self.dir / "journal")},
            "kafka": {"bootstrap": self.conn.kafka.bootstrap},
            "http": {"host": "127.0.0.1", "port": self.port},
        }
        self.config.write_text(yaml.safe_dump(cfg))

    def start(self) -> None:
        argv = [
            str(GATEWAY_VENV / "bin" / "citygate"),
            "gateway",
            "run",
            "--config",
            str(self.config),
        ]
        if self.pin:
            argv = ["taskset", "-c", "0", *argv]  # taskset execs: the pid is the gateway's
        with (self.dir / "gateway.log").open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return bool(json.loads(r.read())["status"] == "ok")
        except urllib.error.HTTPError:
            return False
        except OSError:
            return False


@dataclass
class NaiveBridge:
    conn: Connections
    tmp: Path
    name: str = "naive"
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.district = f"benchnv{self.tag}"
        self.client_id = f"citygate-bench-naive-{self.tag}"
        self.status = self.tmp / f"naive-{self.tag}.json"

    def start(self) -> None:
        self.status.unlink(missing_ok=True)
        with (self.tmp / "naive.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(BENCH / "naive_bridge.py"),
                    f"--client-id={self.client_id}",
                    f"--topic=city/{self.district}/+/+/telemetry",
                    f"--status={self.status}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def ready(self) -> bool:
        try:
            return bool(json.loads(self.status.read_text())["connected"])
        except (OSError, ValueError):
            return False


def wait_for(what: str, check: Any, bridge: Bridge, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if bridge.proc is not None and bridge.proc.poll() is not None:
            raise RuntimeError(f"{bridge.name} exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{bridge.name}: no {what} within {timeout:.0f}s")
        time.sleep(0.05)


def stop(bridge: Bridge) -> None:
    proc = bridge.proc
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Sample:
    t: float
    cpu: float
    out: int  # records Kafka acknowledged since the phase began


def sample(bridge: Bridge, watch: KafkaWatch, base: int) -> Sample:
    assert bridge.proc is not None
    t = time.monotonic()
    return Sample(t, cpu_seconds(bridge.proc.pid), watch.total() - base)


def wait_out(bridge: Bridge, watch: KafkaWatch, base: int, target: int, timeout: float) -> Sample:
    """Poll Kafka's end offsets until `target` records arrived (or the timeout), with progress."""
    deadline = time.monotonic() + timeout
    reported = time.monotonic()
    while True:
        s = sample(bridge, watch, base)
        if s.out >= target or s.t > deadline:
            return s
        if bridge.proc is not None and bridge.proc.poll() is not None:
            raise RuntimeError(f"{bridge.name} exited with {bridge.proc.returncode}")
        if s.t - reported > 10:
            reported = s.t
            print(f"  [{bridge.name}] {s.out:,} of {target:,} in Kafka", flush=True)
        time.sleep(0.05)


# -- the measurements ----------------------------------------------------------------------


def preload(bridge: Bridge, readings: int) -> dict[str, Any]:
    """Create the bridge's persistent session, stop it, and have the broker queue a backlog."""
    bridge.start()
    wait_for("readiness", bridge.ready, bridge, timeout=90)
    stop(bridge)
    print(
        f"  [{bridge.name}] preloading {readings:,} readings into its offline session", flush=True
    )
    return publish(bridge.district, readings, tag="backlog", progress=True)


def drain(
    bridge: Bridge, watch: KafkaWatch, readings: int, timeout: float, profile: Path | None = None
) -> dict[str, Any]:
    """The queued backlog, timed from the first record in Kafka to the last one."""
    pub = preload(bridge, readings)
    start = watch.ends()
    base = sum(start.values())
    launched = time.monotonic()
    bridge.start()
    assert bridge.proc is not None
    pid = bridge.proc.pid
    first = sample(bridge, watch, base)
    while first.out == 0:
        if bridge.proc.poll() is not None or time.monotonic() > launched + 90:
            raise RuntimeError(f"{bridge.name} delivered nothing within 90 s of its start")
        time.sleep(0.02)
        first = sample(bridge, watch, base)
    spy = None
    if profile is not None:
        spy = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                f"--pid={pid}",
                "--rate=200",
                "--nonblocking",
                "--format=raw",
                f"--output={profile}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    last = wait_out(bridge, watch, base, pub["published"], timeout)
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    rss = peak_rss_mb(pid)
    time.sleep(0.5)  # a redelivered duplicate would land now; the check counts it
    check = watch.verify(start, watch.ends(), bridge.district)
    done = last.out - first.out
    seconds = last.t - first.t
    return {
        "backlog_published": pub["published"],
        "backlog_publish_rate": pub["rate"],
        "delivered": last.out,
        "complete": last.out >= pub["published"],
        "seconds": round(seconds, 2),
        "readings_per_s": round(done / seconds) if seconds > 0 else None,
        "cpu_us_per_reading": round((last.cpu - first.cpu) / max(done, 1) * 1e6, 1),
        "cpu_share_of_one_core": round((last.cpu - first.cpu) / seconds, 2) if seconds else None,
        "startup_cpu_s": round(first.cpu, 2),
        "startup_to_first_record_s": round(first.t - launched, 2),
        "peak_rss_mb": round(rss, 1),
        "kafka_check": check,
        "lost": max(0, pub["published"] - check["unique"]),
    }


def live(bridge: Bridge, watch: KafkaWatch, readings: int, timeout: float) -> dict[str, Any]:
    """Publishers running at full speed while the bridge forwards; timed from the first record
    in Kafka to the last, as the drain is (the publishers' start-up is left out)."""
    start = watch.ends()
    base = sum(start.values())
    publisher = threading.Thread(
        target=lambda: result.update(publish(bridge.district, readings, tag="live")), daemon=True
    )
    result: dict[str, Any] = {}
    publisher.start()
    first = wait_out(bridge, watch, base, 1, timeout)
    last = wait_out(bridge, watch, base, readings // PUBLISHERS * PUBLISHERS, timeout)
    publisher.join(timeout)
    time.sleep(0.5)
    check = watch.verify(start, watch.ends(), bridge.district)
    done, seconds = last.out - first.out, last.t - first.t
    return {
        "published": result["published"],
        "publish_rate": result["rate"],
        "delivered": last.out,
        "seconds": round(seconds, 2),
        "readings_per_s": round(done / seconds) if seconds > 0 else None,
        "cpu_us_per_reading": round((last.cpu - first.cpu) / max(done, 1) * 1e6, 1),
        "kafka_check": check,
        "lost": max(0, result["published"] - check["unique"]),
    }


def latency(bridge: Bridge, rate: float, seconds: float) -> dict[str, Any]:
    """Latency from the reading's publish time (in its payload) to a consumer's fetch."""
    total = int(rate * seconds) // PUBLISHERS * PUBLISHERS
    collector = subprocess.Popen(
        _self(
            "collect",
            f"--district={bridge.district}",
            f"--expect={total}",
            f"--timeout={seconds + 60}",
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert collector.stdout is not None
    if collector.stdout.readline().strip() != "ready":
        raise RuntimeError("latency collector did not start")
    pub = publish(bridge.district, total, rate=rate, tag="lat")
    out, _ = collector.communicate(timeout=seconds + 90)
    return {"target_rate": rate, "publish_rate": pub["rate"], **json.loads(out)}


def measure(
    bridge: Bridge,
    conn: Connections,
    watch: KafkaWatch,
    args: argparse.Namespace,
    readings: int,
    full: bool = True,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Drain, then (unless `full` is false) live run and latencies, of one bridge."""
    print(f"[{bridge.name}] drain of {readings:,} queued readings", flush=True)
    try:
        result: dict[str, Any] = {
            "drain": drain(bridge, watch, readings, args.drain_timeout, profile)
        }
        print(f"[{bridge.name}] drain {result['drain']}", flush=True)
        if full:
            print(f"[{bridge.name}] live run", flush=True)
            # The live run is as long as the drain at most (the naive bridge's is shorter).
            count = min(args.live_readings, readings)
            result["live"] = live(bridge, watch, count, args.drain_timeout)
            print(f"[{bridge.name}] live {result['live']}", flush=True)
            for rate in args.rates:
                key = f"latency_{rate:.0f}"
                if result["drain"]["readings_per_s"] < rate * 1.2:
                    result[key] = {"target_rate": rate, "skipped": "drain rate below this rate"}
                    continue
                print(f"[{bridge.name}] latency at {rate:,.0f}/s", flush=True)
                result[key] = latency(bridge, rate, args.latency_s)
                print(f"[{bridge.name}] {key} {result[key]}", flush=True)
        assert bridge.proc is not None
        result["peak_rss_mb"] = round(peak_rss_mb(bridge.proc.pid), 1)
        return result
    finally:
        stop(bridge)
        delete_session(conn, bridge.client_id)


def limits(conn: Connections, watch: KafkaWatch, readings: int, tmp: Path) -> dict[str, Any]:
    """What Kafka and Mosquitto carry on this machine without any bridge's work."""
    print(f"[limits] ProducerPerformance: {readings:,} gateway records", flush=True)
    watch.recreate_perf_topic(len(watch.parts))
    try:
        kafka = producer_performance(
            conn.kafka.bootstrap, PERF_TOPIC, gateway_records(1000), readings, tmp
        )
    finally:
        watch.delete_perf_topic()
    print(f"[limits] kafka {kafka}", flush=True)
    tag = uuid.uuid4().hex[:8]
    district, client_id = f"benchms{tag}", f"citygate-bench-mosquitto-sub-{tag}"
    topic = f"city/{district}/+/+/telemetry"
    host, port = conn.mqtt.host, conn.mqtt.port
    try:
        mosquitto_sub_session(host, port, client_id, topic)
        print(f"[limits] mosquitto_sub: preloading {readings:,} readings", flush=True)
        pub = publish(district, readings, tag="backlog", progress=True)
        mqtt_limit = mosquitto_sub_drain(host, port, client_id, topic, pub["published"])
    finally:
        delete_session(conn, client_id)
    print(f"[limits] mosquitto {mqtt_limit}", flush=True)
    return {"kafka_producer_perf": kafka, "mosquitto_sub": mqtt_limit}


def repetition(
    conn: Connections, watch: KafkaWatch, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    rep: dict[str, Any] = {"limits": limits(conn, watch, args.readings, tmp)}
    bridges: list[tuple[Bridge, int, bool]] = [
        (GatewayBridge(conn, tmp), args.readings, True),
        (GatewayBridge(conn, tmp, pin=True), args.readings, False),
        (TelegrafBridge(conn, tmp, KAFKA_TOPIC), args.readings, True),
        (NaiveBridge(conn, tmp), min(args.readings, args.naive_readings), True),
    ]
    for bridge, readings, full in bridges:
        if args.only in (None, bridge.name):
            rep[bridge.name] = measure(bridge, conn, watch, args, readings, full=full)
    return rep


# -- profile -------------------------------------------------------------------------------

# First match wins, so the more specific markers come first.
STAGES = [
    ("PUBACK sending (paho ack)", ["_ack (gateway/mqtt_source.py", "Client.ack (paho/mqtt/"]),
    ("routing: decode + encode", ["routing.py"]),
    ("journal append + fsync", ["append (gateway/journal.py", "_commit_loop", "_write (gateway"]),
    ("journal read (peek, CRC, decode)", ["peek (gateway/journal.py"]),
    ("journal release", ["release (gateway/journal.py"]),
    ("Kafka batch building", ["_send (gateway/kafka_sink.py"]),
    ("Kafka client (aiokafka I/O, metadata)", ["aiokafka/"]),
    ("paho network thread (parse + on_message)", ["paho/mqtt/", "mqtt_client.py"]),
    ("health/metrics HTTP thread", ["uvicorn", "starlette"]),
    ("asyncio loop and other", [""]),
]

# Leaf frames of a thread that waits: py-spy's idle detection misses them on a busy machine.
IDLE_LEAVES = (
    "EpollSelector.select (",
    "Client._loop (paho/mqtt/client.py",
    "_worker (concurrent/futures/thread.py",
    "Condition.wait (",
)


def profile_report(raw: Path, cpu_us_per_reading: float) -> dict[str, float]:
    """py-spy's collapsed stacks as CPU µs per reading by stage: each stage's share of the busy
    samples times the CPU time per reading measured from /proc over the same drain."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack.rsplit(";", 1)[-1].startswith(IDLE_LEAVES):
            continue
        stage = next(name for name, marks in STAGES if any(m in stack for m in marks))
        counts[stage] += int(n)
    busy = sum(counts.values()) or 1
    return {
        stage: round(counts[stage] / busy * cpu_us_per_reading, 1)
        for stage, _ in STAGES
        if counts[stage]
    }


def run_profile(conn: Connections, watch: KafkaWatch, args: argparse.Namespace, tmp: Path) -> None:
    raw = args.profile_out or tmp / "py-spy.txt"
    gw = measure(GatewayBridge(conn, tmp), conn, watch, args, args.readings, False, raw)
    profile = {
        "note": (
            f"py-spy record --rate 200 --nonblocking over a drain of "
            f"{gw['drain']['delivered']:,} readings ({gw['drain']['readings_per_s']:,}/s "
            "while sampled): busy samples of all threads, by the first matching stage, scaled "
            "to the CPU µs per reading measured from /proc."
        ),
        "stages": profile_report(raw, gw["drain"]["cpu_us_per_reading"]),
    }
    print(json.dumps({"drain": gw["drain"], "profile": profile}, indent=2))
    previous = RESULTS / "gateway.json"
    if previous.exists():
        saved = json.loads(previous.read_text())
        saved["profile"] = profile
        previous.write_text(json.dumps(saved, indent=2) + "\n")
        (RESULTS / "gateway.md").write_text(markdown(saved))


# -- main ----------------------------------------------------------------------------------


def measured_commit() -> str:
    """The checkout the gateway ran from (its code changes between runs), `+dirty` if edited."""
    git = ["git", "-C", str(BENCH)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", ":/gateway", ":/edge"], capture_output=True, text=True
    )
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def headline(summary: dict[str, Any], reps: list[dict[str, Any]]) -> dict[str, Any]:
    """The one-line JSON `--quick` ends with: medians, and what was lost over every run."""

    def med(bridge: str, *path: str) -> Any:
        node = summary.get(bridge, {})
        for key in path:
            node = node.get(key, {})
        return node.get("median") if isinstance(node, dict) else None

    lost = order = 0
    for rep in reps:
        for name, result in rep.items():
            if name == "limits":
                continue
            for phase in ("drain", "live"):
                if phase in result:
                    lost += result[phase]["lost"]
                    order += result[phase]["kafka_check"]["order_violations"]
    return {
        "gateway_readings_per_s": med("gateway", "drain", "readings_per_s"),
        "gateway_cpu_us_per_reading": med("gateway", "drain", "cpu_us_per_reading"),
        "gateway_peak_rss_mb": med("gateway", "peak_rss_mb"),
        "gateway_1core_readings_per_s": med("gateway_1core", "drain", "readings_per_s"),
        "gateway_p99_ms_at_10000": med("gateway", "latency_10000", "p99_ms"),
        "telegraf_readings_per_s": med("telegraf", "drain", "readings_per_s"),
        "telegraf_cpu_us_per_reading": med("telegraf", "drain", "cpu_us_per_reading"),
        "telegraf_peak_rss_mb": med("telegraf", "peak_rss_mb"),
        "naive_readings_per_s": med("naive", "drain", "readings_per_s"),
        "kafka_limit_readings_per_s": med("limits", "kafka_producer_perf", "readings_per_s"),
        "mqtt_limit_readings_per_s": med("limits", "mosquitto_sub", "readings_per_s"),
        "lost": lost,
        "order_violations": order,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    p = sub.add_parser("publish")
    p.add_argument("--district", required=True)
    p.add_argument("--first-sensor", type=int, default=0)
    p.add_argument("--sensors", type=int, default=SENSORS_PER_PUBLISHER)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--tag", default="")
    p.add_argument("--progress", action="store_true")
    c = sub.add_parser("collect")
    c.add_argument("--district", required=True)
    c.add_argument("--expect", type=int, required=True)
    c.add_argument("--timeout", type=float, default=60.0)
    sub.add_parser("report", help="bench/results/gateway.{md,png} again from gateway.json")
    parser.add_argument(
        "--quick", action="store_true", help="200,000 readings, one repetition (< 5 minutes)"
    )
    parser.add_argument("--readings", type=int, help="backlog per bridge (default 1,000,000)")
    parser.add_argument(
        "--naive-readings",
        type=int,
        help="the naive bridge's smaller backlog (it drains ~1,600/s; default 50,000, quick 20,000)",
    )
    parser.add_argument("--repetitions", type=int, help="default 3, quick 1")
    parser.add_argument("--live-readings", type=int, help="default 200,000, quick 50,000")
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[1_000, 10_000], help="latency at these rates"
    )
    parser.add_argument("--latency-s", type=float, help="seconds per latency run (10, quick 5)")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument(
        "--profile", action="store_true", help="profile the gateway's drain with py-spy only"
    )
    parser.add_argument("--profile-out", type=Path, help="keep py-spy's collapsed stacks here")
    parser.add_argument(
        "--only", choices=["gateway", "gateway_1core", "telegraf", "naive"], help="no results"
    )
    args = parser.parse_args()
    if args.cmd == "publish":
        return run_publisher(args)
    if args.cmd == "collect":
        return run_collector(args)
    if args.cmd == "report":
        # The table and plot again from gateway.json, e.g. after the report's code changed.
        saved = json.loads((RESULTS / "gateway.json").read_text())
        (RESULTS / "gateway.md").write_text(markdown(saved))
        return plot(saved, RESULTS / "gateway.png")
    quick = args.quick
    args.readings = args.readings or (200_000 if quick else 1_000_000)
    args.naive_readings = args.naive_readings or (20_000 if quick else 50_000)
    args.repetitions = args.repetitions or (1 if quick else 3)
    args.live_readings = args.live_readings or (50_000 if quick else 200_000)
    args.latency_s = args.latency_s or (5.0 if quick else 10.0)

    # A SIGTERM (e.g. from `timeout`) unwinds, so the bridges stop and their sessions go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    conn = load_connections()
    gateway_install()
    tmp = Path(tempfile.mkdtemp(prefix="citygate-gwbench-"))
    watch = KafkaWatch(conn.kafka.bootstrap)
    started = time.monotonic()
    try:
        if args.profile:
            return run_profile(conn, watch, args, tmp)
        report: dict[str, Any] = {
            "benchmark": "gateway",
            "machine": {
                "nproc": os.cpu_count(),
                "cpu_model": cpu_model(),
                "python": platform.python_version(),
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
            },
            "commit": measured_commit(),
            "settings": {
                "quick": quick,
                "readings": args.readings,
                "naive_readings": min(args.readings, args.naive_readings),
                "repetitions": args.repetitions,
                "live_readings": args.live_readings,
                "latency_rates": args.rates,
                "latency_s": args.latency_s,
            },
        }
        reps = []
        for i in range(args.repetitions):
            print(f"== repetition {i + 1} of {args.repetitions}", flush=True)
            reps.append(repetition(conn, watch, args, tmp))
        report["telegraf_version"] = telegraf_version()
        report["repetitions"] = reps
        report["summary"] = summarise(reps)
        report["headline"] = headline(report["summary"], reps)
        report["wall_seconds"] = round(time.monotonic() - started, 1)
        report["machine"]["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
        previous = RESULTS / "gateway.json"
        if args.only is None:
            RESULTS.mkdir(exist_ok=True)
            previous.write_text(json.dumps(report, indent=2) + "\n")
            (RESULTS / "gateway.md").write_text(markdown(report))
            plot(report, RESULTS / "gateway.png")
            print(f"results: {RESULTS}/gateway.json, gateway.md, gateway.png", flush=True)
        print(json.dumps(report["headline"]), flush=True)
        return None
    finally:
        watch.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
