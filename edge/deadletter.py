"""Dead letters: input the gateway could not decode, shipped to city.deadletter.v1 with its reason.

The raw bytes are kept up to RAW_CAP so an operator can see what a device sent, without letting
one broken device fill Kafka; `size` and `truncated` tell what was cut.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from edge.codec import Rejected

RAW_CAP: Final = 4096

Source = Literal["mqtt", "serial"]


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One rejected input. Timestamps are integer nanoseconds since the Unix epoch (UTC)."""

    reason: str  # "<code>: <detail>", as in edge.codec.Rejected
    source: Source
    origin: str  # the MQTT topic or the serial port path
    raw: bytes  # the first RAW_CAP bytes; base64 in JSON
    truncated: bool
    size: int  # size of the whole input
    received_ts: int
    gateway_id: str

    @classmethod
    def capped(
        cls,
        *,
        reason: str,
        source: Source,
        origin: str,
        raw: bytes,
        received_ts: int,
        gateway_id: str,
    ) -> DeadLetter:
        """A dead letter keeping at most RAW_CAP bytes of `raw`."""
        return cls(
            reason=reason,
            source=source,
            origin=origin,
            raw=bytes(raw[:RAW_CAP]),
            truncated=len(raw) > RAW_CAP,
            size=len(raw),
            received_ts=received_ts,
            gateway_id=gateway_id,
        )

    @classmethod
    def from_rejected(
        cls,
        rejected: Rejected,
        *,
        source: Source,
        origin: str,
        received_ts: int,
        gateway_id: str,
    ) -> DeadLetter:
        return cls.capped(
            reason=rejected.reason,
            source=source,
            origin=origin,
            raw=rejected.raw,
            received_ts=received_ts,
            gateway_id=gateway_id,
        )

    @property
    def code(self) -> str:
        return self.reason.partition(":")[0]


_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(DeadLetter)


def encode(dead_letter: DeadLetter) -> bytes:
    return _encoder.encode(dead_letter)


def decode(data: bytes) -> DeadLetter:
    """A DeadLetter from its Kafka record value; raises msgspec.ValidationError/DecodeError."""
    return _decoder.decode(data)
