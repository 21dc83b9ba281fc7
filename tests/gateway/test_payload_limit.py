"""mqtt.max_payload_bytes governs, against the real Mosquitto and Kafka (issue 10, defect 8):
a valid reading over the limit is a dead letter with reason "oversize", one within it a reading."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from deploy.connections import Connections
from edge import deadletter, mqtt_json
from edge import reading as reading_codec
from edge.topics import DEADLETTER, reading_topic
from tests.gateway.harness import GatewayProcess, KafkaCollector, Publisher, air_readings

pytestmark = pytest.mark.integration
AIR = reading_topic("air_quality")


def test_payloads_over_the_setting_are_dead_letters(
    tmp_path: Path, connections: Connections
) -> None:
    d = f"p{uuid.uuid4().hex[:10]}"
    sizes = {1: 1_000, 2: 2_050, 3: 60_050}  # seq -> payload size; JSON padded with spaces
    messages = []
    for reading in air_readings(d, sensors=1, per_sensor=3):
        topic, payload = mqtt_json.encode(reading)
        messages.append((topic, payload.ljust(sizes[reading.seq])))
    collector = KafkaCollector(connections, [AIR, DEADLETTER])
    gw = GatewayProcess(tmp_path, connections, d, {"mqtt.max_payload_bytes": 1024}).start()
    pub = Publisher(connections)
    try:
        pub.wait_acked(pub.send(messages))
        marker = f"{d}-".encode()
        got = collector.collect(lambda out: len(out) >= 3, 90, lambda r: marker in (r.key or b""))
        readings = [reading_codec.decode(r.value) for r in got if r.topic == AIR]
        dead = [deadletter.decode(r.value) for r in got if r.topic == DEADLETTER]
        assert [r.seq for r in readings] == [1]
        assert sorted(dl.reason for dl in dead) == [
            f"oversize: {n} bytes > mqtt.max_payload_bytes = 1024" for n in (2_050, 60_050)
        ]
        assert {dl.origin for dl in dead} == {messages[0][0]}
    finally:
        pub.close()
        assert gw.stop() == 0
