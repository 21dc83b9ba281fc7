"""The gateway benchmark's peer and limits: Telegraf (built from its Go module into the cache) as
the bridge a user would pick instead, and what the machine's Kafka and Mosquitto carry on their
own (Kafka's ProducerPerformance; mosquitto_sub draining a queued backlog). Used by
bench/gateway_bench.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proc_stats import cpu_seconds, peak_rss_mb

from deploy import connections
from deploy.connections import Connections
from deploy.local.kafka import KAFKA_VERSION, copy_dependencies

PEERS = Path(__file__).resolve().parent / "peers"
TELEGRAF_VERSION = "v1.39.3"


# -- Telegraf ------------------------------------------------------------------------------


def telegraf_binary() -> Path:
    """The cached custom Telegraf build; bench/peers/build_telegraf.sh builds it on first use."""
    cache = connections.cache_dir()
    binary = cache / "telegraf" / TELEGRAF_VERSION / "telegraf"
    if not binary.exists():
        env = {**os.environ, "CITYGATE_CACHE": str(cache), "TELEGRAF_VERSION": TELEGRAF_VERSION}
        subprocess.run(["bash", str(PEERS / "build_telegraf.sh")], env=env, check=True)
    return binary


def telegraf_version() -> str:
    done = subprocess.run([str(telegraf_binary()), "--version"], capture_output=True, text=True)
    return done.stdout.strip()


# mqtt_consumer -> kafka, QoS 1 on a persistent session with a fixed client id, required_acks -1
# and lz4: the settings that give Telegraf the same at-least-once delivery as the gateway (it
# acknowledges to MQTT only after the output wrote the metric). The batch and undelivered-message
# sizes are raised from their defaults (1,000) so Telegraf is not measured waiting on them, and
# the flush interval lowered from 10 s, so a batch that does not fill waits 100 ms at most.
TELEGRAF_CONF = """\
[agent]
  interval = "10s"
  flush_interval = "100ms"
  flush_jitter = "0s"
  metric_batch_size = 5000
  metric_buffer_limit = 200000
  omit_hostname = true

[[inputs.mqtt_consumer]]
  servers = ["tcp://{mqtt_host}:{mqtt_port}"]
  topics = ["{topic}"]
  qos = 1
  persistent_session = true
  client_id = "{client_id}"
  max_undelivered_messages = 20000
  topic_tag = ""
  data_format = "json"
  json_time_key = "ts"
  json_time_format = "unix_ms"
  [[inputs.mqtt_consumer.topic_parsing]]
    topic = "city/+/+/+/telemetry"
    tags = "_/district/sensor_type/sensor_id/_"

[[outputs.kafka]]
  brokers = ["{bootstrap}"]
  topic = "{kafka_topic}"
  client_id = "citygate-bench-telegraf"
  version = "3.0.0"
  routing_tag = "sensor_id"
  required_acks = -1
  compression_codec = 3
  data_format = "json"
  json_timestamp_units = "1ns"
"""


@dataclass
class TelegrafBridge:
    """Telegraf as a bridge under test: readiness from its log, progress from Kafka."""

    conn: Connections
    tmp: Path
    kafka_topic: str
    name: str = "telegraf"
    tag: str = field(default_factory=lambda: os.urandom(4).hex())
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.district = f"benchtg{self.tag}"
        self.client_id = f"citygate-bench-telegraf-{self.tag}"
        self.binary = telegraf_binary()
        self.config = self.tmp / "telegraf.conf"
        self.config.write_text(
            TELEGRAF_CONF.format(
                mqtt_host=self.conn.mqtt.host,
                mqtt_port=self.conn.mqtt.port,
                topic=f"city/{self.district}/+/+/telemetry",
                client_id=self.client_id,
                bootstrap=self.conn.kafka.bootstrap,
                kafka_topic=self.kafka_topic,
            )
        )
        self.log = self.tmp / "telegraf.log"

    def start(self) -> None:
        self.log.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._connected_at: float | None = None

    def ready(self) -> bool:
        # Telegraf logs "Connected" before it subscribes; a second more covers the SUBSCRIBE.
        if self._connected_at is None:
            if not (self.log.exists() and "Connected [" in self.log.read_text(errors="replace")):
                return False
            self._connected_at = time.monotonic()
        return time.monotonic() - self._connected_at > 1.0


# -- the limits ----------------------------------------------------------------------------


def kafka_tools_libs() -> Path:
    """org.apache.kafka:kafka-tools (ProducerPerformance) at the broker's version, resolved with
    Maven into the cache by the same mechanism as the broker's jars (deploy/local/kafka.py)."""
    libs = connections.cache_dir() / f"kafka-tools-{KAFKA_VERSION}" / "libs"
    if not (libs.is_dir() and any(libs.glob("kafka-tools-*.jar"))):
        what = f"org.apache.kafka:kafka-tools:{KAFKA_VERSION}"
        copy_dependencies(PEERS / "kafka-tools" / "pom.xml", libs, what)
    return libs


