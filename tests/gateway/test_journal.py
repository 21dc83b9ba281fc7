"""The durable journal: FIFO order, restarts, torn tails, checksums, bounds and group commit.

Pure tests on a temp directory; each drives the asyncio API through asyncio.run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from gateway import journal as journal_module
from gateway import journal_format as fmt
from gateway.errors import JournalError
from gateway.journal import Journal, JournalRecord


def rec(i: int, sensor_type: str = "air_quality", size: int = 100) -> JournalRecord:
    return JournalRecord(
        topic=f"city.{sensor_type}.v1",
        key=b"s-%d" % (i % 7),
        value=b"%08d" % i + b"v" * (size - 8),
        headers=(("gateway_id", b"gw-1"),),
        sensor_type=sensor_type,
        ts=1_000 + i,
    )


def seq(record: JournalRecord) -> int:
    return int(record.value[:8])


def run(fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
    return asyncio.run(fn(*args))


async def opened(path: Path, **kw: Any) -> Journal:
    kw.setdefault("commit_interval_ms", 1)
    return await Journal.open(path, **kw)


def segments(path: Path) -> list[Path]:
    return sorted(path.glob("*.seg"))


def test_append_peek_release_in_order(tmp_path: Path) -> None:
    async def body() -> None:
        async with await opened(tmp_path) as j:
            assert await j.append([rec(0), rec(1), rec(2)]) == 3
            assert await j.append([rec(3)]) == 4
            assert (j.depth_records, j.appended_total, j.oldest_unsent_ts) == (4, 4, 1000)
            first = j.peek(2, 1 << 20)
            assert [(i, seq(r)) for i, r in first] == [(1, 0), (2, 1)]
            assert first[0][1] == rec(0)
            assert [i for i, _ in j.peek(10, 1 << 20)] == [3, 4]  # not handed out twice
            assert j.peek(10, 1 << 20) == []
            j.release(2)
            assert (j.depth_records, j.released_total, j.oldest_unsent_ts) == (2, 2, 1002)
            j.release(4)
            assert (j.depth_records, j.depth_bytes, j.oldest_unsent_ts) == (0, 0, None)

    run(body)


def test_peek_respects_byte_budget_but_hands_out_at_least_one(tmp_path: Path) -> None:
    async def body() -> None:
        async with await opened(tmp_path) as j:
            await j.append([rec(i, size=500) for i in range(5)])
            assert len(j.peek(10, 10)) == 1
            assert len(j.peek(10, 1200)) == 2

    run(body)


def test_rewind_hands_unreleased_records_out_again(tmp_path: Path) -> None:
    async def body() -> None:
        async with await opened(tmp_path) as j:
            await j.append([rec(i) for i in range(5)])
            j.peek(3, 1 << 20)
            j.release(1)
            j.rewind()
            assert [i for i, _ in j.peek(10, 1 << 20)] == [2, 3, 4, 5]

    run(body)


def test_release_ids_out_of_order(tmp_path: Path) -> None:
    async def body() -> None:
        async with await opened(tmp_path) as j:
            await j.append([rec(i) for i in range(5)])
            j.peek(5, 1 << 20)
            j.release_ids([3, 5])
            assert j.depth_records == 3
            j.release_ids([9])  # never handed out: ignored
            j.rewind()
            assert [i for i, _ in j.peek(10, 1 << 20)] == [1, 2, 4]

    run(body)


def test_restart_keeps_unreleased_and_forgets_released(tmp_path: Path) -> None:
    async def first() -> None:
        async with await opened(tmp_path) as j:
            await j.append([rec(i) for i in range(10)])
            j.peek(6, 1 << 20)
            j.release(4)

    async def second() -> None:
        async with await opened(tmp_path) as j:
            got = j.peek(100, 1 << 20)
            assert [i for i, _ in got] == [5, 6, 7, 8, 9, 10]
            assert [seq(r) for _, r in got] == [4, 5, 6, 7, 8, 9]
            assert await j.append([rec(10)]) == 11  # ids keep increasing
            assert j.recovered_torn_records == 0

    run(first)
    run(second)


def test_wait_for_records(tmp_path: Path) -> None:
    async def body() -> None:
        async with await opened(tmp_path) as j:
            assert await j.wait_for_records(0.01) is False
            waiter = asyncio.create_task(j.wait_for_records(5))
            await asyncio.sleep(0)
            await j.append([rec(0)])
            assert await waiter is True
            j.peek(1, 1 << 20)
            assert await j.wait_for_records(0.01) is False

    run(body)


def _last_data_frame(path: Path) -> fmt.Frame:
    data = segments(path)[-1].read_bytes()
    return [f for f in fmt.scan(data).frames if f.kind == fmt.Kind.DATA][-1]


def _write_five(path: Path) -> None:
    async def body() -> None:
        async with await opened(path) as j:
            await j.append([rec(i) for i in range(5)])

    run(body)


def test_torn_tail_is_cut_and_counted_at_every_offset(tmp_path: Path) -> None:
    original = tmp_path / "original"
    _write_five(original)
    last = _last_data_frame(original)
    end = last.offset + last.size
    assert end == segments(original)[-1].stat().st_size

    async def check(path: Path, cut: int) -> None:
        with open(segments(path)[-1], "r+b") as f:
            f.truncate(cut)
        async with await opened(path) as j:
            torn = cut > last.offset
            assert j.recovered_torn_records == int(torn)
            assert j.recovered_torn_bytes == (cut - last.offset if torn else 0)
            assert [seq(r) for _, r in j.peek(10, 1 << 20)] == [0, 1, 2, 3]
            assert await j.append([rec(99)]) == 5  # the cut id is free again
        async with await opened(path) as j:  # and the next start is clean
            assert j.recovered_torn_records == 0
            assert [seq(r) for _, r in j.peek(10, 1 << 20)] == [0, 1, 2, 3, 99]

    for cut in range(last.offset, end):
        copy = tmp_path / f"cut{cut}"
        shutil.copytree(original, copy)
        run(check, copy, cut)


def test_torn_segment_header_is_removed(tmp_path: Path) -> None:
    _write_five(tmp_path)
    (tmp_path / fmt.segment_name(10**6)).write_bytes(fmt.segment_header(10**6)[:7])

    async def body() -> None:
        async with await opened(tmp_path) as j:
            assert j.recovered_torn_bytes == 7
            assert len(j.peek(10, 1 << 20)) == 5

    run(body)


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x40]))


def test_flipped_byte_in_the_middle_loses_that_record_only(tmp_path: Path) -> None:
    async def write() -> None:
        async with await opened(tmp_path, segment_bytes=2048) as j:
            for i in range(0, 40, 4):
                await j.append([rec(i + k) for k in range(4)])

    run(write)
    files = segments(tmp_path)
    assert len(files) >= 3
    frames = [f for f in fmt.scan(files[0].read_bytes()).frames if f.kind == fmt.Kind.DATA]
    bad = frames[2]
    _flip(files[0], bad.offset + bad.size - 3)

    async def check() -> None:
        async with await opened(tmp_path, segment_bytes=2048) as j:
            assert j.corrupt_records == 1
            assert j.recovered_torn_records == 0
            got = [seq(r) for _, r in j.peek(100, 1 << 20)]
            assert got == [i for i in range(40) if i != 2]

    run(check)


def test_records_in_the_memory_window_are_handed_out_without_reading_the_disk(
    tmp_path: Path,
) -> None:
    """Bytes rotted on disk after the append show which copy the sink got: the memory copy
    while the window holds it, the disk copy (rot found, record dropped) beyond it."""

    async def body(memory_bytes: int) -> tuple[list[int], int, int]:
        directory = tmp_path / str(memory_bytes)
        async with await opened(directory, memory_bytes=memory_bytes) as j:
            await j.append([rec(i) for i in range(10)])
            files = segments(directory)
            data = [f for f in fmt.scan(files[0].read_bytes()).frames if f.kind == fmt.Kind.DATA]
            for frame in data:
                _flip(files[0], frame.offset + frame.size - 3)
            got = [seq(r) for _, r in j.peek(100, 1 << 20)]
            used = j.memory_bytes
            j.release(max(range(1, 11)))
            return got, used, j.memory_bytes

    held = 4 * (
        fmt.FRAME_OVERHEAD + len(fmt.encode_payload(rec(0))) + journal_module.MEMORY_OVERHEAD
    )
    assert run(body, 1 << 20)[0] == list(range(10))  # all in memory
    got, used, after = run(body, held)  # the first four fit
    assert (got, used, after) == ([0, 1, 2, 3], held, 0)
    assert run(body, 0)[0] == []  # all from disk, all rotted


def test_flipped_byte_in_the_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    _write_five(tmp_path)
    last = _last_data_frame(tmp_path)
    _flip(segments(tmp_path)[-1], last.offset + 20)

    async def check() -> None:
        async with await opened(tmp_path) as j:
            assert (j.recovered_torn_records, j.corrupt_records) == (1, 0)
            assert len(j.peek(10, 1 << 20)) == 4

    run(check)


def test_checksum_catches_a_flipped_bit() -> None:
    buf = bytearray()
    fmt.append_data(buf, 7, fmt.encode_payload(rec(1)))
    assert fmt.decode_record(bytes(buf)) == rec(1)
    for offset in (0, 5, 8, 17, len(buf) - 1):
        bad = bytearray(buf)
        bad[offset] ^= 0x01
        with pytest.raises(ValueError):
            fmt.decode_record(bytes(bad))
        assert fmt.scan(bytes(bad), start=0).frames == []


def test_block_policy_waits_for_release(tmp_path: Path) -> None:
    async def body() -> None:
        async with await opened(tmp_path, max_bytes=2000) as j:
            await j.append([rec(i, size=300) for i in range(5)])  # ~1650 bytes
            assert not j.full
            blocked = asyncio.create_task(j.append([rec(5, size=300)]))
            later = asyncio.create_task(j.append([rec(6, size=10)]))  # small, but queues behind
            await asyncio.sleep(0.05)
            assert not blocked.done() and not later.done()
            assert j.full
            out = j.peek(2, 1 << 20)
            j.release(out[-1][0])
            assert await blocked == 6
            assert await later == 7
            assert not j.full
            assert j.dropped_total == 0

    run(body)


def test_oversized_batch_is_refused(tmp_path: Path) -> None:
    async def body() -> None:
        async with await opened(tmp_path, max_bytes=1000) as j:
            with pytest.raises(JournalError, match="max_bytes"):
                await j.append([rec(i, size=300) for i in range(4)])

    run(body)


def test_drop_oldest_drops_only_the_chosen_type_oldest_first(tmp_path: Path) -> None:
    kw = {"max_bytes": 3100, "policy": "drop_oldest", "drop_sensor_type": "traffic"}

    async def body() -> None:
        async with await opened(tmp_path, **kw) as j:
            types = ["air_quality", "traffic"] * 4
            await j.append([rec(i, t, size=300) for i, t in enumerate(types)])
            j.peek(1, 1 << 20)  # id 1 is in flight: never dropped
            await j.append([rec(100, "air_quality", size=300)] * 3)
            assert j.dropped_by_type == {"traffic": 3}
            assert j.dropped_total == 3
            j.rewind()
            got = [seq(r) for _, r in j.peek(100, 1 << 20)]
            assert got == [0, 2, 4, 6, 7, 100, 100, 100]

    async def after_restart() -> None:
        async with await opened(tmp_path, **kw) as j:
            got = [seq(r) for _, r in j.peek(100, 1 << 20)]
            assert got == [0, 2, 4, 6, 7, 100, 100, 100]

    run(body)
    run(after_restart)


def test_drop_oldest_falls_back_to_blocking(tmp_path: Path) -> None:
    kw = {"max_bytes": 1600, "policy": "drop_oldest", "drop_sensor_type": "traffic"}

    async def body() -> None:
        async with await opened(tmp_path, **kw) as j:
            await j.append([rec(i, "air_quality", size=300) for i in range(4)])
            blocked = asyncio.create_task(j.append([rec(9, "air_quality", size=300)]))
            await asyncio.sleep(0.05)
            assert not blocked.done() and j.full
            j.release(j.peek(1, 1 << 20)[0][0])
            assert await blocked == 5
            assert j.dropped_total == 0

    run(body)


def test_concurrent_appends_share_fsyncs(tmp_path: Path) -> None:
    async def body() -> None:
        async with await opened(tmp_path, commit_interval_ms=5) as j:
            ids = await asyncio.gather(*(j.append([rec(i)]) for i in range(500)))
            assert sorted(ids) == list(range(1, 501))
            assert j.fsyncs_total <= 5
            assert [seq(r) for _, r in j.peek(1000, 1 << 30)] == list(range(500))

    run(body)


def test_commit_records_triggers_the_fsync_early(tmp_path: Path) -> None:
    async def body() -> None:
        async with await opened(tmp_path, commit_interval_ms=10_000, commit_records=10) as j:
            await asyncio.wait_for(j.append([rec(i) for i in range(10)]), 2)

    run(body)


def test_a_drain_within_max_bytes_copies_no_segment(tmp_path: Path) -> None:
    """Releasing in order while the cursor walks a segment leaves its front dead: copying the
    rest would cost a segment's read and write for space nobody needs yet."""

    async def body() -> tuple[int, list[int]]:
        async with await opened(tmp_path, segment_bytes=4096, max_bytes=1 << 20) as j:
            for i in range(0, 200, 5):  # a group per append, a segment per few groups
                await j.append([rec(i + k, size=200) for k in range(5)])
            assert len(segments(tmp_path)) > 5
            delivered: list[int] = []
            while batch := j.peek(4, 1 << 30):
                delivered += [seq(r) for _, r in batch]
                j.release(batch[-1][0])  # 4 of a segment's 10: the cursor mid-segment
                await asyncio.gather(*j._background)  # any compaction started has finished
            return j.compactions_total, delivered

    compactions, delivered = run(body)
    assert delivered == list(range(200))
    assert compactions == 0


