"""The MQTT source without a broker: the CONNECT it sends carries the configured session,
receive window, keepalive and client id; SUBACK answers are judged against mqtt.qos; oversize
payloads are refused; batches are capped at mqtt.max_batch."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.config import MQTTSource
from gateway.metrics import GatewayMetrics
from gateway.mqtt_source import MQTTSourceRunner, subscription_problems
from gateway.sources import Inbound
from gateway.state import GatewayState


def runner(tmp_path: Path, **settings: Any) -> MQTTSourceRunner:
    return MQTTSourceRunner(
        MQTTSource(host="127.0.0.1", **settings), GatewayMetrics(), GatewayState.load(tmp_path)
    )


def read_connect(conn: socket.socket) -> bytes:
    """The body of the one MQTT packet a client sends first (CONNECT)."""
    conn.settimeout(30)
    head = conn.recv(1)
    assert head == b"\x10"
    length, shift = 0, 0
    while True:
        byte = conn.recv(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return body


def sent_connect(source: MQTTSourceRunner) -> tuple[int, int, Properties, str]:
    """(connect flags, keepalive, properties, client id) of the CONNECT `run` sends."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        source.cfg = source.cfg.replace(port=server.getsockname()[1])

        async def go() -> bytes:
            task = asyncio.create_task(source.run(lambda batch: asyncio.sleep(0)))
            conn, _ = await asyncio.to_thread(server.accept)
            with conn:
                body = await asyncio.to_thread(read_connect, conn)
            task.cancel()
            await source.close()
            return body

        body = asyncio.run(go())
    assert body[:7] == b"\x00\x04MQTT\x05"  # MQTT v5
    flags, keepalive = body[7], int.from_bytes(body[8:10], "big")
    props, used = Properties(PacketTypes.CONNECT).unpack(body[10:])
    rest = body[10 + used :]
    client_id = rest[2 : 2 + int.from_bytes(rest[:2], "big")].decode()
    return flags, keepalive, props, client_id


def test_connect_carries_the_configured_session_and_window(tmp_path: Path) -> None:
    flags, keepalive, props, client_id = sent_connect(
        runner(
            tmp_path,
            client_id="citygate-gw-x",
            receive_maximum=777,
            session_expiry_s=4321,
            keepalive_s=17,
        )
    )
    assert client_id == "citygate-gw-x"
    assert keepalive == 17
    assert not flags & 0x02  # clean_start false: the broker keeps the session
    assert props.ReceiveMaximum == 777
    assert props.SessionExpiryInterval == 4321


def test_other_settings_other_connect(tmp_path: Path) -> None:
    _, keepalive, props, client_id = sent_connect(
        runner(tmp_path, client_id="gw-y", receive_maximum=20, session_expiry_s=60, keepalive_s=5)
    )
    assert (client_id, keepalive, props.ReceiveMaximum, props.SessionExpiryInterval) == (
        "gw-y",
        5,
        20,
        60,
    )


def test_reconnect_delays_are_the_configured_ones(tmp_path: Path) -> None:
    client = runner(tmp_path, reconnect_min_s=0.25, reconnect_max_s=4.5).client
    # paho doubles from the first up to the second; fractions are kept, not rounded to 1 s.
    assert (client._reconnect_min_delay, client._reconnect_max_delay) == (0.25, 4.5)


def suback(*codes: int) -> list[ReasonCode]:
    return [ReasonCode(PacketTypes.SUBACK, identifier=c) for c in codes]


@pytest.mark.parametrize(
    ("codes", "qos", "problems"),
    [
        ((1, 1), 1, {}),
        ((0, 0), 0, {}),
        ((1, 0), 1, {"b": "granted QoS 0, not 1"}),
        ((0x87, 1), 1, {"a": "refused: Not authorized (0x87)"}),
        (
            (0x80, 0x8F),
            0,
            {"a": "refused: Unspecified error (0x80)", "b": "refused: Topic filter invalid (0x8f)"},
        ),
    ],
)
def test_suback_reason_codes_are_judged_against_the_qos(
    codes: tuple[int, ...], qos: int, problems: dict[str, str]
) -> None:
    assert subscription_problems(("a", "b"), suback(*codes), qos) == problems


