"""The deterministic core: same seed same bytes, realistic signals, decodable by edge/."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import pytest

from edge import mqtt_json
from edge.reading import Reading
from firmware_sim import Simulator
from firmware_sim.conditions import conditions_at
from firmware_sim.profiles import LocalTime, daylight, temperature, traffic_demand
from firmware_sim.scenario import Weather

from .helpers import scenario


def _payloads(sim: Simulator, ticks: int) -> list[tuple[str, bytes]]:
    return [(t, p) for k in range(ticks) for t, p, _ in sim.step(k).mqtt]


def _readings(sim: Simulator, ticks: int, offset: int = 0) -> list[Reading]:
    out = []
    for k in range(offset, offset + ticks):
        for topic, payload, _ in sim.step(k).mqtt:
            reading = mqtt_json.decode(topic, payload, 0)
            assert isinstance(reading, Reading), reading
            out.append(reading)
    return out


def test_same_seed_same_bytes_different_seed_different_values() -> None:
    faults = [{"type": "drift", "random": {"rate_per_hour": 600}, "duration": "3s"}]
    first = _payloads(Simulator(scenario(faults=faults)), 40)
    again = _payloads(Simulator(scenario(faults=faults)), 40)
    other = _payloads(Simulator(scenario(faults=faults, seed=6)), 40)
    assert first == again
    assert len(first) == len(other) == 8 * 4
    assert first != other


def test_every_device_reports_once_per_interval_spread_over_ticks() -> None:
    sim = Simulator(scenario(air=50, traffic=50, interval_s=2.0))
    per_tick = [len(sim.step(k).mqtt) for k in range(40)]
    assert sum(per_tick) == 100 * 2
    assert max(per_tick) < 30  # spread, not a burst every 2 s


def test_readings_decode_and_respect_the_catalog() -> None:
    readings = _readings(Simulator(scenario(air=20, traffic=20)), 30)
    assert {r.sensor_type for r in readings} == {"air_quality", "traffic_signal"}
    assert all(r.quality == () for r in readings)  # nothing out of range without faults
    for r in readings:
        if r.sensor_type == "air_quality":
            f: dict[str, Any] = dict(r.fields)
            assert f["pm1"] <= f["pm25"] <= f["pm10"]
            assert 0 <= f["relativeHumidity"] <= 1


def test_seq_counts_per_device() -> None:
    readings = _readings(Simulator(scenario(air=3, traffic=0)), 35)
    by_sensor: dict[str, list[int]] = {}
    for r in readings:
        by_sensor.setdefault(r.sensor_id, []).append(r.seq)
    assert all(seqs == list(range(len(seqs))) for seqs in by_sensor.values())


def test_traffic_has_rush_hours_and_quiet_nights_and_weekends() -> None:
    monday_rush, monday_night = LocalTime(8.0, 0, 130), LocalTime(3.0, 0, 130)
    evening, sunday_morning = LocalTime(17.75, 2, 130), LocalTime(8.0, 6, 130)
    assert traffic_demand(monday_rush) > 0.9
    assert traffic_demand(evening) > 0.9
    assert traffic_demand(monday_night) < 0.15
    assert traffic_demand(sunday_morning) < 0.4
    assert traffic_demand(LocalTime(12.0, 0, 130)) < traffic_demand(monday_rush)


def test_weather_is_warm_in_the_afternoon_and_ozone_needs_sun() -> None:
    w = Weather()
    assert temperature(LocalTime(15, 0, 180), w) > temperature(LocalTime(5, 0, 180), w) + 5
    assert daylight(LocalTime(2, 0, 180)) == 0 and daylight(LocalTime(13, 0, 180)) > 0.9
    zone = ZoneInfo("Europe/Madrid")
    humid = conditions_at(1_715_573_000_000_000_000, zone, w).humidity  # early morning
    dry = conditions_at(1_715_605_000_000_000_000, zone, w).humidity  # afternoon
    assert humid > dry


@pytest.mark.parametrize("hour", [3, 8])
def test_pollution_follows_traffic(hour: int) -> None:
    def mean(field: str, start: str) -> float:
        rs = _readings(Simulator(scenario(air=200, traffic=0, start=start)), 10)
        return float(np.mean([r.fields[field] for r in rs]))

    night = mean("no2", "2024-05-13T01:00:00Z")
    rush = mean("no2", f"2024-05-13T{hour - 2:02d}:00:00Z")
    assert (rush > 1.8 * night) == (hour == 8)


def test_signal_phases_cycle_without_conflicts() -> None:
    sim = Simulator(scenario(air=0, traffic=20))
    seen: dict[str, set[tuple[Any, Any]]] = {}
    for r in _readings(sim, 1300):  # over two minutes: at least one full cycle each
        f: dict[str, Any] = dict(r.fields)
        ns, ew = (f["phase_N"], f["phase_S"]), (f["phase_E"], f["phase_W"])
        assert ns[0] == ns[1] and ew[0] == ew[1]
        assert "red" in (ns[0], ew[0])  # one stage always holds red
        assert f["split_N"] + f["split_E"] + 10 == f["cycleLength"]
        assert 50 <= f["cycleLength"] <= 120
        assert f["conflictMonitor"] is False
        seen.setdefault(r.sensor_id, set()).add((ns[0], ew[0]))
    for states in seen.values():
        assert {("green", "red"), ("amber", "red"), ("red", "red"), ("red", "green")} <= states


def test_pedestrian_calls_lengthen_the_green() -> None:
    sim = Simulator(scenario(air=0, traffic=200))
    rows: list[dict[str, Any]] = [dict(r.fields) for r in _readings(sim, 10)]
    for f in rows:
        if f["pedestrianCall_N"] or f["pedestrianCall_S"]:
            assert f["split_N"] >= 15
        if f["pedestrianCall_E"] or f["pedestrianCall_W"]:
            assert f["split_E"] >= 15


def test_detectors_add_up_to_the_junction() -> None:
    for r in _readings(Simulator(scenario(air=0, traffic=30)), 10):
        f: dict[str, Any] = dict(r.fields)
        assert f["intensity"] == sum(f[f"d{k}_intensity"] for k in range(1, 9))
        assert all(f[f"d{k}_fault"] == "none" for k in range(1, 9))


def test_labels_are_plain_json() -> None:
    sim = Simulator(scenario())
    batch = sim.step(0)
    assert msgspec.json.decode(batch.mqtt[0][1])["seq"] == 0
