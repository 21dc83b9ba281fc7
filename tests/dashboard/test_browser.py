"""The dashboard in Debian's Chromium (Playwright) against the real stack with the city's data."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from deploy.connections import Connections
from tests.dashboard import seed
from tests.dashboard.conftest import ROOT, SCREENSHOTS, TOKEN, city_scenario, fleet_sensors
from tests.dashboard.server import Server

pytestmark = pytest.mark.integration

VIEWS = ("map", "air", "traffic", "cameras", "alerts", "gateways", "history")


def open_view(page: Any, server: Server, view: str) -> None:
    page.goto(f"{server.url}/#{view}")
    page.wait_for_selector(f"body[data-rendered='{view}']", timeout=15_000)


def find_alert(page: Any, alert_id: str) -> None:
    """Narrow the alerts table to one alert, as an operator pasting its id would: the city's
    alerts topic is shared, and other alerts on it may be newer than a test's own."""
    page.fill("#alerts-filter", alert_id)


def post(url: str, token: str | None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("view", VIEWS)
def test_every_page_loads_without_console_errors(page: Any, server: Server, view: str) -> None:
    open_view(page, server, view)
    if view == "air":
        page.click("#air-table tr[data-sensor-id]")
        page.wait_for_selector("#air-chart svg path.line", timeout=15_000)
    elif view == "traffic":
        page.click("#traffic-table tr[data-sensor-id]")
        page.wait_for_selector("#detector-table", timeout=15_000)
    elif view == "cameras":
        page.click("#cameras-table tr[data-sensor-id]")
        page.wait_for_selector("#camera-health-table", timeout=15_000)
    elif view == "history":
        page.fill("#hist-sensor", "centro-aq-00001")
        page.click("#hist-go")
        page.wait_for_selector("#hist-chart svg path.line", timeout=15_000)
    elif view == "gateways":
        page.wait_for_selector("#gateways-table tr[data-gateway-id='gw-centro']", timeout=15_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{view}.png"
    page.screenshot(path=str(shot))
    if view == "map" and os.environ.get("CITYGATE_UPDATE_DOCS_SCREENSHOT") == "1":
        # README's picture, on request only: a test run leaves the tracked tree as it was.
        shutil.copyfile(shot, ROOT / "docs" / "dashboard.png")
    assert page.problems == []
    assert "failed" not in page.text_content("#status")


def test_map_shows_every_simulated_sensor(
    page: Any, server: Server, dash_conn: Connections
) -> None:
    # The city's devices report every 2 s: give each a fresh reading, then wait out the cache.
    seed.write_lines(dash_conn, seed.sensor_lines(fleet_sensors(city_scenario()), points=1))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the dashboard's cache catches up in the background
        states = {s["state"] for s in server.get("/api/sensors")["sensors"]}
        if "aqi" in states:
            break
        time.sleep(1)
    open_view(page, server, "map")
    shown = page.eval_on_selector_all(
        "#city-svg [data-sensor-id]", "nodes => nodes.map(n => n.dataset.sensorId)"
    )
    expected = {sid for sid, _, _ in fleet_sensors(city_scenario())}
    assert len(shown) == len(expected) == 230
    assert set(shown) == expected
    states = page.eval_on_selector_all(
        "#city-svg [data-state]", "ns => ns.map(n => n.dataset.state)"
    )
    assert "aqi" in states and "fault" in states  # the seeded data has both


def test_the_cameras_view_shows_counts_health_and_tamper(page: Any, server: Server) -> None:
    cameras = [sid for sid, stype, _ in fleet_sensors(city_scenario()) if stype == "camera"]
    open_view(page, server, "cameras")
    shown = page.eval_on_selector_all(
        "#cameras-table tr[data-sensor-id]", "rows => rows.map(r => r.dataset.sensorId)"
    )
    assert set(shown) == set(cameras)
    # The seeded data has a tampered camera (reported moved): it leads the table.
    first = page.query_selector("#cameras-table tr[data-sensor-id]")
    assert first is not None and "tamper:moved" in first.text_content()
    header = page.text_content("#cameras-table tr")
    for column in ("people", "car", "bus", "bicycle", "motorcycle", "fps", "tamper", "low light"):
        assert column in header
    first.click()
    page.wait_for_selector("#camera-health-table", timeout=15_000)
    page.wait_for_selector("#camera-chart svg path.line", timeout=15_000)
    assert "moved" in page.text_content("#camera-health-table")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "cameras-selected.png"))
    assert page.problems == []