def test_segments_roll_delete_and_compact(tmp_path: Path) -> None:
    kw = {
        "segment_bytes": 4096,
        "max_bytes": 30_000,
        "policy": "drop_oldest",
        "drop_sensor_type": "traffic",
    }

    async def body() -> list[int]:
        async with await opened(tmp_path, **kw) as j:
            for i in range(0, 600, 10):
                kinds = ["traffic" if k else "air_quality" for k in range(10)]
                await j.append([rec(i + k, t, size=200) for k, t in enumerate(kinds)])
            assert j.dropped_total > 300
            assert j.compactions_total > 0
            await asyncio.sleep(0.1)  # let the last compaction finish
            on_disk = sum(p.stat().st_size for p in segments(tmp_path))
            assert on_disk < 1.5 * 30_000 + 2 * 4096  # 160 kB were written
            return [seq(r) for _, r in j.peek(1000, 1 << 30)]

    kept = run(body)
    assert kept == sorted(kept)
    assert set(range(0, 600, 10)) <= set(kept)  # every air-quality record survived

    async def again() -> None:
        async with await opened(tmp_path, **kw) as j:
            assert [seq(r) for _, r in j.peek(1000, 1 << 30)] == kept
            j.release(10**9)
            await asyncio.sleep(0)
        async with await opened(tmp_path, **kw) as j:
            assert j.depth_records == 0
            assert len(segments(tmp_path)) == 1

    run(again)


