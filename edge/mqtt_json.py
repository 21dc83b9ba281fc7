"""The MQTT JSON codec: topic layout and the device-side telemetry payload.

Topic `city/<district>/<sensor_type>/<sensor_id>/telemetry`, payload
`{"seq": 17, "ts": <epoch ms>, "fields": {...}, "lat": 52.1, "lon": 4.3}`. Decoding is on the
gateway's per-message hot path: one compiled msgspec decoder per sensor type does the checks in C.
"""

from __future__ import annotations

import functools
import itertools
import re
import sys
from typing import Annotated, Any, Final, Literal

import msgspec

from edge.catalog import INT64_MAX, INT64_MIN, Catalog, FieldSpec, SensorType, load_catalog
from edge.codec import NAME_PATTERN, ClockWindow, Rejected, reject, vet_fields
from edge.errors import EncodeError
from edge.reading import FieldValue, Location, Reading

MAX_PAYLOAD: Final = 64 * 1024
# A valid payload nests two levels (the message, its fields). msgspec recurses per level and
# raises RecursionError near Python's limit (~1,000), wherever the caller's stack already is.
MAX_DEPTH: Final = 32
TOPIC_FILTER: Final = "city/+/+/+/telemetry"  # what the gateway subscribes to

_NS_PER_MS: Final = 1_000_000
# Reading.ts is int64 nanoseconds (as InfluxDB stores time): the last millisecond that fits.
_MAX_TS_MS: Final = INT64_MAX // _NS_PER_MS

_Seq = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
_TsMs = Annotated[int, msgspec.Meta(ge=0, le=_MAX_TS_MS)]
_Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
_Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class _Payload(msgspec.Struct, frozen=True, omit_defaults=True):
    """The device-side payload, with fields taken as any flat scalars."""

    seq: _Seq
    ts: _TsMs  # epoch milliseconds
    fields: dict[str, FieldValue]
    lat: _Lat | None = None
    lon: _Lon | None = None


class _RawFields(msgspec.Struct):
    fields: dict[str, msgspec.Raw] = {}


_encoder: Final = msgspec.json.Encoder()
_lenient: Final = msgspec.json.Decoder(_Payload)
_to_builtins: Final = msgspec.to_builtins
_raw_fields: Final = msgspec.json.Decoder(_RawFields)
_field_value: Final = msgspec.json.Decoder(FieldValue)


def topic_for(district: str, sensor_type: str, sensor_id: str) -> str:
    """The telemetry topic of one sensor; raises EncodeError for a name we cannot carry."""
    for what, value in (("district", district), ("sensor_type", sensor_type), ("id", sensor_id)):
        if not NAME_PATTERN.fullmatch(value):
            raise EncodeError(f"{what} {value!r} must match {NAME_PATTERN.pattern}")
    return f"city/{district}/{sensor_type}/{sensor_id}/telemetry"


def encode(reading: Reading) -> tuple[str, bytes]:
    """The topic and payload a device publishes for `reading` (which must have a location)."""
    if reading.location is None:
        raise EncodeError(f"reading of {reading.sensor_id} has no location: no district to publish")
    loc = reading.location
    topic = topic_for(loc.district, reading.sensor_type, reading.sensor_id)
    payload = _Payload(
        reading.seq, reading.ts // _NS_PER_MS, reading.fields, loc.latitude, loc.longitude
    )
    return topic, _encoder.encode(payload)


def decode(
    topic: str, payload: bytes, received_ts: int, clock: ClockWindow | None = None
) -> Reading | Rejected:
    """The Reading in one MQTT message, or why not; never raises.

    `received_ts` is the gateway's receipt time in epoch nanoseconds; with `clock`, a device
    timestamp outside that window around it is rejected. Out-of-range numbers are kept and
    flagged "out_of_range"; unknown fields, wrong kinds and values the catalog cannot represent
    are rejected. Reasons and their codes: docs/reason-codes.md.
    """
    judged = _judge(topic, payload, received_ts, clock)
    if isinstance(judged, Rejected):
        return judged
    return _reading(judged, received_ts)


class Stamped(msgspec.Struct, frozen=True, gc=False):
    """A reading ready for Kafka: its type, its sensor id as the record key, and its wire form
    (edge.reading)."""

    sensor_type: str
    key: bytes
    value: bytes


