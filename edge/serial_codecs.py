"""Serial codecs by name: what the gateway needs to turn a serial port's bytes into Readings.

A codec pairs a deframer with a frame-to-Reading step; the gateway's config names one per port.
Adding a serial protocol is one module plus one entry in CODECS.
"""

from __future__ import annotations

import functools
from typing import Final, Protocol

from edge import pms5003, sds011, traffic_line
from edge.catalog import SensorType, load_catalog
from edge.codec import Rejected, vet_fields
from edge.deframer import Deframer, LineDeframer, PMS5003Deframer, SDS011Deframer
from edge.reading import FieldValue, Location, Reading

GATEWAY_SEQ: Final = "gateway_seq"  # quality flag: seq and ts were assigned by the gateway


class SerialCodec(Protocol):
    name: str
    sensor_type: str

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


class PMS5003Codec:
    """Plantower PMS5003: reports the atmospheric-environment concentrations as pm1/pm25/pm10."""

    name = "pms5003"
    sensor_type = "air_quality"

    def deframer(self) -> Deframer:
        return PMS5003Deframer()

    def to_reading(
        self,
        frame: bytes,
        *,
        sensor_id: str,
        location: Location | None,
        seq: int,
        received_ts: int,
    ) -> Reading | Rejected:
        decoded = pms5003.decode(frame)
        if isinstance(decoded, Rejected):
            return decoded
        fields: dict[str, FieldValue] = {
            "pm1": float(decoded.pm1_0_atm),
            "pm25": float(decoded.pm2_5_atm),
            "pm10": float(decoded.pm10_atm),
        }
        return _gateway_stamped(
            self.sensor_type, fields, frame, sensor_id, location, seq, received_ts
        )


class SDS011Codec:
    """Nova SDS011: reports PM2.5 and PM10, converted from tenths to µg/m³."""

    name = "sds011"
    sensor_type = "air_quality"

    def deframer(self) -> Deframer:
        return SDS011Deframer()

    def to_reading(
        self,
        frame: bytes,
        *,
        sensor_id: str,
        location: Location | None,
        seq: int,
        received_ts: int,
    ) -> Reading | Rejected:
        decoded = sds011.decode(frame)
        if isinstance(decoded, Rejected):
            return decoded
        fields: dict[str, FieldValue] = {
            "pm25": decoded.pm25_tenths / 10,
            "pm10": decoded.pm10_tenths / 10,
        }
        return _gateway_stamped(
            self.sensor_type, fields, frame, sensor_id, location, seq, received_ts
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
    codec.name: codec for codec in (PMS5003Codec(), SDS011Codec(), TrafficLineCodec())
}


def _gateway_stamped(
    sensor_type: str,
    fields: dict[str, FieldValue],
    frame: bytes,
    sensor_id: str,
    location: Location | None,
    seq: int,
    received_ts: int,
) -> Reading | Rejected:
    verdict = vet_fields(_sensor(sensor_type), fields, frame)
    if isinstance(verdict, Rejected):
        return verdict
    return Reading(
        sensor_id=sensor_id,
        sensor_type=sensor_type,
        seq=seq,
        ts=received_ts,
        fields=fields,
        location=location,
        received_ts=received_ts,
        quality=(GATEWAY_SEQ, *verdict),
    )


@functools.cache
def _sensor(sensor_type: str) -> SensorType:
    return load_catalog().sensor(sensor_type)
