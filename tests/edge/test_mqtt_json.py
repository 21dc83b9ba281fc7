"""MQTT JSON codec: topics, exact payloads, every rejection, the out-of-range flag, fuzzing."""

from __future__ import annotations

import json
import timeit

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge import mqtt_json
from edge.codec import CODES, EncodeError, Rejected
from edge.reading import FieldValue, Location, Reading
from tests.edge.strategies import CATALOG, READING_SETTINGS, SETTINGS, readings

TOPIC = "city/centrum/air_quality/aq-0001/telemetry"
RECEIVED = 1_700_000_000_500_000_000


def _payload(**overrides: object) -> bytes:
    body: dict[str, object] = {"seq": 17, "ts": 1_700_000_000_123, "fields": {"pm25": 12.5}}
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def test_topic_for() -> None:
    assert mqtt_json.topic_for("centrum", "air_quality", "aq-0001") == TOPIC


@pytest.mark.parametrize(
    ("district", "sensor_type", "sensor_id"),
    [
        ("", "air_quality", "a"),
        ("c", "air_quality", "a/b"),
        ("c", "air+quality", "a"),
        ("c", "t", "#"),
    ],
)
def test_topic_for_refuses_names_that_break_topics(
    district: str, sensor_type: str, sensor_id: str
) -> None:
    with pytest.raises(EncodeError, match="must match"):
        mqtt_json.topic_for(district, sensor_type, sensor_id)


def test_encode_is_the_device_payload() -> None:
    reading = Reading(
        sensor_id="aq-0001",
        sensor_type="air_quality",
        seq=17,
        ts=1_700_000_000_123_456_789,  # sub-millisecond digits do not travel
        fields={"pm25": 12.5, "temperature": -3.0},
        location=Location("centrum", 52.37, 4.89),
        received_ts=99,
        gateway_id="gw-1",
        quality=("clock_skew",),
    )
    assert mqtt_json.encode(reading) == (
        TOPIC,
        b'{"seq":17,"ts":1700000000123,"fields":{"pm25":12.5,"temperature":-3.0},'
        b'"lat":52.37,"lon":4.89}',
    )


def test_encode_without_coordinates_leaves_them_out() -> None:
    reading = Reading(
        sensor_id="s1", sensor_type="traffic_signal", seq=0, ts=0,
        fields={"intensity": 3}, location=Location("nord"),
    )  # fmt: skip
    assert mqtt_json.encode(reading)[1] == b'{"seq":0,"ts":0,"fields":{"intensity":3}}'


def test_encode_needs_a_location() -> None:
    reading = Reading(sensor_id="s1", sensor_type="air_quality", seq=0, ts=0, fields={"pm25": 1.0})
    with pytest.raises(EncodeError, match="no location"):
        mqtt_json.encode(reading)


def test_decode() -> None:
    payload = _payload(lat=52.37, lon=4.89)
    assert mqtt_json.decode(TOPIC, payload, RECEIVED) == Reading(
        sensor_id="aq-0001",
        sensor_type="air_quality",
        seq=17,
        ts=1_700_000_000_123_000_000,
        fields={"pm25": 12.5},
        location=Location("centrum", 52.37, 4.89),
        received_ts=RECEIVED,
    )


def test_decode_ignores_gateway_and_unknown_top_level_members() -> None:
    reading = mqtt_json.decode(TOPIC, _payload(gateway_id="forged", firmware="1.2"), RECEIVED)
    assert isinstance(reading, Reading) and reading.gateway_id == ""


def test_integers_in_float_fields_become_floats() -> None:
    reading = mqtt_json.decode(TOPIC, _payload(fields={"pm25": 35, "pm10": 40}), RECEIVED)
    assert isinstance(reading, Reading)
    assert reading.fields == {"pm25": 35.0, "pm10": 40.0}
    assert all(type(v) is float for v in reading.fields.values())


