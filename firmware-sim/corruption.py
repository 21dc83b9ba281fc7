"""How the `malformed` fault breaks what a device sends, in the ways real devices do: truncated
or garbled JSON, random bytes, wrong types; on serial lines a flipped bit (bad checksum), line
noise, or a frame cut short.
"""

from __future__ import annotations

import numpy as np


def corrupt_json(payload: bytes, rng: np.random.Generator) -> bytes:
    """A payload the gateway must reject, one of four kinds chosen by `rng`."""
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return payload[: max(1, len(payload) // 2)]  # connection cut mid-publish
    if kind == 1:
        return rng.bytes(int(rng.integers(1, 64)))  # firmware wrote a wrong buffer
    if kind == 2:
        return payload.replace(b'"fields":{', b'"fields":{{', 1)  # broken JSON syntax
    return b'{"seq":"' + payload[:8].replace(b'"', b"'") + b'","ts":null,"fields":[]}'


def corrupt_frame(frame: bytes, rng: np.random.Generator) -> bytes:
    """A serial frame with a flipped bit, a truncation, or line noise in front of it."""
    kind = int(rng.integers(0, 3))
    if kind == 0:
        # Flip one bit inside the data, never in the header, so the checksum catches it.
        at = int(rng.integers(4, max(5, len(frame) - 3)))
        corrupted = bytearray(frame)
        corrupted[at] ^= 1 << int(rng.integers(0, 7))
        return bytes(corrupted)
    if kind == 1:
        return frame[: max(1, int(rng.integers(1, len(frame))))]
    return rng.bytes(int(rng.integers(1, 24))) + frame
