"""Line protocol escaping and the reading-to-point mapping of the tsdb group (no servers)."""

from __future__ import annotations

import math

import pytest

from central.line_protocol import escape_key, escape_measurement, field_text, line, series_key
from central.liveness import GatewayStatus, flatten_figures, status_line
from central.tsdb import PointBuilder
from edge.reading import Location, Reading


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a b", "a\\ b"),
        ("a,b", "a\\,b"),
        ("a=b", "a\\=b"),
        ("new\nline", "new\\ line"),
        ("trailing\\", "trailing"),
        ("mid\\dle", "mid\\dle"),
    ],
)
def test_keys_and_tag_values(raw: str, escaped: str) -> None:
    assert escape_key(raw) == escaped


def test_measurement_keeps_equals_sign() -> None:
    assert escape_measurement("a b,c=d") == "a\\ b\\,c=d"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (3, "3.0"),
        (True, "true"),
        (False, "false"),
        ('say "hi" \\ bye', '"say \\"hi\\" \\\\ bye"'),
        ("two\nlines", '"two lines"'),
        (None, None),
        (math.nan, None),
        (math.inf, None),
    ],
)
def test_field_values(value: float | str | bool | None, text: str | None) -> None:
    assert field_text(value) == text


def test_series_sorted_and_empty_tags_left_out() -> None:
    assert series_key("m", [("z", "1"), ("a", "x y"), ("e", "")]) == "m,a=x\\ y,z=1"


def test_line_without_fields_is_none() -> None:
    assert line("m", {"a": None, "b": math.nan}, 1) is None
    assert line("m", {"a": 1, "b": "x"}, 7) == 'm a=1.0,b="x" 7'


def test_reading_becomes_one_point() -> None:
    r = Reading(
        sensor_id="aq 1",
        sensor_type="air_quality",
        seq=42,
        ts=1_700_000_000_123_456_789,
        fields={"pm25": 12.5, "count": 3, "ok": True, "state": "green", "bad": math.nan},
        location=Location("north,east"),
        gateway_id="gw-1",
    )
    assert PointBuilder().line(r) == (
        "air_quality,district=north\\,east,gateway=gw-1,sensor_id=aq\\ 1 "
        'pm25=12.5,count=3.0,ok=true,state="green",seq=42i 1700000000123456789'
    )


def test_reading_without_location_or_gateway_has_only_sensor_tag() -> None:
    r = Reading(sensor_id="s", sensor_type="traffic_signal", seq=0, ts=5, fields={})
    assert PointBuilder().line(r) == "traffic_signal,sensor_id=s seq=0i 5"


def test_heartbeat_figures_flattened_and_drops_summed() -> None:
    status = GatewayStatus(
        gateway_id="gw 1",
        ts=9,
        uptime_s=3.5,
        figures={
            "messages_in": 10,
            "journal_dropped": {"air_quality": 2, "traffic_signal": 3},
            "journal_full": True,
            "note": "text",
        },
    )
    assert flatten_figures(status) == {"uptime_s": 3.5, "messages_in": 10.0, "journal_dropped": 5.0}
    assert status_line(status) == (
        "gateway_status,gateway_id=gw\\ 1 uptime_s=3.5,messages_in=10.0,journal_dropped=5.0 9"
    )
