"""The naive MQTT-to-Kafka bridge the gateway is benchmarked against (bench/gateway_bench.py).

A paho on_message callback hands every message to aiokafka's `send` through
`run_coroutine_threadsafe`; paho acknowledges automatically when the callback returns, and no
journal sits in between. It does the same decode and routing as the gateway (gateway.routing) so
the comparison is about the pipeline, not the codec. Progress goes to a small JSON status file.

    .venv/bin/python bench/naive_bridge.py --client-id ID --topic T --status FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaProducer
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from deploy.connections import load as load_connections
from gateway.journal import JournalRecord
from gateway.metrics import GatewayMetrics
from gateway.routing import Router
from gateway.sources import Inbound


class NaiveBridge:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.router = Router(args.gateway_id, GatewayMetrics())
        self.received = 0
        self.acked = 0
        self.errors = 0
        self.connected = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.producer: AIOKafkaProducer | None = None

    def on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if not rc.is_failure:
            client.subscribe(self.args.topic, qos=1)
            self.connected.set()

    def on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.received += 1
        item = Inbound("mqtt", msg.topic, bytes(msg.payload), time.time_ns())
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(self.forward(self.router.route([item])[0]), self.loop)

    async def forward(self, rec: JournalRecord) -> None:
        assert self.producer is not None
        try:
            delivery = await self.producer.send(
                rec.topic, rec.value, key=rec.key, headers=list(rec.headers)
            )
            await delivery
            self.acked += 1
        except Exception:  # a naive bridge just counts what it lost
            self.errors += 1

    def write_status(self) -> None:
        status = {
            "connected": self.connected.is_set(),
            "received": self.received,
            "acked": self.acked,
            "errors": self.errors,
        }
        tmp = self.args.status.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        os.replace(tmp, self.args.status)

    async def run(self) -> None:
        conn = load_connections()
        self.loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, stop.set)
        # The same producer settings as the gateway's sink, so only the pipeline differs.
        self.producer = AIOKafkaProducer(
            bootstrap_servers=conn.kafka.bootstrap,
            acks="all",
            compression_type="lz4",
            linger_ms=5,
            client_id="citygate-naive-bridge",
        )
        await self.producer.start()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.args.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.on_connect = self.on_connect
        client.on_message = self.on_message
        props = Properties(PacketTypes.CONNECT)
        # A persistent session only so the broker can queue a backlog for the drain benchmark.
        props.SessionExpiryInterval = 600
        client.connect(conn.mqtt.host, conn.mqtt.port, clean_start=False, properties=props)
        client.loop_start()
        try:
            while not stop.is_set():
                self.write_status()
                await asyncio.sleep(0.1)
        finally:
            client.disconnect()
            client.loop_stop()
            await self.producer.stop()
            self.write_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--gateway-id", default="naive-bridge")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--status", type=Path, required=True)
    asyncio.run(NaiveBridge(parser.parse_args()).run())


if __name__ == "__main__":
    main()
