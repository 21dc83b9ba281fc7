"""Runtime /healthz and Prometheus /metrics for the gateway and central daemons,
on a local port, served from a thread of their own.

A separate thread and event loop keep HTTP scrapes off the ingest loop and keep uvicorn's
signal handling away from the daemon's own SIGTERM handling.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def make_app(registry: CollectorRegistry, status: Callable[[], dict[str, Any]]) -> Starlette:
    async def healthz(_: Request) -> JSONResponse:
        body = status()
        return JSONResponse(body, status_code=200 if body.get("status") == "ok" else 503)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/healthz", healthz), Route("/metrics", metrics)])


class HealthServer:
    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="health-http", daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
