"""Serial frame timestamps: one per frame, from its arrival at the port's baud rate, strictly
increasing per port (no server needed)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from edge import pms5003
from gateway.config import SerialPort
from gateway.frame_clock import FrameClock, ns_per_byte
from gateway.metrics import GatewayMetrics
from gateway.serial_source import SerialSourceRunner

SECOND = 1_000_000_000


def pms_frame(pm25: int) -> bytes:
    return pms5003.encode(
        pms5003.PMS5003Frame(pm25, pm25, pm25 + 5, pm25, pm25, pm25 + 5, 900, 300, 60, 8, 2, 1)
    )


def test_byte_time_counts_start_parity_and_stop_bits() -> None:
    assert ns_per_byte(9600, "N") == 10 * SECOND / 9600
    assert ns_per_byte(9600, "E") == 11 * SECOND / 9600
    assert ns_per_byte(38400, "N") == ns_per_byte(9600, "N") / 4


def test_frames_of_one_read_are_a_frame_time_apart() -> None:
    clock = FrameClock(9600, "N")
    stamps = clock.stamps(100 * SECOND, 6 * 32, [32] * 6)
    frame_ns = 32 * ns_per_byte(9600, "N")
    assert stamps[-1] == 100 * SECOND  # the last byte read is the last byte that arrived
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(abs(gap - frame_ns) <= 1 for gap in gaps), gaps  # ns rounding


def test_bytes_still_held_by_the_deframer_count_as_after() -> None:
    clock = FrameClock(9600, "N")
    # 40 bytes: one frame and 8 bytes of the next; then the rest of that frame.
    (first,) = clock.stamps(10 * SECOND, 40, [32])
    assert first == 10 * SECOND - round(8 * ns_per_byte(9600, "N"))
    (second,) = clock.stamps(11 * SECOND, 24, [32])
    assert second == 11 * SECOND


def test_stamps_rise_even_when_the_wall_clock_steps_back() -> None:
    clock = FrameClock(9600, "N")
    a = clock.stamps(50 * SECOND, 32, [32])
    b = clock.stamps(49 * SECOND, 64, [32, 32])
    assert a[0] < b[0] < b[1]


@given(
    st.lists(
        st.tuples(st.integers(0, 10**7), st.lists(st.integers(1, 64), max_size=40)), max_size=30
    )
)
def test_stamps_strictly_increase_whatever_the_reads(reads: list[tuple[int, list[int]]]) -> None:
    clock = FrameClock(115200, "O")
    now, stamps = 10**18, []
    for step, sizes in reads:
        now += step
        stamps += clock.stamps(now, sum(sizes), sizes)
    assert all(a < b for a, b in itertools.pairwise(stamps))


def test_a_burst_of_pms5003_frames_gets_one_timestamp_each() -> None:
    """Six frames arrived back to back and came in one read (defect 5 of issue 10)."""
    port = SerialPort(port="/dev/ttyX", codec="pms5003", sensor_id="pms-1", district="west")
    runner = SerialSourceRunner(port, GatewayMetrics())
    data = b"".join(pms_frame(10 + i) for i in range(6)) + b"\x42\x4d\x00"
    deframer = runner.codec.deframer()
    items = runner.inbound(deframer.feed(data), 100 * SECOND, len(data))
    assert len(items) == 6
    stamps = [i.received_ts for i in items]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    assert stamps[-1] == 100 * SECOND - round(3 * ns_per_byte(9600, "N"))
