"""mqtt.session_expiry_s against the real Mosquitto and Kafka: with an expiry the broker keeps
what was published while the gateway was stopped; with 0 the session ends with the connection."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from deploy.connections import Connections
from edge import reading as reading_codec
from edge.topics import reading_topic
from tests.gateway.harness import GatewayProcess, KafkaCollector, Publisher, air_readings

pytestmark = pytest.mark.integration
AIR = reading_topic("air_quality")


@pytest.mark.parametrize(("expiry_s", "kept"), [(600, True), (0, False)])
def test_readings_published_while_stopped_follow_the_session_expiry(
    tmp_path: Path, connections: Connections, expiry_s: int, kept: bool
) -> None:
    d = f"e{uuid.uuid4().hex[:10]}"
    gw = GatewayProcess(tmp_path, connections, d, {"mqtt.session_expiry_s": expiry_s}).start()
    assert gw.stop() == 0
    pub = Publisher(connections)
    collector = KafkaCollector(connections, [AIR])
    try:
        offline = pub.readings(air_readings(d, sensors=2, per_sensor=5))
        pub.wait_acked(offline)
        gw.start()
        online = pub.readings(air_readings(d, sensors=2, per_sensor=5, start_seq=6))
        pub.wait_acked(offline + online)

        def readings(records: list[Any]) -> set[tuple[bytes, int]]:
            return {(r.key, reading_codec.decode(r.value).seq) for r in records}

        prefix = f"{d}-".encode()
        # The session delivers in order: once the later readings are in, so is what it kept.
        got = readings(
            collector.collect(
                lambda out: len({k for k in readings(out) if k[1] > 5}) == online,
                90,
                lambda r: bool(r.key and r.key.startswith(prefix)),
            )
        )
        assert len({k for k in got if k[1] <= 5}) == (offline if kept else 0)
        health = gw.health()
        assert health is not None
        assert health["messages_in"] == (offline if kept else 0) + online
    finally:
        pub.close()
        assert gw.stop() == 0
