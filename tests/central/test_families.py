"""Central's family registry: rule selection by sensor type comes from central/families/."""

from __future__ import annotations

from pathlib import Path

import pytest

import central.families
from central.camera_rules import Junctions
from central.detect import Detector, DetectorConfig
from central.families import RuleSetting, families
from central.families.camera import CameraRules
from central.families.traffic_signal import TrafficSignalRules
from edge.catalog import load_catalog
from edge.errors import CatalogError
from edge.reading import Reading
from tests.family_modules import add_family_module


def test_families_with_rules_are_catalog_types() -> None:
    assert set(families()) <= set(load_catalog().types)
    assert sorted(families()) == ["camera", "traffic_signal"]


def test_a_family_makes_each_sensor_its_own_rule_state() -> None:
    setting = RuleSetting(DetectorConfig(), {"ts-1": 90.0}, Junctions())
    traffic = families()["traffic_signal"]
    first, second = traffic.rules("ts-1", setting), traffic.rules("ts-2", setting)
    assert isinstance(first, TrafficSignalRules) and isinstance(second, TrafficSignalRules)
    assert first.stuck is not second.stuck
    assert (first.cycle.plan_s, second.cycle.plan_s) == (90.0, None)
    assert isinstance(families()["camera"].rules("cam-1", setting), CameraRules)


def test_the_detector_gives_rules_only_to_sensors_of_a_family() -> None:
    detector = Detector()
    for sensor_id, sensor_type in (("aq-1", "air_quality"), ("ts-1", "traffic_signal")):
        detector.process(
            Reading(sensor_id=sensor_id, sensor_type=sensor_type, seq=0, ts=1, fields={})
        )
    assert detector._sensors["aq-1"].rules is None
    assert isinstance(detector._sensors["ts-1"].rules, TrafficSignalRules)


def test_a_family_module_for_no_catalog_type_stops_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (
        "from central.families import CentralFamily\n"
        "FAMILY = CentralFamily('noise', rules=lambda sensor_id, setting: None)\n"
    )
    add_family_module(monkeypatch, central.families, tmp_path, "noise", text)
    with pytest.raises(CatalogError, match="a catalog type"):
        families.__wrapped__()
