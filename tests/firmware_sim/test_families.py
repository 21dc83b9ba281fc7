"""The simulator's family registry: one model per catalog type, encoders for every edge codec,
each family's own faults, and what load and replay mode derive from it."""

from __future__ import annotations

from pathlib import Path

import pytest

import firmware_sim.families
from edge.catalog import load_catalog
from edge.serial_codecs import CODECS
from firmware_sim.errors import SimError
from firmware_sim.families import FAULT_STREAM, encoders, families
from firmware_sim.fault_kinds import DEFAULT_FIELD, KINDS
from firmware_sim.load import mixed_fleet
from firmware_sim.replay import field_for
from tests.family_modules import add_family_module


def test_every_catalog_type_is_simulated_in_stream_order() -> None:
    found = families()
    assert set(found) == set(load_catalog().types)
    streams = [f.stream for f in found.values()]
    assert streams == sorted(streams)
    assert FAULT_STREAM not in streams


def test_the_shipped_families() -> None:
    assert {n: (f.abbreviation, f.stream, f.beside) for n, f in families().items()} == {
        "air_quality": ("aq", 10, None),
        "traffic_signal": ("ts", 11, None),
        "camera": ("cam", 13, "traffic_signal"),
    }


_FIELD = "default_field='intensity_car'"


def test_every_edge_codec_has_its_frame_encoder() -> None:
    assert set(encoders()) == set(CODECS)


def test_fault_kinds_are_the_generic_ones_and_each_familys_own() -> None:
    own = {name: family.name for family in families().values() for name in family.faults}
    assert own == {
        "pm25_above_pm10": "air_quality",
        "conflicting_greens": "traffic_signal",
        "stuck_phase": "traffic_signal",
        "detector_stuck_on": "traffic_signal",
        "detector_no_activity": "traffic_signal",
        "lens_obscured": "camera",
        "frozen_frame": "camera",
        "camera_moved": "camera",
        "camera_offline": "camera",
        "frame_rate_collapse": "camera",
    }
    for name, family in own.items():
        assert KINDS[name].sensor_types == {family}
    generic = set(KINDS) - set(own)
    assert all(KINDS[name].sensor_types == set(load_catalog().types) for name in generic)
    assert {n for n, k in KINDS.items() if k.silences} == {"dropout", "unplug", "camera_offline"}
    assert {n for n, k in KINDS.items() if k.part} == {"detector_stuck_on", "detector_no_activity"}


def test_derived_defaults_name_catalog_fields() -> None:
    catalog = load_catalog()
    assert set(DEFAULT_FIELD) == set(catalog.types)
    for sensor_type, name in DEFAULT_FIELD.items():
        assert name in catalog.sensor(sensor_type).fields


def test_the_mixed_load_fleet_is_the_weighted_families() -> None:
    assert mixed_fleet(20_000) == {"air_quality": 10_000, "traffic_signal": 10_000}
    assert mixed_fleet(5) == {"air_quality": 3, "traffic_signal": 2}


@pytest.mark.parametrize(
    ("file", "sensor_type", "expected"),
    [
        ("speed_1.csv", None, ("traffic_signal", "averageVehicleSpeed", 1.0)),
        ("occupancy_6005.csv", None, ("traffic_signal", "occupancy", 0.01)),
        ("occupancy_6005.csv", "camera", None),
        ("values.csv", None, None),
    ],
)
def test_replay_reads_type_and_field_off_the_file_name(
    file: str, sensor_type: str | None, expected: tuple[str, str, float] | None
) -> None:
    if expected is None:
        with pytest.raises(SimError, match="cannot tell"):
            field_for(Path(file), None, sensor_type)
    else:
        assert field_for(Path(file), None, sensor_type) == expected


@pytest.mark.parametrize(
    ("name", "declared", "problem"),
    [
        ("noise", "'noise', abbreviation='nz', stream=14", "a catalog type"),
        ("air_quality", "'air_quality', abbreviation='aq', stream=10", r"exactly its edge codecs"),
        ("camera", f"'camera', abbreviation='cam', stream=12, {_FIELD}", "must be unique"),
        ("camera", f"'camera', abbreviation='ts', stream=13, {_FIELD}", "must be unique"),
        ("camera", "'camera', abbreviation='cam', stream=13", "must name its fields"),
        (
            "camera",
            "'camera', abbreviation='cam', stream=13, default_field='speed'",
            "must name its fields",
        ),
        (
            "camera",
            f"'camera', abbreviation='cam', stream=13, {_FIELD}, "
            "faults={'stuck_phase': FamilyFault(None)}",
            "must be unique",
        ),
    ],
)
def test_a_family_module_that_does_not_fit_stops_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, declared: str, problem: str
) -> None:
    text = (
        "from firmware_sim.families import FamilyFault, SimFamily\n"
        f"FAMILY = SimFamily({declared}, model=lambda m: None)\n"
    )
    add_family_module(monkeypatch, firmware_sim.families, tmp_path, name, text)
    with pytest.raises(SimError, match=problem):
        families.__wrapped__()
