"""Nova SDS011 frames: the datasheet example, rejections, round trips, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge import sds011
from edge.codec import CODES, Rejected
from edge.errors import EncodeError
from edge.sds011 import SDS011Frame
from tests.edge.strategies import SETTINGS

# The example reply in the SDS011 control protocol V1.3: PM2.5 = 0x04d4 = 123.6 µg/m³,
# PM10 = 0x0a3a = 261.8 µg/m³, device A160, checksum 0xd4+0x04+0x3a+0x0a+0xa1+0x60 = 0x21d -> 0x1d.
DATASHEET = bytes.fromhex("aa c0 d4 04 3a 0a a1 60 1d ab")
# PM2.5 = 35.0, PM10 = 50.0, device 0x0001: checksum 0x5e+0x01+0xf4+0x01+0x00+0x01 = 0x155 -> 0x55.
SMALL = bytes.fromhex("aa c0 5e 01 f4 01 00 01 55 ab")


@pytest.mark.parametrize(
    ("data", "frame"),
    [
        (DATASHEET, SDS011Frame(pm25_tenths=1236, pm10_tenths=2618, device_id=0xA160)),
        (SMALL, SDS011Frame(pm25_tenths=350, pm10_tenths=500, device_id=1)),
        (bytes.fromhex("aa c0 00 00 00 00 00 00 00 ab"), SDS011Frame(0, 0, 0)),
    ],
)
def test_datasheet_vectors(data: bytes, frame: SDS011Frame) -> None:
    assert sds011.decode(data) == frame
    assert sds011.encode(frame) == data


def _with(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + bytes([value]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (DATASHEET[:9], "bad_length: SDS011 frame is 10 bytes, got 9"),
        (DATASHEET + b"\xab", "bad_length: SDS011 frame is 10 bytes, got 11"),
        (_with(DATASHEET, 0, 0xAB), "bad_header: expected 0xaac0, got 0xabc0"),
        (_with(DATASHEET, 1, 0xC5), "bad_header: expected 0xaac0, got 0xaac5"),  # a command reply
        (_with(DATASHEET, 9, 0xAA), "bad_tail: expected 0xab, got 0xaa"),
        (_with(DATASHEET, 8, 0x1E), "bad_checksum: expected 0x1d, got 0x1e"),
        (_with(DATASHEET, 2, 0xD5), "bad_checksum: expected 0x1e, got 0x1d"),
    ],
)
def test_rejections(data: bytes, reason: str) -> None:
    assert sds011.decode(data) == Rejected(reason, data)


@pytest.mark.parametrize(
    "frame", [SDS011Frame(-1, 0, 0), SDS011Frame(0, 0x10000, 0), SDS011Frame(0, 0, 0x10000)]
)
def test_encode_refuses_values_beyond_16_bits(frame: SDS011Frame) -> None:
    with pytest.raises(EncodeError, match=r"0\.\.65535"):
        sds011.encode(frame)


u16 = st.integers(0, 0xFFFF)


@SETTINGS
@given(u16, u16, u16)
def test_round_trip(pm25: int, pm10: int, device: int) -> None:
    frame = SDS011Frame(pm25, pm10, device)
    assert sds011.decode(sds011.encode(frame)) == frame


@SETTINGS
@given(
    st.binary(max_size=20)
    | st.binary(min_size=9, max_size=9).map(lambda b: b"\xaa\xc0" + b[2:] + b"\xab")
)
def test_decode_never_raises_and_only_accepts_canonical_frames(data: bytes) -> None:
    result = sds011.decode(data)
    if isinstance(result, Rejected):
        assert result.code in CODES and result.raw == data
    else:
        assert sds011.encode(result) == data
