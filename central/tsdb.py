"""Consumer group "tsdb": readings from Kafka into InfluxDB, one point per reading.

measurement = sensor type; tags sensor_id, district, gateway; fields = the reading's fields
(numbers as floats, strings, booleans) plus the integer `seq`; time = the device timestamp in ns.
The same reading always becomes the same point, so re-delivered records overwrite themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import structlog
from aiokafka import TopicPartition

from central.consumer import Record, skip_record
from central.influx_writer import InfluxWriter, Wait
from central.line_protocol import escape_key, quote_string, series_key
from central.metrics import CentralMetrics
from edge.reading import Reading
from edge.reading import decode as decode_reading

log = structlog.get_logger("central.tsdb")

_INF = math.inf


class PointBuilder:
    """Readings to line protocol, with series keys and field keys cached."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str, str], str] = {}

    def series(self, r: Reading) -> str:
        district = r.location.district if r.location is not None else ""
        key = (r.sensor_type, r.sensor_id, district, r.gateway_id)
        found = self._series.get(key)
        if found is None:
            if len(self._series) > 200_000:
                self._series.clear()
            found = self._series[key] = series_key(
                r.sensor_type,
                (("sensor_id", r.sensor_id), ("district", district), ("gateway", r.gateway_id)),
            )
        return found

    def line(self, r: Reading) -> str:
        parts = []
        for name, v in r.fields.items():
            t = type(v)
            if t is float:
                if v != v or v == _INF or v == -_INF:
                    continue
                parts.append(f"{escape_key(name)}={v!r}")
            elif t is int:
                parts.append(f"{escape_key(name)}={float(v)!r}")
            elif t is bool:
                parts.append(f"{escape_key(name)}={'true' if v else 'false'}")
            elif t is str:
                parts.append(f"{escape_key(name)}={quote_string(v)}")  # type: ignore[arg-type]
        parts.append(f"seq={r.seq}i")
        return f"{self.series(r)} {','.join(parts)} {r.ts}"


class TsdbHandler:
    name = "tsdb"

    def __init__(self, writer: InfluxWriter, metrics: CentralMetrics) -> None:
        self.writer = writer
        self.metrics = metrics
        self.points = PointBuilder()

    def lines(self, records: Sequence[Record]) -> tuple[list[str], list[str]]:
        """Line protocol and measurement per decodable record; the rest counted and logged."""
        lines: list[str] = []
        measurements: list[str] = []
        build = self.points.line
        for rec in records:
            try:
                r = decode_reading(rec.value or b"")
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                skip_record(self.metrics, self.name, rec, exc)
                continue
            lines.append(build(r))
            measurements.append(r.sensor_type)
        return lines, measurements

    async def handle(self, records: Sequence[Record], wait: Wait) -> None:
        lines, measurements = self.lines(records)
        await self.writer.write(lines, measurements, wait)

    async def tick(self, wait: Wait, caught_up: bool) -> None:
        return None

    def assigned(self, partitions: set[TopicPartition]) -> None:
        return None

    def revoked(self, partitions: set[TopicPartition]) -> None:
        return None

    def rewind_s(self) -> float:
        return 0.0