def decode_stamped(
    topic: str,
    payload: bytes,
    received_ts: int,
    gateway_id: str,
    clock: ClockWindow | None = None,
) -> Stamped | Rejected:
    """What `decode` judges, as the bytes edge.reading.encode gives for its Reading stamped with
    `gateway_id` and `received_ts`; never raises. The gateway's hot path: a clean payload (a
    known topic, safe bytes, accepted by its type's strict decoder, a plausible clock: the
    checks `_judge` makes, without building their verdicts) is encoded from its typed fields as
    decoded, without a Reading or a dict between. Whatever that pass does not accept is judged
    in full by `_judge`, which alone says why a payload is refused."""
    parsed = _parse_topic(topic)
    if not isinstance(parsed, str) and len(payload) <= MAX_PAYLOAD and _unsafe(payload) is None:
        district, sensor, sensor_id, strict, empty, stamped, key = parsed
        try:
            message = strict.decode(payload)
        except msgspec.MsgspecError:
            message = None
        if message is not None and message.fields != empty:
            ts = message.ts * _NS_PER_MS
            if clock is None or clock.admits(ts, received_ts):
                value = stamped(  # Reading's fields, in Reading's order
                    sensor_id,
                    sensor.name,
                    message.seq,
                    ts,
                    message.fields,
                    Location(district, message.lat, message.lon),
                    received_ts,
                    gateway_id,
                )
                return Stamped(sensor.name, key, _encoder.encode(value))
    judged = _judge(topic, payload, received_ts, clock)
    if isinstance(judged, Rejected):
        return judged
    reading = msgspec.structs.replace(
        _reading(judged, received_ts), gateway_id=gateway_id, received_ts=received_ts
    )
    return Stamped(reading.sensor_type, judged[0][6], _encoder.encode(reading))


# What _parse_topic knows of a topic: (district, sensor type, sensor id, strict decoder, its
# fields struct with no field set, _stamped_struct of the type, the sensor id as bytes).
_Topic = tuple[str, SensorType, str, msgspec.json.Decoder[Any], Any, Any, bytes]
# (the topic's _Topic, decoded message, its fields as a dict or None when the message is the
# strict decoder's typed struct, quality flags)
_Judged = tuple[_Topic, Any, dict[str, FieldValue] | None, tuple[str, ...]]


def _judge(
    topic: str, payload: bytes, received_ts: int, clock: ClockWindow | None
) -> _Judged | Rejected:
    if len(payload) > MAX_PAYLOAD:
        return reject("oversize", f"{len(payload)} bytes > {MAX_PAYLOAD}", payload)
    parsed = _parse_topic(topic)
    if isinstance(parsed, str):
        return Rejected(parsed, bytes(payload))
    strict, empty = parsed[3], parsed[4]
    unsafe = _unsafe(payload)
    if unsafe is not None:
        return unsafe
    fields: dict[str, FieldValue] | None = None
    quality: tuple[str, ...] = ()
    try:
        message: Any = strict.decode(payload)
    except msgspec.MsgspecError:
        message = None
    if message is None or message.fields == empty:
        # Slow path: what the strict decoder refused is decoded leniently to say why.
        slow = _decode_slowly(parsed[1], payload)
        if isinstance(slow, Rejected):
            return slow
        message, fields, quality = slow
    if clock is not None:
        late = clock.judge(message.ts * _NS_PER_MS, received_ts, payload)
        if late is not None:
            return late
    return parsed, message, fields, quality


def _reading(judged: _Judged, received_ts: int) -> Reading:
    parsed, message, fields, quality = judged
    district, sensor, sensor_id = parsed[:3]
    return Reading(
        sensor_id=sensor_id,
        sensor_type=sensor.name,
        seq=message.seq,
        ts=message.ts * _NS_PER_MS,
        fields=_to_builtins(message.fields) if fields is None else fields,
        location=Location(district, message.lat, message.lon),
        received_ts=received_ts,
        quality=quality,
    )


def _decode_slowly(
    sensor: SensorType, payload: bytes
) -> tuple[_Payload, dict[str, FieldValue], tuple[str, ...]] | Rejected:
    try:
        message = _lenient.decode(payload)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError, so it goes first
        return reject("bad_payload", _name_field(str(exc), payload), payload)
    except msgspec.DecodeError as exc:
        return reject("bad_json", str(exc), payload)
    verdict = vet_fields(sensor, message.fields, payload)
    if isinstance(verdict, Rejected):
        return verdict
    return message, sensor.normalise(message.fields), verdict


def _unsafe(payload: bytes) -> Rejected | None:
    """Refuse what must not reach msgspec: bytes that are not UTF-8 (which msgspec reports
    differently from version to version, or not at all in a member it skips), and nesting that
    would exhaust its recursion. Both checks cost a C-speed scan on the common path."""
    if not payload.isascii():
        try:
            payload.decode()
        except UnicodeDecodeError as exc:
            return reject("bad_utf8", f"invalid UTF-8 at byte {exc.start}", payload)
    # Counting brackets bounds the depth from above; only a payload with many is measured.
    if payload.count(b"{") + payload.count(b"[") > MAX_DEPTH:
        depth = _depth(payload)
        if depth > MAX_DEPTH:
            return reject("too_deep", f"JSON nests {depth} levels, more than {MAX_DEPTH}", payload)
    return None


