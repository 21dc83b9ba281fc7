"""Junction cameras in the simulator: placed at their controllers, counting the same traffic, and
the five camera faults each changing what it should."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edge import mqtt_json
from edge.catalog import load_catalog
from edge.reading import Reading
from firmware_sim import Simulator
from firmware_sim.families.camera import MOTOR_SHARE, count_fields

from .helpers import scenario

CAMERA = load_catalog().sensor("camera")
CAM, TS = "centro-cam-00001", "centro-ts-00001"
MOTOR = [f"intensity_{c}" for c in MOTOR_SHARE]


def _readings(sim: Simulator, ticks: int) -> dict[str, list[tuple[int, Reading]]]:
    out: dict[str, list[tuple[int, Reading]]] = {}
    for k in range(ticks):
        for topic, payload, _ in sim.step(k).mqtt:
            r = mqtt_json.decode(topic, payload, 0)
            assert isinstance(r, Reading), r
            out.setdefault(r.sensor_id, []).append((k, r))
    return out


def _metres(a: Reading, b: Reading) -> float:
    la, lb = a.location, b.location
    assert la and lb and la.latitude and lb.latitude and la.longitude and lb.longitude
    scale = math.cos(math.radians(la.latitude))
    return 111_320.0 * math.hypot(la.latitude - lb.latitude, (la.longitude - lb.longitude) * scale)


def test_each_camera_stands_at_a_controller_and_a_spare_one_on_its_own() -> None:
    sim = Simulator(scenario(air=0, traffic=3, cameras=4))
    devices = sim.fleet.devices
    cams = [d for d in devices if d.sensor_type == "camera"]
    assert [devices[c.junction].sensor_id for c in cams[:3]] == [
        "centro-ts-00001",
        "centro-ts-00002",
        "centro-ts-00003",
    ]
    assert cams[3].junction == -1  # more cameras than junctions
    got = _readings(sim, 10)
    for n in (1, 2, 3):
        camera, controller = got[f"centro-cam-{n:05d}"][0][1], got[f"centro-ts-{n:05d}"][0][1]
        assert 5 < _metres(camera, controller) < 12


def test_camera_readings_respect_the_catalog_and_carry_no_images() -> None:
    got = _readings(Simulator(scenario(air=0, traffic=2, cameras=2)), 30)
    for _, r in got[CAM]:
        assert set(r.fields) == set(CAMERA.fields)
        assert CAMERA.check(r.fields) == []
        assert r.fields["tamper"] == "none" and r.fields["online"] is True


def test_camera_counts_the_vehicles_the_loops_count() -> None:
    # Rush hour, 20 min at 1 s: the two devices count the same junction independently, each
    # with its own Poisson noise (about 4 % on a thousand vehicles).
    got = _readings(Simulator(scenario(air=0, traffic=1, cameras=1)), 12_000)
    camera = sum(sum(r.fields[f] for f in MOTOR) for _, r in got[CAM])
    loops = sum(r.fields["intensity"] for _, r in got[TS])
    assert loops > 1000
    assert abs(camera / loops - 1.0) < 0.15
    people = [r.fields["peopleCount"] for _, r in got[CAM]]
    assert np.mean(people) > 5


def _fault_run(fault: dict[str, Any], ticks: int = 600) -> list[tuple[int, Reading]]:
    """The camera's readings over 60 s with the fault from 20 s to 40 s."""
    sim = Simulator(
        scenario(
            air=0,
            traffic=1,
            cameras=1,
            faults=[{"start": 20, "duration": 20, "sensor": CAM, **fault}],
        )
    )
    return _readings(sim, ticks)[CAM]


def _inside(k: int) -> bool:
    return 200 <= k < 400


def _motor(readings: list[tuple[int, Reading]], inside: bool) -> float:
    chosen = [r for k, r in readings if _inside(k) == inside]
    return float(np.mean([sum(r.fields[f] for f in MOTOR) for r in chosen]))


def test_an_obscured_lens_collapses_the_counts() -> None:
    got = _fault_run({"type": "lens_obscured"})
    assert _motor(got, True) < 0.15 * _motor(got, False)
    assert all(r.fields["tamper"] == "none" for _, r in got)  # the unit's own check misses it


def test_a_moved_camera_shifts_the_count_level() -> None:
    got = _fault_run({"type": "camera_moved", "magnitude": 0.3})
    assert 0.1 * _motor(got, False) < _motor(got, True) < 0.55 * _motor(got, False)


def test_a_frozen_frame_repeats_every_scene_figure() -> None:
    got = _fault_run({"type": "frozen_frame"})
    scene = (*count_fields(), "occupancy", "averageCrowdSpeed", "congested")
    frozen = {tuple(r.fields[f] for f in scene) for k, r in got if _inside(k)}
    assert len(frozen) == 1
    assert len({r.fields["frameRate"] for k, r in got if _inside(k)}) > 1  # health still live


def test_an_offline_camera_is_silent() -> None:
    got = _fault_run({"type": "camera_offline"})
    ticks = [k for k, _ in got]
    assert not any(_inside(k) for k in ticks)
    assert any(k < 200 for k in ticks) and any(k >= 400 for k in ticks)


def test_a_frame_rate_collapse_shows_in_the_frame_rate() -> None:
    got = _fault_run({"type": "frame_rate_collapse"})
    inside = [r.fields["frameRate"] for k, r in got if _inside(k)]
    outside = [r.fields["frameRate"] for k, r in got if not _inside(k)]
    assert max(inside) < 6 < 24 < min(outside)


def test_camera_faults_are_labelled() -> None:
    sim = Simulator(
        scenario(
            air=0,
            traffic=1,
            cameras=1,
            faults=[{"type": "lens_obscured", "sensor": CAM, "start": 1, "duration": 2}],
        )
    )
    ended = [w for k in range(40) for w in sim.step(k).ended]
    assert [(w.sensor_id, w.sensor_type, w.fault, w.magnitude) for w in ended] == [
        (CAM, "camera", "lens_obscured", 0.05)
    ]
