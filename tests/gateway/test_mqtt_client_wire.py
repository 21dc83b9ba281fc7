"""The bulk parser against PUBLISH bytes that real encoders wrote: paho's own (no broker) and
Mosquitto's (a recording subscriber on the real stack). However the recorded stream is cut, the
bulk parse equals what paho's own reader makes of the same bytes, and both equal what was sent.
Also: the paho internals gateway/mqtt_client.py overrides are still there, as read."""

from __future__ import annotations

import inspect
import itertools
import time
import uuid
from collections.abc import Iterator
from functools import cache
from importlib.metadata import requires
from typing import Any, NamedTuple

import paho.mqtt
import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from deploy.connections import Connections
from gateway.mqtt_client import READ_SIZE, BufferedClient, BufferedSocket, Publish
from tests.gateway.test_mqtt_client import read_all


class Sent(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    dup: bool = False
    props: bool = False  # with every v5 property a publisher may set


def properties(n: int) -> Properties:
    """The same size whatever `n` (below 10,000), so lengths can be aimed at."""
    props = Properties(PacketTypes.PUBLISH)
    props.PayloadFormatIndicator = 1
    props.MessageExpiryInterval = 3600
    props.ContentType = "application/json"
    props.ResponseTopic = f"reply/{n:04}"
    props.CorrelationData = n.to_bytes(4, "big")
    props.UserProperty = [("site", "d7"), ("seq", f"{n:04}"), ("", "é")]
    return props


class MemorySocket:
    """A non-blocking socket in memory: it keeps what is written and holds `stream` to read."""

    def __init__(self, stream: bytes = b"") -> None:
        self.stream, self.pos = stream, 0
        self.written = bytearray()

    def recv(self, buffer_size: int) -> bytes:
        if self.pos >= len(self.stream):
            raise BlockingIOError
        start, self.pos = self.pos, min(len(self.stream), self.pos + buffer_size)
        return self.stream[start : self.pos]

    def send(self, buffer: bytes | bytearray) -> int:
        self.written += buffer
        return len(buffer)

    def close(self) -> None:
        pass

    def fileno(self) -> int:
        return -1

    def setblocking(self, flag: bool) -> None:
        pass


def paho_encoded(sent: list[Sent]) -> bytes:
    """The bytes paho's client writes to publish `sent`, in order."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.max_inflight_messages_set(0)  # every QoS 1 message goes out now, none is queued
    out = MemorySocket()
    client._sock = out
    for n, s in enumerate(sent):
        props = properties(n) if s.props else None
        if s.dup:  # publish() never sets it; paho's resend path calls the same encoder with it
            rc = client._send_publish(n + 1, s.topic.encode(), s.payload, s.qos, s.retain, True)
        else:
            rc = client.publish(s.topic, s.payload, s.qos, s.retain, props).rc
        assert rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    client._sock = None
    return bytes(out.written)


def remaining_length_bytes(packet: bytes) -> int:
    return next(i for i in range(1, 5) if not packet[i] & 0x80)


def packets(stream: bytes | bytearray) -> Iterator[tuple[int, int, int]]:
    """(start, length, remaining length) of every MQTT packet of `stream`."""
    pos = 0
    while pos < len(stream):
        header = remaining_length_bytes(stream[pos : pos + 5])
        remaining = sum(
            (b & 0x7F) << 7 * k for k, b in enumerate(stream[pos + 1 : pos + 1 + header])
        )
        yield pos, 1 + header + remaining, remaining
        pos += 1 + header + remaining


def with_remaining_length(s: Sent, target: int, grow_topic: bool) -> Sent:
    """`s` with its topic or payload grown so that paho's PUBLISH has that remaining length."""
    packet = paho_encoded([s])
    overhead = len(packet) - 1 - remaining_length_bytes(packet)
    pad = target - overhead
    assert pad >= 0, f"{s.topic}: {overhead} bytes before any padding"
    if grow_topic:
        return s._replace(topic=s.topic + "t" * pad)
    return s._replace(payload=s.payload + bytes([pad % 251]) * pad)


# Either side of each change in the length's size (1 to 4 bytes), and one larger than a read.
BOUNDARIES = [127, 128, 16_383, 16_384, READ_SIZE + 1_000, 2_097_151, 2_097_152]


def boundary_set(prefix: str, sizes: list[int], props: bool) -> list[Sent]:
    """QoS 0 and 1, retained or not, with or without properties, topics and payloads whose
    packets have each remaining length of `sizes`."""
    out: list[Sent] = []
    for n, target in enumerate(sizes):
        base = Sent(
            f"{prefix}/b{n}/", b"", qos=n % 2, retain=n % 3 == 0, props=props and n % 2 == 0
        )
        out.append(with_remaining_length(base, target, grow_topic=False))
        if target < 65_000:  # a topic is at most 65,535 bytes
            out.append(with_remaining_length(base._replace(qos=1 - base.qos), target, True))
    return out


def paho_reads(stream: bytes) -> list[tuple[Publish, bool, Properties | None]]:
    """What paho's own client (no bulk parse, no buffered socket) reads from `stream`."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True
    )
    got: list[tuple[Publish, bool, Properties | None]] = []
    client.on_message = lambda _c, _u, m: got.append(
        (Publish(m.topic, bytes(m.payload), m.mid, m.qos, m.dup), m.retain, m.properties)
    )
    replay = MemorySocket(stream)
    client._sock = replay
    while replay.pos < len(stream):
        assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert client._in_packet["command"] == 0  # no packet left half read
    client._sock = None
    return got


def assert_paho_read(stream: bytes, sent: list[Sent]) -> list[Publish]:
    """paho's reading of `stream`, checked against `sent` (broker-assigned ids aside)."""
    read = paho_reads(stream)
    assert [(p.topic, p.payload, p.qos, p.dup, retain) for p, retain, _ in read] == [
        (s.topic, s.payload, s.qos, s.dup, s.retain) for s in sent
    ]
    for (_, _, props), s in zip(read, sent, strict=True):
        assert hasattr(props, "UserProperty") == s.props
    return [p for p, _, _ in read]


SMALL = [
    Sent("a", b"", qos=0),
    Sent("city/d1/aq/s1/telemetry", b'{"pm25": 4}', qos=1, props=True),
    Sent("city/d1/aq/s2/telemetry", b"\x00\xff", qos=1, retain=True, dup=True),
    Sent("c", b"x" * 10, qos=0, retain=True, props=True),
    Sent("d/e", b"y", qos=1, dup=True),
]


def test_pahos_packets_cut_at_every_byte_parse_as_paho_reads_them() -> None:
    sent = SMALL + boundary_set("city/small", [127, 128], props=True)
    stream = paho_encoded(sent)
    assert {127, 128} <= {remaining for _, _, remaining in packets(stream)}
    want = assert_paho_read(stream, sent)
    assert read_all(stream, [len(stream)], bulk=True) == want
    for cut in range(1, len(stream)):
        assert read_all(stream, [cut, len(stream)], bulk=True) == want, f"cut at byte {cut}"


@cache
def large(sizes: tuple[int, ...]) -> tuple[bytes, list[Publish]]:
    sent = SMALL + boundary_set("city/large", list(sizes), props=True) + SMALL
    stream = paho_encoded(sent)
    assert set(sizes) <= {remaining for _, _, remaining in packets(stream)}
    return stream, assert_paho_read(stream, sent)


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(1, 20_000), min_size=1, max_size=30))
def test_pahos_packets_across_every_length_boundary_parse_as_paho_reads_them(
    cuts: list[int],
) -> None:
    stream, want = large(tuple(BOUNDARIES[:5]))
    assert read_all(stream, cuts, bulk=True) == want


