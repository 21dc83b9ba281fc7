"""What every decoder returns when input is bad, instead of raising: a Rejected with a reason.

A reason is a short code, a colon and human detail ("bad_checksum: expected 0x01a2, got 0x01a3");
the code is the project's own and stable (docs/reason-codes.md); the detail may quote a library
and change with it. The gateway counts dead letters by code and ships the detail with the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import msgspec

from edge.catalog import SensorType
from edge.reading import FieldValue

# Codes a reason may start with, so dashboards and metrics can rely on a closed set.
CODES: Final = frozenset(
    {
        "bad_checksum",  # a frame's checksum does not match its bytes
        "bad_header",  # wrong start bytes or command byte
        "bad_length",  # a frame of the wrong size, or a wrong length field
        "bad_tail",  # wrong end byte
        "bad_json",  # malformed JSON
        "bad_utf8",  # bytes that are not UTF-8, which JSON must be
        "bad_payload",  # well-formed, but missing or mistyped seq/ts/fields/lat/lon, or no fields
        "bad_syntax",  # a text line that does not follow its grammar
        "bad_timestamp",  # a device timestamp too far from the gateway's receipt time
        "bad_topic",  # an MQTT topic outside city/<district>/<type>/<id>/telemetry
        "bad_sensor_id",  # a sensor id or district with characters we cannot carry
        "bad_value",  # a value the catalog cannot represent: unparseable, not an allowed enum
        #             value, or an integer beyond int64
        "decoder_error",  # the decoder raised (a bug): the gateway's boundary caught it
        "garbage",  # bytes skipped while hunting for a frame header
        "not_finite",  # NaN or infinity, which InfluxDB cannot store
        "oversize",  # a payload or line longer than its limit
        "too_deep",  # JSON nested deeper than the decoder allows
        "truncated",  # a frame cut short by a new header or by the end of the stream
        "unknown_field",  # a field the catalog does not know for that sensor type
        "unknown_sentence",  # a line protocol sentence other than the ones we speak
        "unknown_type",  # a sensor type the catalog does not know
        "wrong_kind",  # a value of the wrong kind (str for a float, float for an int, ...)
    }
)

# Sensor ids and districts become MQTT topic levels, Kafka keys and InfluxDB tags; keeping them
# to a plain alphabet spares every one of those an escaping rule.
NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class Rejected(msgspec.Struct, frozen=True):
    """Input a decoder could not turn into a frame or Reading, with the reason and the raw bytes."""

    reason: str
    raw: bytes

    @property
    def code(self) -> str:
        """The short code before the colon, e.g. "bad_checksum"."""
        return self.reason.partition(":")[0]


def reject(code: str, detail: str, raw: bytes | bytearray) -> Rejected:
    """A Rejected whose reason is "<code>: <detail>"."""
    return Rejected(f"{code}: {detail}", bytes(raw))


class ClockWindow(msgspec.Struct, frozen=True):
    """How far a device's own timestamp may lie from the gateway's receipt time.

    Beyond it the device's clock is wrong (an RTC back at 1970 after a power cut, seconds sent as
    milliseconds), and the reading is refused as bad_timestamp: stored at that time nobody would
    see it, and every such time makes InfluxDB open a shard of its own. None: no bound that side.
    """

    ahead_s: float | None = 300.0
    behind_s: float | None = 7 * 86400.0

    def admits(self, ts: int, received_ts: int) -> bool:
        """Whether `ts` (epoch ns) is plausible for a reading received at `received_ts`."""
        skew_s = (ts - received_ts) / 1e9
        return (self.ahead_s is None or skew_s <= self.ahead_s) and (
            self.behind_s is None or -skew_s <= self.behind_s
        )

    def judge(self, ts: int, received_ts: int, raw: bytes | bytearray) -> Rejected | None:
        """None when `ts` (epoch ns) is plausible for a reading received at `received_ts`
        (`admits`), else the Rejected that says which bound it broke."""
        if self.admits(ts, received_ts):
            return None
        skew_s = (ts - received_ts) / 1e9
        if self.ahead_s is not None and skew_s > self.ahead_s:
            return reject(
                "bad_timestamp",
                f"device ts {ts // 1_000_000} ms is {skew_s:.0f} s after its receipt "
                f"(at most {self.ahead_s:g} s allowed)",
                raw,
            )
        if self.behind_s is not None and -skew_s > self.behind_s:
            return reject(
                "bad_timestamp",
                f"device ts {ts // 1_000_000} ms is {-skew_s:.0f} s before its receipt "
                f"(at most {self.behind_s:g} s allowed)",
                raw,
            )
        return None


def vet_fields(
    sensor: SensorType, fields: Mapping[str, FieldValue], raw: bytes
) -> Rejected | tuple[str, ...]:
    """Judge decoded fields against the catalog: a Rejected, or the quality flags to set.

    Out-of-range numbers are kept and flagged "out_of_range", since spotting them is the
    detectors' job. No fields at all, unknown fields, wrong kinds, non-finite numbers and values
    the catalog cannot represent (an enum value it does not list, an integer beyond int64) are
    rejected: InfluxDB would refuse them, or fix a field's type for good, and stall later writes.
    """
    if not fields:
        return reject("bad_payload", "no fields: InfluxDB cannot store a reading without any", raw)
    problems = sensor.problems(fields)
    if not problems:
        return ()
    fatal = [p for p in problems if p.code != "out_of_range"]
    if fatal:
        return reject(fatal[0].code, "; ".join(p.detail for p in fatal), raw)
    return ("out_of_range",)
