"""The daemons' /healthz and /metrics server (deploy.health) on a real local port."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter

from deploy.health import HealthServer, make_app
from deploy.settings import ConfigError


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_healthz_says_ok_or_503_and_metrics_are_prometheus_text() -> None:
    registry = CollectorRegistry()
    Counter("citygate_test_things", "things", registry=registry).inc(3)
    status: dict[str, Any] = {"status": "ok", "figures": {"messages_in": 5}}
    server = HealthServer(make_app(registry, lambda: status), "127.0.0.1", 0)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        code, kind, body = get(f"{base}/healthz")
        assert (code, kind, json.loads(body)) == (200, "application/json", status)
        status["status"] = "degraded"
        assert get(f"{base}/healthz")[0] == 503
        code, kind, body = get(f"{base}/metrics")
        assert code == 200 and kind.startswith("text/plain")
        assert b"citygate_test_things_total 3.0" in body
        assert get(f"{base}/nothing")[0] == 404
    finally:
        server.stop()


def test_a_status_that_raises_answers_500() -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("no figures yet")

    server = HealthServer(make_app(CollectorRegistry(), broken), "127.0.0.1", 0)
    server.start()
    try:
        code, _, body = get(f"http://127.0.0.1:{server.port}/healthz")
        assert code == 500 and json.loads(body)["status"] == "error"
    finally:
        server.stop()


def test_a_port_in_use_is_a_configuration_error_naming_the_key() -> None:
    first = HealthServer(make_app(CollectorRegistry(), dict), "127.0.0.1", 0)
    first.start()
    try:
        with pytest.raises(ConfigError, match=r"http\.port"):
            HealthServer(make_app(CollectorRegistry(), dict), "127.0.0.1", first.port).start()
    finally:
        first.stop()