def test_second_opener_and_unwritable_directory_get_clear_errors(tmp_path: Path) -> None:
    async def body() -> None:
        async with await opened(tmp_path):
            with pytest.raises(JournalError, match="in use by another process"):
                await opened(tmp_path)
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(JournalError, match="cannot create journal directory"):
            await opened(blocker / "journal")

    run(body)


def test_append_after_close_is_refused(tmp_path: Path) -> None:
    async def body() -> None:
        j = await opened(tmp_path)
        await j.close()
        with pytest.raises(JournalError, match="closed"):
            await j.append([rec(0)])

    run(body)


def test_wrong_policy_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="drop_sensor_type"):
        asyncio.run(opened(tmp_path, policy="drop_oldest"))
    assert not os.listdir(tmp_path)


def test_chunks_are_written_whole_and_in_order_when_the_kernel_takes_a_few_bytes_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.writev

    def a_few(fd: int, views: list[memoryview]) -> int:
        return real(fd, [views[0][:3]])  # what a short write leaves: the rest is retried

    monkeypatch.setattr(os, "writev", a_few)
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        journal_module._write_chunks(fd, [b"abcdefgh", bytearray(), bytearray(b"ij"), b"klmnop"])
    finally:
        os.close(fd)
    assert path.read_bytes() == b"abcdefghijklmnop"
