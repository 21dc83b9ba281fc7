"""MQTT v5 source: persistent session, manual QoS 1 acks sent only after the journal's fsync.

paho's network thread appends messages to a deque and wakes the event loop once per burst;
the loop takes everything queued as one batch, so a slow fsync makes the next batch larger.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.config import MQTTSource
from gateway.metrics import GatewayMetrics
from gateway.sources import Deliver, Inbound

log = structlog.get_logger("gateway.mqtt")


class MQTTSourceRunner:
    name = "mqtt"

    def __init__(self, cfg: MQTTSource, metrics: GatewayMetrics) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self._queue: collections.deque[tuple[Inbound, int, int]] = collections.deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self.connected = threading.Event()
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        cfg = self.cfg
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        client.max_inflight_messages_set(cfg.receive_maximum)
        client.reconnect_delay_set(max(1, int(cfg.reconnect_min_s)), int(cfg.reconnect_max_s))
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password())
        if cfg.tls is not None:
            client.tls_set(
                ca_certs=str(cfg.tls.ca_file) if cfg.tls.ca_file else None,
                certfile=str(cfg.tls.cert_file) if cfg.tls.cert_file else None,
                keyfile=str(cfg.tls.key_file) if cfg.tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            client.tls_insecure_set(cfg.tls.insecure)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # paho network thread -------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.warning("mqtt_connect_refused", reason=str(rc), host=self.cfg.host)
            return
        self.metrics.mqtt_connected.set(1)
        self.connected.set()
        log.info(
            "mqtt_connected",
            host=self.cfg.host,
            port=self.cfg.port,
            client_id=self.cfg.client_id,
            session_present=flags.session_present,
        )
        if not flags.session_present:
            # A new session (first start, or the broker lost it): subscribe again.
            client.subscribe([(t, int(self.cfg.qos)) for t in self.cfg.topics])

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.metrics.mqtt_connected.set(0)
        self.connected.clear()
        log.warning("mqtt_disconnected", reason=str(rc))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        item = Inbound("mqtt", msg.topic, bytes(msg.payload), time.time_ns())
        if msg.dup:
            self.metrics.redelivered.inc()
        with self._lock:
            self._queue.append((item, msg.mid, msg.qos))
            if self._wake_pending:
                return
            self._wake_pending = True
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._wake.set)

    # event loop ----------------------------------------------------------------------------

    async def run(self, deliver: Deliver) -> None:
        self._loop = asyncio.get_running_loop()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.cfg.session_expiry_s
        props.ReceiveMaximum = self.cfg.receive_maximum
        self.client.connect_async(
            self.cfg.host,
            self.cfg.port,
            keepalive=self.cfg.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch = list(self._queue)
                self._queue.clear()
                self._wake_pending = False
            if not batch:
                continue
            self.metrics.messages_in.labels("mqtt").inc(len(batch))
            await deliver([item for item, _, _ in batch])
            # Durable now: acknowledge in arrival order.
            for _, mid, qos in batch:
                if qos:
                    self.client.ack(mid, qos)

    async def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
