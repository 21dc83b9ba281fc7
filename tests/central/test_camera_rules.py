"""The camera rules: the unit's own reports, frame rate, frozen frame, the camera/loop cross check
(and which device it blames), pairing by position, and the Detector running them."""

from __future__ import annotations

import numpy as np
import pytest

from central.detect import Detector
from central.families.camera import (
    CountCrossCheck,
    FrameRate,
    FrozenFrame,
    Junctions,
    motor_vehicles,
    reported_health,
)
from edge.reading import FieldValue, Location, Reading

S = 1_000_000_000
LAT, LON = 40.4168, -3.7038


def types(findings: list) -> list[str]:
    return [f.type for f in findings]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tamper": "none", "online": True}, []),
        ({"tamper": "moved", "online": True}, ["camera_tamper:moved"]),
        ({"tamper": "obscured"}, ["camera_tamper:obscured"]),
        ({"tamper": "none", "online": False}, ["camera_offline"]),
        ({"lowLight": True}, []),  # night is not a fault
    ],
)
def test_reported_health(fields: dict[str, FieldValue], expected: list[str]) -> None:
    assert types(reported_health(fields)) == expected


def test_motor_vehicles_leave_bicycles_out() -> None:
    fields: dict[str, FieldValue] = {
        "intensity_car": 7,
        "intensity_bus": 1,
        "intensity_motorcycle": 2,
        "intensity_bicycle": 9,
    }
    assert motor_vehicles(fields) == 10
    assert motor_vehicles({"peopleCount": 3}) is None


def test_frame_rate_low_after_learning_and_a_few_readings() -> None:
    rule = FrameRate(learn=10, window=3)
    rng = np.random.default_rng(1)
    assert all(rule.check({"frameRate": 25 + rng.normal(0, 0.3)}) == [] for _ in range(50))
    assert rule.check({"frameRate": 5.0}) == [] and rule.check({"frameRate": 5.0}) == []
    found = rule.check({"frameRate": 5.0})
    assert types(found) == ["frame_rate_low"] and "usual 25" in found[0].explanation
    assert rule.check({"frameRate": 25.0}) == []


def test_frozen_frame_needs_a_live_scene_repeated() -> None:
    rule = FrozenFrame(min_run=6)
    scene: dict[str, FieldValue] = {
        "peopleCount": 12,
        "occupancy": 0.04,
        "averageCrowdSpeed": 4.3,
        "intensity_car": 3,
        "frameRate": 25.1,
    }
    assert [types(rule.check(scene)) for _ in range(6)][-2:] == [[], ["frozen_frame"]]
    assert rule.check({**scene, "intensity_car": 4}) == []
    empty: dict[str, FieldValue] = {"peopleCount": 0, "averageCrowdSpeed": 0.0, "intensity_car": 0}
    assert all(FrozenFrame().check(empty) == [] for _ in range(50))  # an empty street at night


