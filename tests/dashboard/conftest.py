"""Fixtures of the dashboard's browser tests: a bucket of its own filled with the city scenario's
readings, gateway heartbeats on Kafka, two dashboards (with and without a token) and Chromium.

Browser tests need Debian's Chromium (deploy/local/install-browser.sh) and the `playwright`
package; with CI=true a missing one fails the run, otherwise the tests are skipped.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from deploy.connections import Connections
from deploy.local.kafka import create_topics
from tests.dashboard import seed
from tests.dashboard.server import CHROMIUM, Server, chromium, dashboard

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
TOKEN = "test-operator-token"


def city_scenario() -> Path:
    return Path(str(resources.files("firmware_sim") / "scenarios" / "city.yaml"))


def city_sites(directory: Path) -> Path:
    """The city scenario's sites file, written by `citygate sim sites` as a user would."""
    out = directory / "sites.geojson"
    citygate = str(Path(sys.executable).with_name("citygate"))
    subprocess.run(
        [citygate, "sim", "sites", "--scenario", "city", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


def fleet_sensors(scenario: Path) -> list[tuple[str, str, str]]:
    from firmware_sim.fleet import Fleet
    from firmware_sim.scenario import load_scenario

    return [
        (d.sensor_id, d.sensor_type, d.district) for d in Fleet(load_scenario(scenario)).devices
    ]


def _need_browser() -> None:
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (run deploy/local/install-browser.sh)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the Python package playwright (make installs it from uv.lock)")
    if missing:
        pytest.fail("browser tests need " + " and ".join(missing), pytrace=False)


@pytest.fixture(scope="session")
def dash_conn(connections: Connections) -> Iterator[Connections]:
    """The stack's connections pointed at a fresh bucket holding the city's readings."""
    seed.run_async(create_topics(connections.kafka.bootstrap))
    conn = seed.ensure_bucket(connections, f"dashboard-test-{uuid.uuid4().hex[:8]}")
    sensors = fleet_sensors(city_scenario())
    districts = sorted({d for _, _, d in sensors})
    seed.write_lines(conn, seed.sensor_lines(sensors) + seed.gateway_lines(districts))
    yield conn
    seed.drop_bucket(conn)


@pytest.fixture(scope="session")
def server(dash_conn: Connections, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("dash")
    with dashboard(dash_conn, city_sites(tmp), TOKEN, tmp) as srv:
        seed.produce_heartbeats(dash_conn, ["gw-centro", "gw-chamberi", "gw-retiro", "gw-vallecas"])
        yield srv


@pytest.fixture(scope="session")
def read_only_server(
    dash_conn: Connections, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ro")
    with dashboard(dash_conn, city_sites(tmp), None, tmp) as srv:
        yield srv


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is
# open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_browser()
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that records console errors and uncaught exceptions in page.problems."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on(
        "console",
        lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None,
    )
    pg.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    pg.problems = problems
    yield pg
    context.close()
