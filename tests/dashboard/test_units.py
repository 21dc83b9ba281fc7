"""Pure parts of the dashboard: settings, query input checks, the live hub."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from central.dashboard import live, queries, settings
from central.dashboard.families.camera import camera_rows, vehicle_classes
from deploy.settings import ConfigError
from tests.dashboard.seed import run_async


def test_without_a_token_the_dashboard_is_read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYGATE_DASHBOARD__TOKEN", raising=False)
    assert settings.load().read_only
    monkeypatch.setenv("CITYGATE_DASHBOARD__TOKEN", "   ")
    assert settings.load().read_only
    monkeypatch.setenv("CITYGATE_DASHBOARD__TOKEN", "s3cret")
    cfg = settings.load()
    assert not cfg.read_only and "s3cret" not in repr(cfg)


def test_settings_come_from_a_file_then_env_then_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "dashboard.yaml"
    secret = tmp_path / "token"
    secret.write_text("from-file\n")
    f.write_text(f"dashboard:\n  port: 20000\n  aqi_standard: eaqi\n  token_file: {secret}\n")
    monkeypatch.delenv("CITYGATE_DASHBOARD__TOKEN", raising=False)
    monkeypatch.setenv("CITYGATE_DASHBOARD__PORT", "20001")
    cfg = settings.load(f, host="0.0.0.0")
    assert (cfg.port, cfg.aqi_standard, cfg.host, cfg.read_only) == (
        20001,
        "eaqi",
        "0.0.0.0",
        False,
    )


@pytest.mark.parametrize(
    ("doc", "named"),
    [
        ("port: 99999", "dashboard.port = 99999"),
        ("aqi_standard: caqi", "dashboard.aqi_standard = 'caqi'"),
        ("colour: blue", "dashboard.colour = 'blue': not a known key"),
        ("dashboard: {token: 12}", "dashboard.token = <hidden>"),
        ("port: x", "dashboard.port = 'x'"),
    ],
)
def test_a_wrong_setting_names_its_key_and_value(tmp_path: Path, doc: str, named: str) -> None:
    f = tmp_path / "d.yaml"
    f.write_text(doc)
    with pytest.raises(ConfigError, match=named):
        settings.load(f)


@pytest.mark.parametrize("value", ['x") |> drop()', "a b", "", "pm25\n", "../../etc", "x" * 200])
def test_identifiers_that_could_change_a_query_are_refused(value: str) -> None:
    with pytest.raises(queries.BadQuery):
        queries.ident(value, "sensor_id")


@pytest.mark.parametrize(
    ("value", "flux"),
    [
        ("-1h", "-1h"),
        ("15m", "-15m"),
        ("2026-01-02T03:04:05Z", 'time(v: "2026-01-02T03:04:05Z")'),
        ("2026-01-02T03:04+01:00", 'time(v: "2026-01-02T03:04+01:00")'),
    ],
)
def test_time_bounds(value: str, flux: str) -> None:
    assert queries.time_bound(value, "start") == flux


@pytest.mark.parametrize("value", ["now()", "-1h) |> yield(", "yesterday", "-1y"])
def test_bad_time_bounds_are_refused(value: str) -> None:
    with pytest.raises(queries.BadQuery, match="start"):
        queries.time_bound(value, "start")


def test_the_aggregation_window_follows_the_range() -> None:
    assert queries.window_for(queries.span_seconds("-1h", None)) == "12s"
    assert queries.window_for(queries.span_seconds("-7d", None)) == "2016s"
    assert queries.window_for(10) == "1s"


def test_heartbeats_give_rates_and_one_dropped_count() -> None:
    hub = live.Hub()
    beat = {"gateway_id": "gw-1", "ts": 10_000_000_000, "figures": {"messages_in": 100}}
    hub.add_heartbeat(beat)
    hub.add_heartbeat(
        {
            "gateway_id": "gw-1",
            "ts": 15_000_000_000,
            "figures": {
                "messages_in": 600,
                "journal_dropped": {"air_quality": 2, "traffic_signal": 3},
            },
        }
    )
    row = hub.gateways["gw-1"]
    assert row["rates"] == {"messages_in": 100.0}
    assert row["figures"]["journal_dropped"] == 5
    assert row["last_seen"] == 15.0


def test_an_alert_fans_out_to_every_subscriber() -> None:
    async def scenario() -> list[str]:
        hub = live.Hub()
        streams = [hub.subscribe(), hub.subscribe()]
        firsts = [await s.__anext__() for s in streams]  # the retry line; both are subscribed
        assert all(f.startswith("retry:") for f in firsts)
        hub.add_alert(
            {
                "alert_id": "a1",
                "sensor_id": "s1",
                "state": "cleared",
                "start": 1,
                "end": 2_000_000_000,
            }
        )
        got = [await s.__anext__() for s in streams]
        for s in streams:
            await s.aclose()
        assert hub.clients == 0
        return got

    got = run_async(scenario())  # in a thread: a browser test may own this thread's loop
    assert len(got) == 2 and got[0] == got[1]
    assert got[0].startswith("event: alert\ndata: ")
    assert '"alert_id":"a1"' in got[0] and '"time":2.0' in got[0]


def _wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "the cache did not refresh in time"
        time.sleep(0.01)


def test_a_stale_answer_is_served_at_once_while_one_thread_asks_again() -> None:
    cache = queries._TTLCache(seconds=0.05)
    asked: list[int] = []
    release = threading.Event()

    def slow() -> int:
        asked.append(1)
        if len(asked) > 1:
            # A read that waited for this refresh would get 2, not the stale 1, and fail below.
            release.wait(60)
        return len(asked)

    assert cache.get("k", slow) == 1
    time.sleep(0.06)
    assert [cache.get("k", slow) for _ in range(3)] == [1, 1, 1]  # stale, not waiting
    release.set()
    _wait_until(lambda: cache.get("k", slow) == 2)
    assert len(asked) == 2  # one refresh for three stale reads


def test_a_refreshed_view_is_built_from_fresh_parts() -> None:
    cache = queries._TTLCache(seconds=0.3)
    version = [0]

    def part() -> int:
        return version[0]

    def view() -> int:
        return cache.get("part", part) * 10

    assert cache.get("view", view) == 0
    version[0] = 1
    time.sleep(0.35)
    assert cache.get("view", view) == 0  # stale: served at once, and one refresh starts
    _wait_until(lambda: "view" not in cache._refreshing)
    # The refresh asked for the part again rather than taking its stale answer, so the view
    # it stored is new, not one period behind.
    assert cache.get("view", view) == 10


def test_camera_rows_put_reported_problems_first() -> None:
    def row(district: str, **fields: object) -> dict[str, object]:
        base = {"peopleCount": 3, "intensity_car": 2, "online": True, "tamper": "none"}
        return {"district": district, "last_seen": 1.0, "fields": {**base, **fields}}

    rows = camera_rows(
        {
            "a-cam-1": row("a"),
            "b-cam-1": row("b", tamper="obscured"),
            "c-cam-1": row("c", online=False),
        }
    )
    assert [(r["sensor_id"], r["problems"]) for r in rows] == [
        ("b-cam-1", ["tamper:obscured"]),
        ("c-cam-1", ["offline"]),
        ("a-cam-1", []),
    ]
    assert vehicle_classes() == ("car", "bus", "bicycle", "motorcycle")
    assert rows[2]["vehicles"] == {"car": 2, "bus": None, "bicycle": None, "motorcycle": None}
