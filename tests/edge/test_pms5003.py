"""Plantower PMS5003 frames: datasheet byte vectors, rejections, round trips, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge import pms5003
from edge.codec import CODES, Rejected
from edge.errors import EncodeError
from edge.pms5003 import PMS5003Frame
from tests.edge.strategies import SETTINGS

# Built by hand from the datasheet: header, length 28, PM2.5 = 35 (0x0023) in both the CF=1 and
# atmospheric words, all else zero, checksum 0x42+0x4d+0x1c+0x23+0x23 = 0x00f1.
PM25_35 = bytes.fromhex(
    "424d 001c"
    "0000 0023 0000"  # PM1.0, PM2.5, PM10 (CF=1)
    "0000 0023 0000"  # PM1.0, PM2.5, PM10 (atmospheric)
    "0000 0000 0000 0000 0000 0000"  # particle counts
    "0000"  # reserved
    "00f1"
)
# Data words 1..12: the high bytes are 0, low bytes sum to 78; 0x42+0x4d+0x1c+78 = 249 = 0xf9.
COUNTING = bytes.fromhex(
    "424d 001c 0001 0002 0003 0004 0005 0006 0007 0008 0009 000a 000b 000c 0000 00f9"
)
# Every word 0xffff: 26 * 0xff + 0x42 + 0x4d + 0x1c = 6630 + 171 = 6801 = 0x1a91.
SATURATED = bytes.fromhex("424d 001c" + "ffff" * 13 + "1a91")


@pytest.mark.parametrize(
    ("data", "frame"),
    [
        (PM25_35, PMS5003Frame(0, 35, 0, 0, 35, 0, 0, 0, 0, 0, 0, 0, 0)),
        (COUNTING, PMS5003Frame(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)),
        (SATURATED, PMS5003Frame(*[0xFFFF] * 13)),
    ],
)
def test_datasheet_vectors(data: bytes, frame: PMS5003Frame) -> None:
    assert len(data) == 32
    assert pms5003.decode(data) == frame
    assert pms5003.encode(frame) == data


def test_words_are_big_endian() -> None:
    data = pms5003.encode(PMS5003Frame(0x0102, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0A0B))
    assert data[4:6] == b"\x01\x02"
    assert data[28:30] == b"\x0a\x0b"
    assert pms5003.checksum(data) == int.from_bytes(data[30:], "big")


def _with(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value) :]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "bad_length: PMS5003 frame is 32 bytes, got 0"),
        (PM25_35[:31], "bad_length: PMS5003 frame is 32 bytes, got 31"),
        (PM25_35 + b"\x00", "bad_length: PMS5003 frame is 32 bytes, got 33"),
        (_with(PM25_35, 0, b"\x4d\x42"), "bad_header: expected 0x424d, got 0x4d42"),
        (_with(PM25_35, 2, b"\x00\x14"), "bad_length: frame length field 20, expected 28"),
        (_with(PM25_35, 30, b"\x00\xf2"), "bad_checksum: expected 0x00f1, got 0x00f2"),
        (_with(PM25_35, 7, b"\x24"), "bad_checksum: expected 0x00f2, got 0x00f1"),
    ],
)
def test_rejections(data: bytes, reason: str) -> None:
    assert pms5003.decode(data) == Rejected(reason, data)


@pytest.mark.parametrize("word", [-1, 0x10000])
def test_encode_refuses_words_beyond_16_bits(word: int) -> None:
    with pytest.raises(EncodeError, match=r"0\.\.65535"):
        pms5003.encode(PMS5003Frame(word, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))


words = st.integers(0, 0xFFFF)


@SETTINGS
@given(st.lists(words, min_size=13, max_size=13))
def test_round_trip(values: list[int]) -> None:
    frame = PMS5003Frame(*values)
    assert pms5003.decode(pms5003.encode(frame)) == frame


@SETTINGS
@given(st.binary(max_size=64) | st.binary(min_size=32, max_size=32).map(lambda b: b"BM" + b[2:]))
def test_decode_never_raises_and_only_accepts_canonical_frames(data: bytes) -> None:
    result = pms5003.decode(data)
    if isinstance(result, Rejected):
        assert result.code in CODES and result.raw == data
    else:
        assert pms5003.encode(result) == data


@SETTINGS
@given(st.lists(words, min_size=13, max_size=13), st.integers(0, 31), st.integers(1, 255))
def test_any_single_byte_error_is_caught(values: list[int], at: int, flip: int) -> None:
    data = bytearray(pms5003.encode(PMS5003Frame(*values)))
    data[at] ^= flip
    assert isinstance(pms5003.decode(bytes(data)), Rejected)
