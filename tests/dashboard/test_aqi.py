"""AQI from the breakpoint tables: known values at and around the published breakpoints."""

from __future__ import annotations

import pytest

from central.dashboard import aqi

EPA = aqi.standard("us_epa_2024")
EAQI = aqi.standard("eaqi")


@pytest.mark.parametrize(
    ("field", "value", "index", "band"),
    [
        # PM2.5, 2024 revision: Good ends at 9.0 µg/m³ (it was 12.0 before).
        ("pm25", 0.0, 0, "Good"),
        ("pm25", 9.0, 50, "Good"),
        ("pm25", 9.1, 51, "Moderate"),
        ("pm25", 12.0, 56, "Moderate"),
        ("pm25", 35.4, 100, "Moderate"),
        ("pm25", 35.5, 101, "Unhealthy for Sensitive Groups"),
        ("pm25", 55.5, 151, "Unhealthy"),
        ("pm25", 125.4, 200, "Unhealthy"),
        ("pm25", 225.4, 300, "Very Unhealthy"),
        ("pm25", 225.5, 301, "Hazardous"),
        ("pm25", 325.4, 500, "Hazardous"),
        ("pm25", 900.0, 500, "Hazardous"),  # beyond the table: the top of the scale
        ("pm25", 9.09, 50, "Good"),  # truncated to 9.0, not rounded to 9.1
        ("pm10", 54, 50, "Good"),
        ("pm10", 55, 51, "Moderate"),
        ("pm10", 155, 101, "Unhealthy for Sensitive Groups"),
        ("pm10", 424, 300, "Very Unhealthy"),
        ("no2", 53, 50, "Good"),
        ("no2", 100, 100, "Moderate"),
        ("no2", 101, 101, "Unhealthy for Sensitive Groups"),
        ("o3", 54, 50, "Good"),
        ("o3", 70, 100, "Moderate"),
        ("o3", 85, 150, "Unhealthy for Sensitive Groups"),
        ("o3", 405, 301, "Hazardous"),  # 1-hour rows above the 8-hour table
        ("co", 4.4 / 0.873, 50, "Good"),  # mg/m³ converted to ppm
        ("co", 5.0, 49, "Good"),  # 4.365 ppm, truncated to 4.3
        ("co", 12.0, 116, "Unhealthy for Sensitive Groups"),  # 10.476 ppm -> 10.4
    ],
)
def test_us_epa_2024_sub_index(field: str, value: float, index: int, band: str) -> None:
    sub = EPA.sub_index(field, value)
    assert sub is not None
    assert (sub.index, sub.band.name) == (index, band)


@pytest.mark.parametrize(
    ("field", "value", "level", "band"),
    [
        ("pm25", 10, 1, "Good"),
        ("pm25", 10.5, 2, "Fair"),
        ("pm25", 25, 3, "Moderate"),
        ("pm25", 60, 5, "Very poor"),
        ("pm25", 2000, 6, "Extremely poor"),
        ("pm10", 45, 3, "Moderate"),
        ("no2", 40 / 1.91, 1, "Good"),  # ppb converted to µg/m³
        ("no2", 100, 4, "Poor"),  # 191 µg/m³
        ("o3", 60, 3, "Moderate"),  # 120 µg/m³
        ("o3", 70, 4, "Poor"),  # 140 µg/m³
    ],
)
def test_eaqi_bands(field: str, value: float, level: int, band: str) -> None:
    sub = EAQI.sub_index(field, value)
    assert sub is not None
    assert (sub.index, sub.band.name) == (level, band)


def test_the_overall_index_is_the_worst_pollutant() -> None:
    got = EPA.assess({"pm25": 12.0, "pm10": 100, "no2": 30, "o3": 40, "co": 2.0})
    assert got is not None
    assert (got.index, got.dominant, got.band.name) == (73, "pm10", "Moderate")
    assert {s.pollutant for s in got.sub_indices} == {"pm25", "pm10", "no2", "o3", "co"}


def test_fields_a_standard_does_not_rate_are_ignored() -> None:
    assert EPA.assess({"temperature": 20.0, "pm1": 5.0}) is None
    assert EAQI.sub_index("co", 1.0) is None  # EAQI has no CO
    assert EPA.sub_index("pm25", float("nan")) is None
    assert EPA.sub_index("pm25", -1.0) is None
    assert EPA.assess({"pm25": None, "no2": 10}).dominant == "no2"  # type: ignore[union-attr]


def test_the_tables_are_packaged_and_selectable() -> None:
    assert aqi.available() == ["eaqi", "us_epa_2024"]
    with pytest.raises(aqi.UnknownStandard, match="eaqi, us_epa_2024"):
        aqi.standard("us_epa_2012")
    described = EPA.describe()
    assert described["pollutants"]["pm25"]["breakpoints"][0] == [0.0, 9.0, 0, 50]  # type: ignore[index]


def test_every_linear_table_is_contiguous_and_increasing() -> None:
    for name in aqi.available():
        std = aqi.standard(name)
        for p in std.pollutants.values():
            rows = p.breakpoints or tuple((0, lim, 0, 0) for lim in p.limits)
            highs = [r[1] for r in rows]
            assert highs == sorted(highs), (name, p.field)
        assert [b.level for b in std.bands] == list(range(1, len(std.bands) + 1))
