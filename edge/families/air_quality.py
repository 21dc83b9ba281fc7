"""The air-quality family's serial codecs: Plantower PMS5003 and Nova SDS011 particle sensors."""

from __future__ import annotations

from edge import pms5003, sds011
from edge.codec import Rejected
from edge.deframer import PMS5003Deframer, SDS011Deframer
from edge.families import EdgeFamily
from edge.reading import FieldValue
from edge.serial_codec import GatewayStampedCodec

NAME = "air_quality"


def _pms5003_fields(frame: bytes) -> dict[str, FieldValue] | Rejected:
    """Plantower PMS5003: the atmospheric-environment concentrations as pm1/pm25/pm10."""
    decoded = pms5003.decode(frame)
    if isinstance(decoded, Rejected):
        return decoded
    return {
        "pm1": float(decoded.pm1_0_atm),
        "pm25": float(decoded.pm2_5_atm),
        "pm10": float(decoded.pm10_atm),
    }


def _sds011_fields(frame: bytes) -> dict[str, FieldValue] | Rejected:
    """Nova SDS011: PM2.5 and PM10, converted from tenths to µg/m³."""
    decoded = sds011.decode(frame)
    if isinstance(decoded, Rejected):
        return decoded
    return {"pm25": decoded.pm25_tenths / 10, "pm10": decoded.pm10_tenths / 10}


FAMILY = EdgeFamily(
    NAME,
    serial_codecs=(
        GatewayStampedCodec("pms5003", NAME, PMS5003Deframer, _pms5003_fields),
        GatewayStampedCodec("sds011", NAME, SDS011Deframer, _sds011_fields),
    ),
)
