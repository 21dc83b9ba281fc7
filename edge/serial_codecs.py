"""Serial codecs by name: what the gateway needs to turn a serial port's bytes into Readings.

A codec pairs a deframer with a frame-to-Reading step; the gateway's config names one per port.
Adding a serial protocol is one module plus one entry in CODECS.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from edge import pms5003, sds011, traffic_line
from edge.catalog import SensorType, load_catalog
from edge.codec import Rejected, vet_fields
from edge.deframer import Deframer, LineDeframer, PMS5003Deframer, SDS011Deframer
from edge.reading import FieldValue, Location, Reading

GATEWAY_SEQ: Final = "gateway_seq"  # quality flag: seq and ts were assigned by the gateway


class SerialCodec(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def sensor_type(self) -> str: ...

    def deframer(self) -> Deframer:
        """A fresh deframer for one port."""
        ...

    def to_reading(
        self,
        frame: bytes,
        *,
        sensor_id: str,
        location: Location | None,
        seq: int,
        received_ts: int,
    ) -> Reading | Rejected:
        """The Reading in one frame from the deframer, or why not; never raises.

        `seq` is the gateway's counter for the port and `received_ts` its receipt time in epoch
        nanoseconds, used by protocols whose frames carry neither.
        """
        ...


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


@dataclass(frozen=True)
class GatewayStampedCodec:
    """A device whose frames carry measurements only: the gateway supplies seq and time."""

    name: str
    sensor_type: str
    make_deframer: Callable[[], Deframer]
    fields_of: Callable[[bytes], dict[str, FieldValue] | Rejected]

    def deframer(self) -> Deframer:
        return self.make_deframer()

    def to_reading(
        self,
        frame: bytes,
        *,
        sensor_id: str,
        location: Location | None,
        seq: int,
        received_ts: int,
    ) -> Reading | Rejected:
        fields = self.fields_of(frame)
        if isinstance(fields, Rejected):
            return fields
        verdict = vet_fields(_sensor(self.sensor_type), fields, frame)
        if isinstance(verdict, Rejected):
            return verdict
        return Reading(
            sensor_id=sensor_id,
            sensor_type=self.sensor_type,
            seq=seq,
            ts=received_ts,
            fields=fields,
            location=location,
            received_ts=received_ts,
            quality=(GATEWAY_SEQ, *verdict),
        )


class TrafficLineCodec:
    """The $TSC line protocol. Lines carry their own sensor id, seq and timestamp, which win
    over the port's configured `sensor_id` and the gateway's `seq` (a multidrop line may carry
    several controllers)."""

    name = "traffic_line"
    sensor_type = "traffic_signal"

    def deframer(self) -> Deframer:
        return LineDeframer()

    def to_reading(
        self,
        frame: bytes,
        *,
        sensor_id: str,
        location: Location | None,
        seq: int,
        received_ts: int,
    ) -> Reading | Rejected:
        return traffic_line.decode(frame, received_ts, location)


CODECS: Final[dict[str, SerialCodec]] = {
    codec.name: codec
    for codec in (
        GatewayStampedCodec("pms5003", "air_quality", PMS5003Deframer, _pms5003_fields),
        GatewayStampedCodec("sds011", "air_quality", SDS011Deframer, _sds011_fields),
        TrafficLineCodec(),
    )
}


@functools.cache
def _sensor(sensor_type: str) -> SensorType:
    return load_catalog().sensor(sensor_type)
