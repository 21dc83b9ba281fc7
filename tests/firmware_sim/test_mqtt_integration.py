"""Simulator -> real Mosquitto -> paho subscriber -> edge.mqtt_json.decode, for every device type."""

from __future__ import annotations

import uuid

import pytest

from deploy.connections import Connections
from edge import mqtt_json
from edge.reading import Reading
from firmware_sim import Simulator
from firmware_sim.mqtt_publisher import MqttPublisher

from .helpers import scenario
from .mqtt_counter import Collector

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("qos", [0, 1])
def test_every_device_type_decodes_after_mosquitto(connections: Connections, qos: int) -> None:
    district = f"t{uuid.uuid4().hex[:8]}"
    s = scenario(air=25, traffic=25, transport={"kind": "mqtt", "qos": qos})
    s = s.replace(districts=[s.districts[0].replace(name=district)])
    sim = Simulator(s)
    collector = Collector(connections, f"city/{district}/+/+/telemetry")
    publisher = MqttPublisher(connections.mqtt.host, connections.mqtt.port, f"sim-{district}")
    publisher.connect()
    sent: list[tuple[str, bytes]] = []
    try:
        for k in range(30):
            batch = sim.step(k)
            sent.extend((t, p) for t, p, _ in batch.mqtt)
            publisher.publish_many(batch.mqtt)
        assert publisher.drain(10)
        assert publisher.completed == len(sent) == 150
        got = collector.wait_for(len(sent))
    finally:
        publisher.close()
        collector.close()
    assert sorted(got) == sorted(sent)
    readings = [mqtt_json.decode(t, p, 1) for t, p in got]
    assert all(isinstance(r, Reading) and r.quality == () for r in readings)
    types = {r.sensor_type for r in readings if isinstance(r, Reading)}
    assert types == {"air_quality", "traffic_signal"}
    assert {r.location.district for r in readings if isinstance(r, Reading) and r.location} == {
        district
    }
