"""The daemon's own settings without servers: heartbeat_s with a fake clock and sink, and
kafka.max_unsent_age_s in the /healthz verdict and its reasons."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest

from deploy.settings import validate
from edge.topics import GATEWAY_STATUS
from gateway.config import GatewayConfig
from gateway.daemon import Gateway
from gateway.health import degraded_reasons
from gateway.journal import Journal, JournalRecord


class FakeSink:
    connected = True
    last_ok = None

    def __init__(self) -> None:
        self.beats: list[tuple[str, bytes, dict[str, object]]] = []

    async def send_status(self, topic: str, key: bytes, value: bytes) -> None:
        self.beats.append((topic, key, msgspec.json.decode(value)))


class Stop(Exception):
    pass


def config(tmp_path: Path, **settings: object) -> GatewayConfig:
    return validate(
        GatewayConfig,
        {"gateway_id": "gw-unit", "journal": {"path": str(tmp_path)}, **settings},
        "test",
    )


@pytest.mark.parametrize(("heartbeat_s", "beats"), [(2.0, 5), (5.0, 2), (0.5, 20)])
def test_heartbeat_every_heartbeat_s(tmp_path: Path, heartbeat_s: float, beats: int) -> None:
    """Ten seconds of fake time: beats at 0, heartbeat_s, 2 * heartbeat_s, ..."""

    async def body() -> FakeSink:
        gw = Gateway(config(tmp_path, heartbeat_s=heartbeat_s))
        sink = gw.sink = FakeSink()  # type: ignore[assignment]
        now = 0.0

        async def sleep(seconds: float) -> None:
            nonlocal now
            await asyncio.sleep(0)  # let the heartbeat task just created run
            now += seconds
            if now >= 10.0:
                raise Stop

        with pytest.raises(Stop):
            await gw._housekeeping(clock=lambda: now, sleep=sleep)
        return sink

    sink = asyncio.run(body())
    assert len(sink.beats) == beats
    assert {(topic, key) for topic, key, _ in sink.beats} == {(GATEWAY_STATUS, b"gw-unit")}
    assert all(beat["gateway_id"] == "gw-unit" for _, _, beat in sink.beats)


HEALTHY = {
    "journal_open": True,
    "mqtt_connected": True,
    "mqtt_subscribed": True,
    "kafka_connected": True,
}


@pytest.mark.parametrize(
    ("age_s", "max_age_s", "reasons"),
    [
        (30.0, 60.0, []),
        (30.0, 10.0, ["unsent_too_old"]),
        (61.0, 60.0, ["unsent_too_old"]),
        (0.0, 0.001, []),
    ],
)
def test_unsent_age_decides_health_while_kafka_is_reachable(
    age_s: float, max_age_s: float, reasons: list[str]
) -> None:
    got = degraded_reasons(**HEALTHY, oldest_unsent_age_s=age_s, max_unsent_age_s=max_age_s)
    assert got == reasons


def test_every_failed_check_is_a_reason() -> None:
    assert degraded_reasons(
        journal_open=False,
        mqtt_connected=False,
        mqtt_subscribed=False,
        kafka_connected=False,
        oldest_unsent_age_s=2.0,
        max_unsent_age_s=1.0,
    ) == [
        "journal_closed",
        "mqtt_disconnected",
        "mqtt_not_subscribed",
        "kafka_unreachable",
        "unsent_too_old",
    ]


@pytest.mark.parametrize(("max_unsent_age_s", "status"), [(60.0, "degraded"), (600.0, "ok")])
def test_healthz_uses_max_unsent_age_s(
    tmp_path: Path, max_unsent_age_s: float, status: str
) -> None:
    """A record received two minutes ago and not yet acknowledged, Kafka reachable, no MQTT
    source configured: only kafka.max_unsent_age_s decides."""

    async def body() -> dict[str, object]:
        cfg = config(tmp_path, mqtt=None, kafka={"max_unsent_age_s": max_unsent_age_s})
        gw = Gateway(cfg)
        gw.sink = FakeSink()  # type: ignore[assignment]
        async with await Journal.open(tmp_path / "journal", commit_interval_ms=1) as journal:
            gw.journal = journal
            old = time.time_ns() - 120 * 10**9
            await journal.append(
                [JournalRecord("city.air_quality.v1", b"s-1", b"{}", (), "air_quality", old)]
            )
            return gw.status()

    health = asyncio.run(body())
    assert health["status"] == status and health["kafka_connected"] is True
    assert health["reasons"] == ([] if status == "ok" else ["unsent_too_old"])
