"""Plantower PMS5003 particulate sensor: its 32-byte serial data frame, byte-exact to the datasheet.

0x42 0x4D, frame length (2*13+2 = 28), thirteen data words, then a checksum that is the 16-bit
sum of the 30 bytes before it; every number is a big-endian uint16.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec

from edge.codec import Rejected, reject
from edge.errors import EncodeError

HEADER: Final = b"\x42\x4d"
FRAME_SIZE: Final = 32
LENGTH_FIELD: Final = 2 * 13 + 2  # data words plus checksum, as the length word states

_layout: Final = struct.Struct(">2sH13HH")


class PMS5003Frame(msgspec.Struct, frozen=True):
    """The thirteen data words of one frame. Concentrations in µg/m³, counts per 0.1 L of air."""

    pm1_0_cf1: int  # CF=1, standard particle (factory environment)
    pm2_5_cf1: int
    pm10_cf1: int
    pm1_0_atm: int  # atmospheric environment: what to report outdoors
    pm2_5_atm: int
    pm10_atm: int
    particles_0_3um: int  # particles beyond 0.3 µm in 0.1 L of air
    particles_0_5um: int
    particles_1_0um: int
    particles_2_5um: int
    particles_5_0um: int
    particles_10um: int
    reserved: int = 0


def checksum(data: bytes) -> int:
    """The 16-bit sum of the first 30 bytes of a frame."""
    return sum(data[: FRAME_SIZE - 2]) & 0xFFFF


def encode(frame: PMS5003Frame) -> bytes:
    """The 32 bytes a PMS5003 sends for `frame`; raises EncodeError for a word beyond 0..65535."""
    try:
        body = _layout.pack(HEADER, LENGTH_FIELD, *msgspec.structs.astuple(frame), 0)
    except struct.error as exc:
        raise EncodeError(f"PMS5003 data words must be 0..65535: {frame}") from exc
    return body[:-2] + checksum(body).to_bytes(2, "big")


def decode(data: bytes) -> PMS5003Frame | Rejected:
    """The frame in exactly 32 bytes, or why they are not one; never raises."""
    data = bytes(data)
    if len(data) != FRAME_SIZE:
        return reject("bad_length", f"PMS5003 frame is {FRAME_SIZE} bytes, got {len(data)}", data)
    header, length, *words, check = _layout.unpack(data)
    if header != HEADER:
        return reject("bad_header", f"expected 0x424d, got 0x{header.hex()}", data)
    if length != LENGTH_FIELD:
        return reject("bad_length", f"frame length field {length}, expected {LENGTH_FIELD}", data)
    expected = checksum(data)
    if check != expected:
        return reject("bad_checksum", f"expected 0x{expected:04x}, got 0x{check:04x}", data)
    return PMS5003Frame(*words)
