"""`citygate sim run` against the local stack publishes what the scenario says and writes labels;
`load` and `replay` run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from deploy.connections import Connections
from edge import mqtt_json
from edge.reading import Reading
from firmware_sim import Simulator, load_scenario
from firmware_sim.labels import read_labels

from .mqtt_counter import Collector

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
CITY = ROOT / "firmware-sim" / "scenarios" / "city.yaml"
CITYGATE = [sys.executable, "-c", "from citygate.cli import main; main()"]


def test_run_city_publishes_what_the_scenario_says(
    connections: Connections, tmp_path: Path
) -> None:
    duration = 10
    scenario = load_scenario(CITY)
    fleet = Simulator(scenario).fleet
    expected = {
        d.sensor_id: round(duration * 1000 / scenario.clock.tick_ms) // d.interval_ticks
        for d in fleet.devices
    }
    labels = tmp_path / "labels.jsonl"
    collector = Collector(connections, "city/+/+/+/telemetry")
    try:
        done = subprocess.run(
            [
                *CITYGATE,
                "sim",
                "run",
                "--scenario",
                str(CITY),
                "--duration",
                str(duration),
                "--labels",
                str(labels),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        got = collector.wait_for(sum(expected.values()) - 50, timeout=10)
    finally:
        collector.close()
    counts: Counter[str] = Counter()
    for topic, payload in got:
        reading = mqtt_json.decode(topic, payload, 1)
        if isinstance(reading, Reading) and reading.sensor_id in expected:
            counts[reading.sensor_id] += 1
    rows = read_labels(labels)
    assert {r.fault for r in rows} >= {"spike", "stuck", "conflicting_greens"}
    silenced = {r.sensor for r in rows if r.fault == "dropout"}
    for sensor_id, n in expected.items():
        if sensor_id in silenced:
            assert counts[sensor_id] < n
        else:
            assert counts[sensor_id] == n, sensor_id
    assert f"{len(fleet)} devices" in done.stderr and "labels written" in done.stderr


def test_load_reports_the_rate_it_reached(connections: Connections) -> None:
    done = subprocess.run(
        [
            *CITYGATE,
            "sim",
            "load",
            "--rate",
            "2000",
            "--devices",
            "1000",
            "--duration",
            "2",
            "--qos",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["delivered"] == result["messages"] > 0
    assert 1000 < result["rate"] < 2600


def test_replay_plays_a_csv_as_a_device(connections: Connections, tmp_path: Path) -> None:
    csv = tmp_path / "speed_1.csv"
    csv.write_text(
        "timestamp,value\n2015-09-08 11:39:00,73\n2015-09-08 11:44:00,62\n2015-09-08 11:49:00,58\n"
    )
    collector = Collector(connections, "city/replay/traffic_signal/replay-1/telemetry")
    try:
        done = subprocess.run(
            [
                *CITYGATE,
                "sim",
                "replay",
                "--csv",
                str(csv),
                "--sensor-id",
                "replay-1",
                "--speed",
                "3000",
                "--keep-timestamps",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        got = collector.wait_for(3)
    finally:
        collector.close()
    readings = [mqtt_json.decode(t, p, 1) for t, p in got]
    assert [r.fields for r in readings if isinstance(r, Reading)] == [
        {"averageVehicleSpeed": 73.0},
        {"averageVehicleSpeed": 62.0},
        {"averageVehicleSpeed": 58.0},
    ]
    assert isinstance(readings[0], Reading) and readings[0].ts == 1441712340 * 10**9
