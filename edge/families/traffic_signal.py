"""The traffic-signal family's serial codec: the $TSC line protocol (`edge/traffic_line.py`)."""

from __future__ import annotations

import functools

from edge import traffic_line
from edge.catalog import SensorType, load_catalog
from edge.codec import Rejected
from edge.deframer import Deframer, LineDeframer
from edge.families import EdgeFamily
from edge.reading import Location, Reading

NAME = "traffic_signal"


@functools.cache
def _sensor() -> SensorType:
    return load_catalog().sensor(NAME)


class TrafficLineCodec:
    """The $TSC line protocol. Lines carry their own sensor id, seq and timestamp, which win
    over the port's configured `sensor_id` and the gateway's `seq` (a multidrop line may carry
    several controllers)."""

    name = "traffic_line"
    sensor_type = NAME

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
        return traffic_line.decode(frame, _sensor(), received_ts, location)


FAMILY = EdgeFamily(NAME, serial_codecs=(TrafficLineCodec(),))
