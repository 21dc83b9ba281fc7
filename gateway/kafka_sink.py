"""Kafka sink: sends journal records with an idempotent acks=all producer, then releases them.

Records leave the journal only once Kafka acknowledged them. On any failure the unacknowledged
rest is rewound and sent again after a pause: at least once, with per-sensor order kept because
the journal hands records out strictly in append order and one key maps to one partition.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from gateway.config import Kafka
from gateway.journal import Journal, JournalRecord
from gateway.metrics import GatewayMetrics

log = structlog.get_logger("gateway.kafka")


class KafkaSink:
    name = "kafka"

    def __init__(self, cfg: Kafka, journal: Journal, metrics: GatewayMetrics) -> None:
        self.cfg = cfg
        self.journal = journal
        self.metrics = metrics
        self.producer = self._new_producer()
        self.connected = False
        self._partitions: dict[str, list[int]] = {}
        self._key_partition: dict[str, dict[bytes, int]] = {}

    def _new_producer(self) -> AIOKafkaProducer:
        cfg = self.cfg
        return AIOKafkaProducer(
            bootstrap_servers=cfg.bootstrap,
            acks="all",
            enable_idempotence=True,
            compression_type=None if cfg.compression == "none" else cfg.compression,
            linger_ms=cfg.linger_ms,
            max_batch_size=cfg.max_batch_bytes,
            request_timeout_ms=cfg.request_timeout_ms,
            client_id="citygate-gateway",
        )

    async def _reset(self) -> None:
        """Replace the producer after a failed send. Batches that timed out still consumed
        idempotence sequence numbers the broker never saw, so the old producer would only get
        OutOfOrderSequenceNumber from now on; a new one gets a fresh producer id."""
        self.connected = False
        old, self.producer = self.producer, self._new_producer()
        try:
            await asyncio.wait_for(old.stop(), 5)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.info("kafka_old_producer_abandoned", error=repr(exc))
        self._partitions.clear()
        await asyncio.sleep(self.cfg.retry_backoff_s)
        await self.start()

    async def start(self) -> None:
        """Connect, retrying: the gateway keeps journaling while Kafka is unreachable."""
        while True:
            try:
                await self.producer.start()
                self.connected = True
                log.info("kafka_connected", bootstrap=self.cfg.bootstrap)
                return
            except (KafkaError, OSError) as exc:
                self.metrics.kafka_errors.labels(type(exc).__name__).inc()
                log.warning("kafka_unreachable", bootstrap=self.cfg.bootstrap, error=str(exc))
                with contextlib.suppress(KafkaError, OSError):
                    await self.producer.stop()
                self.producer = self._new_producer()
                await asyncio.sleep(self.cfg.retry_backoff_s)

    async def run(self) -> None:
        await self.start()
        while True:
            batch = self.journal.peek(self.cfg.max_inflight_records, 16 * self.cfg.max_batch_bytes)
            if not batch:
                await self.journal.wait_for_records(1.0)
                continue
            acked = await self._send(batch)
            if acked:
                self.journal.release(batch[acked - 1][0])
            if acked < len(batch):
                self.journal.rewind()
                await self._reset()

    async def _partition(self, topic: str, key: bytes) -> int:
        """The producer's default partition for `key` (murmur2, as Java clients), memoised:
        sensor ids repeat, and the pure-Python hash is the costliest step per record."""
        parts = self._partitions.get(topic)
        if parts is None:
            parts = sorted(await self.producer.partitions_for(topic))
            self._partitions[topic] = parts
            self._key_partition[topic] = {}
        cache = self._key_partition[topic]
        partition = cache.get(key)
        if partition is None:
            partition = cache[key] = DefaultPartitioner()(key, parts, parts)
        return partition

    async def _send(self, batch: list[tuple[int, JournalRecord]]) -> int:
        """Send a batch as one record batch per partition; returns how many leading records
        (in journal order) Kafka acknowledged."""
        # Per partition, records keep journal order, so each sensor's order holds.
        builders: dict[tuple[str, int], list[BatchBuilder]] = {}
        owner: list[tuple[tuple[str, int], int]] = []  # per record: its partition and batch no.
        error: BaseException | None = None
        try:
            for _, rec in batch:
                tp = (rec.topic, await self._partition(rec.topic, rec.key))
                chain = builders.setdefault(tp, [])
                if (
                    not chain
                    or chain[-1].append(
                        timestamp=None, key=rec.key, value=rec.value, headers=list(rec.headers)
                    )
                    is None
                ):
                    builder = self.producer.create_batch()
                    builder.append(
                        timestamp=None, key=rec.key, value=rec.value, headers=list(rec.headers)
                    )
                    chain.append(builder)
                owner.append((tp, len(chain) - 1))
        except (KafkaError, OSError) as exc:
            error = exc
        sends: dict[tuple[tuple[str, int], int], asyncio.Future[Any]] = {}
        for (topic, partition), chain in builders.items():
            for i, builder in enumerate(chain):
                builder.close()
                try:
                    sends[(topic, partition), i] = await self.producer.send_batch(
                        builder, topic, partition=partition
                    )
                except (KafkaError, OSError) as exc:
                    error = error or exc
        failed: set[tuple[tuple[str, int], int]] = set()
        for where, result in zip(
            sends, await asyncio.gather(*sends.values(), return_exceptions=True), strict=True
        ):
            if isinstance(result, BaseException):
                failed.add(where)
                error = error or result
        acked = 0
        for tp, i in owner:
            if (tp, i) in failed or (tp, i) not in sends:
                break
            acked += 1
        counts: dict[str, int] = {}
        for _, rec in batch[:acked]:
            counts[rec.topic] = counts.get(rec.topic, 0) + 1
        for topic, n in counts.items():
            self.metrics.records_out.labels(topic).inc(n)
        if error is not None:
            self.metrics.kafka_errors.labels(type(error).__name__).inc()
            log.warning(
                "kafka_send_failed", error=repr(error), acked=acked, pending=len(batch) - acked
            )
        return acked

    async def send_status(self, topic: str, key: bytes, value: bytes) -> None:
        """Best effort, for heartbeats: a heartbeat lost while Kafka is down is not data."""
        if not self.connected:
            return
        try:
            await asyncio.wait_for(self.producer.send_and_wait(topic, value, key=key), 5)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("heartbeat_not_sent", error=repr(exc))

    async def close(self) -> None:
        if self.connected:
            await self.producer.stop()
