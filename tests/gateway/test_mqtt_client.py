"""The buffered paho client, fed real MQTT v5 bytes through a socket pair (no broker): every
packet arrives whole and in order however the stream is cut, and end of stream is a lost
connection, as with paho's own reads."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.mqtt_client import READ_SIZE, BufferedClient, BufferedSocket


def remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(topic: str, payload: bytes) -> bytes:
    """A QoS 0 MQTT v5 PUBLISH: topic, empty properties, payload."""
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + b"\x00" + payload
    return b"\x30" + remaining_length(len(body)) + body


def client_on(sock: socket.socket) -> tuple[BufferedClient, list[tuple[str, bytes]]]:
    client = BufferedClient(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    got: list[tuple[str, bytes]] = []
    client.on_message = lambda _c, _u, msg: got.append((msg.topic, bytes(msg.payload)))
    client._sock = BufferedSocket(sock)  # as connect() leaves it, over a non-blocking socket
    return client, got


def pending(client: BufferedClient) -> int:
    sock = client._sock
    assert isinstance(sock, BufferedSocket)
    return sock.pending()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    yield a, b
    a.close()
    b.close()


def messages(n: int) -> list[tuple[str, bytes]]:
    # Sizes across the one- and two-byte remaining-length boundary, and one larger than a read.
    sizes = [0, 1, 100, 125, 126, 127, 128, 300, 16_383, 70_000]
    return [
        (f"city/d{i % 3}/aq/s{i}/telemetry", bytes([i % 251]) * sizes[i % len(sizes)])
        for i in range(n)
    ]


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=20_000), min_size=1, max_size=40))
def test_every_packet_arrives_whole_however_the_stream_is_cut(cuts: list[int]) -> None:
    sent = messages(25)
    stream = b"".join(publish_packet(t, p) for t, p in sent)
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        client, got = client_on(a)
        pos, i = 0, 0
        while pos < len(stream):
            end = min(len(stream), pos + cuts[i % len(cuts)])
            b.sendall(stream[pos:end])
            pos, i = end, i + 1
            assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        while len(got) < len(sent):
            assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        assert got == sent
        assert pending(client) == 0
    finally:
        a.close()
        b.close()


def test_one_read_parses_every_packet_it_holds(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    client, got = client_on(a)
    sent = [(f"t/{i}", b"x" * 50) for i in range(200)]
    b.sendall(b"".join(publish_packet(t, p) for t, p in sent))
    # paho's own loop_read takes one packet per call; this one empties its buffer before
    # returning, since select() cannot see bytes that are already in memory.
    client.loop_read()
    assert got == sent


def test_end_of_stream_is_a_lost_connection(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    client, got = client_on(a)
    b.sendall(publish_packet("t/1", b"one") + publish_packet("t/2", b"two")[:5])
    b.shutdown(socket.SHUT_WR)
    rc = client.loop_read()
    assert got == [("t/1", b"one")]
    assert rc == mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST


def test_a_pass_stops_after_one_more_read_and_leaves_the_rest_pending(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    client, got = client_on(a)
    sent = [(f"t/{i}", b"y" * 1000) for i in range(3 * READ_SIZE // 1000)]
    stream = b"".join(publish_packet(t, p) for t, p in sent)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * len(stream))
    b.sendall(stream)  # all of it waiting in the socket, as when a broker sends a backlog
    client.loop_read()
    # Not everything in one pass: paho's loop must get to write PUBACKs and pings between reads.
    assert 0 < len(got) < len(sent)
    # What the pass left in memory is reported as pending, so select() does not wait for it.
    assert pending(client) > 0
    while len(got) < len(sent):
        client.loop_read()
    assert got == sent


def _acks_sent(mids: list[int], together: bool) -> tuple[bytes, int]:
    """The bytes a manual-ack client writes for `mids`, and how many packets it queued."""
    a, b = socket.socketpair()
    try:
        client = BufferedClient(
            CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True
        )
        client._sock = BufferedSocket(a)
        queued = 0
        real_queue = client._packet_queue

        def counting_queue(*args: object, **kwargs: object) -> mqtt.MQTTErrorCode:
            nonlocal queued
            queued += 1
            return real_queue(*args, **kwargs)  # type: ignore[arg-type]

        client._packet_queue = counting_queue  # type: ignore[method-assign]
        if together:
            assert client.ack_many(mids) == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        else:
            for mid in mids:
                assert client.ack(mid, 1) == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        b.setblocking(False)
        try:
            return b.recv(1 << 20), queued
        except BlockingIOError:
            return b"", queued
    finally:
        a.close()
        b.close()


@given(st.lists(st.integers(1, 65535), min_size=1, max_size=300))
@settings(max_examples=50, deadline=None)
def test_ack_many_writes_what_pahos_ack_writes_in_one_packet(mids: list[int]) -> None:
    # paho's own ack() is the reference: if its PUBACK encoding or _packet_queue changes, this
    # fails before a broker sees a wrong acknowledgement.
    one_by_one, _ = _acks_sent(mids, together=False)
    together, queued = _acks_sent(mids, together=True)
    assert together == one_by_one
    assert len(together) == 4 * len(mids)
    assert queued == 1


def test_ack_many_of_nothing_writes_nothing() -> None:
    assert _acks_sent([], together=True) == (b"", 0)
