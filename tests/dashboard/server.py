"""Start `citygate dashboard` as its own process against the real stack, and a Chromium for it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.connections import Connections

CHROMIUM = "/usr/bin/chromium"
# The flags this machine needs: no GPU, no sandbox as root, and no background connections to
# Google's hosts, which a closed network refuses many at a time.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Server:
    url: str
    token: str | None
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def dashboard(conn: Connections, sites: Path, token: str | None, log_dir: Path) -> Iterator[Server]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        CITYGATE_KAFKA__BOOTSTRAP=conn.kafka.bootstrap,
        CITYGATE_INFLUX__URL=conn.influx.url,
        CITYGATE_INFLUX__TOKEN=conn.influx.token.get_secret_value(),
        CITYGATE_INFLUX__ORG=conn.influx.org,
        CITYGATE_INFLUX__BUCKET=conn.influx.bucket,
    )
    env.pop("CITYGATE_DASHBOARD__TOKEN", None)
    if token:
        env["CITYGATE_DASHBOARD__TOKEN"] = token
    log = log_dir / f"dashboard-{port}.log"
    citygate = str(Path(sys.executable).with_name("citygate"))
    argv = [citygate, "dashboard", "--port", str(port), "--sites", str(sites)]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", token, proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"dashboard exited with {proc.returncode}: {log.read_text()}")
            with contextlib.suppress(OSError):
                if server.get("/healthz")["live"]:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"dashboard not live within 60 s: {log.read_text()}")
            time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright Chromium browser: Debian's /usr/bin/chromium with a fresh temporary profile
    (Playwright makes one per launch; it refuses a --user-data-dir flag)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