def test_a_suback_of_the_wrong_length_fails_every_filter() -> None:
    assert set(subscription_problems(("a", "b"), suback(1), 1)) == {"a", "b"}


def message(payload: bytes, mid: int = 1) -> mqtt.MQTTMessage:
    msg = mqtt.MQTTMessage(mid, b"city/west/air_quality/aq-1/telemetry")
    msg.payload = payload
    return msg


def deliver_all(
    source: MQTTSourceRunner, *bursts: Sequence[mqtt.MQTTMessage]
) -> list[list[Inbound]]:
    """The batches `pump` delivers when each burst arrives, as from paho's thread, once the
    one before it has been taken (delivered, or waiting out its linger)."""
    batches: list[list[Inbound]] = []
    taken = asyncio.Event()

    async def deliver(batch: Sequence[Inbound]) -> None:
        batches.append(list(batch))
        taken.set()

    async def go() -> None:
        source._loop = asyncio.get_running_loop()
        pump = asyncio.create_task(source.pump(deliver))
        total = 0
        for burst in bursts:
            for msg in burst:
                source._on_message(source.client, None, msg)
            total += len(burst)
            for _ in range(3):  # the wake-up runs, and pump takes the queue or lingers
                await asyncio.sleep(0)
            if source.cfg.linger_ms == 0:
                await taken.wait()
                taken.clear()
        while sum(len(b) for b in batches) < total:
            await asyncio.sleep(0.005)
        pump.cancel()

    asyncio.run(go())
    return batches


def test_payloads_over_max_payload_bytes_are_refused_as_oversize(tmp_path: Path) -> None:
    source = runner(tmp_path, max_payload_bytes=1024)
    (batch,) = deliver_all(source, [message(b"x" * n) for n in (1024, 1025, 60_050)])
    assert [item.rejected.partition(":")[0] for item in batch] == ["", "oversize", "oversize"]


def test_batches_hold_at_most_max_batch(tmp_path: Path) -> None:
    source = runner(tmp_path, max_batch=3)
    batches = deliver_all(source, [message(b"{}", mid) for mid in range(1, 11)])
    assert [len(b) for b in batches] == [3, 3, 3, 1]


def test_messages_arriving_within_linger_ms_share_one_batch(tmp_path: Path) -> None:
    first = [message(b"{}", mid) for mid in (1, 2, 3)]
    then = [message(b"{}", mid) for mid in (4, 5)]
    # The second burst arrives a few loop turns after the first, well within a second.
    lingering = runner(tmp_path / "a", linger_ms=1000)
    assert [len(b) for b in deliver_all(lingering, first, then)] == [5]
    eager = runner(tmp_path / "b", linger_ms=0)
    assert [len(b) for b in deliver_all(eager, first, then)] == [3, 2]


def test_batches_hold_at_most_max_batch_bytes(tmp_path: Path) -> None:
    source = runner(tmp_path, max_batch_bytes=1024, linger_ms=0)
    batches = deliver_all(source, [message(b"x" * 400, mid) for mid in range(1, 8)])
    assert [len(b) for b in batches] == [2, 2, 2, 1]


def test_the_intake_stops_reading_at_two_batches_and_reads_again_once_one_is_taken(
    tmp_path: Path,
) -> None:
    """Mosquitto sends a backlog as fast as the socket takes it: the queue between paho's
    thread and the journal is bounded, by count and by bytes."""
    source = runner(tmp_path, max_batch=3, max_batch_bytes=1024, linger_ms=0)
    source._loop = asyncio.new_event_loop()
    try:
        room = source.client.wait_for_room
        assert room is not None and room(0)
        for mid in range(1, 6):
            source._on_message(source.client, None, message(b"{}", mid))
        assert room(0)  # five queued: below two batches of three
        source._on_message(source.client, None, message(b"{}", 6))
        assert not room(0)  # six: paho's thread leaves the socket unread

        async def take() -> None:
            async def deliver(batch: Sequence[Inbound]) -> None:
                pass

            await source._deliver_batch(deliver)

        source._loop.run_until_complete(take())
        assert room(0)
        for mid in range(7, 10):
            source._on_message(source.client, None, message(b"y" * 700, mid))
        assert not room(0)  # 2,100 bytes queued: past two batches of 1,024 bytes
    finally:
        source._loop.close()


