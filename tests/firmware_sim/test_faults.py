"""Fault injection: each fault changes what it should, and its window is labelled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge import mqtt_json
from edge.codec import Rejected
from edge.reading import Reading
from firmware_sim import Simulator
from firmware_sim.labels import LabelWriter, read_labels
from firmware_sim.runner import Runner

from .helpers import scenario

TICKS = 60  # 6 s; faults below run from 2 s to 4 s


def _run(
    fault: dict[str, Any], ticks: int = TICKS
) -> dict[str, list[tuple[int, Reading | Rejected]]]:
    """Decoded messages per topic, with the tick they left at."""
    sim = Simulator(scenario(air=2, traffic=2, faults=[{"start": 2, "duration": 2, **fault}]))
    out: dict[str, list[tuple[int, Reading | Rejected]]] = {}
    for k in range(ticks):
        for topic, payload, _ in sim.step(k).mqtt:
            out.setdefault(topic.split("/")[3], []).append((k, mqtt_json.decode(topic, payload, 0)))
    return out


def _inside(k: int) -> bool:
    return 20 <= k < 40


def _values(msgs: list[tuple[int, Reading | Rejected]], field: str, inside: bool) -> list[Any]:
    return [r.fields[field] for k, r in msgs if isinstance(r, Reading) and _inside(k) == inside]


AQ, TS = "centro-aq-00001", "centro-ts-00001"


def test_spike_out_of_range_and_drift_change_the_field() -> None:
    msgs = _run({"type": "spike", "sensor": AQ})[AQ]
    assert min(_values(msgs, "pm25", True)) > 3 * max(_values(msgs, "pm25", False))
    msgs = _run({"type": "out_of_range", "sensor": AQ, "field": "temperature"})[AQ]
    inside = [r for k, r in msgs if _inside(k)]
    assert all(isinstance(r, Reading) and "out_of_range" in r.quality for r in inside)
    drift = _values(_run({"type": "drift", "sensor": AQ, "magnitude": 600})[AQ], "pm25", True)
    assert drift[-1] > drift[0] + 60  # 100 units per s: 600 % of range per minute


def test_stuck_repeats_one_value_and_noise_burst_widens() -> None:
    assert len(set(_values(_run({"type": "stuck", "sensor": AQ})[AQ], "pm25", True))) == 1
    burst = _values(_run({"type": "noise_burst", "sensor": AQ, "magnitude": 2})[AQ], "pm25", True)
    assert max(burst) - min(burst) > 20


def test_pm25_above_pm10() -> None:
    msgs = _run({"type": "pm25_above_pm10", "sensor": AQ})[AQ]
    for k, r in msgs:
        assert isinstance(r, Reading)
        assert (float(r.fields["pm25"]) > float(r.fields["pm10"])) == _inside(k)


def test_dropout_is_silence_with_a_gap_in_seq() -> None:
    msgs = _run({"type": "dropout", "sensor": AQ})[AQ]
    assert not [k for k, _ in msgs if _inside(k)]
    seqs = [r.seq for _, r in msgs if isinstance(r, Reading)]
    assert seqs == [0, 1, 4, 5]


def test_duplicate_out_of_order_and_clock_skew() -> None:
    dup = [
        r.seq for _, r in _run({"type": "duplicate", "sensor": AQ})[AQ] if isinstance(r, Reading)
    ]
    assert dup == [0, 1, 2, 2, 3, 3, 4, 5]
    ooo = [
        r.seq for _, r in _run({"type": "out_of_order", "sensor": AQ})[AQ] if isinstance(r, Reading)
    ]
    assert sorted(ooo) == list(range(6)) and ooo != sorted(ooo)
    skew = _run({"type": "clock_skew", "sensor": AQ, "magnitude": -3600})[AQ]
    sim = Simulator(scenario())
    for k, r in skew:
        assert isinstance(r, Reading)
        expected = sim.time_of(k) - (3600 * 10**9 if _inside(k) else 0)
        assert r.ts == expected


def test_malformed_payloads_are_rejected_by_the_gateway_codec() -> None:
    msgs = _run({"type": "malformed", "sensor": TS})[TS]
    assert [isinstance(r, Rejected) for k, r in msgs] == [_inside(k) for k, _ in msgs]


def test_signal_faults() -> None:
    for k, r in _run({"type": "conflicting_greens", "sensor": TS})[TS]:
        assert isinstance(r, Reading)
        greens = [r.fields[f"phase_{a}"] for a in "NESW"].count("green")
        assert (greens == 4) == _inside(k)
    phases = {
        tuple(r.fields[f"phase_{a}"] for a in "NESW")
        for k, r in _run({"type": "stuck_phase", "sensor": TS})[TS]
        if isinstance(r, Reading) and _inside(k)
    }
    assert len(phases) == 1


def test_detector_faults_are_diagnosed_after_a_delay() -> None:
    fault = {"type": "detector_stuck_on", "sensor": TS, "duration": 60}
    sim = Simulator(scenario(air=0, traffic=1, faults=[{"start": 2, **fault}]))
    codes = []
    for k in range(400):
        for topic, payload, _ in sim.step(k).mqtt:
            r = mqtt_json.decode(topic, payload, 0)
            assert isinstance(r, Reading)
            stuck = [d for d in range(1, 9) if r.fields[f"d{d}_occupancy"] == 1.0]
            assert bool(stuck) == (k >= 20)
            codes.append(r.fields[f"d{stuck[0]}_fault"] if stuck else "none")
    assert codes[25] == "none" and codes[-1] == "stuck_on"


def test_labels_cover_every_window_with_ns_and_iso(tmp_path: Path) -> None:
    faults: list[dict[str, Any]] = [
        {"type": "spike", "sensor": AQ, "start": 1, "duration": 1},
        {"type": "stuck", "sensor": TS, "start": 2, "duration": 100},  # still open at the end
        {"type": "noise_burst", "random": {"rate_per_hour": 3600}, "duration": "500ms"},
    ]
    sim = Simulator(scenario(faults=faults))
    path = tmp_path / "labels.jsonl"
    labels = LabelWriter(path)
    Runner(sim, labels=labels).run(duration_s=3)
    labels.close()
    rows = read_labels(path)
    spike = next(r for r in rows if r.fault == "spike")
    assert spike.sensor == AQ and spike.end - spike.start == 10**9
    assert spike.start == sim.start_ns + 10**9
    assert spike.start_iso.endswith("Z") and "T" in spike.start_iso
    stuck = next(r for r in rows if r.fault == "stuck")
    assert stuck.end == sim.time_of(30)  # clipped to the end of the run
    assert sum(r.origin == "random" for r in rows) > 3
