"""MQTT JSON codec: topics, exact payloads, every rejection, the out-of-range flag, fuzzing."""

from __future__ import annotations

import json
import random

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge import mqtt_json
from edge import reading as reading_codec
from edge.codec import CODES, ClockWindow, Rejected
from edge.errors import EncodeError
from edge.reading import FieldValue, Location, Reading
from tests.edge import hostile as hostile_inputs
from tests.edge.strategies import CATALOG, READING_SETTINGS, SETTINGS, hostile, readings

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


# Codes only: the detail after the colon may quote msgspec, whose wording changes by version.
@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", "bad_json"),
        (b"{", "bad_json"),
        (b"pm25=3", "bad_json"),
        (b'{"seq":1,"ts":1,"fields":{"pm25":NaN}}', "bad_json"),
        (b'{"seq":1,"ts":1,"fields":{"pm25":Infinity}}', "bad_json"),
        (b"[17]", "bad_payload"),
        (_payload(seq=None), "bad_payload"),
        (_payload(ts=None), "bad_payload"),
        (_payload(fields=None), "bad_payload"),
        (_payload(seq=-1), "bad_payload"),
        (_payload(seq="17"), "bad_payload"),
        (_payload(seq=2**63), "bad_payload"),
        (_payload(seq=2**70), "bad_payload"),
        (_payload(ts=1.7e12), "bad_payload"),
        (_payload(ts=2**63), "bad_payload"),
        (_payload(fields=[1]), "bad_payload"),
        (b'{"seq":1,"ts":1,"fields":{"pm25":[1]}, oops', "bad_payload"),
        (b'{"seq":1,"ts":1,"fields":{"pm25":null,"\xff":1}}', "bad_utf8"),
        (b'{"seq":1,"ts":1,"fields":{"pm25":"\xff"}}', "bad_utf8"),
        (b'{"seq":1,"ts":1,"fields":{"pm25":1},"note":"\xed\xa0\x80"}', "bad_utf8"),
        (_payload(fields={"pm25": None}), "bad_payload"),
        (_payload(fields={"pm25": {"v": 1}}), "bad_payload"),
        (_payload(fields={}), "bad_payload"),
        (_payload(lat=91.0), "bad_payload"),
        (_payload(fields={"pm4": 1.0}), "unknown_field"),
        (_payload(fields={"pm25": "12"}), "wrong_kind"),
        (b'{"seq":1,"ts":1,"fields":{"pm25":1e999}}', "bad_payload"),
        (b'{"seq":1,"ts":1,"fields":{"pm25":1%s}}' % (b"0" * 400), "bad_value"),
    ],
)
def test_bad_payloads(payload: bytes, code: str) -> None:
    result = mqtt_json.decode(TOPIC, payload, RECEIVED)
    assert isinstance(result, Rejected) and result.raw == payload
    assert result.code == code, result.reason


@pytest.mark.parametrize(
    "payload",
    [
        _payload(fields={"pm25": None}),
        b'{"seq":1,"ts":1,"fields":{"pm10":2,"pm25":[1]}}',
        _payload(fields={"pm25": "12"}),
    ],
)
def test_a_bad_field_value_is_named(payload: bytes) -> None:
    result = mqtt_json.decode(TOPIC, payload, RECEIVED)
    assert isinstance(result, Rejected) and "pm25" in result.reason


TRAFFIC = "city/nord/traffic_signal/tsc-1/telemetry"


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        # An enum value the catalog does not list is a state nobody can query for, not a
        # measurement out of range: refused, naming the field and what it allows.
        ({"phase_N": "purple"}, "phase_N='purple' not one of red, amber, green, flashing"),
        ({"intensity": 2**63}, "intensity=9223372036854775808 does not fit a 64-bit integer"),
        ({"intensity": -(2**63) - 1}, "does not fit a 64-bit integer"),
    ],
)
def test_values_the_catalog_cannot_represent_are_bad_values(
    fields: dict[str, FieldValue], needle: str
) -> None:
    result = mqtt_json.decode(TRAFFIC, _payload(fields=fields), RECEIVED)
    assert isinstance(result, Rejected) and result.code == "bad_value"
    assert needle in result.reason


