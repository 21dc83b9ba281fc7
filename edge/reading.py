"""The canonical Reading every source produces and every consumer reads, and its wire form.

A Reading is one observation of one sensor. `fields` holds flat scalar values named after the
sensor catalog (FIWARE Smart Data Models names where they exist); units live in the catalog.
On Kafka a Reading travels as compact JSON (msgspec), one record per reading.
"""

from __future__ import annotations

from typing import Final

import msgspec

SCHEMA_VERSION: Final = 1
CONTENT_TYPE: Final = "application/json"

FieldValue = float | int | str | bool


class Location(msgspec.Struct, frozen=True, omit_defaults=True):
    district: str
    latitude: float | None = None
    longitude: float | None = None


class Reading(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One observation. Timestamps are integer nanoseconds since the Unix epoch (UTC)."""

    sensor_id: str
    sensor_type: str
    seq: int  # the device's own sequence number, or one the gateway assigned
    ts: int  # device timestamp
    fields: dict[str, FieldValue]
    location: Location | None = None
    received_ts: int = 0  # set by the gateway on receipt
    gateway_id: str = ""  # set by the gateway
    quality: tuple[str, ...] = ()  # flags such as "gateway_seq", "clock_skew"


_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(Reading)


def encode(reading: Reading) -> bytes:
    return _encoder.encode(reading)


def decode(data: bytes) -> Reading:
    """Decode a Reading from its Kafka record value; raises msgspec.ValidationError/DecodeError."""
    return _decoder.decode(data)
