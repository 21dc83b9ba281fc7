"""KafkaSink and gateway.sinks.drain without a server: with a fake producer and fake sleep, how
many journal records one send takes (the drain's max_records, kafka.max_inflight_records in the
daemon), which records a partly refused send acknowledged, and how long the reconnect waits grow
(kafka.backoff_max_s); with aiokafka's real accumulator, that abandoning a producer leaves no
error unretrieved. The real producer path is tested against Kafka elsewhere."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.producer.message_accumulator import MessageAccumulator

from gateway.config import Kafka
from gateway.journal import Journal, JournalRecord
from gateway.kafka_sink import KafkaSink, fail_queued
from gateway.metrics import GatewayMetrics
from gateway.sinks import drain


def rec(i: int) -> JournalRecord:
    return JournalRecord(
        topic="city.air_quality.v1",
        key=b"s-%d" % (i % 3),
        value=b"%08d" % i,
        headers=(),
        sensor_type="air_quality",
        ts=1_000 + i,
    )


class FakeBatch:
    def __init__(self) -> None:
        self.values: list[bytes] = []

    def append(self, *, timestamp: None, key: bytes, value: bytes, headers: Any) -> object:
        self.values.append(value)
        return object()  # never full: only the sink's own bound splits a send

    def close(self) -> None:
        pass


class _Stopped:
    """The fake producer's sender and accumulator: nothing in flight, nothing queued."""

    def __init__(self) -> None:
        self._batches: dict[TopicPartition, list[object]] = {}
        self._pending_batches: set[object] = set()

    async def close(self) -> None:
        pass

    def fail_all(self, exception: BaseException) -> None:
        pass


class FakeProducer:
    """Acknowledges every batch at once, after `refusals` failed starts (shared count)."""

    def __init__(self, log: FakeKafka, **options: Any) -> None:
        self.kafka = log
        self._sender = _Stopped()
        self._message_accumulator = _Stopped()

    async def start(self) -> None:
        if self.kafka.refusals:
            self.kafka.refusals -= 1
            raise KafkaConnectionError("refused")

    async def stop(self) -> None:
        pass

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.kafka.partitions))

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if partition in self.kafka.failing:
            self.kafka.failing.discard(partition)  # fails once, as a leader moving away
            done.set_exception(KafkaConnectionError(f"partition {partition}: not leader"))
        else:
            self.kafka.sends.append(batch.values)
            self.kafka.by_partition.setdefault(partition, []).extend(batch.values)
            done.set_result(None)
        return done


class FakeKafka:
    def __init__(self, refusals: int = 0, partitions: int = 1) -> None:
        self.refusals = refusals
        self.partitions = partitions
        self.failing: set[int] = set()  # partitions whose next batch Kafka refuses
        self.by_partition: dict[int, list[bytes]] = {}
        self.sends: list[list[bytes]] = []  # the records of each send_batch, in order
        self.waits: list[float] = []  # what the sink slept between connect attempts

    def producer(self, **options: Any) -> FakeProducer:
        return FakeProducer(self, **options)

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


async def drained(
    journal: Journal, sink: KafkaSink, max_records: int, sleep: Callable[[float], Awaitable[None]]
) -> None:
    """Run gateway.sinks.drain until the journal is empty."""
    task = asyncio.create_task(
        drain(journal, sink, max_records=max_records, max_bytes=1 << 20, sleep=sleep)
    )
    while journal.depth_records:
        await asyncio.sleep(0)
        assert not task.done(), task
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_max_inflight_records_bounds_each_send(tmp_path: Path) -> None:
    async def body() -> list[int]:
        kafka = FakeKafka()
        async with await Journal.open(tmp_path, commit_interval_ms=1) as journal:
            await journal.append([rec(i) for i in range(10)])
            sink = KafkaSink(Kafka(), GatewayMetrics(), producer_factory=kafka.producer)
            await drained(journal, sink, 3, kafka.sleep)
        assert [v for send in kafka.sends for v in send] == [rec(i).value for i in range(10)]
        return [len(send) for send in kafka.sends]

    assert asyncio.run(body()) == [3, 3, 3, 1]


