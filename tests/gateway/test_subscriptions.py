"""What the gateway subscribes to, against the real Mosquitto and Kafka (issue 10, defect 3):
exactly mqtt.topics on every connect, also when the broker kept the session; the filters of an
older config are dropped; a filter the broker does not grant as asked makes /healthz degraded."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from deploy.connections import Connections
from edge import reading as reading_codec
from edge.topics import reading_topic
from gateway.state import FILENAME
from tests.gateway.harness import (
    GatewayProcess,
    KafkaCollector,
    Publisher,
    air_readings,
    free_port,
    wait_for_log,
)

pytestmark = pytest.mark.integration
AIR = reading_topic("air_quality")


def district() -> str:
    return f"s{uuid.uuid4().hex[:10]}"


def sent_to(collector: KafkaCollector, district_name: str, n: int) -> set[tuple[str, int]]:
    """(sensor, seq) of the readings of one district that reached Kafka, once `n` are there."""
    prefix = f"{district_name}-".encode()

    def keys(records: list[Any]) -> set[tuple[str, int]]:
        return {(r.key.decode(), reading_codec.decode(r.value).seq) for r in records}

    records = collector.collect(
        lambda out: len(keys(out)) >= n, 90, lambda r: bool(r.key and r.key.startswith(prefix))
    )
    return keys(records)


def publish(
    connections: Connections, district_name: str, start_seq: int = 1
) -> set[tuple[str, int]]:
    pub = Publisher(connections)
    try:
        readings = air_readings(district_name, sensors=3, per_sensor=10, start_seq=start_seq)
        pub.wait_acked(pub.readings(readings))
    finally:
        pub.close()
    return {(r.sensor_id, r.seq) for r in readings}


def test_changed_topics_take_effect_with_the_session_kept(
    tmp_path: Path, connections: Connections
) -> None:
    old, new = district(), district()
    first = GatewayProcess(tmp_path, connections, old).start()
    assert first.stop() == 0  # the broker keeps the session: same client id, expiry 600 s
    moved = GatewayProcess(tmp_path, connections, new, {"gateway_id": first.gateway_id})
    mark = moved.log.stat().st_size
    collector = KafkaCollector(connections, [AIR])
    moved.start()
    try:
        assert "session_present=True" in wait_for_log(moved, "mqtt_connected", start=mark)
        expected = publish(connections, new)
        assert sent_to(collector, new, len(expected)) == expected
        wait_for_log(moved, "mqtt_unsubscribed", start=mark)
        publish(connections, old)  # no longer configured: the broker keeps it from the gateway
        expected |= publish(connections, new, start_seq=11)
        assert sent_to(collector, new, len(expected)) == expected
        health = moved.wait_drained()
        assert health["messages_in"] == len(expected)  # nothing of the old district
        assert health["mqtt_subscribed"] is True
        state = (tmp_path / "journal" / FILENAME).read_text()
        assert f"city/{new}/+/+/telemetry" in state and old not in state
    finally:
        assert moved.stop() == 0


def test_a_session_left_without_subscriptions_is_subscribed(
    tmp_path: Path, connections: Connections
) -> None:
    """As if the gateway died between CONNACK and SUBACK on its first start."""
    d = district()
    gw = GatewayProcess(tmp_path, connections, d)
    half = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"citygate-{gw.gateway_id}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 600
    half.connect(connections.mqtt.host, connections.mqtt.port, clean_start=False, properties=props)
    half.loop_start()
    deadline = time.monotonic() + 30
    while not half.is_connected():
        assert time.monotonic() < deadline, "no CONNACK from the broker"
        time.sleep(0.05)
    half.disconnect()
    half.loop_stop()
    collector = KafkaCollector(connections, [AIR])
    gw.start()
    try:
        assert "session_present=True" in wait_for_log(gw, "mqtt_connected")
        expected = publish(connections, d)
        assert sent_to(collector, d, len(expected)) == expected
    finally:
        assert gw.stop() == 0


@pytest.fixture
def qos0_broker(tmp_path: Path) -> Iterator[int]:
    """A Mosquitto of this test's own that grants every subscription QoS 0 at most."""
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_qos 0\n")
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_filter_granted_below_mqtt_qos_makes_the_gateway_degraded(
    tmp_path: Path, connections: Connections, qos0_broker: int
) -> None:
    d = district()
    gw = GatewayProcess(tmp_path, connections, d, {"mqtt.port": qos0_broker})  # mqtt.qos 1
    gw.start(wait_healthy=False)
    try:
        assert f"city/{d}/+/+/telemetry" in wait_for_log(gw, "mqtt_subscription_failed")
        deadline = time.monotonic() + 60
        while (health := gw.health()) is None or not health["kafka_connected"]:
            assert time.monotonic() < deadline, health
            time.sleep(0.2)
        assert health["status"] == "degraded" and health["mqtt_connected"] is True
        assert list(health["mqtt_subscription_problems"]) == [f"city/{d}/+/+/telemetry"]
    finally:
        assert gw.stop() == 0


def test_mqtt_qos_0_asks_for_what_such_a_broker_grants(
    tmp_path: Path, connections: Connections, qos0_broker: int
) -> None:
    d = district()
    gw = GatewayProcess(tmp_path, connections, d, {"mqtt.port": qos0_broker, "mqtt.qos": 0})
    gw.start()  # healthy: subscribed as configured
    try:
        health = gw.health()
        assert health is not None and health["mqtt_subscription_problems"] == {}
    finally:
        assert gw.stop() == 0
