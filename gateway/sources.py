"""The source protocol shared by MQTT and serial inputs, and what they hand the pipeline.

A source collects raw inputs, hands them to the pipeline in arrival order, and only after the
pipeline returns (the batch is durable in the journal) acknowledges them upstream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import msgspec


class Inbound(msgspec.Struct, frozen=True, array_like=True):
    """One raw input: an MQTT message or a serial frame (or a rejected stretch of bytes)."""

    source: str  # "mqtt" | "serial"
    origin: str  # MQTT topic or serial port path
    payload: bytes
    received_ts: int
    rejected: str = ""  # set when the source itself already refused the bytes (deframer)
    ack: int = 0  # what the source acknowledges it by upstream: an MQTT QoS 1 packet id; 0 none


# Takes a batch, and returns what finishes once it is durable. The batch is decoded at the call,
# so that the awaitable keeps only its records, not the raw inputs.
Deliver = Callable[[Sequence[Inbound]], Awaitable[object]]


class Source(Protocol):
    name: str

    async def run(self, deliver: Deliver) -> None:
        """Take inputs until cancelled; `deliver` returns once a batch is durable."""

    async def close(self) -> None: ...
