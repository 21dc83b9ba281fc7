"""InfluxDB line protocol, written by hand: influxdb-client's Point costs ~10x more per point.

Escaping follows the InfluxDB 2.x line protocol reference: measurement names escape comma and
space; tag keys, tag values and field keys escape comma, equals sign and space; string field
values are double-quoted with `"` and `\\` escaped. Line protocol has no escape for a newline or
for a trailing backslash, so newlines become spaces and a trailing backslash is dropped. Empty tag
values are omitted (InfluxDB rejects them). NaN and infinities have no representation: such fields
are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Final

import msgspec

FieldValue = float | int | str | bool | None

_MEASUREMENT: Final = str.maketrans({",": "\\,", " ": "\\ ", "\n": " ", "\r": " ", "\t": " "})
_KEY: Final = str.maketrans(
    {",": "\\,", "=": "\\=", " ": "\\ ", "\n": "\\ ", "\r": "\\ ", "\t": "\\ "}
)
_STRING: Final = str.maketrans({'"': '\\"', "\\": "\\\\", "\n": " ", "\r": " "})
_KEY_SPECIAL: Final = frozenset(", =\n\r\t\\")
_JSON: Final = msgspec.json.Encoder()


def escape_measurement(name: str) -> str:
    return name.rstrip("\\").translate(_MEASUREMENT)


@lru_cache(maxsize=65536)
def escape_key(text: str) -> str:
    """A tag key, tag value or field key (cached: the same few thousand names recur)."""
    if _KEY_SPECIAL.isdisjoint(text):
        return text
    return text.rstrip("\\").translate(_KEY)


def quote_string(value: str) -> str:
    return '"' + value.translate(_STRING) + '"'


def series_key(measurement: str, tags: Iterable[tuple[str, str]]) -> str:
    """`measurement,k=v,...` with tags sorted by key (the order InfluxDB keeps them in)."""
    parts = [escape_measurement(measurement)]
    parts += [f"{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags) if v]
    return ",".join(parts)


def field_text(value: FieldValue, *, as_float: bool = True) -> str | None:
    """The line protocol form of one field value; None when it has none (None, NaN, inf).

    Numbers are written as floats by default so a field keeps one type whether a device sent
    `12` or `12.0` (InfluxDB refuses a type change within a shard).
    """
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, int) and not as_float:
        return f"{value}i"
    number = float(value)
    if not math.isfinite(number):
        return None
    return repr(number)


def line(series: str, fields: Mapping[str, FieldValue], time_ns: int) -> str | None:
    """One point; None if no field has a value (a point needs at least one field)."""
    parts = []
    for name, value in fields.items():
        text = field_text(value)
        if text is not None:
            parts.append(f"{escape_key(name)}={text}")
    if not parts:
        return None
    return f"{series} {','.join(parts)} {time_ns}"


def plain_fields(fields: Mapping[str, FieldValue]) -> str | None:
    """`k=v,...` for fields that are all finite numbers or booleans under plain names, else None.

    Formatting floats one by one costs more than the rest of a point; msgspec's JSON encoder does
    them all at once, and JSON's number and boolean forms are line protocol's float and boolean
    forms (a number without the `i` suffix is a float). What JSON would write differently is
    ruled out on its output: escapes, strings (`:"`), NaN and infinities (`null`), and names with
    a space, comma or equals sign. The caller formats those fields one by one.
    """
    text = _JSON.encode(fields).decode()
    if (
        "\\" in text
        or ':"' in text
        or "null" in text
        or " " in text
        or "=" in text
        or text.count(",") != max(len(fields) - 1, 0)
    ):
        return None
    return text[1:-1].replace('":', "=").replace('"', "")
