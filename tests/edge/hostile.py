"""Hostile inputs for every codec, drawn from a `random.Random`: one generator for both uses.

Hypothesis drives it through `st.randoms()` (tests/edge/strategies.py) and bench/fuzz_gateway.py
through a seeded Random, so a million-payload run is reproducible from its seed. Each kind aims
at one way a decoder breaks: nesting that exhausts recursion, numbers beyond every integer and
float type, NaN and Infinity tokens, bytes that are not UTF-8 or escapes that are not characters,
duplicate keys, and truncation anywhere.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable

from edge import mqtt_json, pms5003, sds011, traffic_line
from edge import reading as reading_codec
from edge.catalog import INT64_MAX, INT64_MIN, FieldSpec, load_catalog
from edge.codec import CODES, Rejected
from edge.pms5003 import PMS5003Frame
from edge.reading import FieldValue, Location, Reading
from edge.sds011 import SDS011Frame

CATALOG = load_catalog()
TYPES = sorted(CATALOG.types)

# Numbers at and beyond each boundary a decoder or InfluxDB has: int64, uint64, float, digits
# Python refuses to turn into an int (4,300 by default).
NUMBERS = [
    b"0", b"-0", b"-0.0", b"1e-999", b"1e999", b"-1e999", b"1E+308", b"2e308", b"4.9e-324",
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
    b"-9223372036854775809", b"18446744073709551615", b"18446744073709551616",
    b"1180591620717411303424", b"0.1e1", b"01", b"1.", b".5", b"+1", b"0x10", b"1_000",
]  # fmt: skip
NON_JSON = [b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"inf", b"nan", b"None", b"undefined"]
STRINGS = [
    b'""', b'"\\u0000"', b'"\\ud800"', b'"\\udfff\\ud800"', b'"\\uD83D\\uDE00"', b'"\\x41"',
    b'"\xff"', b'"\xc0\xaf"', b'"\xed\xa0\x80"', b'"\xef\xbb\xbf"', b'"\xf4\x90\x80\x80"',
    b'"\\', b'"a', b'"\x00"', b'"\n"', "\"grün ☃ 𝄞\"".encode(), b'"red"', b'"purple"',
]  # fmt: skip
LITERALS = [b"true", b"false", b"null", b"tru", b"nul", b"True", b"[]", b"{}"]


def number(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(NUMBERS)
    if roll < 0.6:
        return str(rng.randint(-(2**70), 2**70)).encode()
    if roll < 0.7:
        return b"1" + b"0" * rng.choice([20, 400, 4300, 5000])  # beyond float, beyond int()
    if roll < 0.8:
        return b"%de%d" % (rng.randint(-9, 9), rng.randint(-99999, 99999))
    return repr(rng.uniform(-1e6, 1e6)).encode()


def text(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(STRINGS)
    if roll < 0.8:
        top = rng.choice([0x7F, 0xFFFF, 0x10FFFF])
        chars = "".join(chr(rng.randint(0, top)) for _ in range(rng.randint(0, 12)))
        return json.dumps(chars).encode()  # lone surrogates come out as \ud8xx escapes
    return b'"' + rng.randbytes(rng.randint(0, 12)).replace(b'"', b"") + b'"'


def scalar(rng: random.Random) -> bytes:
    return rng.choice([number, number, text, lambda r: r.choice(NON_JSON + LITERALS)])(rng)


def nested(rng: random.Random, depth: int, inner: bytes) -> bytes:
    """`inner` inside `depth` arrays or objects (one kind, or mixed), closed or not."""
    opens, closes = [], []
    for _ in range(depth):
        if rng.random() < 0.5:
            opens.append(b"[")
            closes.append(b"]")
        else:
            opens.append(b'{"a":')
            closes.append(b"}")
    closed = b"".join(reversed(closes)) if rng.random() < 0.9 else b""
    return b"".join(opens) + inner + closed


def deep_depth(rng: random.Random) -> int:
    return rng.choice([mqtt_json.MAX_DEPTH - 2, mqtt_json.MAX_DEPTH + 1, 100, 1000, 3000, 10_000])


def field_name(rng: random.Random, sensor_type: str) -> str:
    names = list(CATALOG.sensor(sensor_type).fields)
    return rng.choice([*names, *names, "bogus", "", "pm25\u0000", "ü", "x" * 300])


def hostile_fields(rng: random.Random, sensor_type: str) -> bytes:
    """A `fields` object with hostile values, and sometimes a key twice or a deep value."""
    pairs = []
    for _ in range(rng.randint(0, 6)):
        key = json.dumps(field_name(rng, sensor_type)).encode()
        value = scalar(rng)
        if rng.random() < 0.1:
            value = nested(rng, deep_depth(rng), value)
        pairs.append(key + b":" + value)
        if rng.random() < 0.2:  # the same key again, perhaps of another kind
            pairs.append(key + b":" + scalar(rng))
    return b"{" + b",".join(pairs) + b"}"


def hostile_json(rng: random.Random, sensor_type: str | None = None) -> bytes:
    """One hostile MQTT payload, cut short now and then."""
    sensor_type = sensor_type or rng.choice(TYPES)
    roll = rng.random()
    if roll < 0.15:
        payload = nested(rng, deep_depth(rng), scalar(rng))
    elif roll < 0.25:
        payload = scalar(rng)
    else:
        members = [
            b'"seq":' + (number(rng) if rng.random() < 0.5 else b"1"),
            b'"ts":' + (number(rng) if rng.random() < 0.5 else b"1700000000000"),
            b'"fields":' + hostile_fields(rng, sensor_type),
        ]
        if rng.random() < 0.3:
            members.append(b'"lat":' + scalar(rng))
        if rng.random() < 0.2:  # an unknown member, skipped by the decoder, still parsed
            members.append(b'"extra":' + nested(rng, deep_depth(rng), scalar(rng)))
        if rng.random() < 0.2:
            members.append(rng.choice(members))  # a duplicate top-level key
        rng.shuffle(members)
        payload = b"{" + b",".join(members) + b"}"
    if rng.random() < 0.15:
        payload = payload[: rng.randint(0, len(payload))]
    return payload


def value_for(rng: random.Random, spec: FieldSpec) -> FieldValue:
    """A value valid for one catalog field."""
    if spec.kind == "bool":
        return rng.random() < 0.5
    if spec.kind == "str":
        assert spec.allowed is not None
        return rng.choice(spec.allowed)
    low = -1e6 if spec.min is None else spec.min
    high = 1e6 if spec.max is None else spec.max
    if spec.kind == "int":
        return rng.randint(int(low), int(high))
    return round(rng.uniform(low, high), 3)


def valid_reading(
    rng: random.Random, district: str, sensor_id: str, seq: int, around_ms: int | None = None
) -> Reading:
    """A device-side Reading that decodes cleanly: a few catalog fields with valid values.
    Timestamped within a minute of `around_ms` when given (what a gateway's clock window
    accepts), anywhere in 2020-2030 otherwise."""
    sensor = CATALOG.sensor(rng.choice(TYPES))
    ts_ms = (
        around_ms + rng.randint(-60_000, 60_000)
        if around_ms is not None
        else rng.randint(1_600_000_000_000, 1_900_000_000_000)
    )
    specs = rng.sample(list(sensor.fields.values()), rng.randint(1, min(8, len(sensor.fields))))
    return Reading(
        sensor_id=sensor_id,
        sensor_type=sensor.name,
        seq=seq,
        ts=ts_ms * 1_000_000,
        fields={spec.name: value_for(rng, spec) for spec in specs},
        location=Location(district, round(rng.uniform(-90, 90), 4), None),
    )


def mutate(rng: random.Random, data: bytes) -> bytes:
    """`data` with a few bytes flipped, inserted, deleted or duplicated, or cut short."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(out))
        op = rng.randrange(5)
        if op == 0 and at < len(out):
            out[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[at:at] = bytes([rng.choice(b'{}[]",:0\\e-.\xff\x00')])
        elif op == 2:
            del out[at : at + rng.randint(1, 8)]
        elif op == 3:
            out[at:at] = out[at : at + rng.randint(1, 16)]
        else:
            del out[at:]
    return bytes(out)


# --- serial --------------------------------------------------------------------------------


def hostile_line(rng: random.Random) -> bytes:
    """A $TSC line whose values are hostile but whose checksum is right, so it reaches parsing."""
    specs = CATALOG.sensor("traffic_signal").fields

    def token(valid: str) -> str:
        if rng.random() < 0.6:
            return valid
        raw = rng.choice([number, text, lambda r: r.choice(NON_JSON + LITERALS)])(rng)
        return raw.decode("ascii", "replace").strip('"')[:40]

    parts = [
        "TSC" if rng.random() < 0.9 else rng.choice(["GPGGA", "", "tsc"]),
        "tsc-1" if rng.random() < 0.9 else rng.choice(["a/b", "", "x" * 70]),
        token(str(rng.randint(0, 2**63 - 1))),
        token("1700000000000"),
    ]
    for _ in range(rng.randint(0, 6)):
        name = rng.choice([*specs, "bogus"]) if rng.random() < 0.95 else ""
        valid = value_for(rng, specs[name]) if name in specs else 1
        parts.append(f"{name}={token(str(int(valid) if type(valid) is bool else valid))}")
    body = ",".join(parts).encode("ascii", "replace")
    line = b"$" + body + b"*%02X\r\n" % traffic_line.checksum(body)
    return mutate(rng, line) if rng.random() < 0.2 else line


def _pms_frame(rng: random.Random) -> bytes:
    words = rng.choice([[0xFFFF] * 13, [0] * 13, list(struct.unpack(">13H", rng.randbytes(26)))])
    return pms5003.encode(PMS5003Frame(*words))


def _sds_frame(rng: random.Random) -> bytes:
    values = rng.choice([(0xFFFF,) * 3, (0, 0, 0), struct.unpack("<HHH", rng.randbytes(6))])
    return sds011.encode(SDS011Frame(*values))


SERIAL_FRAMES: dict[str, Callable[[random.Random], bytes]] = {
    "pms5003": _pms_frame,
    "sds011": _sds_frame,
    "traffic_line": hostile_line,
}


def hostile_serial(rng: random.Random, codec: str) -> bytes:
    """A stretch of a serial stream: good and damaged frames of `codec`, garbage, other frames."""
    pieces = []
    for _ in range(rng.randint(1, 6)):
        roll = rng.random()
        frame = SERIAL_FRAMES[codec](rng)
        if roll < 0.5:
            pieces.append(frame)
        elif roll < 0.7:
            pieces.append(mutate(rng, frame))
        elif roll < 0.85:
            pieces.append(rng.randbytes(rng.randint(1, 80)))
        else:  # another protocol's frame on the wrong port
            pieces.append(rng.choice(list(SERIAL_FRAMES.values()))(rng))
    return b"".join(pieces)


def assert_sound(result: Reading | Rejected) -> None:
    """A decoder's verdict is a Rejected with a known code, or a Reading every consumer can
    take: int64 integers, catalog-valid fields (out of range at most), and a wire form."""
    if isinstance(result, Rejected):
        assert result.code in CODES, result.reason
        return
    assert isinstance(result, Reading)
    assert 0 <= result.seq <= INT64_MAX and 0 <= result.ts <= INT64_MAX, result
    sensor = CATALOG.sensor(result.sensor_type)
    assert result.fields and {p.code for p in sensor.problems(result.fields)} <= {"out_of_range"}
    for value in result.fields.values():
        assert not isinstance(value, int) or INT64_MIN <= value <= INT64_MAX
    assert reading_codec.decode(reading_codec.encode(result)) == result
