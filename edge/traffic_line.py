"""The ASCII line protocol of serial traffic counters and controllers, NMEA style.

`$TSC,<sensor_id>,<seq>,<ts_ms>,<key>=<value>,...*HH\r\n`, where HH is the XOR of every byte
between '$' and '*' in two hex digits. Values are parsed by the kind the catalog gives them in the
sensor type the line is decoded as (the traffic-signal family's, edge/families/traffic_signal.py);
bools are 1 or 0.
"""

from __future__ import annotations

import math
import re
from typing import Final

from edge.catalog import SensorType
from edge.codec import NAME_PATTERN, Rejected, reject, vet_fields
from edge.errors import EncodeError
from edge.reading import FieldValue, Location, Reading

SENTENCE: Final = "TSC"
MAX_LINE: Final = 512  # bytes, '$' to '\n' inclusive

_NS_PER_MS: Final = 1_000_000
_MAX_TS_MS: Final = (2**63 - 1) // _NS_PER_MS
_LINE: Final = re.compile(rb"\$([\x20-\x7e]*)\*([0-9A-Fa-f]{2})(?:\r?\n)?")
_INT: Final = re.compile(r"-?[0-9]{1,19}")
_FLOAT: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
# Characters that would break the grammar, so a str value may not hold them.
_RESERVED: Final = frozenset("$*,=\r\n")
_TRUE: Final = frozenset({"1", "true"})
_FALSE: Final = frozenset({"0", "false"})


def checksum(body: bytes) -> int:
    """The XOR of all bytes of `body` (the text between '$' and '*')."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def encode(reading: Reading) -> bytes:
    """The line a controller sends for `reading`; EncodeError for what the grammar cannot hold."""
    if not NAME_PATTERN.fullmatch(reading.sensor_id):
        raise EncodeError(f"sensor id {reading.sensor_id!r} must match {NAME_PATTERN.pattern}")
    parts = [SENTENCE, reading.sensor_id, str(reading.seq), str(reading.ts // _NS_PER_MS)]
    parts.extend(f"{key}={_format(key, value)}" for key, value in reading.fields.items())
    body = ",".join(parts).encode("ascii")
    line = b"$" + body + b"*%02X\r\n" % checksum(body)
    if len(line) > MAX_LINE:
        raise EncodeError(f"line of {reading.sensor_id} is {len(line)} bytes, over {MAX_LINE}")
    return line


def check_frame(line: bytes) -> Rejected | None:
    """Why `line` is not a well-framed sentence with a good checksum, or None if it is."""
    match = _LINE.fullmatch(line)
    if match is None:
        return reject("bad_syntax", "not $<printable ASCII>*HH followed by CR LF", line)
    body, check = match.group(1), int(match.group(2), 16)
    expected = checksum(body)
    if check != expected:
        return reject("bad_checksum", f"expected {expected:02X}, got {check:02X}", line)
    return None


def decode(
    line: bytes, sensor: SensorType, received_ts: int, location: Location | None = None
) -> Reading | Rejected:
    """The Reading of a `sensor` in one line (with or without its CR LF), or why not; never raises.

    `received_ts` is the gateway's receipt time in epoch nanoseconds. Out-of-range values are
    kept and flagged "out_of_range"; unknown keys and unparseable values are rejected.
    """
    line = bytes(line)
    if len(line) > MAX_LINE:
        return reject("oversize", f"{len(line)} bytes > {MAX_LINE}", line)
    problem = check_frame(line)
    if problem is not None:
        return problem
    body = line[1 : line.rindex(b"*")].decode("ascii")
    sentence, *parts = body.split(",")
    if sentence != SENTENCE:
        return reject("unknown_sentence", f"${sentence} is not ${SENTENCE}", line)
    if len(parts) < 3:
        return reject("bad_syntax", "expected <sensor_id>,<seq>,<ts_ms> after $TSC", line)
    sensor_id, seq_text, ts_text, *pairs = parts
    if not NAME_PATTERN.fullmatch(sensor_id):
        return reject("bad_sensor_id", f"sensor id {sensor_id!r} has unsupported characters", line)
    seq = _int(seq_text)
    ts_ms = _int(ts_text)
    if seq is None or not 0 <= seq < 2**63:
        return reject("bad_syntax", f"seq {seq_text!r} is not a non-negative integer", line)
    if ts_ms is None or not 0 <= ts_ms <= _MAX_TS_MS:
        return reject("bad_syntax", f"ts {ts_text!r} is not epoch milliseconds", line)
    fields: dict[str, FieldValue] = {}
    for pair in pairs:
        key, eq, text = pair.partition("=")
        if not eq or not key:
            return reject("bad_syntax", f"{pair!r} is not <key>=<value>", line)
        if key in fields:
            return reject("bad_syntax", f"key {key!r} appears twice", line)
        spec = sensor.fields.get(key)
        if spec is None:
            return reject("unknown_field", f"{key!r} is not a field of {sensor.name}", line)
        value = _parse(spec.kind, text)
        if value is None:
            return reject("bad_value", f"{key}={text!r} is not a valid {spec.kind}", line)
        fields[key] = value
    verdict = vet_fields(sensor, fields, line)
    if isinstance(verdict, Rejected):
        return verdict
    return Reading(
        sensor_id=sensor_id,
        sensor_type=sensor.name,
        seq=seq,
        ts=ts_ms * _NS_PER_MS,
        fields=fields,
        location=location,
        received_ts=received_ts,
        quality=verdict,
    )


def _int(text: str) -> int | None:
    # int() would also take "+5", " 5" and "1_000"; the grammar does not.
    return int(text) if _INT.fullmatch(text) else None


def _parse(kind: str, text: str) -> FieldValue | None:
    if kind == "int":
        return _int(text)
    if kind == "float":
        if not _FLOAT.fullmatch(text):
            return None
        value = float(text)
        return value if math.isfinite(value) else None
    if kind == "bool":
        lowered = text.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else None
    return text if text and "=" not in text else None


def _format(key: str, value: FieldValue) -> str:
    if type(value) is bool:
        return "1" if value else "0"
    if type(value) is float:
        if not math.isfinite(value):
            raise EncodeError(f"{key}={value!r} is not finite")
        return repr(value)
    text = str(value)
    if not text or not text.isascii() or not text.isprintable() or _RESERVED & set(text):
        raise EncodeError(f"{key}={text!r} cannot be written in a traffic line")
    return text
