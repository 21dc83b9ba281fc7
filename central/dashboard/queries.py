"""What the dashboard asks InfluxDB, in Flux: latest values, averages for AQI, time series,
alerts, acknowledgements and gateway status. Answers are plain dicts and lists.

Every value put into a query is checked against a strict pattern first (identifiers, durations,
RFC 3339 times), so no request can change a query's shape.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from influxdb_client import InfluxDBClient, Point
from influxdb_client.client.write_api import SYNCHRONOUS

from central.dashboard.errors import BadQuery, QueryError
from deploy.connections import Connections
from edge.catalog import load_catalog

_IDENT: Final = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
_DURATION: Final = re.compile(r"^-?\d{1,6}[smhdw]$")
_RFC3339: Final = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")
_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

GATEWAY_FIELDS: Final = (
    "journal_depth_records",
    "journal_depth_bytes",
    "journal_oldest_unsent_age_s",
    "messages_in",
    "records_out",
    "deadletters",
    "kafka_errors",
    "journal_dropped",
)

T = TypeVar("T")


def ident(value: str, what: str) -> str:
    if not _IDENT.fullmatch(value):
        raise BadQuery(f"{what} {value!r} is not a plain identifier (letters, digits, _.:-)")
    return value


def time_bound(value: str, what: str) -> str:
    """A Flux range bound: a relative duration ("-1h") or an RFC 3339 time."""
    if _DURATION.fullmatch(value):
        return value if value.startswith("-") else f"-{value}"
    if _RFC3339.fullmatch(value):
        return f"time(v: {_quoted(value)})"
    raise BadQuery(f"{what} {value!r}: expected a duration such as -1h or an RFC 3339 time")


def span_seconds(start: str, stop: str | None) -> float:
    """How long the range is, to choose an aggregation window."""

    def at(bound: str | None) -> float:
        if bound is None or bound in ("now", "now()"):
            return time.time()
        if _DURATION.fullmatch(bound):
            return time.time() - int(bound.lstrip("-")[:-1]) * _SECONDS[bound[-1]]
        return datetime.fromisoformat(bound.replace("Z", "+00:00")).timestamp()

    return max(1.0, float(round(at(stop) - at(start))))


def window_for(seconds: float, points: int = 300) -> str:
    """An aggregateWindow period that gives about `points` points over the range."""
    return f"{max(1, int(seconds / points))}s"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fields_match(names: Iterable[str]) -> str:
    """A filter on field names. Written as `or` of equalities, not contains(): InfluxDB pushes
    this form down into its storage scan, and contains() it does not (30x slower measured)."""
    terms = [f"r._field == {_quoted(ident(n, 'field'))}" for n in names]
    return "(" + (" or ".join(terms) or "false") + ")"


class _TTLCache:
    """One answer per key, shared by every browser: fresh for `seconds`; after that the old
    answer is still served (for up to `stale_s`) while one background thread asks again, so a
    page never waits on InfluxDB once the dashboard is warm.

    Answers may be built from other cached answers (a view from its queries). A background
    refresh waits for fresh parts instead of taking stale ones, so what it stores is no older
    than one cache period."""

    def __init__(self, seconds: float, stale_s: float = 120.0) -> None:
        self.seconds = seconds
        self.stale_s = stale_s
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Any]] = {}
        self._refreshing: set[str] = set()
        self._in_refresh = threading.local()

    def get(self, key: str, compute: Callable[[], T], seconds: float | None = None) -> T:
        ttl = self.seconds if seconds is None else seconds
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < ttl:
                return hit[1]
            in_refresh = getattr(self._in_refresh, "active", False)
            if hit is not None and now - hit[0] < ttl + self.stale_s and not in_refresh:
                if key not in self._refreshing:
                    self._refreshing.add(key)
                    threading.Thread(target=self._refresh, args=(key, compute), daemon=True).start()
                return hit[1]
        value = compute()
        with self._lock:
            self._items[key] = (time.monotonic(), value)
        return value

    def _refresh(self, key: str, compute: Callable[[], Any]) -> None:
        self._in_refresh.active = True
        try:
            value = compute()
            with self._lock:
                self._items[key] = (time.monotonic(), value)
        except QueryError:
            pass  # the stale answer stays; the next request after it expires asks again
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class History:
    """Flux queries against one bucket; blocking, so the app calls it from a thread pool."""

    def __init__(self, conn: Connections, cache_s: float = 3.0) -> None:
        self.conn = conn
        self.bucket = _quoted(conn.influx.bucket)
        self.client = InfluxDBClient(
            url=conn.influx.url,
            token=conn.influx.token.get_secret_value(),
            org=conn.influx.org,
            timeout=30_000,
        )
        self._query = self.client.query_api()
        self._write = self.client.write_api(write_options=SYNCHRONOUS)
        self.cache = _TTLCache(cache_s)

    def close(self) -> None:
        self.client.close()

    def _run(self, flux: str) -> list[Any]:
        try:
            tables = self._query.query(flux, org=self.conn.influx.org)
        except Exception as exc:  # the client raises urllib3 and ApiException errors alike
            raise QueryError(f"InfluxDB at {self.conn.influx.url} failed a query: {exc}") from exc
        return [record for table in tables for record in table.records]

    def latest(
        self,
        measurement: str,
        fields: Iterable[str] | None,
        start: str,
        sensor_id: str | None = None,
    ) -> dict[str, Any]:
        """Per sensor: the last value of each field, its district, gateway and last time seen."""
        ident(measurement, "measurement")
        field_filter = f" and {_fields_match(fields)}" if fields is not None else ""
        if sensor_id is not None:
            field_filter += f' and r.sensor_id == "{ident(sensor_id, "sensor_id")}"'
        flux = (
            f"from(bucket: {self.bucket}) |> range(start: {time_bound(start, 'start')})"
            f' |> filter(fn: (r) => r._measurement == "{measurement}"{field_filter})'
            ' |> last() |> keep(columns: ["_time", "_value", "_field", "sensor_id", "district",'
            ' "gateway"])'
        )
        out: dict[str, Any] = {}
        for rec in self._run(flux):
            sid = rec.values.get("sensor_id")
            if not sid:
                continue
            row = out.setdefault(
                sid,
                {
                    "sensor_id": sid,
                    "district": rec.values.get("district") or "",
                    "gateway": rec.values.get("gateway") or "",
                    "last_seen": 0.0,
                    "fields": {},
                },
            )
            row["fields"][rec.get_field()] = rec.get_value()
            row["last_seen"] = max(row["last_seen"], rec.get_time().timestamp())
        return out

    def means(
        self, measurement: str, fields: Iterable[str], hours: int
    ) -> dict[str, dict[str, float]]:
        """Per sensor, the mean of each field over the last `hours` hours."""
        flux = (
            f"from(bucket: {self.bucket}) |> range(start: -{int(hours)}h)"
            f' |> filter(fn: (r) => r._measurement == "{ident(measurement, "measurement")}"'
            f" and {_fields_match(fields)})"
            ' |> mean() |> keep(columns: ["_value", "_field", "sensor_id"])'
        )
        out: dict[str, dict[str, float]] = {}
        for rec in self._run(flux):
            sid = rec.values.get("sensor_id")
            if sid and rec.get_value() is not None:
                out.setdefault(sid, {})[rec.get_field()] = float(rec.get_value())
        return out

    def series(
        self, measurement: str, sensor_id: str, fields: Iterable[str], start: str, stop: str | None
    ) -> dict[str, list[tuple[float, Any]]]:
        """Time series of a sensor's fields, averaged into about 300 windows over the range."""
        every = window_for(span_seconds(start, stop))
        stop_part = f", stop: {time_bound(stop, 'stop')}" if stop else ""
        fields = list(fields)
        # A state (a phase, a fault code) has no mean; what the catalog does not know is asked for.
        sensor = load_catalog().get(measurement)
        states = {n for n, s in sensor.fields.items() if s.kind == "str"} if sensor else set()
        numeric = [f for f in fields if f not in states]
        flux = (
            f"from(bucket: {self.bucket})"
            f" |> range(start: {time_bound(start, 'start')}{stop_part})"
            f' |> filter(fn: (r) => r._measurement == "{ident(measurement, "measurement")}"'
            f' and r.sensor_id == "{ident(sensor_id, "sensor_id")}"'
            f" and {_fields_match(numeric)})"
            " |> toFloat() |> aggregateWindow(every: " + every + ", fn: mean, createEmpty: false)"
            ' |> keep(columns: ["_time", "_value", "_field"])'
        )
        out: dict[str, list[tuple[float, Any]]] = {f: [] for f in numeric}
        for rec in self._run(flux):
            out.setdefault(rec.get_field(), []).append(
                (rec.get_time().timestamp(), rec.get_value())
            )
        return out

    def alerts(self, start: str, stop: str | None = None) -> list[dict[str, Any]]:
        """Alert transitions in the range, newest first, one row per (alert, state)."""
        stop_part = f", stop: {time_bound(stop, 'stop')}" if stop else ""
        flux = (
            f"from(bucket: {self.bucket})"
            f" |> range(start: {time_bound(start, 'start')}{stop_part})"
            ' |> filter(fn: (r) => r._measurement == "alerts")'
            ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
            ' |> group() |> sort(columns: ["_time"], desc: true) |> limit(n: 2000)'
        )
        rows = []
        for rec in self._run(flux):
            v = rec.values
            rows.append(
                {
                    "alert_id": v.get("alert_id") or "",
                    "sensor_id": v.get("sensor_id") or "",
                    "sensor_type": v.get("sensor_type") or "",
                    "district": v.get("district") or "",
                    "type": v.get("type") or "",
                    "severity": v.get("severity") or "info",
                    "state": v.get("state") or "raised",
                    "value": v.get("value"),
                    "explanation": v.get("explanation") or "",
                    "time": rec.get_time().timestamp(),
                }
            )
        return rows

    def acks(self, start: str) -> dict[str, dict[str, Any]]:
        """Acknowledgements by alert id."""
        flux = (
            f"from(bucket: {self.bucket}) |> range(start: {time_bound(start, 'start')})"
            ' |> filter(fn: (r) => r._measurement == "alert_acks")'
            ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        )
        return {
            rec.values["alert_id"]: {
                "by": rec.values.get("by") or "",
                "note": rec.values.get("note") or "",
                "time": rec.get_time().timestamp(),
            }
            for rec in self._run(flux)
            if rec.values.get("alert_id")
        }

    def write_ack(self, alert_id: str, by: str, note: str, at: float) -> None:
        point = (
            Point("alert_acks")
            .tag("alert_id", ident(alert_id, "alert_id"))
            .field("by", by)
            .field("note", note)
            .time(datetime.fromtimestamp(at, UTC))
        )
        try:
            self._write.write(
                bucket=self.conn.influx.bucket, org=self.conn.influx.org, record=point
            )
        except Exception as exc:
            raise QueryError(f"InfluxDB at {self.conn.influx.url} refused an ack: {exc}") from exc

    def gateways(self, start: str = "-1h") -> dict[str, dict[str, Any]]:
        """Per gateway: the last status figures, rates of messages in and records out."""
        last = (
            f"from(bucket: {self.bucket}) |> range(start: {time_bound(start, 'start')})"
            ' |> filter(fn: (r) => r._measurement == "gateway_status") |> last()'
            ' |> keep(columns: ["_time", "_value", "_field", "gateway_id"])'
        )
        rates = (
            f"from(bucket: {self.bucket}) |> range(start: -2m)"
            ' |> filter(fn: (r) => r._measurement == "gateway_status"'
            ' and (r._field == "messages_in" or r._field == "records_out"))'
            " |> toFloat() |> derivative(unit: 1s, nonNegative: true) |> last()"
            ' |> keep(columns: ["_value", "_field", "gateway_id"])'
        )
        out: dict[str, dict[str, Any]] = {}
        for rec in self._run(last):
            gid = rec.values.get("gateway_id")
            if not gid:
                continue
            row = out.setdefault(
                gid, {"gateway_id": gid, "last_seen": 0.0, "figures": {}, "rates": {}}
            )
            row["figures"][rec.get_field()] = rec.get_value()
            row["last_seen"] = max(row["last_seen"], rec.get_time().timestamp())
        for rec in self._run(rates):
            gid = rec.values.get("gateway_id")
            if gid in out:
                out[gid]["rates"][rec.get_field()] = rec.get_value()
        return out
