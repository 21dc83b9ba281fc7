"""Nova Fitness SDS011 particulate sensor: its 10-byte data frame, byte-exact to the datasheet.

0xAA 0xC0, PM2.5 and PM10 in tenths of µg/m³ (uint16 little-endian), two device id bytes, a
checksum that is the low byte of the sum of the six data bytes (2..7), and 0xAB.
"""

from __future__ import annotations

from typing import Final

import msgspec

from edge.codec import Rejected, reject
from edge.errors import EncodeError

HEADER: Final = b"\xaa\xc0"
TAIL: Final = 0xAB
FRAME_SIZE: Final = 10


class SDS011Frame(msgspec.Struct, frozen=True):
    """One measurement. `device_id` reads its bytes as the datasheet prints ids: A1 60 is A160."""

    pm25_tenths: int  # PM2.5 in tenths of µg/m³
    pm10_tenths: int
    device_id: int


def checksum(data: bytes) -> int:
    """The low 8 bits of the sum of data bytes 2..7 of a frame."""
    return sum(data[2:8]) & 0xFF


def encode(frame: SDS011Frame) -> bytes:
    """The 10 bytes an SDS011 sends for `frame`; raises EncodeError for a value beyond 0..65535."""
    try:
        data = (
            HEADER
            + frame.pm25_tenths.to_bytes(2, "little")
            + frame.pm10_tenths.to_bytes(2, "little")
            + frame.device_id.to_bytes(2, "big")
        )
    except OverflowError as exc:
        raise EncodeError(f"SDS011 values must be 0..65535: {frame}") from exc
    return data + bytes((checksum(data), TAIL))


def decode(data: bytes) -> SDS011Frame | Rejected:
    """The frame in exactly 10 bytes, or why they are not one; never raises."""
    data = bytes(data)
    if len(data) != FRAME_SIZE:
        return reject("bad_length", f"SDS011 frame is {FRAME_SIZE} bytes, got {len(data)}", data)
    if data[:2] != HEADER:
        return reject("bad_header", f"expected 0xaac0, got 0x{data[:2].hex()}", data)
    if data[9] != TAIL:
        return reject("bad_tail", f"expected 0xab, got 0x{data[9]:02x}", data)
    expected = checksum(data)
    if data[8] != expected:
        return reject("bad_checksum", f"expected 0x{expected:02x}, got 0x{data[8]:02x}", data)
    return SDS011Frame(
        pm25_tenths=int.from_bytes(data[2:4], "little"),
        pm10_tenths=int.from_bytes(data[4:6], "little"),
        device_id=int.from_bytes(data[6:8], "big"),
    )
