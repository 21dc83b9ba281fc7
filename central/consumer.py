"""One consumer group's loop: poll a batch, hand it to the group's handler, then commit.

Offsets are committed only after the handler returned, that is after its outputs were written.
While a handler waits for an output (InfluxDB down), `idle` keeps the consumer polling with every
partition paused: it stays in the group, takes no new records, and Kafka retention is the buffer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, TypeAlias

import msgspec
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord

from central.config import Group, Kafka
from central.influx_writer import Wait
from central.metrics import CentralMetrics
from edge.reading import Reading
from edge.reading import decode as decode_reading

log = structlog.get_logger("central.consumer")

Record: TypeAlias = ConsumerRecord[bytes, bytes]


def skip_record(metrics: CentralMetrics, group: str, rec: Record, exc: Exception) -> None:
    """Count and log a record that does not decode; it cannot be processed, only reported."""
    metrics.records_skipped.labels(group, rec.topic).inc()
    log.warning(
        "record_skipped",
        group=group,
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        error=str(exc)[:200],
    )


def readings_of(
    records: Iterable[Record], metrics: CentralMetrics, group: str
) -> Iterator[tuple[Record, Reading]]:
    """Each record with its reading; a record that is not a reading is skipped (skip_record)."""
    for rec in records:
        try:
            reading = decode_reading(rec.value or b"")
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            skip_record(metrics, group, rec, exc)
            continue
        yield rec, reading


class Stopping(Exception):
    """The service is stopping while a handler waits; its batch stays uncommitted."""


class Handler(Protocol):
    """What a consumer group does with its records."""

    name: str

    async def handle(self, records: Sequence[Record], wait: Wait) -> None:
        """Process and write a batch; return only when every output has it."""

    async def tick(self, wait: Wait, caught_up: bool) -> None:
        """Periodic work between polls (clock-driven alerts)."""

    def assigned(self, partitions: set[TopicPartition]) -> None: ...

    def revoked(self, partitions: set[TopicPartition]) -> None: ...

    def rewind_s(self) -> float:
        """How far back to re-read a newly assigned partition to rebuild state (0: not at all)."""


class _Listener(ConsumerRebalanceListener):
    def __init__(self, owner: GroupConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.owner.handler.revoked(set(revoked))
        log.info("partitions_revoked", group=self.owner.cfg.group_id, partitions=len(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.owner.on_assigned(set(assigned))


class GroupConsumer:
    def __init__(self, cfg: Group, kafka: Kafka, handler: Handler, metrics: CentralMetrics) -> None:
        self.cfg = cfg
        self.kafka = kafka
        self.handler = handler
        self.metrics = metrics
        self.group = handler.name
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka.bootstrap,
            group_id=cfg.group_id,
            client_id=f"citygate-central-{handler.name}",
            enable_auto_commit=False,
            auto_offset_reset=cfg.auto_offset_reset,
            session_timeout_ms=kafka.session_timeout_ms,
            heartbeat_interval_ms=max(kafka.session_timeout_ms // 4, 500),
            max_poll_interval_ms=kafka.max_poll_interval_ms,
            fetch_max_bytes=kafka.fetch_max_bytes,
            max_partition_fetch_bytes=max(kafka.fetch_max_bytes // 4, 1024 * 1024),
            request_timeout_ms=kafka.request_timeout_ms,
        )
        self.stop = asyncio.Event()
        self.started = asyncio.Event()
        self.last_poll = 0.0
        self.assignment: set[TopicPartition] = set()
        self.positions: dict[TopicPartition, int] = {}

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assignment = set(self.consumer.assignment())
        self.handler.assigned(assigned)
        rewind = self.handler.rewind_s()
        if rewind > 0 and assigned:
            since = int((time.time() - rewind) * 1000)
            found = await self.consumer.offsets_for_times({tp: since for tp in assigned})
            for tp, at in found.items():
                if at is not None:
                    self.consumer.seek(tp, at.offset)
        log.info("partitions_assigned", group=self.cfg.group_id, partitions=len(assigned))
        self.started.set()

    async def idle(self, seconds: float) -> None:
        """Wait while staying in the group and taking nothing new (partitions paused)."""
        if self.stop.is_set():
            raise Stopping
        c = self.consumer
        self.metrics.paused.labels(self.group).set(1)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.stop.is_set():
            c.pause(*c.assignment())
            got = await c.getmany(timeout_ms=max(int(min(left, 1.0) * 1000), 1))
            # A rebalance during the wait brings unpaused partitions: give back what they
            # returned, or the next commit would skip it.
            for tp, records in got.items():
                if records:
                    c.seek(tp, records[0].offset)
        if self.stop.is_set():
            raise Stopping

    async def run(self) -> None:
        c = self.consumer
        c.subscribe(list(self.cfg.topics), listener=_Listener(self))
        await c.start()
        log.info("group_started", group=self.cfg.group_id, topics=list(self.cfg.topics))
        try:
            while not self.stop.is_set():
                got = await c.getmany(
                    timeout_ms=self.cfg.poll_timeout_ms, max_records=self.cfg.max_records
                )
                self.last_poll = time.monotonic()
                records = [r for batch in got.values() for r in batch]
                try:
                    if records:
                        await self._handle(got, records)
                    await self.handler.tick(self.idle, len(records) < self.cfg.max_records)
                except Stopping:
                    break
                self._refresh_lag()
        finally:
            await c.stop()
            log.info("group_stopped", group=self.cfg.group_id)

    async def _handle(self, got: dict[TopicPartition, list[Record]], records: list[Record]) -> None:
        c = self.consumer
        started = time.perf_counter()
        for tp, batch in got.items():
            self.metrics.records_in.labels(self.group, tp.topic).inc(len(batch))
        await self.handler.handle(records, self.idle)
        if c.paused():
            c.resume(*c.paused())
            self.metrics.paused.labels(self.group).set(0)
        offsets = {tp: batch[-1].offset + 1 for tp, batch in got.items() if batch}
        self.positions.update(offsets)
        try:
            await c.commit(offsets)
            self.metrics.commits.labels(self.group).inc()
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions moved on while we wrote: the new owner re-reads from the last
            # commit, and our writes were idempotent.
            self.metrics.commit_failures.labels(self.group).inc()
            log.warning("commit_refused", group=self.cfg.group_id, error=repr(exc))
        except KafkaError as exc:
            self.metrics.commit_failures.labels(self.group).inc()
            log.warning("commit_failed", group=self.cfg.group_id, error=repr(exc))
        self.metrics.batch_seconds.labels(self.group).observe(time.perf_counter() - started)

    def _refresh_lag(self) -> None:
        c = self.consumer
        for tp in c.assignment():
            high = c.highwater(tp)
            position = self.positions.get(tp)
            if high is not None and position is not None:
                lag = max(high - position, 0)
                self.metrics.lag.labels(self.group, tp.topic, str(tp.partition)).set(lag)
