"""paho's MQTT client over a buffered socket, with PUBLISH packets parsed in bulk.

paho reads every packet with at least three recv() calls (one byte of packet type, the length a
byte at a time, then the body), builds an MQTTMessage and a Properties object per message and
goes back to select() after each packet. Draining a backlog of small QoS 1 readings, that is most
of the gateway's CPU. Here the socket paho is given reads up to 64 KiB at once and hands out its
bytes from memory, and every whole QoS 0 or 1 PUBLISH a read brought is parsed in one loop and
handed to `on_publishes` as a list; every other packet (CONNACK, SUBACK, PINGRESP, QoS 2, a
PUBLISH cut by the end of a read) goes through paho's own reader. paho keeps the connection,
TLS, keepalive, subscriptions, session and reconnect. Bytes left in the buffer are reported
through `pending()`, the hook paho already uses for TLS records it has decrypted but not yet
read, so select() does not wait on data that is already here. Measured in
bench/results/gateway.md and bench/results/kafka_outage.json.

The PUBACKs of one committed group are queued as one packet, so they leave in one write and
wake paho's thread once, instead of a write and a wake-up each (`ack_many`).

It overrides two paho methods, `_create_socket` (private) and `loop_read` (public), and reads
and writes `_in_packet`, `_protocol`, `_last_bytes_received` and `_packet_queue` (private),
read from paho-mqtt 2.2; pyproject.toml pins paho to that minor version, and
tests/gateway/test_mqtt_client.py feeds the client real MQTT bytes cut at every kind of boundary,
compares the bulk parse with paho's own messages and `ack_many` with paho's own `ack`.
"""

from __future__ import annotations

import ssl
import struct
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK, PUBLISH
from paho.mqtt.enums import MQTTProtocolVersion

READ_SIZE = 64 * 1024
ROOM_WAIT_S = 0.1  # how long paho's thread waits for room before its other work
_PUBACK = struct.Struct("!BBH")  # type, remaining length 2, packet id: reason 0 (success)


class Publish(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One PUBLISH packet as the broker sent it (QoS 0 or 1)."""

    topic: str
    payload: bytes
    mid: int  # 0 for QoS 0
    qos: int
    dup: bool


class BufferedSocket:
    """A connected socket (plain or TLS) with a read buffer; everything else passes through."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self.reads = 0  # socket reads so far
        self._ended: OSError | None = None  # what `fill` met, for paho's next recv to report
        self._eof = False

    def fill(self) -> None:
        """Read what the socket holds if the buffer is empty; never waits. An end of stream or
        an error is kept for paho's next recv(), so paho reports it as from the socket."""
        if self._pos < len(self._buf) or self._eof or self._ended is not None:
            return
        try:
            data = self._sock.recv(READ_SIZE)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError as exc:
            self._ended = exc
            return
        self.reads += 1
        if not data:
            self._eof = True
        self._buf, self._pos = data, 0

    def ended(self) -> bool:
        return self._eof or self._ended is not None

    def recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._buf):
            if self._ended is not None:
                exc, self._ended = self._ended, None
                raise exc
            if self._eof:
                return b""
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
    # Called on paho's thread with the QoS 0/1 PUBLISH packets of one read, in arrival order;
    # unset, every PUBLISH goes to paho's on_message as usual.
    on_publishes: Callable[[list[Publish]], None] | None = None
    # Called on paho's thread before each bulk read with a timeout: False while whoever takes
    # the publishes has no room for more, and the socket is then left unread (TCP holds the
    # rest in the broker). paho's loop goes on meanwhile: PUBACKs, pings, reconnects.
    wait_for_room: Callable[[float], bool] | None = None

    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket())

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        sock = self._sock
        if not isinstance(sock, BufferedSocket):
            return super().loop_read(max_packets)
        if self.on_publishes is not None:
            return self._loop_read_bulk(sock, max_packets)
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

    def _loop_read_bulk(self, sock: BufferedSocket, max_packets: int) -> mqtt.MQTTErrorCode:
        if self.wait_for_room is not None and not self.wait_for_room(ROOM_WAIT_S):
            return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        reads = sock.reads
        sock.fill()
        rc = mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is sock:
            if self._in_packet["command"] == 0:  # paho is not in the middle of a packet
                self._take_publishes(sock)
            if not sock.buffered() and not sock.ended():
                break  # all parsed; select() says when more comes
            if sock.reads > reads + 1:
                break  # PUBACKs and pings go out between reads however fast the broker sends
            # Another kind of packet, one cut by the end of the read, or the end of the stream.
            rc = super().loop_read(max_packets)
        return rc

    def _take_publishes(self, sock: BufferedSocket) -> None:
        """Parse every whole QoS 0/1 PUBLISH at the head of the buffer and hand them on."""
        buf, pos, end = sock._buf, sock._pos, len(sock._buf)
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        out: list[Publish] = []
        while pos + 2 <= end:
            head = buf[pos]
            qos = (head >> 1) & 3
            if head >> 4 != PUBLISH >> 4 or qos > 1:
                break  # paho's reader takes it
            length = buf[pos + 1]
            if length < 0x80:  # the remaining length in one byte, or in two, or longer
                i = pos + 2
            elif pos + 2 < end and buf[pos + 2] < 0x80:
                length, i = (length & 0x7F) | buf[pos + 2] << 7, pos + 3
            else:
                header = _varint(buf, pos + 1, end)
                if header is None:
                    break  # the length is cut, or too long: paho reads or refuses it
                length, i = header
            stop = i + length
            if stop > end:
                break
            j = i + 2 + (buf[i] << 8 | buf[i + 1])
            topic = buf[i + 2 : j]
            mid = 0
            if qos:
                mid = buf[j] << 8 | buf[j + 1]
                j += 2
            if v5:  # properties: skipped (no topic aliases: CONNECT allows the broker none)
                if j < stop and buf[j] == 0:  # none, the common case
                    j += 1
                else:
                    props = _varint(buf, j, stop)
                    if props is None:
                        break  # malformed: paho's reader refuses it and closes the connection
                    j = props[1] + props[0]
            if j > stop:
                break  # malformed: paho's reader refuses it and closes the connection
            out.append(
                Publish(topic.decode("utf-8", "replace"), buf[j:stop], mid, qos, bool(head & 0x08))
            )
            pos = stop
        if not out:
            return
        sock._pos = pos
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        assert self.on_publishes is not None
        self.on_publishes(out)


def _varint(buf: bytes, i: int, end: int) -> tuple[int, int] | None:
    """MQTT's variable byte integer at buf[i]: (value, index after it), or None when it is cut by
    `end` or longer than the four bytes MQTT allows."""
    value, shift = 0, 0
    for k in range(i, min(end, i + 4)):
        byte = buf[k]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, k + 1
        shift += 7
    return None