def test_out_of_range_is_kept_and_flagged() -> None:
    payload = _payload(fields={"pm25": 1200, "pm10": 20.0})
    reading = mqtt_json.decode(TOPIC, payload, RECEIVED)
    assert isinstance(reading, Reading)
    assert reading.fields == {"pm25": 1200.0, "pm10": 20.0}
    assert type(reading.fields["pm25"]) is float
    assert reading.quality == ("out_of_range",)


def test_enum_outside_its_values_is_kept_and_flagged() -> None:
    topic = "city/nord/traffic_signal/tsc-1/telemetry"
    reading = mqtt_json.decode(topic, _payload(fields={"phase_N": "blue"}), RECEIVED)
    assert isinstance(reading, Reading) and reading.quality == ("out_of_range",)


BAD_TOPICS = [
    ("city/centrum/air_quality/aq-0001", "bad_topic"),
    ("city/centrum/air_quality/aq-0001/telemetry/x", "bad_topic"),
    ("town/centrum/air_quality/aq-0001/telemetry", "bad_topic"),
    ("city/centrum/air_quality/aq-0001/status", "bad_topic"),
    ("city/centrum/parking/p-1/telemetry", "unknown_type"),
    ("city/centrum/air_quality//telemetry", "bad_sensor_id"),
    ("city//air_quality/aq-1/telemetry", "bad_sensor_id"),
    ("city/centrum/air_quality/aq 1/telemetry", "bad_sensor_id"),
    ("", "bad_topic"),
]


@pytest.mark.parametrize(("topic", "code"), BAD_TOPICS)
def test_bad_topics(topic: str, code: str) -> None:
    result = mqtt_json.decode(topic, _payload(), RECEIVED)
    assert isinstance(result, Rejected)
    assert result.code == code and topic in result.reason
    assert result.raw == _payload()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "bad_json: Input data was truncated"),
        (b"{", "bad_json: Input data was truncated"),
        (b"pm25=3", "bad_json: JSON is malformed: invalid character (byte 0)"),
        (b"[17]", "bad_payload: Expected `object`, got `array`"),
        (_payload(seq=None), "bad_payload: Object missing required field `seq`"),
        (_payload(ts=None), "bad_payload: Object missing required field `ts`"),
        (_payload(fields=None), "bad_payload: Object missing required field `fields`"),
        (_payload(seq=-1), "bad_payload: Expected `int` >= 0 - at `$.seq`"),
        (_payload(seq="17"), "bad_payload: Expected `int`, got `str` - at `$.seq`"),
        (_payload(ts=1.7e12), "bad_payload: Expected `int`, got `float` - at `$.ts`"),
        (_payload(ts=2**63), "bad_payload: Expected `int` <= 9223372036854 - at `$.ts`"),
        (_payload(fields=[1]), "bad_payload: Expected `object`, got `array` - at `$.fields`"),
        (
            b'{"seq":1,"ts":1,"fields":{"pm25":[1]}, oops',
            "bad_payload: Expected `bool | int | float | str`, got `array` - at `$.fields[...]`",
        ),
        (
            b'{"seq":1,"ts":1,"fields":{"pm25":null,"\xff":1}}',
            "bad_payload: Expected `bool | int | float | str`, got `null` - at `$.fields[...]`",
        ),
        (
            b'{"seq":1,"ts":1,"fields":{"pm25":"\xff"}}',
            "bad_json: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
        (
            _payload(fields={"pm25": None}),
            "bad_payload: Expected `bool | int | float | str`, got `null` - at `$.fields.pm25`",
        ),
        (
            _payload(fields={"pm25": {"v": 1}}),
            "bad_payload: Expected `bool | int | float | str`, got `object` - at `$.fields.pm25`",
        ),
        (
            _payload(fields={}),
            "bad_payload: no fields: InfluxDB cannot store a reading without any",
        ),
        (_payload(lat=91.0), "bad_payload: Expected `float` <= 90.0 - at `$.lat`"),
        (_payload(fields={"pm4": 1.0}), "unknown_field: 'pm4' is not a field of air_quality"),
        (_payload(fields={"pm25": "12"}), "wrong_kind: pm25 expects float, got str '12'"),
        (
            b'{"seq":1,"ts":1,"fields":{"pm25":1e999}}',
            "bad_payload: Number out of range - at `$.fields.pm25`",
        ),
    ],
)
def test_bad_payloads(payload: bytes, reason: str) -> None:
    assert mqtt_json.decode(TOPIC, payload, RECEIVED) == Rejected(reason, payload)


