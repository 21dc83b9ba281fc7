"""Each rule raises on its fault and stays quiet on clean data."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central import rules
from central.families import air_quality, traffic_signal
from edge.reading import Location, Reading

S = 1_000_000_000


@dataclass(frozen=True)
class Spec:
    name: str
    unit: str = ""
    kind: str = "float"
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None


SPECS = {
    "pm25": Spec("pm25", "µg/m³", min=0, max=1000),
    "phase_N": Spec("phase_N", kind="str", allowed=("red", "amber", "green", "flashing")),
}


def types(findings: list) -> list[str]:
    return [f.type for f in findings]


def test_out_of_range() -> None:
    assert rules.out_of_range({"pm25": 12.0, "phase_N": "red"}, SPECS) == []
    assert types(rules.out_of_range({"pm25": -3.0}, SPECS)) == ["out_of_range:pm25"]
    assert types(rules.out_of_range({"phase_N": "blue"}, SPECS)) == ["out_of_range:phase_N"]


def test_pm25_above_pm10() -> None:
    assert air_quality.pm25_above_pm10({"pm25": 10.0, "pm10": 20.0}) == []
    assert air_quality.pm25_above_pm10({"pm25": 21.0, "pm10": 20.0}) == []  # within sensor noise
    assert types(air_quality.pm25_above_pm10({"pm25": 40.0, "pm10": 20.0})) == ["pm25_above_pm10"]


def test_conflicting_greens_is_critical() -> None:
    clean = {"phase_N": "green", "phase_S": "green", "phase_E": "red", "phase_W": "red"}
    assert traffic_signal.conflicting_greens(clean) == []
    [found] = traffic_signal.conflicting_greens({**clean, "phase_E": "green"})
    assert (found.type, found.severity) == ("conflicting_greens", "critical")
    assert (
        traffic_signal.conflicting_greens({**clean, "conflictMonitor": True})[0].severity
        == "critical"
    )


def test_cycle_off_plan_learned_per_quarter_hour_and_day_type_or_given() -> None:
    plan = traffic_signal.CyclePlan(min_days=2)
    day = 86_400 * S
    monday = 4 * day  # 1970-01-05
    # A rush hour: a new timing plan every quarter hour, the same on every weekday.
    rush = {8 * 3600: 60, 8 * 3600 + 900: 90, 8 * 3600 + 1800: 120}
    for d in range(2):  # Monday and Tuesday
        for start, cycle in rush.items():
            for i in range(10):
                at = monday + d * day + start * S + i * 90 * S
                assert plan.check(at, {"cycleLength": cycle}) == []
    wednesday = monday + 2 * day
    for start, cycle in rush.items():  # each quarter has its own plan: none is off
        assert plan.check(wednesday + start * S, {"cycleLength": cycle + 2}) == []
    assert types(plan.check(wednesday + 8 * 3600 * S, {"cycleLength": 120})) == ["cycle_off_plan"]
    assert plan.check(wednesday + 17 * 3600 * S, {"cycleLength": 140}) == []  # not learned
    saturday = monday + 5 * day  # its own day plan, not yet learned
    assert plan.check(saturday + 8 * 3600 * S, {"cycleLength": 120}) == []
    given = traffic_signal.CyclePlan(plan_s=60).check(0, {"cycleLength": 90})
    assert types(given) == ["cycle_off_plan"]


def test_flatline_relative_to_the_fields_noise() -> None:
    rule = rules.Flatline(n=30, min_run=5)
    assert all(rule.check({"pm25": 10.0 + i % 7}, ["pm25"]) == [] for i in range(300))
    found = [rule.check({"pm25": 12.0}, ["pm25"]) for _ in range(5)]
    assert found[:4] == [[], [], [], []] and types(found[4]) == ["flatline:pm25"]
    # A run at the lowest value the stream has shown is a detection limit, not a fault.
    assert all(rule.check({"pm25": 10.0 - 1.0}, ["pm25"]) == [] for _ in range(40))


def test_flatline_tolerates_what_the_field_usually_repeats() -> None:
    rule = rules.Flatline(n=30, min_run=5)
    # A coarse field repeating in runs of 6 (5 readings in 6 equal the one before): 60 equal
    # readings are within its habits, 200 are not.
    for i in range(300):
        assert rule.check({"co": 1.0 + (i // 6) % 3}, ["co"]) == []
    found = [rule.check({"co": 2.0}, ["co"]) for _ in range(200)]
    assert all(f == [] for f in found[:60]) and types(found[-1]) == ["flatline:co"]


def test_flatline_learns_the_regime_a_run_starts_in() -> None:
    rule = rules.Flatline(n=30, min_run=5)
    # Long-run the field rarely repeats: a new value almost every reading...
    for i in range(600):
        assert rule.check({"o3": round(20.0 + 3.0 * np.sin(i / 7.0), 1)}, ["o3"]) == []
    # ...then its noise cancels: it flickers between two steps of its resolution in runs of 1 to
    # 4, and holds one for 18 readings. The old rule (one rate over 1,000 readings) flagged that.
    lengths = np.random.default_rng(5).integers(1, 5, 40)
    for step, length in enumerate([*lengths.tolist(), 18]):
        for _ in range(length):
            assert rule.check({"o3": 18.6 + 0.1 * (step % 2)}, ["o3"]) == []
    # Frozen for good: still a flatline, judged against the repeat chance of that regime.
    found = [rule.check({"o3": 18.8}, ["o3"]) for _ in range(250)]
    assert all(f == [] for f in found[:40]) and types(found[-1]) == ["flatline:o3"]


def test_stuck_phase() -> None:
    rule = traffic_signal.StuckPhase(factor=4)
    cycling = [
        rule.check(i * 15 * S, {"cycleLength": 60, "phase_N": ("green" if i % 4 < 2 else "red")})
        for i in range(40)
    ]
    assert all(f == [] for f in cycling)
    stuck = [
        rule.check((600 + i * 15) * S, {"cycleLength": 60, "phase_N": "red"}) for i in range(20)
    ]
    assert types(stuck[-1]) == ["stuck_phase:phase_N"]
    assert stuck[0] == []


def test_loop_detector_stuck_on_and_no_activity() -> None:
    rule = traffic_signal.LoopDetectors(cycles=1.5, expected_zero=20)
    clean = {
        "cycleLength": 60,
        "d1_occupancy": 0.2,
        "d1_intensity": 4,
        "d2_occupancy": 0.1,
        "d2_intensity": 3,
    }
    assert all(rule.check(i * 15 * S, clean) == [] for i in range(20))
    stuck = {**clean, "d1_occupancy": 1.0}
    found = [rule.check((300 + i * 15) * S, stuck) for i in range(8)]
    assert found[0] == [] and found[6] == []  # 90 s = 1.5 cycles: a long red, not yet a fault
    assert "detector_stuck_on:d1" in types(found[-1])
    # d2 usually counts 3 per reading while d1 counts 4: 7 readings of none is evidence.
    idle = {**clean, "d2_intensity": 0}
    found = [rule.check((600 + i * 15) * S, idle) for i in range(8)]
    assert found[5] == [] and "detector_no_activity:d2" in types(found[-1])
    assert all(rule.check((800 + i * 15) * S, clean) == [] for i in range(5))  # d2 counts again
    # Nobody counting (night) is not a detector fault.
    night = {**clean, "d1_intensity": 0, "d2_intensity": 0}
    assert all(rule.check((900 + i * 15) * S, night) == [] for i in range(20))


def test_loop_fault_reported_by_the_controller() -> None:
    rule = traffic_signal.LoopDetectors()
    found = rule.check(0, {"d3_fault": "no_activity", "d4_fault": "none", "d5_fault": "erratic"})
    assert types(found) == ["detector_no_activity:d3", "detector_fault:d5"]


def test_counts_off_profile() -> None:
    rule = traffic_signal.CountProfile(min_days=1)
    hour = 3600 * S
    for day in range(3):
        for m in range(60):
            ts = day * 24 * hour + 8 * hour + m * 60 * S
            assert rule.check(ts, {"intensity": 40 + m % 5}, ["intensity"]) == []
    ts = 3 * 24 * hour + 8 * hour
    assert types(rule.check(ts, {"intensity": 0}, ["intensity"])) == [
        "counts_off_profile:intensity"
    ]


def _arrive(watch: rules.SilenceWatch, keys: list[int], ts: int) -> None:
    watch.seen(np.array(keys), np.full(len(keys), ts, dtype=np.int64))


def test_silence_driven_by_clock() -> None:
    watch = rules.SilenceWatch(k=3)
    watch.expect(7, interval_s=60)
    assert watch.silent(10_000 * S) == []  # announced, never heard: not judged
    _arrive(watch, [7], 0)
    assert watch.silent(150 * S) == []
    [(sensor, finding)] = watch.silent(200 * S)
    assert (sensor, finding.type, finding.value) == (7, "silence", 200.0)
    watch.forget(7)
    assert watch.silent(200 * S) == [] and watch.interval_s(7) is None


def test_silence_relative_to_the_learned_interval_with_a_floor() -> None:
    watch = rules.SilenceWatch(k=5, floor_s=10, block=16)
    for key in (0, 1):
        watch.expect(key, interval_s=60)
    for i in range(17):  # a device the catalog says reports each minute sends every second
        _arrive(watch, [0, 1], i * S)
    _arrive(watch, [0], 16 * S)  # not later than the last arrival: ignored
    assert watch.interval_s(0) == 1.0
    assert watch.silent(26 * S) == []  # 10 s quiet: the floor, not 5 x 1 s
    assert [s for s, _ in watch.silent(27 * S)] == [0, 1]


def _aq(sensor: str, ts: int, pm25: float) -> Reading:
    return Reading(
        sensor_id=sensor,
        sensor_type="air_quality",
        seq=ts,
        ts=ts * S,
        fields={"pm25": pm25},
        location=Location("north"),
    )


@pytest.mark.parametrize("offset, expected", [(0.0, []), (60.0, ["district_disagreement:pm25"])])
def test_district_consensus(offset: float, expected: list[str]) -> None:
    rule = rules.DistrictConsensus(fields=("pm25",), window=3, learn=20)
    last: list = []
    for t in range(40):
        for k, base in enumerate((20.0, 22.0, 19.0, 21.0)):
            rule.check(_aq(f"aq-{k}", t * 60, base + t % 2))
        # aq-x sits 10 above its district (its siting) and then, perhaps, 60 more.
        last = rule.check(_aq("aq-x", t * 60 + 1, 30.0 + (offset if t >= 36 else 0.0)))
    assert types(last) == expected


def test_district_consensus_batch_keeps_districts_apart() -> None:
    rule = rules.DistrictConsensus(fields=("pm25",), window=1, learn=1)
    north, south = rule.group("north", "pm25"), rule.group("south", "pm25")
    keys = np.arange(8)
    groups = np.array([north] * 4 + [south] * 4)
    usual = np.array([20.0, 21.0, 19.0, 20.0, 50.0, 52.0, 51.0, 49.0])
    rule.check_batch(keys, groups, np.zeros(8, dtype=np.int64), usual)
    values = usual.copy()
    values[3] = 90.0
    hits, med, others = rule.check_batch(keys, groups, np.ones(8, dtype=np.int64), values)
    assert hits.tolist() == [3] and others.tolist() == [3] and med[0] == pytest.approx(20.5)


def test_district_consensus_leaves_out_monitors_older_than_max_age() -> None:
    # Every departure is a hit at once, so the medians show in the result.
    rule = rules.DistrictConsensus(
        fields=("pm25",),
        min_others=1,
        k=0.0,
        rel_floor=0.0,
        abs_floor=0.0,
        max_age_s=30.0,
        window=1,
        learn=0,
    )
    group = rule.group("north", "pm25")
    # Two monitors at 0 s, two more at 100 s: by then the first two are too old to count.
    arrival = np.array([0, 0, 100, 100]) * S
    hits, med, others = rule.check_batch(
        np.arange(4), np.full(4, group), arrival, np.array([1.0, 2.0, 3.0, 5.0])
    )
    assert hits.tolist() == [1, 3] and med.tolist() == [1.5, 4.0] and others.tolist() == [1, 1]


@settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.integers(0, 2**32 - 1), st.integers(1, 400), st.lists(st.integers(1, 399), max_size=8))
def test_district_consensus_batch_is_one_value_at_a_time(
    seed: int, size: int, cuts: list[int]
) -> None:
    def rule() -> rules.DistrictConsensus:
        # Every departure is a hit at once, so each value's median shows in the result.
        made = rules.DistrictConsensus(
            fields=("pm25",),
            min_others=1,
            k=0.0,
            abs_floor=0.0,
            rel_floor=0.0,
            max_age_s=30.0,
            window=1,
            learn=2,
        )
        for g in range(3):
            made.group(f"d{g}", "pm25")
        return made

    # Few keys and groups, so that keys come again, move between groups and age out (max_age_s
    # 30) inside one batch; every value of a batch is a version of its group's set, so long
    # batches need more than one 64-bit word.
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 10, size)
    groups = rng.integers(0, 3, size)
    arrival = np.cumsum(rng.choice([0] * 20 + [1, 5, 40], size)) * S
    values = rng.integers(1, 41, size).astype(np.float64)

    def results(rule: rules.DistrictConsensus, bounds: list[int]) -> list[tuple[int, float, int]]:
        out = []
        for a, b in pairwise(bounds):
            hits, med, others = rule.check_batch(keys[a:b], groups[a:b], arrival[a:b], values[a:b])
            out += zip((a + hits).tolist(), med.tolist(), others.tolist(), strict=True)
        return out

    expected = results(rule(), list(range(size + 1)))
    assert size < 40 or len(expected) > size // 4  # most values are judged
    cut = sorted({c for c in cuts if c < size})
    assert results(rule(), [0, *cut, size]) == expected