def test_a_fault_appears_in_the_alerts_feed_within_seconds(
    page: Any, server: Server, dash_conn: Connections
) -> None:
    open_view(page, server, "alerts")
    page.wait_for_selector("#live.on", timeout=15_000)
    alert = seed.alert_doc("retiro-ts-00001", "retiro")
    find_alert(page, alert["alert_id"])
    seed.produce_alerts(dash_conn, [alert])
    # Pushed by server-sent events, with no reload: the bound is generous so that a loaded
    # machine cannot fail it; how fast it is belongs to bench/dashboard_bench.py.
    row = page.wait_for_selector(f"tr[data-alert-id='{alert['alert_id']}']", timeout=30_000)
    assert "critical" in row.text_content()
    assert "conflicting_greens" in row.text_content()
    page.select_option("#alert-severity", "info")
    assert page.query_selector(f"tr[data-alert-id='{alert['alert_id']}']") is None
    page.select_option("#alert-severity", "critical")
    assert page.query_selector(f"tr[data-alert-id='{alert['alert_id']}']") is not None


def test_acknowledging_needs_the_token(page: Any, server: Server, dash_conn: Connections) -> None:
    alert = seed.alert_doc("centro-aq-00002", "centro", sensor_type="air_quality", type="spike")
    seed.deliver_alerts(dash_conn, [alert])
    open_view(page, server, "alerts")
    find_alert(page, alert["alert_id"])
    button = f"tr[data-alert-id='{alert['alert_id']}'] button.ack"
    page.wait_for_selector(button, timeout=15_000)

    page.fill("#token", "")
    page.click(button)
    page.wait_for_selector("#ack-status.error", timeout=10_000)
    assert "valid token" in page.text_content("#ack-status")

    page.fill("#token", "wrong-token")
    page.click(button)
    page.wait_for_function(
        "document.querySelector('#ack-status').textContent.includes('valid token')"
    )

    page.fill("#token", TOKEN)
    page.click(button)
    page.wait_for_selector("#ack-status.ok", timeout=10_000)
    page.wait_for_selector(f"tr[data-alert-id='{alert['alert_id']}'] .acked", timeout=10_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "alerts-acknowledged.png"))

    # The acknowledgement is stored in InfluxDB: a new page (a colleague's browser) sees it.
    assert any(a["alert_id"] == alert["alert_id"] and a["ack"] for a in _alerts_after(server, 6))


def _alerts_after(server: Server, wait_s: float) -> list[dict[str, Any]]:
    time.sleep(wait_s)  # past the query cache
    return list(server.get("/api/alerts")["alerts"])


def test_the_api_refuses_acknowledgements_without_a_valid_token(
    server: Server, read_only_server: Server
) -> None:
    url = f"{server.url}/api/alerts/any-alert/ack"
    assert post(url, None)[0] == 401
    assert post(url, "not-the-token")[0] == 401
    status, body = post(f"{read_only_server.url}/api/alerts/any-alert/ack", TOKEN)
    assert status == 403
    assert "read-only" in body["error"]
    assert read_only_server.get("/api/config")["read_only"] is True


def test_a_read_only_dashboard_disables_acknowledging(
    page: Any, read_only_server: Server, dash_conn: Connections
) -> None:
    alert = seed.alert_doc("vallecas-aq-00003", "vallecas", sensor_type="air_quality")
    seed.deliver_alerts(dash_conn, [alert])
    open_view(page, read_only_server, "alerts")
    find_alert(page, alert["alert_id"])
    button = page.wait_for_selector(
        f"tr[data-alert-id='{alert['alert_id']}'] button.ack", timeout=15_000
    )
    assert button.is_disabled()
    assert page.is_hidden("#token-box")
    assert page.problems == []


def test_the_page_loads_nothing_from_other_origins(page: Any, server: Server) -> None:
    origins = set()
    page.on("request", lambda r: origins.add(r.url.split("/")[2]))
    for view in VIEWS:
        open_view(page, server, view)
    assert origins == {server.url.split("/")[2]}
