"""The drain loop with a fake sink: what the sink acknowledged leaves the journal, the rest is
offered again in order, and Backpressure is waited out for as long as it says."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from gateway.journal import Journal, JournalRecord
from gateway.sinks import Backpressure, drain


def rec(i: int) -> JournalRecord:
    return JournalRecord("city.air_quality.v1", b"s", b"%04d" % i, (), "air_quality", i)


class FakeSink:
    """Refuses its first `busy` offers, then acknowledges at most `take` records per write."""

    name = "fake"

    def __init__(self, busy: int, take: int) -> None:
        self.busy, self.take = busy, take
        self.got: list[bytes] = []
        self.started = 0

    async def start(self) -> None:
        self.started += 1

    async def write(self, records: Sequence[JournalRecord]) -> int:
        if self.busy:
            self.busy -= 1
            raise Backpressure("busy", retry_after_s=2.5)
        taken = records[: self.take]
        self.got += [r.value for r in taken]
        return len(taken)

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None


def test_acknowledged_records_leave_the_rest_come_again_and_backpressure_is_waited_out(
    tmp_path: Path,
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def body() -> FakeSink:
        sink = FakeSink(busy=2, take=3)
        async with await Journal.open(tmp_path, commit_interval_ms=1) as journal:
            await journal.append([rec(i) for i in range(10)])
            task = asyncio.create_task(
                drain(journal, sink, max_records=100, max_bytes=1 << 20, sleep=sleep)
            )
            while journal.depth_records:
                await asyncio.sleep(0)
                assert not task.done(), task
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return sink

    sink = asyncio.run(body())
    assert sink.got == [rec(i).value for i in range(10)]  # each once, in journal order
    assert waits == [2.5, 2.5] and sink.started == 1
