"""paho's MQTT client over a buffered socket.

paho reads every packet with at least three recv() calls (one byte of packet type, the length a
byte at a time, then the body) and goes back to select() after each packet. Draining a backlog
of small QoS 1 readings, that is most of the gateway's CPU. Here the socket paho is given reads
up to 64 KiB at once and hands out its bytes from memory, and each pass of paho's loop parses
every whole packet that one read brought before it goes back to select() and writes the
PUBACKs that are due. Bytes left in the buffer are reported through `pending()`, the hook paho
already uses for TLS records it has decrypted but not yet read, so select() does not wait on
data that is already here. Measured in bench/results/gateway.md.

The PUBACKs of one committed group are queued as one packet, so they leave in one write and
wake paho's thread once, instead of a write and a wake-up each (`ack_many`).

It overrides two paho methods, `_create_socket` (private) and `loop_read` (public), and queues
through `_packet_queue` (private), read from paho-mqtt 2.2; pyproject.toml keeps paho on the 2.x
line, and tests/gateway/test_mqtt_client.py feeds the client real MQTT bytes cut at every kind
of boundary and compares `ack_many` with paho's own `ack`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK

READ_SIZE = 64 * 1024
_PUBACK = struct.Struct("!BBH")  # type, remaining length 2, packet id: reason 0 (success)


class BufferedSocket:
    """A connected socket (plain or TLS) with a read buffer; everything else passes through."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self.reads = 0  # socket reads so far

    def recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._buf):
            # Would-block, TLS and connection errors reach paho as from the socket itself.
            data = self._sock.recv(max(bufsize, READ_SIZE))
            self.reads += 1
            if not data:
                return data  # end of stream: paho reports the connection lost
            self._buf, self._pos = data, 0
        start = self._pos
        self._pos = min(start + bufsize, len(self._buf))
        return self._buf[start : self._pos]

    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def pending(self) -> int:
        """Bytes readable without waiting: ours, and a TLS socket's decrypted ones."""
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return self.buffered() + int(inner)

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class BufferedClient(mqtt.Client):
    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket())

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        sock = self._sock
        if not isinstance(sock, BufferedSocket):
            return super().loop_read(max_packets)
        reads = sock.reads
        rc = super().loop_read(max_packets)
        # Parse the rest of what the last read brought. Stop once a packet needed another read,
        # so PUBACKs and pings go out between reads however fast the broker sends.
        while (
            rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
            and sock.buffered()
            and sock.reads <= reads + 1
            and self._sock is not None  # not disconnected by what was parsed
        ):
            rc = super().loop_read(max_packets)
        return rc

    def ack_many(self, mids: Sequence[int]) -> mqtt.MQTTErrorCode:
        """PUBACK every QoS 1 message id of `mids`, in order, as one queued packet."""
        if not mids:
            return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        packet = b"".join([_PUBACK.pack(PUBACK, 2, mid) for mid in mids])
        return self._packet_queue(PUBACK, packet, mids[-1], 1)
