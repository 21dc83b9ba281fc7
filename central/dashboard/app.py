"""The dashboard's ASGI app: a JSON API over InfluxDB and the live hub, server-sent events, and the
static single-page front end. Read-only unless a token is configured; acknowledging an alert then
needs `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import AsyncIterator, Callable, Iterable
from importlib import resources
from typing import Any, Final

import msgspec
import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.dashboard import aqi, live
from central.dashboard.errors import BadQuery, QueryError
from central.dashboard.families import FamilyView, Marker, views
from central.dashboard.queries import History
from central.dashboard.settings import Settings
from central.dashboard.sites import SiteRegistry
from deploy.connections import Connections
from edge import topics

log = structlog.get_logger("citygate.dashboard")

# Everything comes from this origin: no CDN, font or tile server can be reached from the page.
_CSP: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_SILENT_COLOR: Final = "#8a8f98"


class FastJSON(JSONResponse):
    """JSON encoded by msgspec: the sensor list of a 2,000-sensor city is several times faster
    to encode than with the standard library, and encoding runs on the event loop."""

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


class Dashboard:
    """The app's state: settings, InfluxDB queries, sensor sites and the live hub."""

    def __init__(self, settings: Settings, conn: Connections, history: History | None = None):
        self.settings = settings
        self.conn = conn
        self.history = history or History(conn, settings.cache_s)
        self.sites = SiteRegistry.from_file(settings.sites) if settings.sites else SiteRegistry()
        self.hub = live.Hub()

    def cached(self, key: str, compute: Callable[[], Any], ttl: float | None = None) -> Any:
        """A cached InfluxDB answer, from a worker thread."""
        return self.history.cache.get(key, compute, ttl)

    async def _q(self, key: str, compute: Callable[[], Any], ttl: float | None = None) -> Any:
        """The same, from the event loop."""
        return await run_in_threadpool(self.cached, key, compute, ttl)

    async def encoded(self, key: str, build: Callable[[], Any]) -> bytes:
        """A whole view, assembled and JSON-encoded once per cache period for every browser.
        A 2,000-sensor city takes a few hundred milliseconds of Python to assemble; a request
        that finds the view stale gets the previous bytes at once and a thread assembles anew
        (bench/results/dashboard.json)."""
        body: bytes = await self._q(f"view:{key}", lambda: msgspec.json.encode(build()))
        return body

    # --- assembled views -------------------------------------------------------------------

    def view(self, name: str, standard: aqi.Standard) -> Any:
        """The view of one family (central/dashboard/families/)."""
        return views()[name].build(self, standard)

    def alerts(self, start: str, stop: str | None) -> list[dict[str, Any]]:
        """One row per alert (its latest state) with its acknowledgement, newest first. Alerts
        the live feed brought since InfluxDB was last asked are merged in."""
        lookback = f"-{self.settings.alerts_lookback}"
        stored = self.cached(f"alerts:{start}:{stop}", lambda: self.history.alerts(start, stop))
        acks = self.cached(f"acks:{lookback}", lambda: self.history.acks(lookback))
        merged: dict[str, dict[str, Any]] = {}
        for row in stored:  # newest first: the first row of an alert is its latest state
            merged.setdefault(row["alert_id"], row)
        if stop is None:
            # The hub is filled on the event loop; list() copies it in one step under the GIL.
            for row in list(self.hub.alerts.values()):
                known = merged.get(row["alert_id"])
                if known is None or row["time"] >= known["time"]:
                    merged[row["alert_id"]] = row
        out = []
        for aid, row in merged.items():
            ack = self.hub.acks.get(aid) or acks.get(aid)
            out.append({**row, "ack": ack})
        out.sort(key=lambda r: r["time"], reverse=True)
        return out

    async def gateways(self) -> list[dict[str, Any]]:
        stored = await self._q("gateways", self.history.gateways)
        merged = dict(stored)
        for gid, row in self.hub.gateways.items():
            if gid not in merged or row["last_seen"] >= merged[gid]["last_seen"]:
                merged[gid] = row
        now = time.time()
        limit = self.settings.gateway_offline_after_s
        return [
            {**row, "online": now - row["last_seen"] <= limit, "age_s": now - row["last_seen"]}
            for _, row in sorted(merged.items())
        ]

    def sensors(self, standard: aqi.Standard) -> dict[str, Any]:
        """Every known sensor with its place and its state colour for the map."""
        family_views = views()
        rows = {name: view.rows(self.view(name, standard)) for name, view in family_views.items()}
        alerts = self.alerts(f"-{self.settings.alerts_lookback}", None)
        active = _active_alerts(alerts)
        now = time.time()
        seen: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for name, family_rows in rows.items():
            for row in family_rows:
                seen[row["sensor_id"]] = (name, row["district"], row)
        for sid, site in list(self.sites.sites.items()):
            seen.setdefault(sid, (site.sensor_type, site.district, {}))
        out = []
        for sid, (stype, district, row) in sorted(seen.items()):
            site = self.sites.site(sid, stype, district)
            alert = active.get(sid)
            silent_after = max(
                self.settings.silent_min_s, self.settings.silent_after_intervals * site.interval_s
            )
            last_seen = row.get("last_seen")
            view = family_views.get(stype)
            if (
                not last_seen
                or now - last_seen > silent_after
                or (alert and alert["type"] == "silent")
                or view is None
            ):
                marker = Marker("silent", _SILENT_COLOR, "silent")
            else:
                marker = view.marker(row)
            state, color, label = marker.state, marker.color, marker.label
            out.append(
                {
                    "sensor_id": sid,
                    "sensor_type": stype,
                    "district": site.district,
                    "lat": site.latitude,
                    "lon": site.longitude,
                    "state": state,
                    "color": color,
                    "label": label,
                    "last_seen": last_seen,
                    "alert": alert["severity"] if alert else None,
                }
            )
        districts = [
            {"name": d.name, "lat": d.latitude, "lon": d.longitude, "radius_m": d.radius_m}
            for d in self.sites.districts.values()
        ]
        return {"districts": districts, "sensors": out, "standard": standard.describe()}

    def authorised(self, request: Request) -> Response | None:
        """None if the request may write; otherwise the refusal to send."""
        if self.settings.token is None:
            return FastJSON(
                {"error": "the dashboard is read-only: no token is configured"}, status_code=403
            )
        header = request.headers.get("authorization", "")
        given = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        expected = self.settings.token.get_secret_value()
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            return FastJSON(
                {"error": "acknowledging needs a valid token (Authorization: Bearer ...)"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="citygate"'},
            )
        return None


def _active_alerts(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per sensor, its worst raised alert."""
    rank = {"info": 0, "warning": 1, "critical": 2}
    worst: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["state"] != "raised":
            continue
        known = worst.get(row["sensor_id"])
        if known is None or rank.get(row["severity"], 0) > rank.get(known["severity"], 0):
            worst[row["sensor_id"]] = row
    return worst


class _SecurityHeaders:
    """Pure ASGI (not BaseHTTPMiddleware), so the event stream is passed through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", _CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings, conn: Connections) -> Starlette:
    """The dashboard app; its lifespan runs the live Kafka consumer."""
    dash = Dashboard(settings, conn)
    static_dir = resources.files("central.dashboard") / "static"

    def standard_of(request: Request) -> aqi.Standard:
        return aqi.standard(request.query_params.get("standard") or settings.aqi_standard)

    async def index(request: Request) -> Response:
        return FileResponse(str(static_dir / "index.html"), headers={"Cache-Control": "no-cache"})

    async def config(request: Request) -> Response:
        return FastJSON(
            {
                "read_only": settings.read_only,
                "aqi_standard": settings.aqi_standard,
                "standards": {name: aqi.standard(name).name for name in aqi.available()},
                "tables": {name: aqi.standard(name).describe() for name in aqi.available()},
                "gateway_offline_after_s": settings.gateway_offline_after_s,
                # The History tab's sensor types and the fields it shows first for each.
                "history": {n: ",".join(v.history_fields) for n, v in views().items()},
                "live": dash.hub.connected,
            }
        )

    def encoded(body: bytes) -> Response:
        return Response(body, media_type="application/json")

    async def sensors(request: Request) -> Response:
        std = standard_of(request)
        return encoded(await dash.encoded(f"sensors:{std.id}", lambda: dash.sensors(std)))

    def view_route(view: FamilyView) -> Route:
        async def endpoint(request: Request) -> Response:
            std = standard_of(request)
            body = await dash.encoded(view.key(std), lambda: dash.view(view.name, std))
            return encoded(body)

        return Route(f"/api/{view.path}", endpoint)

    def sensor_route(view: FamilyView) -> Route:
        async def endpoint(request: Request) -> Response:
            sid = request.path_params["sensor_id"]
            got = await dash._q(
                f"one:{view.name}:{sid}",
                lambda: dash.history.latest(view.name, None, "-1h", sensor_id=sid),
            )
            if sid not in got:
                return FastJSON({"error": f"no data from {sid} in the last hour"}, status_code=404)
            return FastJSON(got[sid])

        return Route(f"/api/{view.path}/{{sensor_id}}", endpoint)

    async def series(request: Request) -> Response:
        q = request.query_params
        sid = q.get("sensor_id", "")
        measurement = q.get("type", "")
        if measurement not in topics.SENSOR_TYPES:
            raise BadQuery(
                f"type {measurement!r}: expected one of {', '.join(topics.SENSOR_TYPES)}"
            )
        fields = [f for f in q.get("fields", "").split(",") if f]
        if not fields:
            raise BadQuery("fields: expected one or more field names, comma-separated")
        start, stop = q.get("start", "-1h"), q.get("stop") or None
        data = await dash._q(
            f"series:{measurement}:{sid}:{','.join(fields)}:{start}:{stop}",
            lambda: dash.history.series(measurement, sid, fields, start, stop),
        )
        return FastJSON({"sensor_id": sid, "type": measurement, "series": data})

    async def alerts(request: Request) -> Response:
        q = request.query_params
        rows = await run_in_threadpool(
            dash.alerts, q.get("start", f"-{settings.alerts_lookback}"), q.get("stop") or None
        )
        return FastJSON({"alerts": rows, "read_only": settings.read_only})

    async def acknowledge(request: Request) -> Response:
        refusal = dash.authorised(request)
        if refusal is not None:
            log.info("ack_refused", path=request.url.path, status=refusal.status_code)
            return refusal
        alert_id = request.path_params["alert_id"]
        try:
            body = await request.json()
        except ValueError:
            body = {}
        by = str((body or {}).get("by") or "operator")[:64]
        note = str((body or {}).get("note") or "")[:500]
        at = time.time()
        await run_in_threadpool(dash.history.write_ack, alert_id, by, note, at)
        ack = {"by": by, "note": note, "time": at}
        dash.hub.add_ack(alert_id, ack)
        log.info("alert_acknowledged", alert_id=alert_id, by=by)
        return FastJSON({"alert_id": alert_id, "ack": ack})

    async def gateways(request: Request) -> Response:
        return FastJSON({"gateways": await dash.gateways()})

    async def events(request: Request) -> Response:
        return StreamingResponse(
            dash.hub.subscribe(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def healthz(request: Request) -> Response:
        return FastJSON({"ok": True, "live": dash.hub.connected, "clients": dash.hub.clients})

    async def bad_query(request: Request, exc: Exception) -> Response:
        return FastJSON({"error": str(exc)}, status_code=400)

    async def store_failed(request: Request, exc: Exception) -> Response:
        log.warning("query_failed", path=request.url.path, error=str(exc))
        return FastJSON({"error": str(exc)}, status_code=502)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(live.consume(dash.hub, conn.kafka.bootstrap, stop))
        log.info("dashboard_started", read_only=settings.read_only, aqi=settings.aqi_standard)
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=5)
            dash.history.close()

    routes = [
        Route("/", index),
        Route("/healthz", healthz),
        Route("/api/config", config),
        Route("/api/sensors", sensors),
        *(view_route(view) for view in views().values()),
        *(sensor_route(view) for view in views().values()),
        Route("/api/series", series),
        Route("/api/alerts", alerts),
        Route("/api/alerts/{alert_id}/ack", acknowledge, methods=["POST"]),
        Route("/api/gateways", gateways),
        Route("/api/events", events),
        Mount("/static", StaticFiles(packages=[("central.dashboard", "static")]), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(_SecurityHeaders)],
        exception_handlers={
            BadQuery: bad_query,
            aqi.UnknownStandard: bad_query,
            QueryError: store_failed,
        },
    )
    app.state.dashboard = dash
    return app
