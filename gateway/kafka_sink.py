"""Kafka sink: sends journal records with an idempotent acks=all producer, then releases them.

Records leave the journal only once Kafka acknowledged them. On any failure the unacknowledged
rest is rewound and sent again after a pause: at least once, with per-sensor order kept because
the journal hands records out strictly in append order and one key maps to one partition.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from gateway.config import Kafka
from gateway.journal import Journal
from gateway.metrics import GatewayMetrics

log = structlog.get_logger("gateway.kafka")


class KafkaSink:
    name = "kafka"

    def __init__(self, cfg: Kafka, journal: Journal, metrics: GatewayMetrics) -> None:
        self.cfg = cfg
        self.journal = journal
        self.metrics = metrics
        self.producer = AIOKafkaProducer(
            bootstrap_servers=cfg.bootstrap,
            acks="all",
            enable_idempotence=True,
            compression_type=None if cfg.compression == "none" else cfg.compression,
            linger_ms=cfg.linger_ms,
            max_batch_size=cfg.max_batch_bytes,
            request_timeout_ms=cfg.request_timeout_ms,
            client_id="citygate-gateway",
        )
        self.connected = False

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
                await asyncio.sleep(self.cfg.retry_backoff_s)

    async def _send(self, batch: list[tuple[int, Any]]) -> int:
        """Send a batch; the number of leading records Kafka acknowledged."""
        futures: list[asyncio.Future[Any]] = []
        error: BaseException | None = None
        for _, rec in batch:
            try:
                futures.append(
                    await self.producer.send(
                        rec.topic, rec.value, key=rec.key, headers=list(rec.headers)
                    )
                )
            except (KafkaError, OSError) as exc:
                error = exc
                break
        results = await asyncio.gather(*futures, return_exceptions=True)
        acked = 0
        for result in results:
            if isinstance(result, BaseException):
                error = result
                break
            acked += 1
        counts: dict[str, int] = {}
        for _, rec in batch[:acked]:
            counts[rec.topic] = counts.get(rec.topic, 0) + 1
        for topic, n in counts.items():
            self.metrics.records_out.labels(topic).inc(n)
        if error is not None:
            self.metrics.kafka_errors.labels(type(error).__name__).inc()
            log.warning("kafka_send_failed", error=repr(error), acked=acked, pending=len(batch) - acked)
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