def test_a_batch_that_gathered_linger_records_goes_at_once(tmp_path: Path) -> None:
    first = [message(b"{}", mid) for mid in (1, 2, 3)]
    then = [message(b"{}", mid) for mid in (4, 5)]
    # Three readings are enough: the first burst does not wait for the second.
    source = runner(tmp_path, linger_ms=1000, linger_records=3)
    assert [len(b) for b in deliver_all(source, first, then)] == [3, 2]


def test_a_lingering_batch_goes_once_linger_records_have_arrived(tmp_path: Path) -> None:
    """The third reading ends the linger: paho's side says so, not the linger's clock."""
    source = runner(tmp_path, linger_ms=1000, linger_records=3)
    batches: list[list[Inbound]] = []

    async def go() -> None:
        taken = asyncio.Event()

        async def deliver(batch: Sequence[Inbound]) -> None:
            batches.append(list(batch))
            taken.set()

        source._loop = asyncio.get_running_loop()
        pump = asyncio.create_task(source.pump(deliver))
        for mid in (1, 2):
            source._on_message(source.client, None, message(b"{}", mid))
        for _ in range(5):
            await asyncio.sleep(0)
        assert batches == []  # lingering
        source._on_message(source.client, None, message(b"{}", 3))
        for _ in range(5):
            await asyncio.sleep(0)
        assert taken.is_set()  # a few loop turns, far from the second of linger
        pump.cancel()

    asyncio.run(go())
    assert [len(b) for b in batches] == [3]


def queue_qos1(source: MQTTSourceRunner, mids: Iterable[int]) -> None:
    """QoS 1 messages as paho's thread hands them over, on the running loop."""
    source._loop = asyncio.get_running_loop()
    for mid in mids:
        msg = message(b"{}", mid)
        msg.qos = 1
        source._on_message(source.client, None, msg)


def test_two_batches_go_into_the_journal_at_once_and_are_acknowledged_in_arrival_order(
    tmp_path: Path,
) -> None:
    """While one batch waits for its fsync the next is on its way; each is acknowledged once
    durable, oldest first, even when a later one is durable sooner; a third waits its turn."""
    source = runner(tmp_path, max_batch=2, linger_ms=0)
    acked: list[list[int]] = []
    source.client.ack_many = lambda mids: acked.append(list(mids))  # type: ignore[method-assign]
    durable: dict[int, asyncio.Future[None]] = {}

    def deliver(batch: Sequence[Inbound]) -> asyncio.Future[None]:
        durable[batch[0].ack] = asyncio.get_running_loop().create_future()
        return durable[batch[0].ack]

    async def turns() -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    async def go() -> None:
        queue_qos1(source, range(1, 7))
        pump = asyncio.create_task(source.pump(deliver))
        await turns()
        assert list(durable) == [1, 3]  # PIPELINE_BATCHES of them
        durable[3].set_result(None)
        await turns()
        assert acked == []  # the older one is not durable yet
        durable[1].set_result(None)
        await turns()
        assert acked == [[1, 2], [3, 4]] and list(durable) == [1, 3, 5]
        durable[5].set_result(None)
        await turns()
        assert acked == [[1, 2], [3, 4], [5, 6]]
        pump.cancel()

    asyncio.run(go())


def test_a_batch_that_fails_is_never_acknowledged_nor_is_any_after_it(tmp_path: Path) -> None:
    source = runner(tmp_path, max_batch=2, linger_ms=0)
    acked: list[list[int]] = []
    source.client.ack_many = lambda mids: acked.append(list(mids))  # type: ignore[method-assign]
    pending: list[asyncio.Future[None]] = []

    def deliver(batch: Sequence[Inbound]) -> asyncio.Future[None]:
        pending.append(asyncio.get_running_loop().create_future())
        return pending[-1]

    async def go() -> None:
        queue_qos1(source, range(1, 5))
        pump = asyncio.create_task(source.pump(deliver))
        for _ in range(5):
            await asyncio.sleep(0)
        pending[0].set_exception(OSError("journal failed"))
        with pytest.raises(OSError, match="journal failed"):
            await pump
        assert pending[1].cancelled() and acked == []

    asyncio.run(go())