def test_only_the_records_before_the_first_refused_one_are_acknowledged(tmp_path: Path) -> None:
    kafka = FakeKafka(partitions=3)

    async def body() -> tuple[int, int, list[int]]:
        async with await Journal.open(tmp_path, commit_interval_ms=1) as journal:
            await journal.append([rec(i) for i in range(12)])
            sink = KafkaSink(Kafka(), GatewayMetrics(), producer_factory=kafka.producer)
            await sink.start()
            batch = [r for _, r in journal.peek(100, 1 << 20)]
            part = [await sink._partition(r.topic, r.key) for r in batch]
            kafka.failing.add(part[4])  # the partition of the fifth record refuses its batch
            acked = await sink.write(batch)
            first_refused = next(i for i, p in enumerate(part) if p == part[4])
            assert sink.producer is None  # dropped: the next write reconnects first
            # The rest goes again after a reconnect; Kafka's own idempotence drops repeats.
            journal.rewind()
            await drained(journal, sink, 100, kafka.sleep)
        return acked, first_refused, part

    acked, first_refused, part = asyncio.run(body())
    assert 0 < acked == first_refused  # the records in journal order up to the refused batch
    # Every partition got all its records in journal order (repeats of resent ones aside).
    for p in set(part):
        got = list(dict.fromkeys(kafka.by_partition[p]))
        assert got == [rec(i).value for i in range(12) if part[i] == p]


def test_backoff_max_caps_the_reconnect_wait(tmp_path: Path) -> None:
    async def body(backoff_max_s: float) -> list[float]:
        kafka = FakeKafka(refusals=8)
        async with await Journal.open(tmp_path / str(backoff_max_s)) as journal:
            cfg = Kafka(backoff_min_s=0.5, backoff_max_s=backoff_max_s)
            sink = KafkaSink(cfg, GatewayMetrics(), producer_factory=kafka.producer)
            task = asyncio.create_task(
                drain(journal, sink, max_records=10, max_bytes=1 << 20, sleep=kafka.sleep)
            )
            while not sink.connected:
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert sink.connect_failures == 0
        return kafka.waits

    # Doubling from 0.5 s (plus up to 0.5 s jitter) passes 2 s by the third wait, 30 s never.
    capped = asyncio.run(body(2.0))
    assert len(capped) == 8 and max(capped) == 2.0 and capped[3:] == [2.0] * 5
    uncapped = asyncio.run(body(30.0))
    assert max(uncapped) == 30.0  # the seventh wait would be 0.5 * 2**6 = 32 s uncapped


def test_abandoning_leaves_no_unretrieved_error() -> None:
    """A batch the sender put back for a retry (as during an outage), then failed when the
    producer is abandoned: every error it carries is retrieved, by the sink or by the caller."""

    async def body() -> list[str]:
        unretrieved: list[str] = []
        asyncio.get_running_loop().set_exception_handler(
            lambda _, context: unretrieved.append(context["message"])
        )
        acc = MessageAccumulator(None, 16384, 0, 30)
        tp = TopicPartition("city.air_quality.v1", 0)
        builder = acc.create_builder()
        builder.append(key=b"s-1", value=b"{}", timestamp=None)
        delivery = await acc.add_batch(builder, tp, timeout=1)
        acc.reenqueue(acc._pop_batch(tp))  # what aiokafka's sender does after a failed request
        fail_queued(acc, KafkaConnectionError("producer abandoned"))
        await asyncio.sleep(0)  # the shield around the delivery future follows
        assert isinstance(delivery.exception(), KafkaConnectionError)  # the sink's to retrieve
        del acc, builder, delivery
        gc.collect()
        return unretrieved

    assert asyncio.run(body()) == []
