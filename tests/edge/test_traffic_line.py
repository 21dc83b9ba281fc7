"""The $TSC line protocol: exact lines, checksums, every rejection, round trips, fuzzing."""

from __future__ import annotations

import functools
import operator

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge import traffic_line
from edge.codec import CODES, Rejected
from edge.errors import EncodeError
from edge.reading import Location, Reading
from tests.edge.strategies import CATALOG, READING_SETTINGS, SETTINGS, readings

RECEIVED = 1_700_000_000_900_000_000
SENSOR = CATALOG.sensor("traffic_signal")


def decode(line: bytes, received_ts: int, location: Location | None = None) -> Reading | Rejected:
    """A controller's line decoded as the traffic-signal catalog type."""
    return traffic_line.decode(line, SENSOR, received_ts, location)


TRAFFIC = CATALOG.sensor("traffic_signal")


def line(body: str, check: int | None = None) -> bytes:
    """A line around `body` with its checksum, computed here independently of the codec."""
    raw = body.encode()
    value = functools.reduce(operator.xor, raw, 0) if check is None else check
    return b"$" + raw + b"*%02X\r\n" % value


def test_checksum_of_a_tiny_body() -> None:
    # "A,B" = 0x41 ^ 0x2c ^ 0x42 = 0x2f, worked by hand.
    assert traffic_line.checksum(b"A,B") == 0x2F
    assert line("A,B") == b"$A,B*2F\r\n"


def test_encode_exact_line() -> None:
    reading = Reading(
        sensor_id="tsc-7",
        sensor_type="traffic_signal",
        seq=3,
        ts=1_700_000_000_000_999_999,  # sub-millisecond digits do not travel
        fields={"intensity": 12, "occupancy": 0.25, "phase_N": "green", "pedestrianCall_N": True},
        location=Location("nord"),
        gateway_id="ignored",
    )
    body = "TSC,tsc-7,3,1700000000000,intensity=12,occupancy=0.25,phase_N=green,pedestrianCall_N=1"
    assert traffic_line.encode(reading) == line(body)


def test_decode() -> None:
    data = line(
        "TSC,tsc-7,3,1700000000000,intensity=12,occupancy=1,conflictMonitor=0,d2_fault=open_loop"
    )
    location = Location("nord", 52.1, 4.3)
    assert decode(data, RECEIVED, location) == Reading(
        sensor_id="tsc-7",
        sensor_type="traffic_signal",
        seq=3,
        ts=1_700_000_000_000_000_000,
        fields={
            "intensity": 12,
            "occupancy": 1.0,
            "conflictMonitor": False,
            "d2_fault": "open_loop",
        },
        location=location,
        received_ts=RECEIVED,
    )


@pytest.mark.parametrize(
    "data",
    [
        line("TSC,a,1,2,intensity=3").removesuffix(b"\r\n"),
        line("TSC,a,1,2,intensity=3").removesuffix(b"\r\n") + b"\n",
        line("TSC,a,1,2,intensity=3").replace(b"*", b"*").lower().replace(b"$tsc", b"$TSC"),
    ],
)
def test_decode_accepts_missing_cr_lf_and_lowercase_hex(data: bytes) -> None:
    assert isinstance(decode(data, RECEIVED), Reading)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", True), ("0", False), ("true", True), ("FALSE", False)],
)
def test_bool_spellings(text: str, value: bool) -> None:
    reading = decode(line(f"TSC,a,1,2,conflictMonitor={text}"), RECEIVED)
    assert isinstance(reading, Reading) and reading.fields == {"conflictMonitor": value}


