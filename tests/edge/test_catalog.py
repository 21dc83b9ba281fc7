"""The sensor catalog: packaged types, their fields and ranges, checks, and loading errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edge import topics
from edge.catalog import FieldSpec, load_catalog
from edge.errors import CatalogError, CitygateError, UnknownSensorType

CATALOG = load_catalog()
AIR = CATALOG.sensor("air_quality")
TRAFFIC = CATALOG.sensor("traffic_signal")


def test_catalog_types_are_the_kafka_reading_topics() -> None:
    assert sorted(CATALOG.types) == sorted(topics.SENSOR_TYPES)
    assert "air_quality" in CATALOG and "nope" not in CATALOG
    assert [s.name for s in CATALOG] == sorted(CATALOG.types)


def test_packaged_catalog_is_loaded_once() -> None:
    assert load_catalog() is load_catalog()


@pytest.mark.parametrize(
    ("field", "unit", "low", "high"),
    [
        ("pm1", "µg/m³", 0, 1000),
        ("pm25", "µg/m³", 0, 1000),
        ("pm10", "µg/m³", 0, 1000),
        ("no2", "ppb", 0, 2000),
        ("o3", "ppb", 0, 1000),
        ("co", "mg/m³", 0, 100),
        ("temperature", "°C", -50, 70),
        ("relativeHumidity", "1", 0, 1),  # a fraction, as in FIWARE
        ("batteryLevel", "1", 0, 1),
    ],
)
def test_air_quality_fields(field: str, unit: str, low: float, high: float) -> None:
    spec = AIR.fields[field]
    assert (spec.name, spec.unit, spec.kind, spec.min, spec.max) == (
        field,
        unit,
        "float",
        low,
        high,
    )


def test_air_quality_has_exactly_its_fiware_fields() -> None:
    assert set(AIR.fields) == {
        "pm1", "pm25", "pm10", "no2", "o3", "co", "temperature", "relativeHumidity", "batteryLevel",
    }  # fmt: skip
    assert AIR.fiware_model == "AirQualityObserved"
    assert AIR.interval_s == 60


def test_traffic_signal_groups_expand_to_flat_fields() -> None:
    approaches = [f"{f}_{a}" for a in "NESW" for f in ("phase", "split", "pedestrianCall")]
    detectors = [f"d{d}_{f}" for d in range(1, 9) for f in ("intensity", "occupancy", "fault")]
    top = ["intensity", "occupancy", "averageVehicleSpeed", "cycleLength", "conflictMonitor"]
    assert list(TRAFFIC.fields) == top + approaches + detectors
    assert TRAFFIC.fields["phase_W"].allowed == ("red", "amber", "green", "flashing")
    assert TRAFFIC.fields["d8_fault"].allowed == (
        "none", "stuck_on", "no_activity", "open_loop", "shorted_loop", "erratic",
    )  # fmt: skip
    assert TRAFFIC.fields["split_E"] == FieldSpec(
        "split_E", "s", "int", 0, 300, None, "Green time given to the approach in the cycle"
    )
    assert TRAFFIC.fields["pedestrianCall_S"].kind == "bool"
    assert TRAFFIC.fields["conflictMonitor"].kind == "bool"
    assert TRAFFIC.fields["occupancy"].max == 1
    assert TRAFFIC.fields["averageVehicleSpeed"].unit == "km/h"


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"pm25": 12.5, "pm10": 20, "temperature": -3.5}, []),
        ({"pm25": 0.0, "relativeHumidity": 1.0}, []),  # the bounds themselves are valid
        ({"pm25": 1000.5}, ["out_of_range: pm25=1000.5 outside [0, 1000] µg/m³"]),
        ({"temperature": -51}, ["out_of_range: temperature=-51 outside [-50, 70] °C"]),
        ({"relativeHumidity": 45.0}, ["out_of_range: relativeHumidity=45.0 outside [0, 1] 1"]),
        ({"pm25": "high"}, ["wrong_kind: pm25 expects float, got str 'high'"]),
        ({"pm25": True}, ["wrong_kind: pm25 expects float, got bool True"]),
        ({"pm25": math.nan}, ["not_finite: pm25=nan is not finite"]),
        ({"pm25": -math.inf}, ["not_finite: pm25=-inf is not finite"]),
        ({"pm4": 3.0}, ["unknown_field: 'pm4' is not a field of air_quality"]),
    ],
)
def test_air_quality_check(fields: dict[str, object], problems: list[str]) -> None:
    assert AIR.check(fields) == problems


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"intensity": 12, "phase_N": "green", "d3_fault": "open_loop"}, []),
        ({"conflictMonitor": True, "pedestrianCall_W": False}, []),
        ({"intensity": 12.0}, ["wrong_kind: intensity expects int, got float 12.0"]),
        ({"intensity": True}, ["wrong_kind: intensity expects int, got bool True"]),
        (
            {"intensity": 2**63},
            ["bad_value: intensity=9223372036854775808 does not fit a 64-bit integer"],
        ),
        ({"conflictMonitor": 1}, ["wrong_kind: conflictMonitor expects bool, got int 1"]),
        (
            {"phase_N": "blue"},
            ["bad_value: phase_N='blue' not one of red, amber, green, flashing"],
        ),
        ({"split_S": 301}, ["out_of_range: split_S=301 outside [0, 300] s"]),
        ({"d9_fault": "none"}, ["unknown_field: 'd9_fault' is not a field of traffic_signal"]),
        (
            {"phase_N": 3, "occupancy": 1.5},
            [
                "wrong_kind: phase_N expects str, got int 3",
                "out_of_range: occupancy=1.5 outside [0, 1] 1",
            ],
        ),
    ],
)
def test_traffic_signal_check(fields: dict[str, object], problems: list[str]) -> None:
    assert TRAFFIC.check(fields) == problems


def test_an_integer_too_big_for_a_float_field_is_a_bad_value() -> None:
    [problem] = TRAFFIC.problems({"occupancy": 10**400})
    assert (problem.code, problem.field) == ("bad_value", "occupancy")


def test_problems_carry_code_and_field() -> None:
    [problem] = AIR.problems({"pm25": -1.0})
    assert (problem.code, problem.field) == ("out_of_range", "pm25")


def test_normalise_makes_integers_in_float_fields_floats() -> None:
    out = TRAFFIC.normalise({"occupancy": 1, "intensity": 3, "phase_N": "red"})
    assert out == {"occupancy": 1.0, "intensity": 3, "phase_N": "red"}
    assert type(out["occupancy"]) is float and type(out["intensity"]) is int


def test_unknown_sensor_type_names_the_known_ones() -> None:
    with pytest.raises(UnknownSensorType) as info:
        CATALOG.sensor("parking")
    assert isinstance(info.value, CitygateError) and isinstance(info.value, KeyError)
    assert (
        str(info.value)
        == "unknown sensor type 'parking'; the catalog knows air_quality, camera, traffic_signal"
    )
    assert CATALOG.get("parking") is None


NOISE = """\
name: noise
description: Sound level meter
interval_s: 30
fields:
  laeq: {kind: float, unit: dB(A), min: 20, max: 140}
