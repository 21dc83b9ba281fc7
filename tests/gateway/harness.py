"""Test harness for the gateway against the real stack: a gateway subprocess, an MQTT
publisher that waits for every PUBACK, and a Kafka collector that reads what arrived."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from deploy.connections import Connections
from edge import mqtt_json
from edge.reading import Location, Reading

CITYGATE = str(Path(sys.executable).with_name("citygate"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def air_readings(district: str, sensors: int, per_sensor: int, start_seq: int = 1) -> list[Reading]:
    """Interleaved readings: every sensor's seq rises, sensors take turns."""
    now = time.time_ns()
    loc = Location(district, 52.5, 13.4)
    return [
        Reading(
            sensor_id=f"{district}-aq-{s}",
            sensor_type="air_quality",
            seq=seq,
            ts=now + seq * 1_000_000,
            fields={"pm25": 10.0 + (seq % 7), "pm10": 20.0 + (seq % 5), "temperature": 12.5},
            location=loc,
        )
        for seq in range(start_seq, start_seq + per_sensor)
        for s in range(sensors)
    ]


@dataclass
class GatewayProcess:
    """`citygate gateway run` as a real process, with a config of its own in tmp_path."""

    tmp: Path
    conn: Connections
    district: str
    overrides: dict[str, Any] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    gateway_id: str = field(default_factory=lambda: f"gw-test-{uuid.uuid4().hex[:8]}")

    def __post_init__(self) -> None:
        self.http_host = str(self.overrides.get("http.host", "127.0.0.1"))
        self.http_port = free_port()
        self.config = self.tmp / "gateway.yaml"
        self.log = self.tmp / "gateway.log"
        cfg: dict[str, Any] = {
            "gateway_id": self.gateway_id,
            "mqtt": {
                "host": self.conn.mqtt.host,
                "port": self.conn.mqtt.port,
                "topics": [f"city/{self.district}/+/+/telemetry"],
                "session_expiry_s": 600,
            },
            "journal": {"path": str(self.tmp / "journal")},
            "kafka": {"bootstrap": self.conn.kafka.bootstrap, "backoff_min_s": 0.5},
            "http": {"host": self.http_host, "port": self.http_port},
            "heartbeat_s": 1,
        }
        self.write_config(cfg)

    def write_config(self, cfg: dict[str, Any]) -> None:
        for key, value in self.overrides.items():
            node = cfg
            *parents, last = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
        self.config.write_text(yaml.safe_dump(cfg))

    def start(self, wait_healthy: bool = True) -> GatewayProcess:
        """Start the process; with Kafka unreachable on purpose, pass wait_healthy=False."""
        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [CITYGATE, "gateway", "run", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.tmp,
        )
        if wait_healthy:
            self.wait_healthy()
        else:
            self.wait_serving()
        return self

    def wait_serving(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.health() is None:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "gateway never served /healthz"
            time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}"

    def health(self) -> dict[str, Any] | None:
        import json

        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                return dict(json.loads(r.read()))
        except urllib.error.HTTPError as exc:
            return dict(json.loads(exc.read()))
        except OSError:
            return None

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=2) as r:
            return str(r.read().decode())

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited:\n{self.log.read_text()[-3000:]}")
            h = self.health()
            if h and h.get("status") == "ok":
                return
            time.sleep(0.2)
        raise AssertionError(
            f"gateway not healthy: {self.health()}\n{self.log.read_text()[-3000:]}"
        )

    def wait_journaled(self, n: int, timeout: float = 120) -> dict[str, Any]:
        """Wait until `n` messages are durable in this process's journal. The publisher's PUBACKs
        come from the broker, so they say nothing about what the gateway has written yet."""
        deadline = time.monotonic() + timeout
        h: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            h = self.health()
            if h and h["messages_journaled"] >= n:
                return h
            time.sleep(0.2)
        raise AssertionError(f"{n} messages not journaled: {h}")

    def wait_drained(self, timeout: float = 120, expect_traffic: bool = True) -> dict[str, Any]:
        """Wait until the journal is empty. With `expect_traffic`, this process must also have
        taken or sent something (an empty journal before the first message proves nothing);
        pass False when every reading was acknowledged already, perhaps to an earlier process."""
        deadline = time.monotonic() + timeout
        h: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            h = self.health()
            moved = not expect_traffic or bool(h and (h["messages_in"] or h["records_out"]))
            if h and h["journal_depth_records"] == 0 and moved:
                return h
            time.sleep(0.5)
        raise AssertionError(f"journal not drained: {h}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def wait_for_log(gw: GatewayProcess, event: str, timeout: float = 30, start: int = 0) -> str:
    """The first log line of `event` at or after byte `start` of the gateway's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in gw.log.read_bytes()[start:].decode().splitlines():
            if f"event='{event}'" in line:
                return line
        assert gw.proc is not None and gw.proc.poll() is None, gw.log.read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"no {event} in the log:\n{gw.log.read_text()[-3000:]}")


class Publisher:
    """A QoS 1 MQTT publisher that can wait for every PUBACK."""

    def __init__(self, conn: Connections) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-pub-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.acked = 0
        self.sent = 0
        self.window = 20_000
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.client.connect(conn.mqtt.host, conn.mqtt.port)
        self.client.loop_start()

    def _on_publish(self, *_: Any) -> None:
        with self._lock:
            self.acked += 1

    def send(self, items: Iterable[tuple[str, bytes]], qos: int = 1) -> int:
        n = 0
        for topic, payload in items:
            # paho numbers messages with 16-bit ids when they are queued: keep the number
            # outstanding well below 65,535 or ids collide and messages vanish in the client.
            while self.sent - self.acked >= self.window:
                time.sleep(0.002)
            self.client.publish(topic, payload, qos=qos)
            self.sent += 1 if qos else 0
            n += 1
        return n

    def readings(self, readings: Iterable[Reading], qos: int = 1) -> int:
        return self.send((mqtt_json.encode(r) for r in readings), qos)

    def wait_acked(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.acked >= n, f"only {self.acked} of {n} publishes acknowledged"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class KafkaCollector:
    """Reads topics from the offsets they had when it was made."""

    def __init__(self, conn: Connections, topics: list[str]) -> None:
        self.conn = conn
        self.topics = topics
        self.start = asyncio.run(self._end_offsets())

    async def _end_offsets(self) -> dict[TopicPartition, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.conn.kafka.bootstrap)
        await consumer.start()
        try:
            parts = [
                TopicPartition(t, p)
                for t in self.topics
                for p in sorted(consumer.partitions_for_topic(t) or await self._parts(consumer, t))
            ]
            return dict(await consumer.end_offsets(parts))
        finally:
            await consumer.stop()

    @staticmethod
    async def _parts(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
        await consumer._client.force_metadata_update()
        return consumer.partitions_for_topic(topic) or set()

    def collect(
        self,
        done: Callable[[list[Any]], bool],
        timeout: float = 120,
        keep: Callable[[Any], bool] = lambda record: True,
    ) -> list[Any]:
        """Records (that `keep` accepts) until `done(records)` or the timeout; other tests and
        the demo may write to the same topics meanwhile."""

        async def run() -> list[Any]:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.conn.kafka.bootstrap, enable_auto_commit=False
            )
            await consumer.start()
            consumer.assign(list(self.start))
            for tp, offset in self.start.items():
                consumer.seek(tp, offset)
            out: list[Any] = []
            deadline = time.monotonic() + timeout
            try:
                while time.monotonic() < deadline and not done(out):
                    batch = await consumer.getmany(timeout_ms=500, max_records=20000)
                    for records in batch.values():
                        out += [r for r in records if keep(r)]
            finally:
                await consumer.stop()
            return out

        return asyncio.run(run())


def env_ci() -> bool:
    return os.environ.get("CI") == "true"
