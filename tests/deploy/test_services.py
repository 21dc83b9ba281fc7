"""Round trips through each real service of the local stack: the proof the foundation holds."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from deploy.connections import Connections

pytestmark = pytest.mark.integration


def _client(client_id: str) -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )


def test_mqtt_v5_qos1_round_trip(connections: Connections) -> None:
    topic = f"citygate/test/{uuid.uuid4().hex}"
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed = queue.Queue[int]()

    sub = _client(f"sub-{uuid.uuid4().hex[:8]}")
    sub.on_message = lambda c, u, msg: received.put(msg)
    sub.on_subscribe = lambda c, u, mid, rcs, props: subscribed.put(mid)
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    sub.connect(connections.mqtt.host, connections.mqtt.port)
    sub.loop_start()
    subscribed.get(timeout=10)

    pub = _client(f"pub-{uuid.uuid4().hex[:8]}")
    pub.connect(connections.mqtt.host, connections.mqtt.port)
    pub.loop_start()
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("probe", "citygate")]
    info = pub.publish(topic, b'{"seq":1}', qos=1, properties=props)
    info.wait_for_publish(timeout=10)
    try:
        assert info.is_published()  # PUBACK came back from the broker
        msg = received.get(timeout=10)
        assert msg.payload == b'{"seq":1}'
        assert msg.qos == 1
        assert ("probe", "citygate") in msg.properties.UserProperty
    finally:
        for c in (pub, sub):
            c.disconnect()
            c.loop_stop()


def test_kafka_idempotent_produce_and_group_consume(connections: Connections) -> None:
    async def scenario() -> list[tuple[bytes | None, bytes | None]]:
        # A topic of its own: the project's topics carry only records of their schema.
        topic = "citygate.selftest.v1"
        admin = AIOKafkaAdminClient(bootstrap_servers=connections.kafka.bootstrap)
        await admin.start()
        try:
            if topic not in await admin.list_topics():
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([NewTopic(topic, 3, 1)])
        finally:
            await admin.close()
        marker = uuid.uuid4().hex.encode()
        producer = AIOKafkaProducer(
            bootstrap_servers=connections.kafka.bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            sent = [
                await producer.send_and_wait(topic, key=b"sensor-1", value=marker + b":%d" % i)
                for i in range(5)
            ]
        finally:
            await producer.stop()
        partition = sent[0].partition
        assert all(meta.partition == partition for meta in sent)  # one key, one partition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=connections.kafka.bootstrap,
            group_id=f"test-{marker.decode()}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        consumer.subscribe([topic])
        await consumer.start()
        got: list[tuple[bytes | None, bytes | None]] = []
        try:
            deadline = time.monotonic() + 30
            while len(got) < 5 and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    got += [
                        (r.key, r.value) for r in records if r.value and r.value.startswith(marker)
                    ]
            await consumer.commit()
            committed = await consumer.committed(TopicPartition(topic, partition))
            assert committed is not None and committed >= sent[-1].offset + 1
        finally:
            await consumer.stop()
        return got

    got = asyncio.run(scenario())
    assert [v.split(b":")[1] for _, v in got if v] == [b"0", b"1", b"2", b"3", b"4"]
    assert {k for k, _ in got} == {b"sensor-1"}


def test_influxdb_write_and_flux_query(connections: Connections) -> None:
    run = uuid.uuid4().hex
    now = time.time_ns()
    with InfluxDBClient(
        url=connections.influx.url,
        token=connections.influx.token.get_secret_value(),
        org=connections.influx.org,
    ) as client:
        points = [
            Point("probe")
            .tag("run", run)
            .field("value", float(i))
            .time(now - i * 10**9, WritePrecision.NS)
            for i in range(3)
        ]
        client.write_api(write_options=SYNCHRONOUS).write(connections.influx.bucket, record=points)
        flux = (
            f'from(bucket: "{connections.influx.bucket}") |> range(start: -1h) '
            f'|> filter(fn: (r) => r._measurement == "probe" and r.run == "{run}") '
            f'|> sort(columns: ["_time"])'
        )
        tables = client.query_api().query(flux)
    values = [rec.get_value() for table in tables for rec in table.records]
    assert values == [2.0, 1.0, 0.0]
