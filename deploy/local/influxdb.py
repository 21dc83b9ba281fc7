"""InfluxDB 2.x OSS `influxd`, built once from its Go module, started on loopback and onboarded."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from deploy.connections import Connections
from deploy.errors import StackError
from deploy.local.process import ManagedProcess, require_free_port, require_tool, wait_until
from deploy.settings import Secret

INFLUXD_VERSION = "v2.7.12"


def build_influxd(cache: Path) -> Path:
    """The cached influxd binary, built with go and cargo by build_influxd.sh on first use."""
    binary = cache / "bin" / f"influxd-{INFLUXD_VERSION}"
    if binary.exists():
        return binary
    for tool, hint in (("go", "install Go 1.23 or newer"), ("cargo", "install Rust with rustup")):
        require_tool("influxdb", tool, hint)
    print(f"influxdb: building influxd {INFLUXD_VERSION} from source (first run only)", flush=True)
    script = resources.files("deploy.local") / "build_influxd.sh"
    with resources.as_file(script) as path:
        env = {"CITYGATE_CACHE": str(cache), "INFLUXD_VERSION": INFLUXD_VERSION}
        done = subprocess.run(["bash", str(path)], env={**os.environ, **env}, check=False)
    if done.returncode != 0 or not binary.exists():
        raise StackError("influxdb: building influxd failed (see the output above)")
    return binary


class InfluxDB:
    name = "influxdb"

    def __init__(self, run: Path, cache: Path, conn: Connections) -> None:
        self.dir = run / self.name
        self.cache = cache
        self.conn = conn
        url = urlparse(conn.influx.url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 8086
        self.process = ManagedProcess(self.name, self.dir, marker="influxd")

    def up(self) -> Connections:
        """Start and onboard; returns the connections with this server's token."""
        if not self.process.alive():
            binary = build_influxd(self.cache)
            require_free_port(self.name, self.host, self.port)
            self.dir.mkdir(parents=True, exist_ok=True)
            self.process.start(
                [
                    str(binary),
                    "--http-bind-address",
                    f"{self.host}:{self.port}",
                    "--bolt-path",
                    str(self.dir / "influxd.bolt"),
                    "--engine-path",
                    str(self.dir / "engine"),
                    "--sqlite-path",
                    str(self.dir / "influxd.sqlite"),
                    "--reporting-disabled",
                    # Profiling on (the default) samples every 4 KiB allocated with a stack
                    # trace: ~18% of influxd's CPU while it takes writes (measured with its own
                    # /debug/pprof). Remove this flag to profile influxd.
                    "--pprof-disabled",
                    "--log-level",
                    "warn",
                ]
            )
            wait_until(self.healthy, "GET /health = pass", 60, self.process)
        return self.onboard()

    def _request(self, method: str, path: str, body: object = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.conn.influx.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read() or b"null")

    def onboard(self) -> Connections:
        setup = self._request("GET", "/api/v2/setup")
        if isinstance(setup, dict) and setup.get("allowed"):
            token = secrets.token_urlsafe(32)
            self._request(
                "POST",
                "/api/v2/setup",
                {
                    "username": "citygate",
                    "password": secrets.token_urlsafe(16),
                    "org": self.conn.influx.org,
                    "bucket": self.conn.influx.bucket,
                    "token": token,
                },
            )
            return self.conn.with_influx(token=Secret(token))
        if not self.conn.influx.token.get_secret_value():
            raise StackError(
                f"influxdb: {self.dir} is onboarded but its token is lost; "
                f"run `citygate stack down --purge` to start afresh"
            )
        return self.conn

    def healthy(self) -> bool:
        try:
            health = self._request("GET", "/health")
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return isinstance(health, dict) and health.get("status") == "pass"

    def detail(self) -> str:
        return (
            f"{self.conn.influx.url} (InfluxDB OSS {INFLUXD_VERSION}, org {self.conn.influx.org})"
        )
