"""Property: any mix of appends, hand-outs, releases, rewinds and restarts keeps FIFO order.

Records still unreleased always come back complete and in append order; the only extras a
restart may bring back are records that were released out of order (at-least-once).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.journal import Journal, JournalRecord

Op = tuple[str, int]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 30)),
        st.tuples(st.just("peek"), st.integers(1, 20)),
        st.tuples(st.just("release"), st.integers(0, 25)),
        st.tuples(st.just("release_ids"), st.integers(0, 2**16)),
        st.tuples(st.just("rewind"), st.just(0)),
        st.tuples(st.just("restart"), st.just(0)),
    ),
    max_size=25,
)


def rec(n: int) -> JournalRecord:
    return JournalRecord("t", b"k", b"%d" % n, (), "air_quality" if n % 2 else "traffic", n)


async def scenario(path: Path, steps: list[Op], memory_bytes: int) -> None:
    async def open_journal() -> Journal:
        return await Journal.open(
            path, commit_interval_ms=0.5, segment_bytes=1024, memory_bytes=memory_bytes
        )

    j = await open_journal()
    appended = 0
    unreleased: list[int] = []  # record numbers, in append order
    handed: list[int] = []  # handed out since the last rewind or restart
    out_of_order: set[int] = set()
    ids: dict[int, int] = {}
    for op, arg in steps:
        if op == "append":
            numbers = list(range(appended, appended + arg))
            last = await j.append([rec(n) for n in numbers])
            ids.update(zip(numbers, range(last - arg + 1, last + 1), strict=True))
            unreleased += numbers
            appended += arg
        elif op == "peek":
            got = [int(r.value) for _, r in j.peek(arg, 1 << 20)]
            pending = [n for n in unreleased if n not in handed]
            assert got == pending[: len(got)]
            assert len(got) == min(arg, len(pending))
            handed += got
        elif op == "release" and handed:
            upto = handed[min(arg, len(handed) - 1)]
            j.release(ids[upto])
            done = {n for n in handed if n <= upto}
            unreleased = [n for n in unreleased if n not in done]
            handed = [n for n in handed if n not in done]
        elif op == "release_ids" and handed:
            chosen = {n for k, n in enumerate(handed) if arg >> (k % 16) & 1}
            j.release_ids(ids[n] for n in chosen)
            out_of_order |= chosen
            unreleased = [n for n in unreleased if n not in chosen]
            handed = [n for n in handed if n not in chosen]
        elif op == "rewind":
            j.rewind()
            handed = []
        elif op == "restart":
            await j.close()
            j = await open_journal()
            back = [int(r.value) for _, r in j.peek(10_000, 1 << 30)]
            assert back == sorted(back)
            assert set(unreleased) <= set(back) <= set(unreleased) | out_of_order
            j.rewind()
            unreleased = back
            handed = []
        assert j.depth_records == len(unreleased)
    j.rewind()
    assert [int(r.value) for _, r in j.peek(10_000, 1 << 30)] == unreleased
    await j.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.sampled_from([0, 1000, 1 << 20]))
def test_any_history_keeps_unreleased_records_in_fifo_order(
    steps: list[Op], memory_bytes: int
) -> None:
    """Records handed out from memory, from disk (memory_bytes 0) and from both (1000 bytes
    hold a few records) are the same records in the same order."""
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(scenario(Path(directory), steps, memory_bytes))
