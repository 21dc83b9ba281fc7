"""Stream deframers: resynchronisation tables, and properties over random and damaged streams."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge import pms5003, sds011, traffic_line
from edge.codec import CODES, Rejected
from edge.deframer import MAX_GARBAGE, Deframer, LineDeframer, PMS5003Deframer, SDS011Deframer
from edge.pms5003 import PMS5003Frame
from edge.reading import Reading
from edge.sds011 import SDS011Frame
from tests.edge.strategies import SETTINGS, names, split_points

PMS = pms5003.encode(PMS5003Frame(4, 5, 5, 4, 5, 3, 32256, 57856, 5888, 512, 0, 151))
PMS2 = pms5003.encode(PMS5003Frame(*range(100, 113)))
SDS = bytes.fromhex("aa c0 d4 04 3a 0a a1 60 1d ab")
SDS2 = sds011.encode(SDS011Frame(350, 500, 1))
LINE = b"$TSC,tsc-1,1,1700000000000,intensity=12,phase_N=green*%02X\r\n" % traffic_line.checksum(
    b"TSC,tsc-1,1,1700000000000,intensity=12,phase_N=green"
)


def run(deframer: Deframer, *chunks: bytes) -> list[bytes | Rejected]:
    out: list[bytes | Rejected] = []
    for chunk in chunks:
        out += deframer.feed(chunk)
    return out + deframer.flush()


def shape(items: list[bytes | Rejected]) -> list[str]:
    """Frames as "frame", rejections by their reason."""
    return ["frame" if isinstance(i, bytes) else i.reason for i in items]


def test_clean_stream() -> None:
    assert run(PMS5003Deframer(), PMS + PMS2 + PMS) == [PMS, PMS2, PMS]
    assert run(SDS011Deframer(), SDS + SDS2) == [SDS, SDS2]
    assert run(LineDeframer(), LINE + LINE) == [LINE, LINE]


def test_garbage_before_a_frame_is_one_rejection() -> None:
    out = run(PMS5003Deframer(), b"\x00noise\xff" + PMS)
    assert out == [Rejected("garbage: 7 bytes skipped", b"\x00noise\xff"), PMS]
    assert shape(run(PMS5003Deframer(), b"B" + PMS)) == ["garbage: 1 byte skipped", "frame"]


def test_garbage_fed_byte_by_byte_is_still_one_rejection() -> None:
    stream = b"x" * 100 + SDS
    assert run(SDS011Deframer(), *[stream[i : i + 1] for i in range(len(stream))]) == [
        Rejected("garbage: 100 bytes skipped", b"x" * 100),
        SDS,
    ]


def test_pms5003_frame_that_lost_two_bytes_costs_only_itself() -> None:
    # As seen in the field: a frame whose checksum bytes were lost, followed by the next header.
    out = run(PMS5003Deframer(), PMS[:30] + PMS2)
    assert out[1:] == [PMS2]
    assert out[0] == Rejected(
        "truncated: 30 of 32 bytes, then a new header "
        f"(bad_checksum: expected 0x{pms5003.checksum(PMS):04x}, got 0x424d)",
        PMS[:30],
    )


def test_a_frame_that_lost_one_byte_before_the_next_header() -> None:
    # The next header straddles the candidate's end: the deframer must wait for one more byte.
    out = run(PMS5003Deframer(), PMS[:31], PMS2[:1], PMS2[1:])
    assert shape(out)[1:] == ["frame"] and out[1] == PMS2
    assert isinstance(out[0], Rejected) and out[0].raw == PMS[:31]


def test_bad_checksum_frame_is_reported_and_the_next_one_kept() -> None:
    bad = PMS[:-1] + bytes([PMS[-1] ^ 1])
    out = run(PMS5003Deframer(), bad + PMS2)
    expected = pms5003.checksum(PMS)
    assert out == [
        Rejected(f"bad_checksum: expected 0x{expected:04x}, got 0x{expected ^ 1:04x}", bad),
        PMS2,
    ]


def test_false_header_in_garbage() -> None:
    out = run(PMS5003Deframer(), b"BM\x00\x1c junk" + PMS)
    assert shape(out) == [
        "truncated: 9 of 32 bytes, then a new header (bad_checksum: expected 0x04bf, got 0x0002)",
        "frame",
    ]
    assert out[0] == Rejected(out[0].reason, b"BM\x00\x1c junk")  # type: ignore[union-attr]


def test_sds011_bad_tail_and_command_reply() -> None:
    reply = bytes.fromhex("aa c5 02 01 00 00 a1 60 04 ab")  # set-mode reply: not a data frame
    bad_tail = SDS[:9] + b"\x00"
    assert shape(run(SDS011Deframer(), reply + bad_tail + SDS2)) == [
        "garbage: 10 bytes skipped",
        "bad_tail: expected 0xab, got 0x00",
        "frame",
    ]


def test_long_garbage_is_reported_in_bounded_runs() -> None:
    deframer = PMS5003Deframer()
    out = deframer.feed(b"\x00" * 10_000)
    assert shape(out) == ["garbage: 4096 bytes skipped"] * 2
    assert deframer.buffered < MAX_GARBAGE
    assert shape(deframer.feed(PMS)) == ["garbage: 1808 bytes skipped", "frame"]
    assert deframer.buffered == 0


def test_buffer_stays_bounded_on_a_huge_read() -> None:
    deframer = LineDeframer()
    out = deframer.feed(b"$" + b"A" * 1_000_000)
    assert deframer.buffered <= MAX_GARBAGE
    assert sum(len(i.raw) for i in out if isinstance(i, Rejected)) + deframer.buffered == 1_000_001


def test_flush_reports_a_partial_frame_and_empties() -> None:
    deframer = PMS5003Deframer()
    assert deframer.feed(PMS + PMS2[:20]) == [PMS]
    assert deframer.flush() == [Rejected("truncated: 20 of 32 bytes at end of stream", PMS2[:20])]
    assert deframer.flush() == [] and deframer.buffered == 0


def test_flush_splits_two_partial_frames() -> None:
    assert shape(run(SDS011Deframer(), SDS[:4] + SDS2[:5])) == [
        "truncated: 4 of 10 bytes, then a new header",
        "truncated: 5 of 10 bytes at end of stream",
    ]


def test_line_cut_short_by_the_next_line() -> None:
    cut = LINE[:20]
    assert run(LineDeframer(), cut + LINE) == [
        Rejected("truncated: 20 bytes, then a new '$'", cut),
        LINE,
    ]


def test_line_checks() -> None:
    bad = LINE.replace(b"=12", b"=13")
    out = run(LineDeframer(), b"\r\n" + bad + LINE + b"$TSC,x\xff*00\r\n")
    assert shape(out) == [
        "garbage: 2 bytes skipped",
        f"bad_checksum: expected {traffic_line.checksum(bad[1:-5]):02X}, got {bad[-4:-2].decode()}",
        "frame",
        "bad_syntax: not $<printable ASCII>*HH followed by CR LF",
    ]


def test_oversize_line_then_resync() -> None:
    long_line = b"$TSC," + b"9" * 600 + b"*00\r\n"
    out = run(LineDeframer(), long_line + LINE)
    assert shape(out) == [
        "oversize: no line end within 512 bytes",
        f"garbage: {len(long_line) - 512} bytes skipped",
        "frame",
    ]


def test_max_line_is_configurable() -> None:
    assert shape(run(LineDeframer(max_line=16), LINE)) == [
        "oversize: no line end within 16 bytes",
        f"garbage: {len(LINE) - 16} bytes skipped",
    ]


# Properties over streams built from good frames, damaged frames and noise.

Kind = tuple[Callable[[], Deframer], st.SearchStrategy[bytes], Callable[[bytes], bool]]

pms_frames = st.binary(min_size=26, max_size=26).map(
    lambda words: pms5003.encode(PMS5003Frame(*struct.unpack(">13H", words)))
)
sds_frames = st.binary(min_size=6, max_size=6).map(
    lambda data: sds011.encode(SDS011Frame(*struct.unpack("<HHH", data)))
)
lines = st.builds(
    lambda sensor_id, seq, count, phase: traffic_line.encode(
        Reading(
            sensor_id=sensor_id,
            sensor_type="traffic_signal",
            seq=seq,
            ts=1_700_000_000_000_000_000,
            fields={"intensity": count, "phase_N": phase},
        )
    ),
    names,
    st.integers(0, 2**32),
    st.integers(-5, 5000),
    st.sampled_from(["red", "green", "amber", "flashing", "off"]),
)

KINDS: dict[str, Kind] = {
    "pms5003": (PMS5003Deframer, pms_frames, lambda f: not isinstance(pms5003.decode(f), Rejected)),
    "sds011": (SDS011Deframer, sds_frames, lambda f: not isinstance(sds011.decode(f), Rejected)),
    "line": (LineDeframer, lines, lambda f: traffic_line.check_frame(f) is None),
}
STARTS = {"pms5003": 0x42, "sds011": 0xAA, "line": ord("$")}


def damaged(frames: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """A good frame cut short, or with one byte changed."""
    return st.tuples(frames, st.integers(0, 10_000), st.integers(1, 255)).map(
        lambda t: (
            t[0][: t[1] % len(t[0])]
            if t[2] % 2
            else t[0][: t[1] % len(t[0])]
            + bytes([t[0][t[1] % len(t[0])] ^ t[2]])
            + t[0][t[1] % len(t[0]) + 1 :]
        )
    )


def streams(kind: str) -> st.SearchStrategy[bytes]:
    _, frames, _ = KINDS[kind]
    pieces = frames | damaged(frames) | st.binary(max_size=80)
    return st.lists(pieces, max_size=6).map(b"".join)


def _check_stream(kind: str, stream: bytes, chunks: list[bytes]) -> None:
    make, _, valid = KINDS[kind]
    whole = run(make(), stream)
    # Every byte is accounted for, once, in order.
    assert b"".join(i if isinstance(i, bytes) else i.raw for i in whole) == stream
    for item in whole:
        if isinstance(item, bytes):
            assert valid(item)
        else:
            assert item.code in CODES and item.raw
    # How the stream was split into reads makes no difference.
    assert run(make(), *chunks) == whole


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_any_stream_is_accounted_for_and_split_invariant(kind: str) -> None:
    @SETTINGS
    @given(st.data())
    def check(data: st.DataObject) -> None:
        stream = data.draw(streams(kind))
        _check_stream(kind, stream, data.draw(split_points(stream)))

    check()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_random_bytes_never_break_a_deframer(kind: str) -> None:
    @SETTINGS
    @given(st.binary(max_size=300), st.data())
    def check(stream: bytes, data: st.DataObject) -> None:
        _check_stream(kind, stream, data.draw(split_points(stream)))

    check()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_good_frames_survive_noise_and_truncated_neighbours(kind: str) -> None:
    """Noise without start bytes and cut-short frames never cost a good frame."""
    make, frames, _ = KINDS[kind]
    noise = st.binary(max_size=60).map(lambda b: b.replace(bytes([STARTS[kind]]), b""))
    cut = st.tuples(frames, st.integers(1, 10_000)).map(lambda t: t[0][: t[1] % len(t[0]) or 1])

    @SETTINGS
    @given(st.lists(st.tuples(noise | cut, frames), max_size=6))
    def check(pairs: list[tuple[bytes, bytes]]) -> None:
        stream = b"".join(a + b for a, b in pairs)
        got = [i for i in run(make(), stream) if isinstance(i, bytes)]
        assert got == [b for _, b in pairs]

    check()