@pytest.mark.parametrize("cuts", [[READ_SIZE], [5, 200_000], [3, READ_SIZE + 7, 150_000]])
def test_pahos_packets_with_a_four_byte_length_parse_as_paho_reads_them(cuts: list[int]) -> None:
    # Fixed cuts: paho's reader grows a large packet's bytes piece by piece, slow in small ones.
    stream, want = large(tuple(BOUNDARIES[5:]))
    assert read_all(stream, cuts, bulk=True) == want


class Tee:
    """A socket whose received bytes are also kept."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.received = bytearray()

    def recv(self, bufsize: int) -> bytes:
        data: bytes = self._sock.recv(bufsize)
        self.received += data
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class RecordingClient(BufferedClient):
    """A bulk-parsing subscriber that keeps every byte the broker sent it."""

    tee: Tee | None = None

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        assert isinstance(sock, BufferedSocket)
        self.tee = sock._sock = Tee(sock._sock)
        return sock


def cuts_at(points: list[int], size: int) -> list[int]:
    """The piece lengths that cut a stream of `size` bytes at the sorted `points`."""
    edges = [0, *points, size]
    return [b - a for a, b in itertools.pairwise(edges) if b > a]


def until(done: Any, client: mqtt.Client, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        assert client.loop(timeout=0.2) == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS


def publish(pub: mqtt.Client, items: list[Sent]) -> None:
    infos = [
        pub.publish(s.topic, s.payload, s.qos, s.retain, properties(n) if s.props else None)
        for n, s in enumerate(items)
    ]
    for info in infos:
        info.wait_for_publish(30)  # QoS 1: Mosquitto's PUBACK, so it has passed it on


def subscriber(
    conn: Connections, client_id: str, clean_start: bool, expiry_s: int
) -> tuple[RecordingClient, list[list[Publish]]]:
    """A connected recording subscriber, its manual loop, and what each of its reads parsed."""
    sub = RecordingClient(
        CallbackAPIVersion.VERSION2,
        client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,  # nothing acknowledged: a persistent session keeps it all
    )
    reads: list[list[Publish]] = []
    sub.on_publishes = reads.append
    sub.on_message = lambda _c, _u, m: reads.append(  # a PUBLISH cut by the end of a read
        [Publish(m.topic, bytes(m.payload), m.mid, m.qos, m.dup)]
    )
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    sub.connect(conn.mqtt.host, conn.mqtt.port, clean_start=clean_start, properties=props)
    until(sub.is_connected, sub, "CONNACK")
    return sub, reads


@pytest.fixture
def pub(connections: Connections) -> Iterator[mqtt.Client]:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        f"cg-test-pub-{uuid.uuid4().hex[:8]}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.max_inflight_messages_set(0)
    client.connect(connections.mqtt.host, connections.mqtt.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def assert_recorded_parses_as_paho_reads_it(
    sub: RecordingClient, sent: list[Sent]
) -> list[Publish]:
    """The bytes `sub` received, as paho reads them, are `sent`; cut anywhere, the bulk parse
    gives the same. Returns paho's reading."""
    assert sub.tee is not None
    stream = bytes(sub.tee.received)
    want = assert_paho_read(stream, sent)
    framing = list(packets(stream))
    # Each run cuts every third packet (CONNACK and SUBACK included) at the same offset, from
    # its start or its end: the whole packets between cuts go through the bulk parser, the cut
    # ones through paho's reader, and every header byte and small packet is cut somewhere.
    for offset in range(-3, 128):
        for phase in range(3):
            points = [
                start + (min(offset, length - 1) if offset >= 0 else max(1, length + offset))
                for start, length, _ in framing[phase::3]
            ]
            cuts = cuts_at(points, len(stream))
            assert read_all(stream, cuts, bulk=True) == want, f"cut at {offset}, {phase}"
    return want


