"""Publishing to the MQTT broker with paho-mqtt 2.x (MQTT v5), driven by the simulator's own loop.

paho runs without its network thread: the simulator queues a tick's messages, then writes them
in one burst and reads PUBACKs between ticks, so one core spends its time on readings, not locks.
"""

from __future__ import annotations

import select
import socket
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware_sim.errors import TransportError

# Our own cap on unacknowledged QoS 1 messages, within the broker's Receive Maximum. paho's cap
# stays off (0): with it on, paho scans every in-flight message on each PUBACK.
MAX_INFLIGHT = 10_000


class MqttPublisher:
    """One MQTT v5 connection that publishes many devices' topics."""

    def __init__(self, host: str, port: int, client_id: str = "") -> None:
        self.host, self.port = host, port
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        # Registering a write hook stops paho from writing inside every publish() call.
        self.client.on_socket_register_write = _ignore
        self.client.on_socket_unregister_write = _ignore
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(0)
        self.max_inflight = MAX_INFLIGHT
        self.connected = False
        self.refused = ""
        self.published = 0
        self.failed = 0
        self.bytes = 0
        self._last_misc = 0.0

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        if rc.is_failure:
            self.refused = str(rc)
            return
        receive_max = getattr(props, "ReceiveMaximum", 65535) if props else 65535
        # paho 2.x ignores the broker's Receive Maximum; exceeding it gets us disconnected.
        self.max_inflight = min(MAX_INFLIGHT, receive_max)
        self.connected = True

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        self.connected = False

    def connect(self, timeout: float = 10.0) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        try:
            self.client.connect(self.host, self.port, keepalive=30, properties=props)
        except OSError as exc:
            raise TransportError(
                f"MQTT broker at {self.host}:{self.port} is unreachable: {exc}; is it running "
                "(`citygate stack up mosquitto`), or pass --host/--port",
                target=f"{self.host}:{self.port}",
            ) from exc
        deadline = time.monotonic() + timeout
        while not self.connected:
            if self.refused:
                raise TransportError(
                    f"MQTT broker at {self.host}:{self.port} refused the connection: {self.refused}",
                    target=f"{self.host}:{self.port}",
                )
            if time.monotonic() > deadline:
                raise TransportError(
                    f"no CONNACK from {self.host}:{self.port} within {timeout:.0f}s",
                    target=f"{self.host}:{self.port}",
                )
            self.service(0.05)

    def publish_many(self, messages: list[tuple[str, bytes, int]]) -> None:
        """Queue messages, then write them out; waits while the in-flight window is full."""
        while self.outstanding > self.max_inflight:
            self.service(0.005)
        publish = self.client.publish
        for topic, payload, qos in messages:
            info = publish(topic, payload, qos)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self.failed += 1
            self.bytes += len(payload)
        self.published += len(messages)
        self.service(0.0)

    @property
    def outstanding(self) -> int:
        """Messages not yet written (QoS 0) or not yet acknowledged (QoS 1).

        Read from paho's queues rather than counted in on_publish: paho builds a ReasonCode and a
        Properties object for every callback, which would triple the cost of a message.
        """
        client = self.client
        return len(client._out_messages) + len(client._out_packet)

    @property
    def completed(self) -> int:
        """Messages written (QoS 0) or acknowledged (QoS 1)."""
        return max(0, self.published - self.failed - self.outstanding)

    def service(self, timeout: float) -> None:
        """Write what is queued, read acknowledgements, keep the connection alive."""
        client = self.client
        sock = client.socket()
        if sock is None:
            raise TransportError(
                f"lost the connection to the MQTT broker at {self.host}:{self.port}",
                target=f"{self.host}:{self.port}",
            )
        deadline = time.monotonic() + timeout
        while True:
            wants_write = client.want_write()
            remaining = max(0.0, deadline - time.monotonic())
            try:
                readable, writable, _ = select.select(
                    [sock], [sock] if wants_write else [], [], remaining
                )
            except (OSError, ValueError) as exc:
                raise TransportError(f"MQTT socket failed: {exc}", target=self.host) from exc
            if readable:
                self._check(client.loop_read())
            if writable:
                self._check(client.loop_write())
            now = time.monotonic()
            if now - self._last_misc > 1.0:
                self._last_misc = now
                self._check(client.loop_misc())
            if now >= deadline and not client.want_write():
                return
            if now >= deadline and not writable and not readable:
                return

    def _check(self, rc: MQTTErrorCode) -> None:
        if rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            raise TransportError(
                f"MQTT connection to {self.host}:{self.port} failed: {mqtt.error_string(rc)}",
                target=f"{self.host}:{self.port}",
            )

    def drain(self, timeout: float) -> bool:
        """Wait until every message is written (QoS 0) or acknowledged (QoS 1)."""
        deadline = time.monotonic() + timeout
        while self.outstanding > 0 or self.client.want_write():
            if time.monotonic() > deadline:
                return False
            self.service(0.05)
        return True

    def close(self) -> None:
        try:
            self.client.disconnect()
            self.service(0.0)
        except TransportError:
            pass
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.close()


def _ignore(*args: object) -> None:
    """paho write-registration hook: the simulator's loop polls want_write() itself."""
