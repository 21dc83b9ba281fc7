"""The traffic-signal family's serial codec: the $TSC line protocol (`edge/traffic_line.py`)."""

from __future__ import annotations

from edge import traffic_line
from edge.codec import Rejected
from edge.deframer import Deframer, LineDeframer
from edge.families import EdgeFamily
from edge.reading import Location, Reading


class TrafficLineCodec:
    """The $TSC line protocol. Lines carry their own sensor id, seq and timestamp, which win
    over the port's configured `sensor_id` and the gateway's `seq` (a multidrop line may carry
    several controllers)."""

    name = "traffic_line"
    sensor_type = traffic_line.SENSOR_TYPE

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


FAMILY = EdgeFamily(traffic_line.SENSOR_TYPE, serial_codecs=(TrafficLineCodec(),))
