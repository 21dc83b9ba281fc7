"""Runtime /healthz and Prometheus /metrics for the gateway and central daemons, on a local
port, served by the standard library's HTTP server from a thread of its own.

Two read-only routes need no web framework: importing uvicorn and starlette cost the gateway
3.3 MB of resident memory (starlette 0.9, uvicorn 2.4; measured 2026-12-03 importing the
gateway's modules one by one), which on a Raspberry Pi is memory taken from the journal's window. A thread of its own keeps scrapes off the ingest loop and away from
the daemon's SIGTERM handling.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from deploy.settings import ConfigError


@dataclass(frozen=True)
class HealthApp:
    """What the two routes answer: the registry's metrics and the daemon's status."""

    registry: CollectorRegistry
    status: Callable[[], dict[str, Any]]

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """(HTTP status, content type, body) for a GET of `path`."""
        route = path.split("?", 1)[0]
        if route == "/healthz":
            body = self.status()
            code = 200 if body.get("status") == "ok" else 503
            return code, "application/json", json.dumps(body).encode()
        if route == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        return 404, "application/json", b'{"error": "not found: try /healthz or /metrics"}'


def make_app(registry: CollectorRegistry, status: Callable[[], dict[str, Any]]) -> HealthApp:
    return HealthApp(registry, status)


class _Handler(BaseHTTPRequestHandler):
    app: HealthApp  # set on the subclass HealthServer makes
    protocol_version = "HTTP/1.1"  # keep-alive for scrapers

    def do_GET(self) -> None:
        try:
            code, content_type, body = self.app.respond(self.path)
        except Exception as exc:  # a failing status must answer 500, not drop the connection
            code, content_type = 500, "application/json"
            body = json.dumps({"status": "error", "error": repr(exc)[:200]}).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


class HealthServer:
    def __init__(self, app: HealthApp, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve; a port that cannot be bound is a configuration error naming it."""
        handler = type("Handler", (_Handler,), {"app": self.app})
        try:
            server = ThreadingHTTPServer((self.host, self.port), handler)
        except OSError as exc:
            raise ConfigError(
                f"http.port: cannot listen on {self.host}:{self.port} ({exc.strerror or exc}); "
                "choose a free port (CITYGATE_HTTP__PORT)"
            ) from exc
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self.thread = threading.Thread(target=server.serve_forever, name="health-http", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)
