"""Kafka sink (gateway.sinks.Sink): sends journal records with an idempotent acks=all producer
and says how many Kafka acknowledged; gateway.sinks.drain releases those from the journal.

On any failure the unacknowledged rest is handed out again: at least once, with per-sensor
order kept because the journal hands records out strictly in append order and one key maps to
one partition.

While Kafka is unreachable no producer is kept alive: aiokafka's sender retries a dead broker
without pause (a core and ~10,000 log lines a second), so the sink drops the producer and
reconnects with exponential backoff and jitter, logging only the changes of state.

LZ4 batches are compressed with LZ4's fast compressor, as Kafka's own Java producer does at its
default level. aiokafka 0.14 compresses at level 9, LZ4's high-compression mode: 1.8 µs per
256-byte reading against 0.09 µs, for 9.6 % of the bytes instead of 11.8 % (`fast_lz4`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import aiokafka.record._crecords.default_records as c_records
import aiokafka.record.default_records as py_records
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka import codec as kafka_codec
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from deploy.retry import delay
from gateway.config import Kafka
from gateway.journal import JournalRecord
from gateway.metrics import GatewayMetrics
from gateway.sinks import Backpressure

log = structlog.get_logger("gateway.kafka")

_NONE: Final[dict[bytes, int]] = {}  # no partition known yet for a topic

# Acks from a live broker take milliseconds; a longer pause is worth asking whether it is there.
PROBE_S = 1.0


LZ4_FAST: Final = 0  # LZ4 frame level 0: the fast compressor (levels 3 and up are LZ4 HC)


def lz4_fast(payload: bytes) -> bytes:
    """A Kafka LZ4 frame (independent blocks, no content checksum) by the fast compressor."""
    return kafka_codec.lz4_encode(payload, level=LZ4_FAST)


def fast_lz4() -> None:
    """Make aiokafka's record batch builders (the compiled one and its pure-Python twin)
    compress LZ4 with `lz4_fast`. They call the module-level name `lz4_encode` with the batch
    bytes only; tests/gateway/test_kafka_lz4.py fails if that changes."""
    c_records.lz4_encode = lz4_fast
    py_records.lz4_encode = lz4_fast


def producer_options(cfg: Kafka) -> dict[str, Any]:
    """AIOKafkaProducer arguments from the kafka.* settings."""
    if cfg.compression == "lz4":
        fast_lz4()
    return {
        "bootstrap_servers": cfg.bootstrap,
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": None if cfg.compression == "none" else cfg.compression,
        "linger_ms": cfg.linger_ms,
        "max_batch_size": cfg.max_batch_bytes,
        "request_timeout_ms": cfg.request_timeout_ms,
        "retry_backoff_ms": int(cfg.backoff_min_s * 1000),
        "client_id": "citygate-gateway",
    }


def fail_queued(accumulator: Any, error: KafkaError) -> None:
    """Fail every batch aiokafka still holds without leaving asyncio anything to complain
    about. A batch the sender put back for a retry (reenqueue) has left the pending set, but
    the callback of its first send still removes it from there when it fails (KeyError,
    "Exception in callback"), and it has a fresh drain waiter that no one awaits ("Future
    exception was never retrieved"). The delivery futures are KafkaSink._send's to retrieve."""
    queued = [b for queue in accumulator._batches.values() for b in queue]
    accumulator._pending_batches.update(b for b in queued if b.retry_count)
    held = [*queued, *accumulator._pending_batches]
    accumulator.fail_all(error)
    for batch in held:
        waiter = batch._drain_waiter
        if waiter.done() and not waiter.cancelled():
            waiter.exception()


class KafkaSink:
    """`producer_factory` is the seam for unit tests; the daemon keeps the default."""

    name = "kafka"

    def __init__(
        self,
        cfg: Kafka,
        metrics: GatewayMetrics,
        *,
        producer_factory: Callable[..., AIOKafkaProducer] = AIOKafkaProducer,
    ) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self._producer_factory = producer_factory
        self.producer: AIOKafkaProducer | None = None
        self.connected = False  # the last request to Kafka succeeded
        self.last_ok: float | None = None  # time.monotonic() of that request
        self.connect_failures = 0  # since the last successful connect, for its log line
        self.reported_down = False  # kafka_unreachable was logged since the last success
        self._down_since: float | None = None  # time.monotonic() of this outage's first attempt
        self._partitions: dict[str, list[int]] = {}
        self._key_partition: dict[str, dict[bytes, int]] = {}

    def _ok(self) -> None:
        self.last_ok = time.monotonic()
        self.connected = True
        self.reported_down = False
        self.metrics.kafka_reachable.set(1)

    def _lost(self, error: BaseException) -> None:
        """One log line per change of state; the retries are counted, not logged."""
        if not self.reported_down:
            log.warning("kafka_unreachable", bootstrap=self.cfg.bootstrap, error=repr(error))
            self.reported_down = True
        self.connected = False
        self.metrics.kafka_reachable.set(0)

    async def _abandon(self) -> None:
        """Stop the producer now. stop() alone waits until every pending batch is delivered or
        expires (request_timeout_ms) while aiokafka's sender spins on the dead broker, so the
        sender is cancelled and the batches failed first; they are still in the journal."""
        old, self.producer = self.producer, None
        self._partitions.clear()
        self._key_partition.clear()
        if old is None:
            return
        try:
            await asyncio.wait_for(old._sender.close(), 5)
            fail_queued(old._message_accumulator, KafkaConnectionError("producer abandoned"))
            await asyncio.wait_for(old.stop(), 5)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.info("kafka_old_producer_abandoned", error=repr(exc))

    async def _connect_once(self) -> None:
        # A fresh producer each time: batches that failed still consumed idempotence sequence
        # numbers the broker never saw, so the old producer would only get
        # OutOfOrderSequenceNumber; a new one gets a fresh producer id.
        self.producer = self._producer_factory(**producer_options(self.cfg))
        try:
            await asyncio.wait_for(self.producer.start(), self.cfg.request_timeout_ms / 1000)
        except (KafkaError, OSError, TimeoutError) as exc:
            self.metrics.kafka_connect_failures.inc()
            self.connect_failures += 1
            self.metrics.kafka_errors.labels(type(exc).__name__).inc()
            self._lost(exc)
            await self._abandon()
            raise

    async def start(self) -> None:
        """One connect attempt; while Kafka is unreachable, Backpressure says when to try again
        (exponential backoff with jitter over the attempts of this outage)."""
        if self.producer is not None:
            return
        if self._down_since is None:
            self._down_since = time.monotonic()
        try:
            await self._connect_once()
        except (KafkaError, OSError, TimeoutError) as exc:
            wait = delay(self.cfg.backoff_min_s, self.cfg.backoff_max_s, self.connect_failures)
            raise Backpressure(f"kafka unreachable: {exc!r}", retry_after_s=wait) from exc
        self._ok()
        log.info(
            "kafka_connected",
            bootstrap=self.cfg.bootstrap,
            failed_attempts=self.connect_failures,
            waited_s=round(time.monotonic() - self._down_since, 3),
        )
        self.connect_failures = 0
        self._down_since = None

    async def write(self, records: Sequence[JournalRecord]) -> int:
        """Send `records`; how many leading ones Kafka acknowledged. After a failure the
        producer is dropped, and the next write reconnects first (Backpressure until then)."""
        await self.start()
        acked = await self._send_watched(records)
        if acked < len(records):
            await self._abandon()
        else:
            self._ok()
        return acked

    async def flush(self) -> None:
        """Nothing to do: `write` returns only once Kafka acknowledged what it took."""

    async def _reachable(self) -> bool:
        assert self.producer is not None
        client = self.producer.client
        for broker in client.cluster.brokers():
            if await client.ready(broker.nodeId):
                return True
        return False

    async def _send_watched(self, batch: Sequence[JournalRecord]) -> int:
        """_send, failed early once no broker accepts a connection, instead of waiting out
        request_timeout_ms with aiokafka's sender spinning."""
        task = asyncio.create_task(self._send(batch))
        while not (await asyncio.wait([task], timeout=PROBE_S))[0]:
            if not await self._reachable():
                self._lost(KafkaConnectionError("no broker accepts a connection"))
                await self._abandon()
        return await task

    async def _partition(self, topic: str, key: bytes) -> int:
        """The producer's default partition for `key` (murmur2, as Java clients), memoised:
        sensor ids repeat, and the pure-Python hash is the costliest step per record."""
        parts = self._partitions.get(topic)
        if parts is None:
            assert self.producer is not None
            parts = sorted(await self.producer.partitions_for(topic))
            self._partitions[topic] = parts
            self._key_partition[topic] = {}
        cache = self._key_partition[topic]
        partition = cache.get(key)
        if partition is None:
            partition = cache[key] = DefaultPartitioner()(key, parts, parts)
        return partition

    async def _send(self, batch: Sequence[JournalRecord]) -> int:
        """Send a batch as one record batch per partition; returns how many leading records
        (in journal order) Kafka acknowledged."""
        # Per partition, records keep journal order, so each sensor's order holds. A record
        # batch is acknowledged whole, so the acknowledged prefix ends at the first record of
        # the first batch that failed or was not sent.
        builders: dict[tuple[str, int], BatchBuilder] = {}
        created: list[tuple[tuple[str, int], BatchBuilder]] = []  # in creation order
        firsts: dict[BatchBuilder, int] = {}  # each record batch -> the index of its first record
        error: BaseException | None = None
        producer = self.producer
        assert producer is not None
        known = self._key_partition
        sent = 0  # records put into record batches
        try:
            for rec in batch:
                key = rec.key
                partition = known.get(rec.topic, _NONE).get(key)
                if partition is None:
                    partition = await self._partition(rec.topic, key)
                tp = (rec.topic, partition)
                builder = builders.get(tp)
                headers = list(rec.headers)
                if (
                    builder is None
                    or builder.append(timestamp=None, key=key, value=rec.value, headers=headers)
                    is None
                ):
                    builder = builders[tp] = producer.create_batch()
                    firsts[builder] = sent
                    builder.append(timestamp=None, key=key, value=rec.value, headers=headers)
                    created.append((tp, builder))
                sent += 1
        except (KafkaError, OSError) as exc:
            error = exc
        acked = sent
        sends: list[tuple[BatchBuilder, asyncio.Future[Any]]] = []
        for (topic, partition), builder in created:
            builder.close()
            try:
                sends.append(
                    (builder, await producer.send_batch(builder, topic, partition=partition))
                )
            except (KafkaError, OSError) as exc:
                error = error or exc
                acked = min(acked, firsts[builder])
        results = await asyncio.gather(*(f for _, f in sends), return_exceptions=True)
        for (builder, _), result in zip(sends, results, strict=True):
            if isinstance(result, BaseException):
                error = error or result
                acked = min(acked, firsts[builder])
        counts: dict[str, int] = {}
        for rec in batch[:acked]:
            counts[rec.topic] = counts.get(rec.topic, 0) + 1
        for topic, n in counts.items():
            self.metrics.records_out.labels(topic).inc(n)
        if error is not None:
            self.metrics.kafka_errors.labels(type(error).__name__).inc()
            self._lost(error)
        return acked

    async def send_status(self, topic: str, key: bytes, value: bytes) -> None:
        """Best effort, for heartbeats: a heartbeat lost while Kafka is down is not data."""
        producer = self.producer
        if not self.connected or producer is None:
            return
        try:
            await asyncio.wait_for(producer.send_and_wait(topic, value, key=key), 5)
        except (KafkaError, OSError, TimeoutError) as exc:
            self._lost(exc)
        else:
            self._ok()

    async def close(self) -> None:
        if self.connected and self.producer is not None:
            await self.producer.stop()
