"""When each serial frame arrived: one timestamp per frame, strictly increasing per port.

One read from a port often completes several frames (6 PMS5003 frames fit in 0.2 s at 9,600
baud). A frame's last byte arrived before the read returned by the time the bytes after it
took on the line, at the port's baud rate; InfluxDB keeps one point per series and time, so
frames of one sensor must never share a timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable


def ns_per_byte(baud: int, parity: str) -> float:
    """Line time of one byte: a start bit, 8 data bits, a parity bit unless "N", a stop bit."""
    bits = 10 if parity == "N" else 11
    return bits * 1e9 / baud


class FrameClock:
    """Arrival times of the frames a port's reads complete; `sizes` follow stream order."""

    def __init__(self, baud: int, parity: str) -> None:
        self._ns_per_byte = ns_per_byte(baud, parity)
        self._pending = 0  # bytes read that belong to no frame yet (the deframer holds them)
        self._last = 0

    def stamps(self, read_ns: int, size: int, sizes: Iterable[int]) -> list[int]:
        """Times for the frames of `sizes`, completed by `size` bytes read at `read_ns`.

        Every byte read ends up in exactly one frame or reject (edge.deframer), so what follows
        a frame is the rest of this read plus what the deframer still holds. A clock step
        backwards cannot break the order: a stamp is at least the previous one plus 1 ns.
        """
        after = self._pending + size
        out = []
        for n in sizes:
            after -= n
            ts = max(read_ns - round(after * self._ns_per_byte), self._last + 1)
            self._last = ts
            out.append(ts)
        self._pending = after
        return out