def _pair(
    check: CountCrossCheck,
    seconds: int,
    rng: np.random.Generator,
    *,
    camera_gain: float = 1.0,
    loop_gain: float = 1.0,
    t0: int = 0,
    rate: float = 0.5,
) -> list[tuple[str, str]]:
    """Feed both devices `seconds` of 1-s counts; the (second, suspect) findings seen."""
    seen = []
    for t in range(t0, t0 + seconds):
        passing = rng.poisson(rate)
        check.loops(t * S, rng.binomial(passing, 0.95) * loop_gain, 1.0)
        check.camera(t * S + S // 2, rng.binomial(passing, 0.9) * camera_gain, 1.0)
        for side in ("camera", "controller"):
            if check.finding(side, "other") is not None:
                seen.append((t, side))
    return seen


def test_cross_check_is_quiet_while_both_count_the_same_traffic() -> None:
    assert _pair(CountCrossCheck(), 7200, np.random.default_rng(3)) == []


def test_cross_check_blames_a_camera_that_stops_seeing() -> None:
    check, rng = CountCrossCheck(), np.random.default_rng(4)
    assert _pair(check, 1800, rng) == []
    seen = _pair(check, 300, rng, camera_gain=0.05, t0=1800)
    assert seen and {side for _, side in seen} == {"camera"}
    assert seen[0][0] - 1800 < 120
    finding = check.finding("camera", "ts-1")
    assert finding is not None and "the camera is the suspect" in finding.explanation
    # Fixed again: the disagreement ends within a few minutes and does not come back.
    after = _pair(check, 1200, rng, t0=2100)
    assert after and max(t for t, _ in after) < 2100 + 300


def test_cross_check_blames_loops_that_stop_counting() -> None:
    check, rng = CountCrossCheck(), np.random.default_rng(5)
    assert _pair(check, 1800, rng) == []
    seen = _pair(check, 300, rng, loop_gain=0.1, t0=1800)
    assert seen and {side for _, side in seen} == {"controller"}
    finding = check.finding("controller", "cam-1")
    assert finding is not None and "loops are the suspect" in finding.explanation


def test_a_silent_partner_is_no_evidence() -> None:
    check, rng = CountCrossCheck(), np.random.default_rng(6)
    assert _pair(check, 1800, rng) == []
    # The controller goes quiet for ten minutes; the camera keeps counting.
    for t in range(1800, 2400):
        check.camera(t * S, rng.poisson(0.45), 1.0)
        assert check.finding("camera", "ts-1") is None
    assert _pair(check, 600, rng, t0=2400) == []


def test_junctions_pair_a_camera_with_the_nearest_controller_nearby() -> None:
    j = Junctions(radius_m=50)
    assert j.pair("cam-1", "centro", LAT, LON) is None  # no controller known yet
    j.place("ts-far", "centro", LAT + 0.001, LON)  # 111 m away
    assert j.pair("cam-1", "centro", LAT, LON) is None
    j.place("ts-near", "centro", LAT + 0.0001, LON)  # 11 m away
    j.place("ts-other-district", "retiro", LAT, LON)
    paired = j.pair("cam-1", "centro", LAT, LON)
    assert paired is not None and paired[0] == "ts-near"
    assert list(j.cameras_at("ts-near")) == ["cam-1"]
    j.forget("ts-near")
    assert j.cameras_at("ts-near") == {} and j.pair("cam-1", "centro", LAT, LON) is None


def _reading(sensor_id: str, sensor_type: str, seq: int, fields: dict[str, FieldValue]) -> Reading:
    north = 0.00005 if sensor_type == "camera" else 0.0  # the camera 6 m from the cabinet
    return Reading(
        sensor_id=sensor_id,
        sensor_type=sensor_type,
        seq=seq,
        ts=seq * S,
        fields=fields,
        location=Location("centro", LAT + north, LON),
    )


def _camera_fields(cars: int, rng: np.random.Generator) -> dict[str, FieldValue]:
    people = int(rng.poisson(20))
    return {
        "peopleCount": people,
        "occupancy": round(people / 300, 3),
        "averageCrowdSpeed": round(float(rng.normal(4.5, 0.3)), 1),
        "congested": False,
        "intensity_car": cars,
        "intensity_bus": 0,
        "intensity_bicycle": int(rng.poisson(0.1)),
        "intensity_motorcycle": 0,
        "online": True,
        "frameRate": round(float(rng.normal(25, 0.3)), 1),
        "tamper": "none",
        "lowLight": False,
    }


def test_detector_raises_the_cross_check_on_the_camera() -> None:
    det, rng = Detector(), np.random.default_rng(8)
    raised = []
    for seq in range(1, 2400):
        passing = int(rng.poisson(0.5))
        cars = passing if seq < 1800 else 0  # the lens is covered after 30 min
        raised += det.process_batch(
            [
                _reading("ts-1", "traffic_signal", seq, {"intensity": passing}),
                _reading("cam-1", "camera", seq, _camera_fields(cars, rng)),
            ]
        )
    first = [(a.sensor_id, a.type) for a in raised if a.state == "raised"]
    assert ("cam-1", "count_disagreement") in first
    assert all(sid == "cam-1" for sid, _ in first)
    at = next(a for a in raised if a.type == "count_disagreement")
    assert 1800 * S < at.start < 1950 * S


def test_detector_raises_tamper_reported_by_the_camera() -> None:
    det, rng = Detector(), np.random.default_rng(9)
    for seq in range(1, 30):
        assert det.process(_reading("cam-1", "camera", seq, _camera_fields(1, rng))) == []
    alerts = det.process(
        _reading("cam-1", "camera", 30, {**_camera_fields(1, rng), "tamper": "defocused"})
    )
    assert [a.type for a in alerts] == ["camera_tamper:defocused"]