def test_oversize_payload_is_rejected_before_parsing() -> None:
    payload = b" " * (mqtt_json.MAX_PAYLOAD - len(_payload())) + _payload()
    assert isinstance(mqtt_json.decode(TOPIC, payload, RECEIVED), Reading)
    payload = b" " + payload
    assert mqtt_json.decode(TOPIC, payload, RECEIVED) == Rejected(
        "oversize: 65537 bytes > 65536", payload
    )


@READING_SETTINGS
@given(readings())
def test_round_trip(reading: Reading) -> None:
    topic, payload = mqtt_json.encode(reading)
    decoded = mqtt_json.decode(topic, payload, RECEIVED)
    sensor = CATALOG.sensor(reading.sensor_type)
    assert decoded == msgspec.structs.replace(
        reading, fields=sensor.normalise(reading.fields), received_ts=RECEIVED
    )


scalars = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.sampled_from(["red", "none", "stuck_on", "", "x"])
)


@SETTINGS
@given(
    st.sampled_from(sorted(CATALOG.types)),
    st.dictionaries(
        st.sampled_from(
            [
                *CATALOG.sensor("traffic_signal").fields,
                *CATALOG.sensor("air_quality").fields,
                "bogus",
            ]
        ),
        scalars,
        max_size=6,
    ),
)
def test_fast_and_slow_paths_agree_with_the_catalog(
    sensor_type: str, fields: dict[str, FieldValue]
) -> None:
    """Whatever path decodes it, the verdict is the catalog's: reject, flag or pass."""
    sensor = CATALOG.sensor(sensor_type)
    topic = mqtt_json.topic_for("d", sensor_type, "s")
    payload = msgspec.json.encode({"seq": 1, "ts": 2, "fields": fields})
    result = mqtt_json.decode(topic, payload, RECEIVED)
    problems = sensor.problems(fields)
    if not fields or any(p.code != "out_of_range" for p in problems):
        assert isinstance(result, Rejected), (fields, result)
    else:
        assert isinstance(result, Reading), (fields, result)
        assert result.fields == sensor.normalise(fields)
        for name, value in result.fields.items():
            if sensor.fields[name].kind == "float":
                assert type(value) is float
        assert result.quality == (("out_of_range",) if problems else ())


@SETTINGS
@given(st.text(max_size=60), st.binary(max_size=200))
def test_decode_never_raises_on_random_input(topic: str, payload: bytes) -> None:
    result = mqtt_json.decode(topic, payload, RECEIVED)
    assert isinstance(result, Rejected) and result.code in CODES


@READING_SETTINGS
@given(readings(max_fields=8), st.data())
def test_decode_never_raises_on_mutated_payloads(reading: Reading, data: st.DataObject) -> None:
    topic, payload = mqtt_json.encode(reading)
    mutated = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(mutated) - 1))
        mutated[at] = data.draw(st.integers(0, 255))
    result = mqtt_json.decode(topic, bytes(mutated), RECEIVED)
    assert isinstance(result, Reading) or result.code in CODES


def test_decode_speed_smoke() -> None:
    """A loose guard against losing the compiled fast path; the real figure is in the report."""
    fields = {f"d{i}_occupancy": 0.12 for i in range(1, 9)} | {"intensity": 42, "phase_N": "red"}
    topic = mqtt_json.topic_for("nord", "traffic_signal", "tsc-1")
    payload = msgspec.json.encode({"seq": 1, "ts": 2, "fields": fields})
    per_call = (
        min(timeit.repeat(lambda: mqtt_json.decode(topic, payload, 0), number=2000, repeat=3))
        / 2000
    )
    assert per_call < 100e-6
