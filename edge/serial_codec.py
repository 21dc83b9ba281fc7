"""What a serial codec is: a deframer paired with a frame-to-Reading step, for one sensor type.

The codecs themselves belong to their sensor families (`edge/families/`); `edge.serial_codecs`
names them for the gateway's config.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from edge.catalog import SensorType, load_catalog
from edge.codec import Rejected, vet_fields
from edge.deframer import Deframer
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


@functools.cache
def _sensor(sensor_type: str) -> SensorType:
    return load_catalog().sensor(sensor_type)