_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET: Final = bytes(sorted(set(range(256)) - set(b"{}[]")))
_STEP: Final = tuple(1 if b in b"{[" else -1 if b in b"}]" else 0 for b in range(256))


def _depth(payload: bytes) -> int:
    """The deepest nesting of JSON brackets outside strings (an unclosed string counts its
    brackets: such a payload is refused either way)."""
    brackets = _STRING.sub(b"", payload).translate(None, _NOT_BRACKET)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _name_field(message: str, payload: bytes) -> str:
    """msgspec says `$.fields[...]` for a bad dict value: name the field, for the operator."""
    if not message.endswith("$.fields[...]`"):
        return message
    try:
        for name, raw in _raw_fields.decode(payload).fields.items():
            try:
                _field_value.decode(raw)
            except msgspec.ValidationError:
                return message.replace("[...]", f".{name}")
    except msgspec.DecodeError:  # it breaks down after the first problem
        pass
    return message


@functools.lru_cache(maxsize=16384)
def _parse_topic(topic: str) -> _Topic | str:
    """What the topic says and what decodes its payloads, or a reject reason; cached per topic."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "city" or parts[4] != "telemetry":
        return f"bad_topic: {topic!r} is not city/<district>/<sensor_type>/<sensor_id>/telemetry"
    _, district, sensor_type, sensor_id, _ = parts
    sensor = _catalog().get(sensor_type)
    if sensor is None:
        return f"unknown_type: {sensor_type!r} in topic {topic!r} is not in the sensor catalog"
    for what, value in (("district", district), ("sensor id", sensor_id)):
        if not NAME_PATTERN.fullmatch(value):
            return f"bad_sensor_id: {what} {value!r} in topic {topic!r} has unsupported characters"
    strict = _strict_decoder(sensor.name)
    stamped = _stamped_struct(sensor.name)
    return district, sensor, sensor_id, strict, _fields_type(strict)(), stamped, sensor_id.encode()


@functools.cache
def _catalog() -> Catalog:
    return load_catalog()


@functools.cache
def _strict_decoder(sensor_type: str) -> msgspec.json.Decoder[Any]:
    """A decoder that accepts only clean payloads of one type, so the common case costs no Python.

    Every field is optional, typed and range-constrained; unknown fields are refused. Integers in
    float fields come out as floats, as InfluxDB needs.
    """
    sensor = _catalog().sensor(sensor_type)
    fields_type = msgspec.defstruct(
        f"{sensor_type}_fields",
        [
            (s.name, _field_type(s) | msgspec.UnsetType, msgspec.UNSET)
            for s in sensor.fields.values()
        ],
        forbid_unknown_fields=True,
        frozen=True,
    )
    payload_type = msgspec.defstruct(
        f"{sensor_type}_payload",
        [
            ("seq", _Seq),
            ("ts", _TsMs),
            ("fields", fields_type),
            ("lat", _Lat | None, None),
            ("lon", _Lon | None, None),
        ],
        frozen=True,
    )
    return msgspec.json.Decoder(payload_type)


def _fields_type(strict: msgspec.json.Decoder[Any]) -> Any:
    """The typed fields struct of a strict decoder's payload."""
    payload: type[msgspec.Struct] = strict.type  # type: ignore[assignment]  # one of ours
    return next(f.type for f in msgspec.structs.fields(payload) if f.name == "fields")


@functools.cache
def _stamped_struct(sensor_type: str) -> Any:
    """A struct laid out as edge.reading.Reading (the same names, order and omitted defaults)
    whose fields are the strict decoder's typed struct: encoded, the bytes of the Reading with
    those fields as a dict (tests/edge/test_mqtt_json.py checks it)."""
    fields_type = _fields_type(_strict_decoder(sensor_type))
    layout: list[tuple[Any, ...]] = []
    for f in msgspec.structs.fields(Reading):
        kind = fields_type if f.name == "fields" else f.type
        layout.append((f.name, kind) if f.required else (f.name, kind, f.default))
    return msgspec.defstruct(f"{sensor_type}_stamped", layout, omit_defaults=True, frozen=True)


def _field_type(spec: FieldSpec) -> Any:
    if spec.kind == "bool":
        return bool
    if spec.kind == "str":
        return Literal[spec.allowed] if spec.allowed else str
    if spec.kind == "int":
        low = INT64_MIN if spec.min is None else int(spec.min)
        high = INT64_MAX if spec.max is None else int(spec.max)
        return Annotated[int, msgspec.Meta(ge=low, le=high)]
    # Finite bounds also keep an infinity (JSON 1e999) out of the fast path.
    low_f = -sys.float_info.max if spec.min is None else spec.min
    high_f = sys.float_info.max if spec.max is None else spec.max
    return Annotated[float, msgspec.Meta(ge=low_f, le=high_f)]
