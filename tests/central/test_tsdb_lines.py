"""Line protocol escaping and the reading-to-point mapping of the tsdb group (no servers)."""

from __future__ import annotations

import math

import msgspec
import pytest
from aiokafka.structs import ConsumerRecord

from central.config import parse
from central.influx_writer import InfluxWriter
from central.line_protocol import (
    escape_key,
    escape_measurement,
    field_text,
    line,
    plain_fields,
    series_key,
)
from central.liveness import flatten_figures, status_line
from central.metrics import CentralMetrics
from central.tsdb import PointBuilder, TsdbHandler
from edge.messages import GatewayStatus
from edge.reading import Location, Reading, encode


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


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        (
            {"pm25": 12.5, "count": 3, "ok": True, "off": False},
            "pm25=12.5,count=3,ok=true,off=false",
        ),
        (
            {"a": 1e300, "b": 5e-324, "c": -0.0, "d": 2**70},
            "a=1e300,b=5e-324,c=-0.0,d=1180591620717411303424",
        ),
        ({}, ""),
        ({"a": 1.0, "b": math.nan}, None),
        ({"a": math.inf}, None),
        ({"state": "green"}, None),
        ({"a b": 1.0}, None),
        ({"a,b": 1.0, "c": 2.0}, None),
        ({"a=b": 1.0}, None),
        ({'a"b': 1.0}, None),
        ({"a\\": 1.0}, None),
        ({"new\nline": 1.0}, None),
    ],
)
def test_plain_fields_only_when_json_text_is_line_protocol(
    fields: dict[str, float | int | str | bool], text: str | None
) -> None:
    assert plain_fields(fields) == text


def test_plain_and_field_by_field_forms_are_the_same_points() -> None:
    fields: dict[str, float | int | str | bool] = {"a": 0.1, "b": 7, "c": True, "d": -2.5e-8}
    slow = line("m", fields, 1)
    assert slow == "m a=0.1,b=7.0,c=true,d=-2.5e-08 1"
    assert plain_fields(fields) == "a=0.1,b=7,c=true,d=-2.5e-8"  # 7 is a float in line protocol


def test_float_field_keeps_its_value_and_non_finite_ones_are_left_out() -> None:
    r = Reading(
        sensor_id="s",
        sensor_type="m",
        seq=1,
        ts=2,
        fields={"a": -0.0, "b": 1e300, "c": -math.inf, "d": 5e-324, "e": math.nan},
    )
    assert PointBuilder().line(r) == "m,sensor_id=s a=-0.0,b=1e+300,d=5e-324,seq=1i 2"
    r = msgspec.structs.replace(r, fields={"a": -0.0, "b": 1e300, "d": 5e-324})
    assert PointBuilder().line(r) == "m,sensor_id=s a=-0.0,b=1e300,d=5e-324,seq=1i 2"


def _record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", 0, offset, 0, 0, b"k", value, None, 1, len(value), ())


def test_chunk_groups_points_by_series_in_record_order_and_counts_skips() -> None:
    def reading(sensor: str, kind: str, seq: int) -> bytes:
        return encode(Reading(sensor_id=sensor, sensor_type=kind, seq=seq, ts=seq, fields={}))

    metrics = CentralMetrics()
    handler = TsdbHandler(InfluxWriter(parse({}).influx, metrics, "tsdb"), metrics)
    values = [
        reading("b", "air", 0),
        reading("a", "air", 1),
        b"{not a reading",
        reading("b", "air", 2),
        reading("t", "traffic", 3),
        reading("a", "air", 4),
    ]
    chunk = handler.chunk([_record(i, v) for i, v in enumerate(values)])
    assert list(chunk.lines) == [
        "air,sensor_id=b seq=0i 0",
        "air,sensor_id=b seq=2i 2",
        "air,sensor_id=a seq=1i 1",
        "air,sensor_id=a seq=4i 4",
        "traffic,sensor_id=t seq=3i 3",
    ]
    assert chunk.points == {"air": 4, "traffic": 1}
    assert (
        metrics.registry.get_sample_value(
            "citygate_central_records_skipped_total", {"group": "tsdb", "topic": "t"}
        )
        == 1
    )


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
