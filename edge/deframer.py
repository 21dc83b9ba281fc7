"""Stream deframers: cut a serial byte stream into frames, resynchronising after damage.

Each feed returns complete frames that passed their checksum (raw bytes) and Rejected items, in
stream order. Every input byte ends up in exactly one of them (or stays buffered until `flush`),
and the result does not depend on how the stream was split into reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, Protocol

from edge import pms5003, sds011, traffic_line
from edge.codec import Rejected, reject

MAX_GARBAGE: Final = 4096  # bytes of one skipped run reported together; longer runs are split
_CHUNK: Final = 4096  # bytes taken into the buffer at a time, which keeps it bounded
_LINE_END: Final = re.compile(rb"[$\n]")


class Deframer(Protocol):
    def feed(self, data: bytes) -> list[bytes | Rejected]:
        """Frames and rejections completed by `data`, in stream order."""
        ...

    def flush(self) -> list[bytes | Rejected]:
        """Report whatever is still buffered, at the end of the stream (port closed)."""
        ...


class _HuntingDeframer:
    """Hunts for a start marker, reports what it skips, and asks `_frame` where a frame ends."""

    def __init__(self, start: bytes) -> None:
        self._start = start
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame; bounded by a few KiB."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | Rejected]:
        out: list[bytes | Rejected] = []
        for i in range(0, len(data), _CHUNK):
            self._buf += data[i : i + _CHUNK]
            self._drain(out, final=False)
        return out

    def flush(self) -> list[bytes | Rejected]:
        out: list[bytes | Rejected] = []
        self._drain(out, final=True)
        return out

    def _drain(self, out: list[bytes | Rejected], *, final: bool) -> None:
        buf = self._buf
        while buf:
            start = buf.find(self._start)
            if start != 0:
                if start == -1:
                    # The last bytes may be the beginning of a start marker: keep them.
                    start = len(buf) if final else len(buf) - (len(self._start) - 1)
                    if start < MAX_GARBAGE and not final:
                        return  # the run may go on: report it once, when it ends
                skipped = min(start, MAX_GARBAGE)
                noun = "byte" if skipped == 1 else "bytes"
                out.append(reject("garbage", f"{skipped} {noun} skipped", buf[:skipped]))
                del buf[:skipped]
                continue
            end = self._frame(final=final)
            if end is None:
                return
            size, reason = end
            out.append(bytes(buf[:size]) if reason is None else Rejected(reason, bytes(buf[:size])))
            del buf[:size]

    def _frame(self, *, final: bool) -> tuple[int, str | None] | None:
        """For a buffer that begins with the start marker: (size, None) for a good frame,
        (size, reason) for bytes to reject, or None to wait for more data."""
        raise NotImplementedError


class FixedFrameDeframer(_HuntingDeframer):
    """Frames of a fixed size that begin with a fixed header and validate as a whole."""

    def __init__(
        self, header: bytes, size: int, validate: Callable[[bytes], Rejected | None]
    ) -> None:
        super().__init__(header)
        self._size = size
        self._validate = validate

    def _frame(self, *, final: bool) -> tuple[int, str | None] | None:
        buf, size, header = self._buf, self._size, self._start
        if len(buf) < size:
            if not final:
                return None
            cut = buf.find(header, 1)
            if cut == -1:
                return len(buf), f"truncated: {len(buf)} of {size} bytes at end of stream"
            return cut, f"truncated: {cut} of {size} bytes, then a new header"
        problem = self._validate(bytes(buf[:size]))
        if problem is None:
            return size, None
        # A frame that lost bytes swallows the head of the next one: resume at a header inside
        # it, which may straddle the candidate's end, so wait until that much is here.
        lookahead = size + len(header) - 1
        if len(buf) < lookahead and not final:
            return None
        cut = buf.find(header, 1, lookahead)
        if cut == -1:
            return size, problem.reason
        return cut, f"truncated: {cut} of {size} bytes, then a new header ({problem.reason})"


class PMS5003Deframer(FixedFrameDeframer):
    def __init__(self) -> None:
        super().__init__(pms5003.HEADER, pms5003.FRAME_SIZE, _rejection(pms5003.decode))


class SDS011Deframer(FixedFrameDeframer):
    def __init__(self) -> None:
        super().__init__(sds011.HEADER, sds011.FRAME_SIZE, _rejection(sds011.decode))


class LineDeframer(_HuntingDeframer):
    """Lines from '$' to '\\n' (at most `max_line` bytes), checked by `validate`.

    '$' only ever starts a line, so one inside a line means the line lost its end.
    """

    def __init__(
        self,
        validate: Callable[[bytes], Rejected | None] = traffic_line.check_frame,
        max_line: int = traffic_line.MAX_LINE,
    ) -> None:
        super().__init__(b"$")
        self._validate = validate
        self._max_line = max_line

    def _frame(self, *, final: bool) -> tuple[int, str | None] | None:
        buf = self._buf
        found = _LINE_END.search(buf, 1, self._max_line)
        if found is None:
            if len(buf) >= self._max_line:
                return self._max_line, f"oversize: no line end within {self._max_line} bytes"
            if final:
                return len(buf), f"truncated: {len(buf)} bytes without a line end at end of stream"
            return None
        if found.group() == b"$":
            return found.start(), f"truncated: {found.start()} bytes, then a new '$'"
        size = found.end()
        problem = self._validate(bytes(buf[:size]))
        return size, None if problem is None else problem.reason


def _rejection(decode: Callable[[bytes], object]) -> Callable[[bytes], Rejected | None]:
    def validate(frame: bytes) -> Rejected | None:
        result = decode(frame)
        return result if isinstance(result, Rejected) else None

    return validate