def test_int64_extremes_still_pass() -> None:
    payload = _payload(seq=2**63 - 1, fields={"intensity": 2**63 - 1})
    reading = mqtt_json.decode(TRAFFIC, payload, RECEIVED)
    assert isinstance(reading, Reading) and reading.seq == 2**63 - 1


def _nested(depth: int, inner: bytes = b"1") -> bytes:
    return b'{"a":' * depth + inner + b"}" * depth


@pytest.mark.parametrize(
    "payload",
    [
        _nested(1000),  # the poison message of issue 10: RecursionError in msgspec before
        _payload(fields={"pm25": 1.0})[:-2] + b',"x":' + _nested(1000) + b"}}",
        b'{"seq":1,"ts":1,"fields":{"pm25":' + b"[" * 1000 + b"]" * 1000 + b"}}",
        b"[" * 60_000,  # never closed: msgspec recurses before it finds the truncation
        _nested(mqtt_json.MAX_DEPTH + 1),
    ],
)
def test_deep_nesting_is_refused_before_decoding(payload: bytes) -> None:
    result = mqtt_json.decode(TOPIC, payload, RECEIVED)
    assert isinstance(result, Rejected) and result.code == "too_deep"


def test_nesting_up_to_the_limit_and_brackets_in_strings_are_fine() -> None:
    deep = b'"x":' + _nested(mqtt_json.MAX_DEPTH - 1)
    noisy = b'"note":"' + b"{[" * 1000 + b'\\"}"'
    for extra in (deep, noisy):
        payload = _payload()[:-1] + b"," + extra + b"}"
        assert isinstance(mqtt_json.decode(TOPIC, payload, RECEIVED), Reading), payload


def test_oversize_payload_is_rejected_before_parsing() -> None:
    payload = b" " * (mqtt_json.MAX_PAYLOAD - len(_payload())) + _payload()
    assert isinstance(mqtt_json.decode(TOPIC, payload, RECEIVED), Reading)
    payload = b" " + payload
    result = mqtt_json.decode(TOPIC, payload, RECEIVED)
    assert isinstance(result, Rejected) and result.code == "oversize" and result.raw == payload


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


@pytest.mark.parametrize("sensor_type", sorted(CATALOG.types))
def test_decode_never_raises_on_hostile_json(sensor_type: str) -> None:
    """Deep nesting, huge numbers, NaN and Infinity, bad UTF-8 and escapes, duplicate keys,
    truncation: a sound Reading or a Rejected with a known code, never an exception."""
    topic = mqtt_json.topic_for("d", sensor_type, "s")

    @settings(SETTINGS, max_examples=500)
    @given(hostile(lambda rng: hostile_inputs.hostile_json(rng, sensor_type)))
    def check(payload: bytes) -> None:
        hostile_inputs.assert_sound(mqtt_json.decode(topic, payload, RECEIVED))

    check()


@SETTINGS
@given(st.randoms())
def test_decode_never_raises_on_mutated_valid_payloads(rng: random.Random) -> None:
    reading = hostile_inputs.valid_reading(rng, "d", "s", rng.randint(0, 2**63 - 1))
    topic, payload = mqtt_json.encode(reading)
    hostile_inputs.assert_sound(mqtt_json.decode(topic, payload, RECEIVED))
    hostile_inputs.assert_sound(mqtt_json.decode(topic, hostile_inputs.mutate(rng, payload), 1))


