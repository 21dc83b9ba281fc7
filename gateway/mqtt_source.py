"""MQTT v5 source: persistent session, manual QoS 1 acks sent only after the journal's fsync.

Every connect subscribes to exactly `mqtt.topics`, also when the broker kept the session: the
session may hold other filters (an older config) or none (a crash before SUBACK). Filters
subscribed before and no longer configured are unsubscribed; the state file remembers them.

paho's network thread appends messages to a deque and wakes the event loop once per burst;
the loop takes what is queued in batches of at most mqtt.max_batch, PIPELINE_BATCHES of them
on their way into the journal at once, and acknowledges each in arrival order once durable.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
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
from gateway.errors import GatewayStateError
from gateway.metrics import GatewayMetrics
from gateway.mqtt_client import BufferedClient, Publish
from gateway.sources import Deliver, Inbound
from gateway.state import GatewayState

log = structlog.get_logger("gateway.mqtt")

# Batches on their way into the journal at once: while one is written and fsynced, the next is
# decoded and joins the following commit. Memory holds at most this many batches past the
# intake queue's two.
PIPELINE_BATCHES = 2


class MQTTSourceRunner:
    name = "mqtt"

    def __init__(self, cfg: MQTTSource, metrics: GatewayMetrics, state: GatewayState) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.state = state
        self._queue: collections.deque[Inbound] = collections.deque()
        self._queued_bytes = 0
        self._lock = threading.Lock()
        # Set while the queue has room. Mosquitto sends a backlog as fast as the socket takes
        # it, whatever Receive Maximum says; paho's thread stops reading while this is clear,
        # so TCP holds the rest in the broker instead of this process's memory.
        self._room = threading.Event()
        self._room.set()
        self._wake_pending = False
        # Batches handed to the journal and not acknowledged yet, oldest first.
        self._delivering: collections.deque[tuple[asyncio.Future[object], int, list[int]]] = (
            collections.deque()
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        # Set from paho's thread when a lingering batch has gathered linger_records.
        self._gathered = asyncio.Event()
        self._lingering = False
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker granted every configured filter
        self.problems: dict[str, str] = {}  # filter -> what the broker granted instead
        self._requests: dict[int, tuple[str, ...]] = {}  # SUBSCRIBE/UNSUBSCRIBE mid -> filters
        self.client = self._make_client()

    def _make_client(self) -> BufferedClient:
        cfg = self.cfg
        client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        client.max_inflight_messages_set(cfg.receive_maximum)
        # paho annotates the delays as int but only doubles and sleeps them: fractions work.
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.login_password())
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
        client.on_publishes = self._on_publishes
        client.wait_for_room = self._room.wait
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
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
        self._subscribe(client, session_present=bool(flags.session_present))

    def _subscribe(self, client: mqtt.Client, *, session_present: bool) -> None:
        topics = self.cfg.topics
        # A new session holds no filters; a kept one may hold any this client ever asked for.
        before = self.state.mqtt_topics if session_present else ()
        stale = tuple(t for t in before if t not in topics)
        # Written before SUBSCRIBE goes out, so a crash before SUBACK still knows these.
        self._remember((*stale, *topics))
        self.subscribed.clear()
        # Answered on this (paho's) thread after this callback returns, so mid is known first.
        _, mid = client.subscribe([(t, int(self.cfg.qos)) for t in topics])
        if mid is not None:
            self._requests[mid] = topics
        if stale:
            _, mid = client.unsubscribe(list(stale))
            if mid is not None:
                self._requests[mid] = stale
        log.info("mqtt_subscribing", topics=list(topics), qos=self.cfg.qos, unsubscribing=stale)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        topics = self._requests.pop(mid, ())
        self.problems = subscription_problems(topics, codes, self.cfg.qos)
        if self.problems:
            log.error("mqtt_subscription_failed", problems=self.problems)
            return
        self.subscribed.set()
        log.info("mqtt_subscribed", topics=list(topics), qos=self.cfg.qos)

    def _on_unsubscribe(
        self, _c: mqtt.Client, _u: Any, mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        topics = self._requests.pop(mid, ())
        # "No subscription existed" (0x11) is not a failure: the filter is gone either way.
        gone = {t for t, rc in zip(topics, codes, strict=False) if not rc.is_failure}
        kept = [t for t in topics if t not in gone]
        if kept:
            log.error("mqtt_unsubscribe_refused", topics=kept, reasons=[str(c) for c in codes])
        self._remember(tuple(t for t in self.state.mqtt_topics if t not in gone))
        log.info("mqtt_unsubscribed", topics=sorted(gone))

    def _remember(self, topics: tuple[str, ...]) -> None:
        try:
            self.state.set_mqtt_topics(topics)
        except GatewayStateError as exc:
            # Taking data matters more than remembering filters: go on, and say so (an exception
            # here would end paho's network thread without a word).
            log.error("gateway_state_write_failed", error=str(exc))

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
        self.subscribed.clear()
        if was_connected:  # after a refused CONNECT, _connect_failed already said why
            log.warning("mqtt_disconnected", reason=str(rc))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        # What paho's own reader parsed: a PUBLISH cut by the end of a socket read.
        mid = msg.mid if msg.qos else 0
        self._on_publishes([Publish(msg.topic, bytes(msg.payload), mid, msg.qos, msg.dup)])

    def _on_publishes(self, publishes: list[Publish]) -> None:
        now = time.time_ns()
        limit = self.cfg.max_payload_bytes
        items = []
        size = redelivered = 0
        for p in publishes:
            n = len(p.payload)
            size += n
            redelivered += p.dup
            refused = ""
            if n > limit:  # refused here, as a deframer refuses bytes: a dead letter
                refused = f"oversize: {n} bytes > mqtt.max_payload_bytes = {limit}"
            # QoS 0 has no packet id (mid 0): nothing to acknowledge.
            items.append(Inbound("mqtt", p.topic, p.payload, now, refused, p.mid))
        if redelivered:
            self.metrics.redelivered.inc(redelivered)
        with self._lock:
            self._queue.extend(items)
            self._queued_bytes += size
            if self._full():
                self._room.clear()
            if self._lingering and len(self._queue) >= self.cfg.linger_records:
                self._lingering = False
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._gathered.set)
            if self._wake_pending:
                return
            self._wake_pending = True
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._wake.set)

    # event loop ----------------------------------------------------------------------------

    async def run(self, deliver: Deliver) -> None:
        self._loop = asyncio.get_running_loop()
        self.client.connect_async(
            self.cfg.host,
            self.cfg.port,
            keepalive=self.cfg.keepalive_s,
            clean_start=False,
            properties=connect_properties(self.cfg),
        )
        self.client.loop_start()
        await self.pump(deliver)

    async def pump(self, deliver: Deliver) -> None:
        """Hand what paho queued to `deliver` batch by batch, acknowledging each when it returns.

        The first message after a quiet spell waits up to `linger_ms` for others, or until
        `linger_records` are queued: at a few hundred readings a second, every batch costs a
        journal commit, an fsync and wake-ups of three threads, so lingering divides that cost
        by the readings it gathers (measured in bench/results/kafka_outage.json); at thousands
        a second the records come first and the wait stays short (publish-to-Kafka latency,
        bench/results/gateway.md). A backlog never lingers: its batches follow each other.
        """
        linger_s = self.cfg.linger_ms / 1000
        while True:
            await self._wake.wait()
            with self._lock:
                short = len(self._queue) < self.cfg.linger_records
                self._lingering = bool(linger_s and short)
            if self._lingering:
                self._gathered.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._gathered.wait(), linger_s)
                with self._lock:
                    self._lingering = False
            self._wake.clear()
            while await self._deliver_batch(deliver):
                pass  # a backlog: the next batch at once

    def _full(self) -> bool:
        """The intake holds two batches (by count or bytes): paho's thread stops reading."""
        return (
            len(self._queue) >= 2 * self.cfg.max_batch
            or self._queued_bytes >= 2 * self.cfg.max_batch_bytes
        )

    async def _deliver_batch(self, deliver: Deliver) -> bool:
        """Deliver what is queued, at most max_batch of it, then acknowledge it; True if more
        is queued behind it."""
        with self._lock:
            # At most max_batch readings and max_batch_bytes at once: a backlog that arrives
            # faster than the journal writes it would otherwise be decoded all at once.
            batch: list[Inbound] = []
            taken = 0
            queue = self._queue
            while queue and len(batch) < self.cfg.max_batch:
                size = len(queue[0].payload)
                if batch and taken + size > self.cfg.max_batch_bytes:
                    break
                taken += size
                batch.append(queue.popleft())
            self._queued_bytes -= taken
            if not self._full():
                self._room.set()
            more = bool(queue)
            # While more is queued paho need not wake this loop: it goes on by itself.
            self._wake_pending = more
        if batch:
            self.metrics.messages_in.labels("mqtt").inc(len(batch))
            # Decoded at the call and started in arrival order, each joins the journal's next
            # commit before it first waits, so journal ids follow arrival order.
            acks = [item.ack for item in batch if item.ack]
            self._delivering.append((asyncio.ensure_future(deliver(batch)), len(batch), acks))
            del batch  # the journal holds what it needs: the raw inputs may go
        try:
            # The oldest batch is acknowledged once durable; while the pipeline is full, or
            # nothing more is queued, this waits for it.
            delivering = self._delivering
            while delivering and (
                len(delivering) >= PIPELINE_BATCHES or not more or delivering[0][0].done()
            ):
                task, count, acks = delivering[0]
                await task
                delivering.popleft()
                self.metrics.messages_journaled.labels("mqtt").inc(count)
                # Durable now: acknowledge in arrival order, in one write.
                self.client.ack_many(acks)
        except BaseException:
            self._abandon()
            raise
        return more

    def _abandon(self) -> None:
        """A delivery failed or the source stops: what is in flight is never acknowledged
        (the broker sends it again)."""
        for task, _, _ in self._delivering:
            task.cancel()
        self._delivering.clear()

    async def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect_properties(cfg: MQTTSource) -> Properties:
    """CONNECT properties: the session outlives a restart, and many unacked messages may fly."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = cfg.session_expiry_s
    props.ReceiveMaximum = cfg.receive_maximum
    return props


def subscription_problems(
    topics: tuple[str, ...], codes: list[ReasonCode], qos: int
) -> dict[str, str]:
    """Filters of one SUBACK the broker refused, or granted below `qos` (a QoS 0 grant loses
    the redelivery the delivery contract relies on), with the broker's answer."""
    if len(codes) != len(topics):
        return {t: f"SUBACK carried {len(codes)} reason codes for {len(topics)}" for t in topics}
    problems = {}
    for topic, rc in zip(topics, codes, strict=True):
        if rc.is_failure:
            problems[topic] = f"refused: {rc} (0x{rc.value:02x})"
        elif rc.value < qos:
            problems[topic] = f"granted QoS {rc.value}, not {qos}"
    return problems


# MQTT v5 "Bad user name or password" and "Not authorized" (mosquitto answers a wrong password
# with the latter).
_AUTH_REFUSALS = (134, 135)


def refusal_message(rc: ReasonCode, cfg: MQTTSource) -> str:
    """Why the broker refused the CONNECT, and what to check; never the password."""
    if rc.value in _AUTH_REFUSALS:
        who = f"user {cfg.username!r}" if cfg.username else "an anonymous client"
        return (
            f"the broker refused {who}: {rc} (check mqtt.username and the password that "
            "CITYGATE_MQTT__PASSWORD or mqtt.password_file gives)"
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
