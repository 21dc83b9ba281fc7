"""The sink protocol: where the journal's records go next (Kafka today), and the loop that hands
them over.

A sink takes records in journal order and says how many leading ones its destination
acknowledged; when it cannot take any now it raises Backpressure saying when to try again. The
loop releases what was acknowledged and hands out the rest again, so no record a sink was given
is lost or overtaken, and a new destination is one new module with this shape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from gateway.errors import GatewayError
from gateway.journal import Journal, JournalRecord


class Backpressure(GatewayError):
    """The sink cannot take records now; `retry_after_s` says when to offer them again."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Sink(Protocol):
    name: str

    async def start(self) -> None:
        """Connect; raises Backpressure while the destination is unreachable."""

    async def write(self, records: Sequence[JournalRecord]) -> int:
        """Send `records` in order; returns how many leading ones the destination acknowledged
        (all, unless it failed part-way); raises Backpressure if it can take none now."""

    async def flush(self) -> None:
        """Return once everything written is acknowledged."""

    async def close(self) -> None: ...


async def drain(
    journal: Journal,
    sink: Sink,
    *,
    max_records: int,
    max_bytes: int,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Forever: offer the journal's records to `sink` and release what it acknowledged."""
    while True:
        try:
            await sink.start()
            break
        except Backpressure as exc:
            await sleep(exc.retry_after_s)
    while True:
        batch = journal.peek(max_records, max_bytes)
        if not batch:
            await journal.wait_for_records(1.0)
            continue
        try:
            acked = await sink.write([rec for _, rec in batch])
        except Backpressure as exc:
            journal.rewind()
            await sleep(exc.retry_after_s)
            continue
        if acked:
            journal.release(batch[acked - 1][0])
        if acked < len(batch):
            journal.rewind()