def test_a_clean_payload_takes_the_fast_pass_without_the_judgement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gateway's hot path: a clean payload is decoded by its type's compiled decoder and
    encoded without the full judgement (its speed is measured in bench/, not here)."""
    fields = {f"d{i}_occupancy": 0.12 for i in range(1, 9)} | {"intensity": 42, "phase_N": "red"}
    topic = mqtt_json.topic_for("nord", "traffic_signal", "tsc-1")
    payload = msgspec.json.encode({"seq": 1, "ts": 2, "fields": fields})
    expected = mqtt_json.decode_stamped(topic, payload, 0, "gw-7")

    def judged(*args: object) -> None:
        raise AssertionError("the full judgement ran for a clean payload")

    monkeypatch.setattr(mqtt_json, "_judge", judged)
    assert mqtt_json.decode_stamped(topic, payload, 0, "gw-7") == expected
    assert isinstance(expected, mqtt_json.Stamped)


@pytest.mark.parametrize(
    ("skew_s", "verdict"),
    [
        (0, "reading"),
        (299, "reading"),
        (301, "bad_timestamp"),
        (-7 * 86400 + 1, "reading"),
        (-7 * 86400 - 1, "bad_timestamp"),
        (-RECEIVED / 1e9, "bad_timestamp"),  # the epoch: a clock reset
    ],
)
def test_a_device_clock_far_from_the_receipt_is_refused(skew_s: float, verdict: str) -> None:
    ts_ms = (RECEIVED + int(skew_s * 1e9)) // 1_000_000
    result = mqtt_json.decode(TOPIC, _payload(ts=ts_ms), RECEIVED, ClockWindow())
    got = result.code if isinstance(result, Rejected) else "reading"
    assert got == verdict
    if isinstance(result, Rejected):
        assert result.raw == _payload(ts=ts_ms)  # the bytes travel with the dead letter
        assert ("after" if skew_s > 0 else "before") in result.reason


def test_a_clock_window_bound_of_none_is_no_bound() -> None:
    for ts_ms in (0, 9_000_000_000_000):
        open_ended = ClockWindow(ahead_s=None, behind_s=None)
        assert isinstance(
            mqtt_json.decode(TOPIC, _payload(ts=ts_ms), RECEIVED, open_ended), Reading
        )
    assert isinstance(mqtt_json.decode(TOPIC, _payload(ts=0), RECEIVED), Reading)  # no window


def assert_stamped_as_decoded(topic: str, payload: bytes) -> None:
    """decode_stamped gives the bytes of decode's Reading stamped by the gateway, or the same
    Rejected: the gateway's fast path changes no record on Kafka."""
    clock = ClockWindow(ahead_s=300, behind_s=None)
    stamped = mqtt_json.decode_stamped(topic, payload, RECEIVED, "gw-7", clock)
    decoded = mqtt_json.decode(topic, payload, RECEIVED, clock)
    if isinstance(decoded, Rejected):
        assert stamped == decoded
        return
    assert isinstance(stamped, mqtt_json.Stamped)
    expected = reading_codec.encode(
        msgspec.structs.replace(decoded, gateway_id="gw-7", received_ts=RECEIVED)
    )
    assert stamped == mqtt_json.Stamped(decoded.sensor_type, decoded.sensor_id.encode(), expected)


@READING_SETTINGS
@given(readings(), st.data())
def test_the_stamped_record_is_the_decoded_reading_encoded(
    reading: Reading, data: st.DataObject
) -> None:
    topic, payload = mqtt_json.encode(reading)
    assert_stamped_as_decoded(topic, payload)
    mutated = bytearray(payload)
    at = data.draw(st.integers(0, len(mutated) - 1))
    mutated[at] = data.draw(st.integers(0, 255))
    assert_stamped_as_decoded(topic, bytes(mutated))


@SETTINGS
@given(
    st.sampled_from(sorted(CATALOG.types)),
    st.dictionaries(
        st.sampled_from([*CATALOG.sensor("traffic_signal").fields, "pm25", "pm10", "bogus"]),
        scalars,
        max_size=6,
    ),
    st.integers(0, 2**50),
)
def test_the_stamped_record_agrees_on_every_verdict(
    sensor_type: str, fields: dict[str, FieldValue], ts: int
) -> None:
    topic = mqtt_json.topic_for("d", sensor_type, "s")
    assert_stamped_as_decoded(topic, msgspec.json.encode({"seq": 1, "ts": ts, "fields": fields}))


@pytest.mark.parametrize("skew_ms", [300_000, 300_001, -7 * 86_400_000, -7 * 86_400_000 - 1])
def test_the_hot_path_draws_the_clock_windows_edge_where_the_judgement_does(skew_ms: int) -> None:
    # decode_stamped admits clean payloads itself and sends the rest to the full judgement:
    # at the window's edges both must agree, to the millisecond.
    ts_ms = RECEIVED // 1_000_000 + skew_ms
    clock = ClockWindow()
    stamped = mqtt_json.decode_stamped(TOPIC, _payload(ts=ts_ms), RECEIVED, "gw-7", clock)
    decoded = mqtt_json.decode(TOPIC, _payload(ts=ts_ms), RECEIVED, clock)
    assert isinstance(stamped, Rejected) == isinstance(decoded, Rejected)
    assert isinstance(decoded, Rejected) == (skew_ms in (300_001, -7 * 86_400_000 - 1))