def subscribe(sub: mqtt.Client, topic: str, options: SubscribeOptions) -> None:
    subacks: list[object] = []
    sub.on_subscribe = lambda *suback: subacks.append(suback)
    sub.subscribe(topic, options=options)
    until(lambda: bool(subacks), sub, "SUBACK")


@pytest.mark.integration
def test_mosquittos_packets_cut_at_every_boundary_parse_as_paho_reads_them(
    connections: Connections, pub: mqtt.Client
) -> None:
    prefix = f"cg-test/{uuid.uuid4().hex[:8]}"
    retained = Sent(f"{prefix}/retained", b"kept", qos=1, retain=True, props=True)
    # Without properties, Mosquitto's packets have paho's lengths: each boundary is hit exactly.
    # Its max_packet_size is 1 MiB: the four-byte length is paho's test only.
    live = boundary_set(prefix, BOUNDARIES[:5], props=False) + [
        Sent(f"{prefix}/small/{n}", b"r%d" % n, qos=n % 2, props=n % 5 == 0) for n in range(300)
    ]
    publish(pub, [retained])
    sub, reads = subscriber(connections, f"{prefix}-sub", clean_start=True, expiry_s=0)
    try:
        subscribe(sub, f"{prefix}/#", SubscribeOptions(qos=1, retainAsPublished=True))
        until(lambda: bool(reads), sub, "the retained message")
        publish(pub, live)
        # All of it is at the broker and most in the socket: reads take many at once.
        until(lambda: sum(map(len, reads)) == 1 + len(live), sub, "every publish")
    finally:
        sub.disconnect()
        publish(pub, [s._replace(payload=b"") for s in [retained, *live] if s.retain])  # clear
    assert max(map(len, reads)) > 1  # several PUBLISHes parsed from one read
    assert sub.tee is not None
    assert set(BOUNDARIES[:5]) <= {remaining for _, _, remaining in packets(sub.tee.received)}
    want = assert_recorded_parses_as_paho_reads_it(sub, [retained, *live])
    assert [p for r in reads for p in r] == want  # and so did the live subscriber


