"""Central's family registry: rule selection by sensor type comes from central/families/."""

from __future__ import annotations

from pathlib import Path

import pytest

import central.families
from central.detect import Detector, DetectorConfig
from central.evaluation import FAULT_OF_ALERT
from central.families import RuleSetting, families
from central.families.air_quality import pm25_above_pm10
from central.families.camera import CameraRules, Junctions
from central.families.traffic_signal import TrafficSignalParams, TrafficSignalRules
from edge.catalog import load_catalog
from edge.errors import CatalogError
from edge.reading import Reading
from tests.family_modules import add_family_module


def test_families_with_rules_are_catalog_types() -> None:
    assert set(families()) <= set(load_catalog().types)
    assert sorted(families()) == ["air_quality", "camera", "traffic_signal"]


def test_each_family_declares_its_own_rules() -> None:
    found = families()
    assert found["air_quality"].rules is None
    assert [c.findings for c in found["air_quality"].checks] == [pm25_above_pm10]
    assert found["air_quality"].district_fields == ("pm25", "pm10", "no2", "o3")
    assert (found["camera"].checks, found["camera"].district_fields) == ((), ())
    assert (found["traffic_signal"].checks, found["traffic_signal"].district_fields) == ((), ())
    # The detector judges against the district exactly the fields the families name.
    assert Detector().district.fields == ("pm25", "pm10", "no2", "o3")


def test_a_family_makes_each_sensor_its_own_rule_state() -> None:
    setting = RuleSetting(DetectorConfig(), [TrafficSignalParams(cycle_plans={"ts-1": 90.0})])
    traffic = families()["traffic_signal"]
    assert traffic.rules is not None
    first, second = traffic.rules("ts-1", setting), traffic.rules("ts-2", setting)
    assert isinstance(first, TrafficSignalRules) and isinstance(second, TrafficSignalRules)
    assert first.stuck is not second.stuck
    assert (first.cycle.plan_s, second.cycle.plan_s) == (90.0, None)
    camera = families()["camera"].rules
    assert camera is not None
    cam = camera("cam-1", setting)
    assert isinstance(cam, CameraRules)
    # Controllers and cameras of one detector share its junctions.
    assert cam.junctions is first.junctions is setting.shared(Junctions)


def test_a_dropped_sensor_leaves_the_shared_junctions() -> None:
    setting = RuleSetting(DetectorConfig())
    junctions = setting.shared(Junctions)
    junctions.place("ts-1", "centro", 52.37, 4.89)
    assert junctions.pair("cam-1", "centro", 52.37, 4.89) is not None
    setting.forget("cam-1")
    assert junctions.cameras_at("ts-1") == {}


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


def test_a_family_check_on_a_field_it_does_not_have_stops_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (
        "from central.families import CentralFamily\n"
        "FAMILY = CentralFamily('camera', district_fields=('pm25',))\n"
    )
    add_family_module(monkeypatch, central.families, tmp_path, "camera", text)
    with pytest.raises(CatalogError, match="must be fields of camera"):
        families.__wrapped__()


def test_evaluation_counts_a_familys_alerts_against_the_faults_it_declares() -> None:
    declared = {a: f for fam in families().values() for a, f in fam.alert_faults.items()}
    assert declared == {
        "count_disagreement": "lens_obscured",
        "frame_rate_low": "frame_rate_collapse",
        "camera_tamper": "camera_moved",
    }
    assert FAULT_OF_ALERT.items() >= declared.items()
