"""Issue 10: one poison message, sent with Debian's mosquitto_pub, costs one dead letter and
nothing else: the gateway stays up and the readings around it reach Kafka."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from deploy.connections import Connections
from edge import deadletter, mqtt_json
from edge import reading as reading_codec
from edge.topics import DEADLETTER, reading_topic
from tests.gateway.harness import GatewayProcess, KafkaCollector, air_readings

pytestmark = pytest.mark.integration
MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"  # Debian package mosquitto-clients
POISON = b'{"a":' * 1000 + b"1" + b"}" * 1000  # ~6 KB; RecursionError in the decoder before


def test_a_poison_message_costs_one_dead_letter_and_the_gateway_stays_up(
    tmp_path: Path, connections: Connections
) -> None:
    d = f"t{uuid.uuid4().hex[:10]}"
    collector = KafkaCollector(connections, [reading_topic("air_quality"), DEADLETTER])
    gw = GatewayProcess(tmp_path, connections, d).start()
    good = air_readings(d, sensors=1, per_sensor=20)
    topic = mqtt_json.encode(good[0])[0]
    lines = [mqtt_json.encode(r)[1] for r in good[:10]] + [POISON]
    lines += [mqtt_json.encode(r)[1] for r in good[10:]]
    try:
        # -l: one QoS 1 message per stdin line, in order, on one connection.
        broker = ["-h", connections.mqtt.host, "-p", str(connections.mqtt.port), "-V", "mqttv5"]
        subprocess.run(
            [MOSQUITTO_PUB, *broker, "-q", "1", "-t", topic, "-l"],
            input=b"\n".join(lines) + b"\n",
            check=True,
            timeout=60,
        )

        def ours(record: Any) -> bool:
            key = record.key or b""
            return key.startswith(f"{d}-".encode()) or f"/{d}/".encode() in key

        got = collector.collect(lambda out: len(out) >= 21, 60, ours)
        readings = [reading_codec.decode(r.value) for r in got if r.topic != DEADLETTER]
        letters = [deadletter.decode(r.value) for r in got if r.topic == DEADLETTER]
        assert [r.seq for r in readings] == list(range(1, 21))
        assert [(dl.code, dl.origin, dl.size) for dl in letters] == [("too_deep", topic, 6001)]
        assert letters[0].raw == POISON[: deadletter.RAW_CAP]
        assert gw.proc is not None and gw.proc.poll() is None, gw.log.read_text()[-3000:]
        health = gw.health()
        assert health is not None and health["status"] == "ok"
    finally:
        assert gw.stop() == 0
