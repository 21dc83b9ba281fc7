"""MQTT v5 source: persistent session, manual QoS 1 acks sent only after the journal's fsync.

paho's network thread appends messages to a deque and wakes the event loop once per burst;
the loop takes everything queued as one batch, so a slow fsync makes the next batch larger.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.config import MQTTSource
from gateway.metrics import GatewayMetrics
from gateway.mqtt_client import BufferedClient
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
        client = BufferedClient(
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
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # paho network thread -------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self._connect_failed(refusal_message(rc, self.cfg))
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

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        # paho calls this inside its `except OSError:` and passes no error: take it from there.
        self._connect_failed(connect_error_message(sys.exc_info()[1], self.cfg))

    def _connect_failed(self, error: str) -> None:
        # paho retries with backoff (the broker or its certificate may be fixed meanwhile);
        # every failed attempt says why, so an operator is never left with a silent loop.
        log.error(
            "mqtt_connect_failed",
            host=self.cfg.host,
            port=self.cfg.port,
            tls=self.cfg.tls is not None,
            error=error,
            retry_max_s=self.cfg.reconnect_max_s,
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        was_connected = self.connected.is_set()
        self.metrics.mqtt_connected.set(0)
        self.connected.clear()
        if was_connected:  # after a refused CONNECT, _connect_failed already said why
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
                # At most max_batch at once: a backlog that arrives faster than the journal
                # writes it would otherwise be decoded and framed all at once, in memory.
                n = min(len(self._queue), self.cfg.max_batch)
                batch = [self._queue.popleft() for _ in range(n)]
                more = bool(self._queue)
                self._wake_pending = more
            if more:
                self._wake.set()  # the rest is the next batch
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


# MQTT v5 "Bad user name or password" and "Not authorized" (mosquitto answers a wrong password
# with the latter).
_AUTH_REFUSALS = (134, 135)


def refusal_message(rc: ReasonCode, cfg: MQTTSource) -> str:
    """Why the broker refused the CONNECT, and what to check; never the password."""
    if rc.value in _AUTH_REFUSALS:
        who = f"user {cfg.username!r}" if cfg.username else "an anonymous client"
        return (
            f"the broker refused {who}: {rc} (check mqtt.username and the password that "
            "mqtt.password_env or mqtt.password_file gives)"
        )
    return f"the broker refused the connection: {rc}"


def connect_error_message(exc: BaseException | None, cfg: MQTTSource) -> str:
    """A failed TCP connect or TLS handshake, in an operator's words."""
    where = f"{cfg.host}:{cfg.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        ca = cfg.tls.ca_file if cfg.tls and cfg.tls.ca_file else "the system's CA store"
        return (
            f"TLS: the certificate of {where} is not trusted: {exc.verify_message} "
            f"(verified against {ca}; mqtt.tls.ca_file must be the CA that signed the "
            "broker's certificate, and the certificate must name the host)"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed: {exc.reason or exc} (does this port speak TLS?)"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused: nothing listens on {where}"
    if isinstance(exc, OSError):
        return f"cannot connect to {where}: {exc.strerror or exc}"
    return f"cannot connect to {where}"
