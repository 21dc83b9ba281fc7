"""Serial input through a real pseudo-terminal: PMS5003 frames into Kafka, a device unplugged
and replugged mid-stream, one timestamp per frame, and seqs that survive restarts (against the
real Kafka)."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from pathlib import Path

import pytest

from deploy.connections import Connections
from edge import pms5003
from edge import reading as reading_codec
from edge.topics import DEADLETTER, reading_topic
from firmware_sim.pty_ports import PtyPort
from tests.gateway.harness import GatewayProcess, KafkaCollector

pytestmark = pytest.mark.integration


def frame(pm25: int) -> bytes:
    return pms5003.encode(
        pms5003.PMS5003Frame(pm25, pm25, pm25 + 5, pm25, pm25, pm25 + 5, 900, 300, 60, 8, 2, 1)
    )


def _gauge(gw: GatewayProcess, name: str) -> float:
    m = re.search(rf"^{name}{{[^}}]*}} (\S+)$", gw.metrics(), re.M)
    return float(m.group(1)) if m else 0.0


def _wait(predicate: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_pty_unplug_and_replug_mid_stream(tmp_path: Path, connections: Connections) -> None:
    sensor = f"pms-{uuid.uuid4().hex[:8]}"
    link = tmp_path / sensor
    device = PtyPort(link)
    device.plug()
    gw = GatewayProcess(
        tmp_path,
        connections,
        "serialtest",
        {
            "mqtt": None,
            "serial": [
                {"port": str(link), "codec": "pms5003", "sensor_id": sensor, "district": "west"}
            ],
        },
    )
    collector = KafkaCollector(connections, [reading_topic("air_quality"), DEADLETTER])
    gw.start()
    try:
        _wait(lambda: _gauge(gw, "citygate_gateway_serial_open") == 1, "the port to open")
        device.write(b"".join(frame(10 + i) for i in range(6)))  # back to back: one read
        for i in range(6, 20):
            device.write(frame(10 + i))
            time.sleep(0.02)
        device.write(b"\x42\x4d\x00\x1cgarbage")  # a cut frame: must become a dead letter
        time.sleep(0.5)
        device.unplug()
        _wait(lambda: _gauge(gw, "citygate_gateway_serial_open") == 0, "the unplug to be seen")
        time.sleep(0.5)
        device.plug()
        _wait(lambda: _gauge(gw, "citygate_gateway_serial_open") == 1, "the port to reopen", 30)
        for i in range(20):
            device.write(frame(50 + i))
            time.sleep(0.02)

        def readings(records: list) -> list:
            return [
                reading_codec.decode(r.value)
                for r in records
                if r.topic != DEADLETTER and r.key == sensor.encode()
            ]

        got = collector.collect(lambda out: len(readings(out)) >= 40, timeout=60)
        ours = readings(got)
        assert [r.fields["pm25"] for r in ours] == [
            float(v) for v in [*range(10, 30), *range(50, 70)]
        ]
        assert [r.seq for r in ours] == list(range(1, 41))  # gateway-assigned, gap-free
        assert all("gateway_seq" in r.quality for r in ours)
        # One timestamp per frame, rising: InfluxDB keeps one point per series and time.
        assert all(a.ts < b.ts for a, b in itertools.pairwise(ours))
        dead = [r for r in got if r.topic == DEADLETTER and r.key == str(link).encode()]
        assert dead, "the garbage frame did not reach the dead-letter topic"
        assert re.search(r'citygate_gateway_serial_reopens_total{port="[^"]+"} 1\.0', gw.metrics())
    finally:
        gw.stop()
        device.unplug()


def test_seqs_never_repeat_across_restarts_and_a_crash(
    tmp_path: Path, connections: Connections
) -> None:
    """Gateway-assigned seqs rise across a clean restart and a SIGKILL (issue 10, defect 4)."""
    sensor = f"pms-{uuid.uuid4().hex[:8]}"
    link = tmp_path / sensor
    device = PtyPort(link)
    device.plug()
    port = {"port": str(link), "codec": "pms5003", "sensor_id": sensor, "district": "west"}
    gw = GatewayProcess(tmp_path, connections, "serialtest", {"mqtt": None, "serial": [port]})
    collector = KafkaCollector(connections, [reading_topic("air_quality")])

    def distinct(records: list) -> set[tuple[int, float]]:
        # A journal replay after SIGKILL may send a reading twice: the same reading, same seq.
        return {
            (r.seq, r.fields["pm25"]) for r in map(reading_codec.decode, (x.value for x in records))
        }

    readings: set[tuple[int, float]] = set()
    try:
        for run, stop in enumerate((gw.stop, gw.kill, gw.stop)):
            gw.start()
            _wait(lambda: _gauge(gw, "citygate_gateway_serial_open") == 1, "the port to open")
            device.write(b"".join(frame(10 * run + i) for i in range(5)))
            want = len(readings) + 5
            readings = distinct(
                collector.collect(
                    lambda out, n=want: len(distinct(out)) >= n,
                    60,
                    lambda r: r.key == sensor.encode(),
                )
            )
            stop()
    finally:
        gw.stop()
        device.unplug()
    seqs = sorted(seq for seq, _ in readings)
    assert len(seqs) == 15 and len(set(seqs)) == 15, sorted(readings)  # no seq reused
    assert seqs[:10] == list(range(1, 11))  # a clean stop leaves no gap
    assert seqs[10:] == list(range(seqs[10], seqs[10] + 5))  # after the killed run's block
