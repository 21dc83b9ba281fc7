"""Journal recovery from damage inside a segment: only the damaged record is lost, the loss is
counted in records and bytes, logged once, and the damaged file is kept in quarantine/."""

from __future__ import annotations

import shutil
from pathlib import Path

import structlog

from gateway import journal_format as fmt
from tests.gateway.test_journal import opened, rec, run, segments, seq


def _write(path: Path, n: int, *, size: int = 100, segment_bytes: int = 32 << 20) -> None:
    async def body() -> None:
        async with await opened(path, segment_bytes=segment_bytes) as j:
            for start in range(0, n, 500):
                await j.append([rec(i, size=size) for i in range(start, min(n, start + 500))])

    run(body)


def _data_frames(path: Path) -> list[fmt.Frame]:
    return [f for f in fmt.scan(path.read_bytes()).frames if f.kind == fmt.Kind.DATA]


def _recovered(path: Path) -> tuple[list[int], dict[str, int]]:
    """The seqs a reopened journal hands out, and its damage counters."""

    async def body() -> tuple[list[int], dict[str, int]]:
        async with await opened(path) as j:
            got = [seq(r) for _, r in j.peek(10**6, 1 << 30)]
            return got, {
                "corrupt_records": j.corrupt_records,
                "corrupt_bytes": j.corrupt_bytes,
                "torn_records": j.recovered_torn_records,
            }

    result: tuple[list[int], dict[str, int]] = run(body)
    return result


def test_one_flipped_bit_in_5000_records_loses_that_record_only(tmp_path: Path) -> None:
    _write(tmp_path, 5000)
    [segment] = segments(tmp_path)
    bad = _data_frames(segment)[2500]  # record 2,501
    damaged = bytearray(segment.read_bytes())
    damaged[bad.offset + 40] ^= 0x08
    segment.write_bytes(damaged)

    with structlog.testing.capture_logs() as logs:
        got, counts = _recovered(tmp_path)

    assert got == [i for i in range(5000) if i != 2500]
    assert counts == {"corrupt_records": 1, "corrupt_bytes": bad.size, "torn_records": 0}
    [line] = [e for e in logs if e["event"] == "journal_corrupt"]
    assert line["log_level"] == "error"
    assert line["segment"] == str(segment)
    assert line["damaged_spans"] == [(bad.offset, bad.offset + bad.size)]
    assert line["corrupt_records"] == 1
    [kept] = (tmp_path / "quarantine").iterdir()
    assert line["quarantined"] == str(kept)
    assert kept.read_bytes() == bytes(damaged)  # the evidence, byte for byte
    # The clean segment left behind recovers without damage and takes new records.
    got_again, again = _recovered(tmp_path)
    assert got_again == got
    assert again == {"corrupt_records": 0, "corrupt_bytes": 0, "torn_records": 0}


def test_bytes_cut_out_of_the_middle_count_every_record_lost(tmp_path: Path) -> None:
    _write(tmp_path, 400)
    [segment] = segments(tmp_path)
    frames = _data_frames(segment)
    data = segment.read_bytes()
    start, end = frames[100].offset + 5, frames[200].offset + 7  # 100 whole records and two cut
    segment.write_bytes(data[:start] + data[end:])

    got, counts = _recovered(tmp_path)

    assert got == list(range(100)) + list(range(201, 400))
    assert counts["corrupt_records"] == 101
    assert counts["torn_records"] == 0


def test_a_segment_cut_short_before_the_next_counts_its_lost_records(tmp_path: Path) -> None:
    _write(tmp_path, 600, segment_bytes=64 * 1024)
    first, *rest = segments(tmp_path)
    assert rest
    frames = _data_frames(first)
    cut = frames[len(frames) // 2]
    with open(first, "r+b") as f:
        f.truncate(cut.offset + 30)

    got, counts = _recovered(tmp_path)

    lost = {seq for seq in range(600) if seq not in got}
    assert lost == set(range(len(frames) // 2, len(frames)))
    assert counts["corrupt_records"] == len(lost)


def test_damage_at_every_byte_of_a_small_segment_loses_only_the_damaged_record(
    tmp_path: Path,
) -> None:
    original = tmp_path / "original"
    _write(original, 6, size=12)
    [segment] = segments(original)
    data = segment.read_bytes()
    frames = fmt.scan(data).frames
    owner = {
        at: seq(fmt.decode_payload(f.payload))
        for f in frames
        if f.kind == fmt.Kind.DATA
        for at in range(f.offset, f.offset + f.size)
    }
    for at in range(len(data)):
        copy = tmp_path / f"at{at}"
        shutil.copytree(original, copy)
        damaged = bytearray(data)
        damaged[at] ^= 0x5A
        segments(copy)[0].write_bytes(damaged)

        got, counts = _recovered(copy)

        lost = {owner[at]} if at in owner else set()
        assert got == [i for i in range(6) if i not in lost], at
        assert counts["corrupt_records"] + counts["torn_records"] == len(lost), at
        shutil.rmtree(copy)