groups:
  - name: "band{member}_{field}"
    count: 3
    fields:
      level: {kind: float, unit: dB}
"""


def test_a_new_type_is_one_more_file(tmp_path: Path) -> None:
    (tmp_path / "noise.yaml").write_text(NOISE, encoding="utf-8")
    catalog = load_catalog(tmp_path)
    noise = catalog.sensor("noise")
    assert list(noise.fields) == ["laeq", "band1_level", "band2_level", "band3_level"]
    assert noise.interval_s == 30
    assert noise.check({"laeq": 150.0, "band2_level": 1e9}) == [
        "out_of_range: laeq=150.0 outside [20, 140] dB(A)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (NOISE.replace("name: noise", "name: sound"), "name 'sound' must match file name"),
        # msgspec's and PyYAML's own wording may change: only the key or file is asserted.
        (NOISE.replace("unit: dB(A)", "unti: dB(A)"), "unti"),
        (NOISE.replace("interval_s: 30", "interval_s: 0"), "interval_s"),
        (NOISE.replace("min: 20", "min: 200"), "field 'laeq' has min 200.0 above max 140.0"),
        (NOISE.replace("kind: float, unit: dB(A)", "kind: str, unit: dB(A)"), "min/max apply"),
        (NOISE.replace("count: 3", "count: 3\n    members: [a]"), "members or count, not both"),
        (NOISE.replace("band{member}_{field}", "band_{field}"), "needs {member} and {field}"),
        (NOISE.replace("laeq:", "la-eq:"), "field 'la-eq' is not a plain identifier"),
        (NOISE + "  - [", "noise.yaml"),
    ],
)
def test_bad_catalog_files_fail_with_file_and_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "noise.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
    assert "noise.yaml" in str(info.value)
    assert message in str(info.value)


def test_duplicate_field_from_a_group(tmp_path: Path) -> None:
    text = NOISE.replace("laeq: {", "band1_level: {")
    (tmp_path / "noise.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match="field 'band1_level' defined twice"):
        load_catalog(tmp_path)


def test_empty_or_missing_catalog_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="holds no"):
        load_catalog(tmp_path)
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(tmp_path / "absent")
