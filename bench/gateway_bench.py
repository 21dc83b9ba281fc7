"""Benchmark of the edge gateway against a naive bridge (bench/naive_bridge.py), in one run.

For each bridge, against the real local Mosquitto and Kafka: (1) drain rate of a backlog the
broker queued for the bridge's offline persistent session, with the bridge's CPU µs per reading
(utime + stime from /proc) and peak RSS (VmHWM); (2) a live run with publishers alongside;
(3) publish-to-consume latency at a fixed rate. Writes bench/results/gateway.{json,md}.
`--profile` instead samples the gateway with py-spy during a drain, by pipeline stage.

    .venv/bin/python bench/gateway_bench.py [--readings 200000] [--rate 10000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import msgspec
import paho.mqtt.client as mqtt
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from deploy.connections import Connections
from deploy.connections import load as load_connections
from firmware_sim.mqtt_publisher import MqttPublisher

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
KAFKA_TOPIC = "city.air_quality.v1"
PUBLISHERS = 2
SENSORS_PER_PUBLISHER = 500
CLK_TCK = os.sysconf("SC_CLK_TCK")

TARGETS = {"drain_readings_per_s": 50_000, "peak_rss_mb": 60, "latency_p99_ms": 50}


# -- helpers -------------------------------------------------------------------------------


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of `pid` so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


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
    while sent < args.count:
        if args.rate:
            ahead = t0 + sent / args.rate - time.monotonic()
            if ahead > 0:
                pub.service(ahead)
                continue
        ts_ms = time.time_ns() // 1_000_000
        batch = [
            (
                topics[i % n_topics],
                b'{"seq":%d,"ts":%d,"fields":{"pm25":%d.5,"pm10":21.0,"temperature":12.5},'
                b'"lat":52.5,"lon":13.4}' % (i // n_topics + 1, ts_ms, i % 40),
                1,
            )
            for i in range(sent, min(args.count, sent + tick))
        ]
        pub.publish_many(batch)
        sent += len(batch)
        while pub.client.want_write():
            pub.service(0.005)
    drained = pub.drain(timeout=60.0)
    seconds = time.monotonic() - t0
    pub.close()
    result = {"sent": sent, "acked": pub.completed, "seconds": seconds, "drained": drained}
    print(json.dumps(result), flush=True)


class _Stamp(msgspec.Struct):
    ts: int


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
                        latencies.append(now - decode(r.value).ts)
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


def publish(district: str, total: int, rate: float | None = None, tag: str = "") -> dict[str, Any]:
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
            ),
            stdout=subprocess.PIPE,
        )
        for k in range(PUBLISHERS)
    ]
    results = [json.loads(p.communicate(timeout=240)[0]) for p in procs]
    # The rate over the publishers' own clocks (from their first publish), not their start-up.
    seconds = max(r["seconds"] for r in results)
    acked = sum(r["acked"] for r in results)
    return {"published": acked, "seconds": round(seconds, 2), "rate": round(acked / seconds)}


# -- the bridges under test ----------------------------------------------------------------


class Bridge(Protocol):
    name: str
    district: str
    client_id: str
    proc: subprocess.Popen[bytes] | None

    def start(self) -> None: ...
    def progress(self) -> tuple[int, int] | None:
        """(messages in, records Kafka acknowledged), or None while not serving."""

    def ready(self) -> bool: ...


@dataclass
class GatewayBridge:
    conn: Connections
    tmp: Path
    name: str = "gateway"
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.district = f"benchgw{self.tag}"
        self.client_id = f"citygate-bench-gw-{self.tag}"
        self.port = free_port()
        self.config = self.tmp / "gateway.yaml"
        cfg = {
            "gateway_id": f"gw-bench-{self.tag}",
            "mqtt": {
                "host": self.conn.mqtt.host,
                "port": self.conn.mqtt.port,
                "client_id": self.client_id,
                "topics": [f"city/{self.district}/+/+/telemetry"],
                "session_expiry_s": 600,
            },
            "journal": {"path": str(self.tmp / "journal")},
            "kafka": {"bootstrap": self.conn.kafka.bootstrap},
            "http": {"host": "127.0.0.1", "port": self.port},
        }
        self.config.write_text(yaml.safe_dump(cfg))

    def start(self) -> None:
        with (self.tmp / "gateway.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "citygate"), "gateway", "run", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.tmp,
            )

    def _health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return dict(json.loads(r.read()))
        except urllib.error.HTTPError as exc:
            return dict(json.loads(exc.read()))
        except OSError:
            return None

    def progress(self) -> tuple[int, int] | None:
        h = self._health()
        return None if h is None else (int(h["messages_in"]), int(h["records_out"]))

    def ready(self) -> bool:
        h = self._health()
        return h is not None and h["status"] == "ok"


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
        self.status = self.tmp / "naive.json"

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

    def _status(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.status.read_text()))
        except (OSError, ValueError):
            return None

    def progress(self) -> tuple[int, int] | None:
        s = self._status()
        return None if s is None else (int(s["received"]), int(s["acked"]))

    def ready(self) -> bool:
        s = self._status()
        return s is not None and bool(s["connected"])


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
    inn: int
    out: int


def sample(bridge: Bridge) -> Sample | None:
    assert bridge.proc is not None
    t = time.monotonic()
    cpu = cpu_seconds(bridge.proc.pid)
    p = bridge.progress()
    return None if p is None else Sample(t, cpu, *p)


def wait_out(bridge: Bridge, target: int, timeout: float) -> Sample:
    """Poll until `target` records are acknowledged by Kafka (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        s = sample(bridge)
        if s is not None and (s.out >= target or time.monotonic() > deadline):
            return s
        # Each /healthz poll costs the gateway CPU of its own: ten a second is ~1% of a drain.
        time.sleep(0.1)


# -- the three measurements ----------------------------------------------------------------


def drain(bridge: Bridge, readings: int, timeout: float, profile: Path | None) -> dict[str, Any]:
    """Backlog queued by the broker for the offline session, then timed as the bridge drains it."""
    bridge.start()  # creates the persistent session and its subscription
    wait_for("readiness", bridge.ready, bridge, timeout=90)
    stop(bridge)
    pub = publish(bridge.district, readings, tag="backlog")
    launched = time.monotonic()
    bridge.start()
    assert bridge.proc is not None
    pid = bridge.proc.pid
    first = sample(bridge)
    while first is None or first.inn == 0:
        if bridge.proc.poll() is not None or time.monotonic() > launched + 60:
            raise RuntimeError(f"{bridge.name} took no message within 60 s of its start")
        time.sleep(0.02)
        first = sample(bridge)
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
    last = wait_out(bridge, pub["published"], timeout)
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    done = last.out - first.out
    seconds = last.t - first.t
    return {
        "backlog_published": pub["published"],
        "backlog_publish_rate": pub["rate"],
        "delivered": last.out,
        "complete": last.out >= pub["published"],
        "seconds": round(seconds, 2),
        "readings_per_s": round(done / seconds),
        "cpu_us_per_reading": round((last.cpu - first.cpu) / done * 1e6, 1),
        "cpu_share_of_one_core": round((last.cpu - first.cpu) / seconds, 2),
        "startup_cpu_s": round(first.cpu, 2),
        "startup_to_first_message_s": round(first.t - launched, 2),
        "peak_rss_mb": round(peak_rss_mb(pid), 1),
    }


def live(bridge: Bridge, readings: int, timeout: float) -> dict[str, Any]:
    """Publishers running at full speed while the bridge forwards."""
    before = wait_out(bridge, 0, 0)
    pub = publish(bridge.district, readings, tag="live")
    last = wait_out(bridge, before.out + pub["published"], timeout)
    done = last.out - before.out
    seconds = last.t - before.t
    return {
        "published": pub["published"],
        "publish_rate": pub["rate"],
        "delivered": done,
        "seconds": round(seconds, 2),
        "readings_per_s": round(done / seconds),
        "cpu_us_per_reading": round((last.cpu - before.cpu) / max(done, 1) * 1e6, 1),
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
    bridge: Bridge, conn: Connections, args: argparse.Namespace, profile: Path | None = None
) -> dict[str, Any]:
    print(f"[{bridge.name}] drain of {args.readings:,} queued readings", flush=True)
    try:
        result: dict[str, Any] = {
            "drain": drain(bridge, args.readings, args.drain_timeout, profile)
        }
        print(f"[{bridge.name}] {result['drain']}", flush=True)
        if profile is None:
            print(f"[{bridge.name}] live run", flush=True)
            result["live"] = live(bridge, args.live_readings, args.drain_timeout)
            print(f"[{bridge.name}] {result['live']}", flush=True)
            print(f"[{bridge.name}] latency at {args.rate:,.0f}/s", flush=True)
            result["latency"] = latency(bridge, args.rate, args.latency_s)
            print(f"[{bridge.name}] {result['latency']}", flush=True)
        assert bridge.proc is not None
        result["peak_rss_mb"] = round(peak_rss_mb(bridge.proc.pid), 1)
        return result
    finally:
        stop(bridge)
        delete_session(conn, bridge.client_id)


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
    ("paho network thread (parse + on_message)", ["paho/mqtt/"]),
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


# -- report --------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def markdown(report: dict[str, Any]) -> str:
    gw, nv = report["gateway"], report["naive"]
    m = report["machine"]
    rows = [
        ("Drain rate, readings/s (queued backlog)", gw["drain"]["readings_per_s"],
         nv["drain"]["readings_per_s"], ">= 50,000"),
        ("CPU µs per reading (bridge process, drain)", gw["drain"]["cpu_us_per_reading"],
         nv["drain"]["cpu_us_per_reading"], "<= 20 (50k/s on one core)"),
        ("CPU share of one core during drain", gw["drain"]["cpu_share_of_one_core"],
         nv["drain"]["cpu_share_of_one_core"], ""),
        ("Peak RSS, MB (VmHWM, whole run)", gw["peak_rss_mb"], nv["peak_rss_mb"], "< 60"),
        ("Live run, readings/s (publishers alongside)", gw["live"]["readings_per_s"],
         nv["live"]["readings_per_s"], ""),
        ("Live run, CPU µs per reading", gw["live"]["cpu_us_per_reading"],
         nv["live"]["cpu_us_per_reading"], ""),
        (f"Latency p50, ms at {gw['latency']['target_rate']:,.0f}/s",
         gw["latency"]["p50_ms"], nv["latency"]["p50_ms"], ""),
        (f"Latency p99, ms at {gw['latency']['target_rate']:,.0f}/s",
         gw["latency"]["p99_ms"], nv["latency"]["p99_ms"], "< 50"),
    ]  # fmt: skip
    lines = [
        "# Gateway benchmark: citygate gateway vs a naive bridge",
        "",
        f"`bench/gateway_bench.py`, {m['date']}; {m['nproc']} cores ({m['cpu_model']}), "
        f"Python {m['python']}; load average {m['load_average_at_start']} at the start and "
        f"{m['load_average_at_end']} at the end (1, 5, 15 min). Mosquitto, Kafka, the "
        "publishers and the bridge share these cores (and so did other jobs), so the bridge's "
        "own CPU time per reading is the figure that transfers; rates are what was left.",
        "",
        "| figure | gateway | naive bridge | gateway ÷ naive | target |",
        "|---|---:|---:|---:|---|",
    ]
    for name, g, n, target in rows:
        lines.append(f"| {name} | {g:,} | {n:,} | {ratio(g, n)} | {target} |")
    lines += [
        "",
        f"- Drain: {gw['drain']['backlog_published']:,} readings were published to each "
        "bridge's topics while it was stopped (Mosquitto queued them for its persistent "
        "session), then it was started and timed from its first message to the last Kafka "
        "acknowledgement (gateway: `records_out` in /healthz, journal on with fsync per group).",
        f"- Live: {gw['live']['published']:,} readings published by {PUBLISHERS} QoS 1 "
        f"publisher processes at full speed ({gw['live']['publish_rate']:,}/s for the gateway, "
        f"{nv['live']['publish_rate']:,}/s for the naive bridge): the live rate is bounded by "
        "the publishers, not by the bridge.",
        f"- Latency: publishers paced at {gw['latency']['target_rate']:,.0f}/s reached "
        f"{gw['latency']['publish_rate']:,}/s (gateway run) and "
        f"{nv['latency']['publish_rate']:,}/s (naive run). Latency is the consumer's fetch "
        "time minus the publish time in the payload (millisecond precision, truncated), so it "
        "is an upper bound of publish-to-Kafka-ack: it includes the consumer's fetch wait "
        "(5 ms) and up to 1 ms of truncation.",
        "- The naive bridge acknowledges to MQTT before Kafka has the reading (automatic acks, "
        "no journal): it can lose what it holds when it dies. Same producer settings (acks=all, "
        "lz4, linger 5 ms) and the same decode/route code as the gateway.",
    ]
    if "profile" in report:
        lines += [
            "",
            "## Where the gateway's CPU goes (py-spy, during a drain)",
            "",
            f"{report['profile']['note']}",
            "",
            "| stage | CPU µs per reading |",
            "|---|---:|",
        ]
        for stage, us in report["profile"]["stages"].items():
            lines.append(f"| {stage} | {us} |")
        lines += ["", *PROFILE_NOTES]
    return "\n".join(lines) + "\n"


PROFILE_NOTES = [
    "- paho's network thread is still the largest cost: per PUBLISH it builds an MQTTMessage "
    "and a Properties object and dispatches the callback, in pure Python, and it sends each "
    "PUBACK with its own send(). Its reads are buffered (gateway/mqtt_client.py: one recv() of "
    "up to 64 KiB, every whole packet in it parsed before the next select()), which took the "
    "gateway from about 215-240 to 150-165 CPU µs per reading.",
    "- PUBACKs go out through paho's public `client.ack`, one per message after the fsync: "
    "batching them through paho's private packet queue was tried and gave no measurable "
    "saving, so it was not kept.",
    "- Left: an MQTT client with a compiled parser, keeping journal records in memory between "
    "append and peek instead of re-reading and re-decoding them, and aiokafka's per-batch "
    "Python work (encoding, lz4, socket writes).",
]


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
    c = sub.add_parser("collect")
    c.add_argument("--district", required=True)
    c.add_argument("--expect", type=int, required=True)
    c.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--readings", type=int, default=50_000)
    parser.add_argument("--live-readings", type=int, default=30_000)
    parser.add_argument("--rate", type=float, default=1_000)
    parser.add_argument("--latency-s", type=float, default=10.0)
    parser.add_argument("--drain-timeout", type=float, default=90.0)
    parser.add_argument(
        "--profile", action="store_true", help="profile the gateway's drain with py-spy only"
    )
    parser.add_argument("--profile-out", type=Path, help="keep py-spy's collapsed stacks here")
    parser.add_argument("--only", choices=["gateway", "naive"])
    args = parser.parse_args()
    if args.cmd == "publish":
        return run_publisher(args)
    if args.cmd == "collect":
        return run_collector(args)

    # A SIGTERM (e.g. from `timeout`) unwinds, so the bridges stop and their sessions go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    conn = load_connections()
    tmp = Path(tempfile.mkdtemp(prefix="citygate-gwbench-"))
    started = time.monotonic()
    try:
        if args.profile:
            raw = args.profile_out or tmp / "py-spy.txt"
            gw = measure(GatewayBridge(conn, tmp), conn, args, profile=raw)
            profile = {
                "note": (
                    f"py-spy record --rate 200 --nonblocking over a drain of "
                    f"{gw['drain']['delivered']:,} readings ({gw['drain']['readings_per_s']:,}/s "
                    "while sampled): busy samples of all threads, by the first matching stage, scaled to "
                    "the CPU µs per reading measured from /proc."
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
            return None
        report: dict[str, Any] = {
            "benchmark": "gateway",
            "machine": {
                "nproc": os.cpu_count(),
                "cpu_model": cpu_model(),
                "python": platform.python_version(),
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
            },
            "targets": TARGETS,
        }
        bridges: list[Bridge] = [GatewayBridge(conn, tmp), NaiveBridge(conn, tmp)]
        for bridge in bridges:
            if args.only in (None, bridge.name):
                report[bridge.name] = measure(bridge, conn, args)
        report["wall_seconds"] = round(time.monotonic() - started, 1)
        report["machine"]["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
        previous = RESULTS / "gateway.json"
        if previous.exists():
            with contextlib.suppress(ValueError, KeyError):
                old = json.loads(previous.read_text())
                if "profile" in old:
                    report["profile"] = old["profile"]
        if args.only is None:
            RESULTS.mkdir(exist_ok=True)
            previous.write_text(json.dumps(report, indent=2) + "\n")
            (RESULTS / "gateway.md").write_text(markdown(report))
        print(json.dumps(report, indent=2))
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