@pytest.mark.integration
def test_mosquittos_redeliveries_cut_at_every_boundary_parse_as_paho_reads_them(
    connections: Connections, pub: mqtt.Client
) -> None:
    prefix = f"cg-test/{uuid.uuid4().hex[:8]}"
    # Mosquitto sends again only QoS 1 messages, with DUP set.
    sent = [
        s._replace(qos=1, retain=False)
        for s in boundary_set(prefix, BOUNDARIES[:5], props=False)
        + [Sent(f"{prefix}/small/{n}", b"r%d" % n, qos=1, props=n % 2 == 0) for n in range(100)]
    ]
    sub, reads = subscriber(connections, f"{prefix}-sub", clean_start=True, expiry_s=300)
    subscribe(sub, f"{prefix}/#", SubscribeOptions(qos=1))
    publish(pub, sent)
    until(lambda: sum(map(len, reads)) == len(sent), sub, "every publish")
    sub.disconnect()  # none acknowledged: the session keeps them all, to send again
    again, reads = subscriber(connections, f"{prefix}-sub", clean_start=False, expiry_s=0)
    try:
        until(lambda: sum(map(len, reads)) == len(sent), again, "every redelivery")
    finally:
        again.disconnect()
    assert_recorded_parses_as_paho_reads_it(again, [s._replace(dup=True) for s in sent])


def test_the_paho_internals_the_client_overrides_are_there_as_read() -> None:
    # gateway/mqtt_client.py was written against paho 2.2: a newer paho must fail here first.
    (pin,) = (Requirement(r) for r in requires("citygate") or [] if r.startswith("paho-mqtt"))
    assert paho.mqtt.__version__ in pin.specifier
    assert list(pin.specifier.filter(["2.1.9", "2.2.0", "2.2.9", "2.3.0"])) == ["2.2.0", "2.2.9"]
    signatures = {
        "_create_socket": "(self) -> 'SocketLike'",
        "loop_read": "(self, max_packets: 'int' = 1) -> 'MQTTErrorCode'",
        "_packet_queue": "(self, command: 'int', packet: 'bytes | bytearray', mid: 'int', "
        "qos: 'int', info: 'MQTTMessageInfo | None' = None) -> 'MQTTErrorCode'",
    }
    for name, signature in signatures.items():
        assert str(inspect.signature(getattr(mqtt.Client, name))) == signature, name
    # select() is skipped while the socket reports bytes pending (the buffered socket's hook).
    assert "self._sock.pending()" in inspect.getsource(mqtt.Client._loop)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    assert client._in_packet["command"] == 0  # "not in the middle of a packet"
    assert client._protocol == MQTTProtocolVersion.MQTTv5
    assert isinstance(client._last_bytes_received, float)
    with client._msgtime_mutex:  # a lock paho's keepalive check takes too
        pass
    assert "self._msgtime_mutex" in inspect.getsource(mqtt.Client._check_keepalive)
    assert "self._last_bytes_received" in inspect.getsource(mqtt.Client._check_keepalive)
