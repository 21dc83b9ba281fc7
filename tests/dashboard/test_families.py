"""The dashboard's family views: found by module name, one per catalog type that has a view,
each with its API path and its sensors' map markers."""

from __future__ import annotations

from pathlib import Path

import pytest

import central.dashboard.families
from central.dashboard.families import FAULT_COLOR, OK_COLOR, Marker, views
from central.dashboard.families.traffic_signal import APPROACHES, SUMMARY
from edge.catalog import load_catalog
from edge.errors import CatalogError
from tests.family_modules import add_family_module


def test_each_view_is_a_catalog_type_with_its_own_path() -> None:
    found = views()
    assert set(found) <= set(load_catalog().types)
    assert {n: v.path for n, v in found.items()} == {
        "air_quality": "air",
        "camera": "cameras",
        "traffic_signal": "traffic",
    }


def test_the_traffic_view_takes_approaches_and_detectors_from_the_catalog() -> None:
    assert APPROACHES == ("N", "E", "S", "W")
    assert (
        "intensity",
        "occupancy",
        "averageVehicleSpeed",
        "cycleLength",
        "conflictMonitor",
        "phase_N",
        "phase_E",
        "phase_S",
        "phase_W",
        *(f"d{n}_fault" for n in range(1, 9)),
    ) == SUMMARY


@pytest.mark.parametrize(
    ("family", "row", "marker"),
    [
        (
            "traffic_signal",
            {"faults": [], "phases": {"N": "green"}},
            Marker("ok", OK_COLOR, "signal ok"),
        ),
        (
            "traffic_signal",
            {"faults": ["d3:stuck_on"], "phases": {}},
            Marker("fault", FAULT_COLOR, "d3:stuck_on"),
        ),
        (
            "traffic_signal",
            {"faults": [], "phases": {"N": "flashing"}},
            Marker("fault", FAULT_COLOR, "flashing"),
        ),
        ("camera", {"problems": ["offline"]}, Marker("fault", FAULT_COLOR, "offline")),
        (
            "camera",
            {"problems": [], "peopleCount": 4},
            Marker("ok", OK_COLOR, "camera ok, 4 people"),
        ),
        ("air_quality", {"aqi": None}, Marker("ok", OK_COLOR, "no AQI yet")),
        (
            "air_quality",
            {"aqi": 42, "band": "good", "color": "#00e400", "dominant": "pm25"},
            Marker("aqi", "#00e400", "AQI 42 good (pm25)"),
        ),
    ],
)
def test_markers(family: str, row: dict[str, object], marker: Marker) -> None:
    assert views()[family].marker(row) == marker


def test_a_view_not_named_for_its_module_stops_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (
        "from central.dashboard.families import FamilyView\n"
        "VIEW = FamilyView('camera', path='cams', build=None, rows=None, marker=None)\n"
    )
    add_family_module(monkeypatch, central.dashboard.families, tmp_path, "noise", text)
    with pytest.raises(CatalogError, match="named for its module"):
        views.__wrapped__()
