"""Consumer group "tsdb": readings from Kafka into InfluxDB, one point per reading.

measurement = sensor type; tags sensor_id, district, gateway; fields = the reading's fields
(numbers as floats, strings, booleans) plus the integer `seq`; time = the device timestamp in ns.
The same reading always becomes the same point, so re-delivered records overwrite themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from aiokafka import TopicPartition

from central.consumer import Record, readings_of
from central.influx_writer import Chunk, InfluxWriter, Wait
from central.line_protocol import escape_key, plain_fields, quote_string, series_key
from central.metrics import CentralMetrics
from edge.reading import Reading

log = structlog.get_logger("central.tsdb")


class PointBuilder:
    """Readings to line protocol, with series keys and escaped field keys cached."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str, str], str] = {}
        self._keys: dict[str, str] = {}  # field name -> "escaped_name="

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

    def fields_and_time(self, r: Reading) -> str:
        """What follows the series key in the point: ` fields time`."""
        fields = plain_fields(r.fields)
        if fields is not None:
            return f" {fields},seq={r.seq}i {r.ts}" if fields else f" seq={r.seq}i {r.ts}"
        keys = self._keys
        parts = []
        for name, v in r.fields.items():
            key = keys.get(name)
            if key is None:
                if len(keys) > 10_000:
                    keys.clear()
                key = keys[name] = escape_key(name) + "="
            t = type(v)
            if t is float:
                # inf - inf and nan - nan are nan, which equals nothing: line protocol has no
                # form for these values, so the field is left out.
                if v - v == 0.0:  # type: ignore[operator]
                    parts.append(key + repr(v))
            elif t is int:
                parts.append(key + repr(float(v)))
            elif t is bool:
                parts.append(key + ("true" if v else "false"))
            elif t is str:
                parts.append(key + quote_string(v))  # type: ignore[arg-type]
        parts.append(f"seq={r.seq}i")
        return f" {','.join(parts)} {r.ts}"

    def line(self, r: Reading) -> str:
        return self.series(r) + self.fields_and_time(r)


class TsdbHandler:
    name = "tsdb"

    def __init__(self, writer: InfluxWriter, metrics: CentralMetrics) -> None:
        self.writer = writer
        self.metrics = metrics
        self.points = PointBuilder()

    def chunk(self, records: Sequence[Record]) -> Chunk:
        """The points of the decodable records, grouped by series; the rest counted and logged.

        InfluxDB spends less per point when a request holds each series' points together (its
        cache and WAL work per series key). Within a series the records keep their order.
        """
        by_series: dict[str, list[str]] = {}
        points: dict[str, int] = {}
        series, rest = self.points.series, self.points.fields_and_time
        for _, r in readings_of(records, self.metrics, self.name):
            key = series(r)
            found = by_series.get(key)
            if found is None:
                found = by_series[key] = []
            found.append(key + rest(r))
            points[r.sensor_type] = points.get(r.sensor_type, 0) + 1
        return Chunk([line for lines in by_series.values() for line in lines], points)

    async def handle(self, records: Sequence[Record], wait: Wait) -> None:
        # Chunks are built one by one as the writer posts them: building one overlaps the
        # requests of the ones before it.
        n = self.writer.lines_per_request
        chunks = (self.chunk(records[i : i + n]) for i in range(0, len(records), n))
        await self.writer.write_chunks(chunks, wait)

    async def tick(self, wait: Wait, caught_up: bool) -> None:
        return None

    def assigned(self, partitions: set[TopicPartition]) -> None:
        return None

    def revoked(self, partitions: set[TopicPartition]) -> None:
        return None

    def rewind_s(self) -> float:
        return 0.0
