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

from gateway.mqtt_client import READ_SIZE, BufferedClient, BufferedSocket, Publish


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


def send_cut(client: BufferedClient, b: socket.socket, stream: bytes, cuts: list[int]) -> None:
    """Send `stream` in pieces of the lengths `cuts` (cycled), one client read after each."""
    pos, i = 0, 0
    while pos < len(stream):
        end = min(len(stream), pos + cuts[i % len(cuts)])
        b.sendall(stream[pos:end])
        pos, i = end, i + 1
        assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS


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
        send_cut(client, b, stream, cuts)
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


def publish_v5(topic: str, payload: bytes, mid: int, qos: int, dup: bool, props: bytes) -> bytes:
    """A QoS 0 or 1 MQTT v5 PUBLISH with the given (already encoded) properties."""
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name
    if qos:
        body += mid.to_bytes(2, "big")
    body += remaining_length(len(props)) + props + payload
    head = 0x30 | (qos << 1) | (0x08 if dup else 0)
    return bytes([head]) + remaining_length(len(body)) + body


PINGRESP = b"\xd0\x00"
# Payload format indicator, message expiry, a user property: what brokers forward.
PROPS = [b"", b"\x01\x01", b"\x02\x00\x00\x00\x3c", b"\x26\x00\x01k\x00\x02vv"]


def read_all(stream: bytes, cuts: list[int], bulk: bool) -> list[Publish]:
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        client = BufferedClient(
            CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True
        )
        got: list[Publish] = []
        client.on_message = lambda _c, _u, m: got.append(
            Publish(m.topic, bytes(m.payload), m.mid, m.qos, m.dup)
        )
        if bulk:
            client.on_publishes = got.extend
        client._sock = BufferedSocket(a)
        b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)  # a piece may be larger
        send_cut(client, b, stream, cuts)
        b.shutdown(socket.SHUT_WR)
        # The end of the stream is read once every packet before it is: not before.
        while (rc := client.loop_read()) == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS:
            pass
        assert rc == mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
        return got
    finally:
        a.close()
        b.close()


@settings(max_examples=40, deadline=None)
@given(
    packets=st.lists(
        st.tuples(
            st.integers(0, 300),  # payload size
            st.integers(1, 65535),  # packet id
            st.sampled_from([0, 1]),
            st.booleans(),
            st.sampled_from(range(len(PROPS))),
            st.booleans(),  # a PINGRESP after it
        ),
        min_size=1,
        max_size=60,
    ),
    cuts=st.lists(st.integers(1, 3000), min_size=1, max_size=20),
)
def test_the_bulk_parse_gives_what_pahos_own_reader_gives(
    packets: list[tuple[int, int, int, bool, int, bool]], cuts: list[int]
) -> None:
    # paho's reader is the reference: if its framing or MQTTMessage fields change, this fails.
    stream = b""
    for n, (size, mid, qos, dup, props, ping) in enumerate(packets):
        stream += publish_v5(
            f"city/d/aq/s{n}/telemetry", bytes([n % 251]) * size, mid, qos, dup, PROPS[props]
        )
        if ping:
            stream += PINGRESP
    want = read_all(stream, cuts, bulk=False)
    assert len(want) == len(packets)
    assert read_all(stream, cuts, bulk=True) == want


def test_one_read_of_publishes_is_one_call_and_no_message_objects(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    client = BufferedClient(
        CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True
    )
    calls: list[list[Publish]] = []
    client.on_publishes = calls.append
    client.on_message = lambda *_: pytest.fail("a whole PUBLISH took paho's slow path")
    client._sock = BufferedSocket(a)
    b.sendall(b"".join(publish_v5(f"t/{i}", b"x" * 40, i + 1, 1, False, b"") for i in range(300)))
    assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert [len(c) for c in calls] == [300]
    assert [p.mid for p in calls[0]] == list(range(1, 301))


def test_qos_2_and_a_cut_stream_end_go_through_paho(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    client, got = client_on(a)
    bulk: list[Publish] = []
    client.on_publishes = bulk.extend
    qos2 = publish_v5("t/2", b"two", 7, 1, False, b"")
    qos2 = bytes([0x34]) + qos2[1:]  # the same packet with QoS 2
    b.sendall(
        publish_v5("t/1", b"one", 1, 1, False, b"")
        + qos2
        + publish_v5("t/3", b"3", 3, 1, False, b"")[:4]
    )
    b.shutdown(socket.SHUT_WR)
    rc = client.loop_read()
    assert [p.topic for p in bulk] == ["t/1"]
    assert got == [] and 7 in client._in_messages  # paho holds the QoS 2 message until PUBREL
    assert rc == mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST  # the cut packet ends the stream


def test_without_room_the_socket_is_not_read(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    client, got = client_on(a)
    taken: list[Publish] = []
    client.on_publishes = taken.extend
    room = False
    client.wait_for_room = lambda _timeout: room
    b.sendall(publish_packet("t/1", b"x"))
    sock = client._sock
    assert isinstance(sock, BufferedSocket)
    assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert (sock.reads, taken) == (0, [])  # left in the kernel buffer, and TCP's window
    room = True
    client.loop_read()
    assert [p.topic for p in taken] == ["t/1"] and got == []