def rusage_run(argv: list[str], **popen: Any) -> tuple[float, float, float, str]:
    """Run to completion: (wall s, utime + stime s, peak RSS MB, stdout). CPU comes from
    wait4's rusage; peak RSS from VmHWM polled while it runs, since ru_maxrss of a child
    includes the memory of the (large) process that forked it."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, **popen)
    peak = 0.0
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        with contextlib.suppress(OSError):
            peak = max(peak, peak_rss_mb(proc.pid))
        time.sleep(0.01)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read().decode() if proc.stdout is not None else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with {proc.returncode}: {out[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime, peak, out


PERF_LINE = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency(?:, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th)?"
)


def producer_performance(
    bootstrap: str, topic: str, payloads: list[bytes], records: int, tmp: Path
) -> dict[str, Any]:
    """Kafka's own producer at full speed with the gateway's records (their bytes, so the same
    size and the same lz4 ratio) and its producer settings: acks=all, idempotent, lz4. CPU per
    record is counted after the first one-second report, so the JVM's start-up is left out."""
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("ProducerPerformance needs Java 17: apt-get install openjdk-17-jre")
    payload_file = tmp / "records.txt"
    payload_file.write_bytes(b"\n".join(payloads))
    argv = [
        java,
        "-Xmx512m",
        "-cp",
        f"{kafka_tools_libs()}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        f"--bootstrap-server={bootstrap}",
        f"--topic={topic}",
        f"--num-records={records}",
        "--throughput=-1",
        f"--payload-file={payload_file}",
        "--record-key-range=1000",
        "--key-distribution=random",
        "--reporting-interval=1000",
        "--command-property",
        "acks=all",
        "enable.idempotence=true",
        "compression.type=lz4",
        "linger.ms=5",
        "batch.size=524288",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    warm: tuple[float, int] | None = None  # (CPU s, records) at the first report
    windows, output = 0, []
    summary: re.Match[str] | None = None
    peak = 0.0
    for line in proc.stdout:
        output.append(line)
        with contextlib.suppress(OSError):  # see rusage_run: ru_maxrss would be inflated
            peak = max(peak, peak_rss_mb(proc.pid))
        if (m := PERF_LINE.search(line)) is None:
            continue
        if m[6] is None:  # a one-second window; the summary has percentiles
            windows += int(m[1])
            if warm is None:
                warm = (cpu_seconds(proc.pid), windows)
        summary = m
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or summary is None:
        raise RuntimeError(f"ProducerPerformance failed: {''.join(output)[-2000:]}")
    sent = int(summary[1])
    cpu = ru.ru_utime + ru.ru_stime
    cpu0, sent0 = warm if warm is not None and warm[1] < sent else (0.0, 0)
    return {
        "records": sent,
        "record_bytes_mean": round(sum(map(len, payloads)) / len(payloads)),
        "readings_per_s": round(float(summary[2])),
        "mb_per_s": float(summary[3]),
        "latency_avg_ms": float(summary[4]),
        "latency_p50_ms": int(summary[6]),
        "latency_p99_ms": int(summary[8]),
        "cpu_us_per_reading": round((cpu - cpu0) / (sent - sent0) * 1e6, 1),
        "cpu_us_per_reading_with_startup": round(cpu / sent * 1e6, 1),
        "peak_rss_mb": round(peak, 1),
    }


def mosquitto_sub_drain(host: str, port: int, client_id: str, topic: str, count: int) -> dict:
    """mosquitto_sub (the C client) drains `count` queued QoS 1 messages from its persistent
    session (`-c -i id`) to /dev/null; timed from launch to exit (connect is a millisecond)."""
    binary = shutil.which("mosquitto_sub")
    if binary is None:
        raise RuntimeError("the MQTT limit needs mosquitto_sub: apt-get install mosquitto-clients")
    argv = [binary, "-h", host, "-p", str(port), "-c", "-i", client_id, "-q", "1", "-t", topic]
    wall, cpu, rss, _ = rusage_run(
        [*argv, "-C", str(count), "-W", "600"], stdout=subprocess.DEVNULL
    )
    return {
        "readings": count,
        "seconds": round(wall, 2),
        "readings_per_s": round(count / wall),
        "cpu_us_per_reading": round(cpu / count * 1e6, 2),
        "peak_rss_mb": round(rss, 1),
    }


def mosquitto_sub_session(host: str, port: int, client_id: str, topic: str) -> None:
    """Connect once with the persistent session and subscription, then leave (after 1 s)."""
    binary = shutil.which("mosquitto_sub")
    if binary is None:
        raise RuntimeError("the MQTT limit needs mosquitto_sub: apt-get install mosquitto-clients")
    argv = [binary, "-h", host, "-p", str(port), "-c", "-i", client_id, "-q", "1", "-t", topic]
    # -W 1 ends it after a second without messages; that exit code (27) is expected here.
    subprocess.run(
        [*argv, "-W", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