def test_out_of_range_is_kept_and_flagged() -> None:
    reading = decode(line("TSC,a,1,2,occupancy=1.5,phase_E=red"), RECEIVED)
    assert isinstance(reading, Reading)
    assert reading.fields == {"occupancy": 1.5, "phase_E": "red"}
    assert reading.quality == ("out_of_range",)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (line("TSC,a,1,2,intensity=3", check=0x00), "bad_checksum: expected 47, got 00"),
        (b"$TSC,a,1,2,intensity=3\r\n", "bad_syntax: not $<printable ASCII>*HH followed by CR LF"),
        (
            b"TSC,a,1,2,intensity=3*08\r\n",
            "bad_syntax: not $<printable ASCII>*HH followed by CR LF",
        ),
        (
            b"$TSC,a,1,2,intensity=3*8\r\n",
            "bad_syntax: not $<printable ASCII>*HH followed by CR LF",
        ),
        (
            b"$TSC,a,1,2,intensity=3*08\r\n\r\n",
            "bad_syntax: not $<printable ASCII>*HH followed by CR LF",
        ),
        (
            line("TSC,a,1,2,phase_N=grün").replace("ü".encode(), b"\xfc"),
            "bad_syntax: not $<printable ASCII>*HH followed by CR LF",
        ),
        (line("GPGGA,123519,4807.038,N"), "unknown_sentence: $GPGGA is not $TSC"),
        (line("TSC,a,1"), "bad_syntax: expected <sensor_id>,<seq>,<ts_ms> after $TSC"),
        (
            line("TSC,a/b,1,2,intensity=3"),
            "bad_sensor_id: sensor id 'a/b' has unsupported characters",
        ),
        (line("TSC,a,-1,2,intensity=3"), "bad_syntax: seq '-1' is not a non-negative integer"),
        (line("TSC,a,+1,2,intensity=3"), "bad_syntax: seq '+1' is not a non-negative integer"),
        (line("TSC,a,1,1.5e12,intensity=3"), "bad_syntax: ts '1.5e12' is not epoch milliseconds"),
        (line("TSC,a,1,2"), "bad_payload: no fields: InfluxDB cannot store a reading without any"),
        (line("TSC,a,1,2,intensity"), "bad_syntax: 'intensity' is not <key>=<value>"),
        (line("TSC,a,1,2,=3"), "bad_syntax: '=3' is not <key>=<value>"),
        (line("TSC,a,1,2,intensity=3,"), "bad_syntax: '' is not <key>=<value>"),
        (line("TSC,a,1,2,intensity=3,intensity=4"), "bad_syntax: key 'intensity' appears twice"),
        (line("TSC,a,1,2,pm25=3"), "unknown_field: 'pm25' is not a field of traffic_signal"),
        (line("TSC,a,1,2,intensity=3.0"), "bad_value: intensity='3.0' is not a valid int"),
        (line("TSC,a,1,2,intensity=1_000"), "bad_value: intensity='1_000' is not a valid int"),
        (line("TSC,a,1,2,occupancy=nan"), "bad_value: occupancy='nan' is not a valid float"),
        (line("TSC,a,1,2,occupancy=1e999"), "bad_value: occupancy='1e999' is not a valid float"),
        (line("TSC,a,1,2,occupancy= 0.5"), "bad_value: occupancy=' 0.5' is not a valid float"),
        (
            line("TSC,a,1,2,conflictMonitor=yes"),
            "bad_value: conflictMonitor='yes' is not a valid bool",
        ),
        (line("TSC,a,1,2,phase_N="), "bad_value: phase_N='' is not a valid str"),
        (line("TSC,a,1,2,phase_N=a=b"), "bad_value: phase_N='a=b' is not a valid str"),
        (line("TSC,a,1,2,intensity=" + "9" * 500), "oversize: 526 bytes > 512"),
        (
            line("TSC,a,1,2,phase_E=purple"),
            "bad_value: phase_E='purple' not one of red, amber, green, flashing",
        ),
        (
            line("TSC,a,1,2,intensity=9223372036854775808"),
            "bad_value: intensity=9223372036854775808 does not fit a 64-bit integer",
        ),
        (
            line("TSC,a,9223372036854775808,2,intensity=3"),
            "bad_syntax: seq '9223372036854775808' is not a non-negative integer",
        ),
    ],
)
def test_rejections(data: bytes, reason: str) -> None:
    assert decode(data, RECEIVED) == Rejected(reason, data)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"phase_N": "a,b"}, "cannot be written"),
        ({"phase_N": "a*b"}, "cannot be written"),
        ({"phase_N": ""}, "cannot be written"),
        ({"phase_N": "grün"}, "cannot be written"),
        ({"occupancy": float("nan")}, "is not finite"),
        (
            {f"d{i}_fault": "shorted_loop" for i in range(1, 9)}
            | {f"x{i}": 1.5e-300 for i in range(40)},
            "over 512",
        ),
    ],
)
def test_encode_refuses_what_the_grammar_cannot_hold(
    fields: dict[str, object], message: str
) -> None:
    reading = Reading(sensor_id="a", sensor_type="traffic_signal", seq=1, ts=0, fields=fields)  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match=message):
        traffic_line.encode(reading)


def test_encode_refuses_a_bad_sensor_id() -> None:
    reading = Reading(
        sensor_id="a,b", sensor_type="traffic_signal", seq=1, ts=0, fields={"intensity": 1}
    )
    with pytest.raises(EncodeError, match="sensor id"):
        traffic_line.encode(reading)


# A controller's line must fit MAX_LINE, so the round trip draws up to a dozen fields.
small_readings = readings("traffic_signal", located=False, max_fields=12)


@READING_SETTINGS
@given(small_readings)
def test_round_trip(reading: Reading) -> None:
    decoded = decode(traffic_line.encode(reading), RECEIVED)
    assert decoded == msgspec.structs.replace(
        reading, fields=TRAFFIC.normalise(reading.fields), received_ts=RECEIVED
    )


@SETTINGS
@given(st.binary(max_size=120) | st.text(max_size=120).map(lambda t: line(t)))
def test_decode_never_raises_on_random_input(data: bytes) -> None:
    result = decode(data, RECEIVED)
    assert isinstance(result, Reading) or (result.code in CODES and result.raw == data)


@READING_SETTINGS
@given(readings("traffic_signal", located=False, max_fields=4), st.data())
def test_any_single_byte_error_is_caught(reading: Reading, data: st.DataObject) -> None:
    encoded = bytearray(traffic_line.encode(reading))
    at = data.draw(st.integers(1, len(encoded) - 6))  # inside the body: XOR catches any change
    encoded[at] ^= data.draw(st.integers(1, 127))
    assert isinstance(decode(bytes(encoded), RECEIVED), Rejected)
