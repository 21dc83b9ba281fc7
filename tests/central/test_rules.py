"""Each rule raises on its fault and stays quiet on clean data."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from central import rules
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
    assert rules.pm25_above_pm10({"pm25": 10.0, "pm10": 20.0}) == []
    assert rules.pm25_above_pm10({"pm25": 21.0, "pm10": 20.0}) == []  # within sensor noise
    assert types(rules.pm25_above_pm10({"pm25": 40.0, "pm10": 20.0})) == ["pm25_above_pm10"]


def test_conflicting_greens_is_critical() -> None:
    clean = {"phase_N": "green", "phase_S": "green", "phase_E": "red", "phase_W": "red"}
    assert rules.conflicting_greens(clean) == []
    [found] = rules.conflicting_greens({**clean, "phase_E": "green"})
    assert (found.type, found.severity) == ("conflicting_greens", "critical")
    assert rules.conflicting_greens({**clean, "conflictMonitor": True})[0].severity == "critical"


def test_cycle_off_plan_learned_or_given() -> None:
    plan = rules.CyclePlan(learn=5)
    for _ in range(5):
        assert plan.check({"cycleLength": 90}) == []
    assert plan.plan_s == 90
    assert plan.check({"cycleLength": 92}) == []
    assert types(plan.check({"cycleLength": 140})) == ["cycle_off_plan"]
    assert types(rules.CyclePlan(plan_s=60).check({"cycleLength": 90})) == ["cycle_off_plan"]


def test_flatline() -> None:
    rule = rules.Flatline(n=5)
    assert all(rule.check({"pm25": 10.0 + i % 2}, ["pm25"]) == [] for i in range(20))
    found = [rule.check({"pm25": 7.0}, ["pm25"]) for _ in range(5)]
    assert found[:4] == [[], [], [], []] and types(found[4]) == ["flatline:pm25"]


def test_stuck_phase() -> None:
    rule = rules.StuckPhase(factor=4)
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
    rule = rules.LoopDetectors(hold_s=120)
    clean = {"d1_occupancy": 0.2, "d1_intensity": 4, "d2_occupancy": 0.1, "d2_intensity": 3}
    assert all(rule.check(i * 15 * S, clean) == [] for i in range(20))
    stuck = {**clean, "d1_occupancy": 1.0}
    found = [rule.check((300 + i * 15) * S, stuck) for i in range(10)]
    assert found[0] == [] and "detector_stuck_on:d1" in types(found[-1])
    idle = {**clean, "d2_intensity": 0}
    found = [rule.check((600 + i * 15) * S, idle) for i in range(10)]
    assert "detector_no_activity:d2" in types(found[-1])
    # Nobody counting (night) is not a detector fault.
    night = {**clean, "d1_intensity": 0, "d2_intensity": 0}
    assert all(rule.check((900 + i * 15) * S, night) == [] for i in range(20))


def test_counts_off_profile() -> None:
    rule = rules.CountProfile(min_days=1)
    hour = 3600 * S
    for day in range(3):
        for m in range(60):
            ts = day * 24 * hour + 8 * hour + m * 60 * S
            assert rule.check(ts, {"intensity": 40 + m % 5}, ["intensity"]) == []
    ts = 3 * 24 * hour + 8 * hour
    assert types(rule.check(ts, {"intensity": 0}, ["intensity"])) == [
        "counts_off_profile:intensity"
    ]


def test_silence_driven_by_clock() -> None:
    watch = rules.SilenceWatch(k=3)
    watch.seen("aq-1", 0, interval_s=60)
    assert watch.silent(150 * S) == []
    [(sensor, finding)] = watch.silent(200 * S)
    assert (sensor, finding.type) == ("aq-1", "silence")


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
    rule = rules.DistrictConsensus(fields=("pm25",), window=3)
    last: list = []
    for t in range(10):
        for k, base in enumerate((20.0, 22.0, 19.0, 21.0)):
            rule.check(_aq(f"aq-{k}", t * 60, base + t % 2))
        last = rule.check(_aq("aq-x", t * 60 + 1, 20.0 + offset))
    assert types(last) == expected


def test_district_consensus_batch_uses_one_median_per_district() -> None:
    import numpy as np

    rule = rules.DistrictConsensus(fields=("pm25",), window=1)
    north, south = rule.group("north", "pm25"), rule.group("south", "pm25")
    keys = np.arange(8)
    groups = np.array([north] * 4 + [south] * 4)
    values = np.array([20.0, 21.0, 19.0, 90.0, 50.0, 52.0, 51.0, 49.0])
    hits, med, others = rule.check_batch(keys, groups, np.zeros(8, dtype=np.int64), values)
    assert hits.tolist() == [3] and others.tolist() == [3] and med[0] == pytest.approx(20.5)
