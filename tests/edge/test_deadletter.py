"""Dead letters: capping the raw bytes, the JSON form, round trips."""

from __future__ import annotations

import base64
import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge import deadletter
from edge.codec import reject
from edge.deadletter import RAW_CAP, DeadLetter
from tests.edge.strategies import SETTINGS


def letter(raw: bytes) -> DeadLetter:
    return DeadLetter.capped(
        reason="bad_json: Input data was truncated",
        source="mqtt",
        origin="city/nord/air_quality/aq-1/telemetry",
        raw=raw,
        received_ts=1_700_000_000_000_000_000,
        gateway_id="gw-nord",
    )


@pytest.mark.parametrize(
    ("size", "kept", "truncated"),
    [
        (0, 0, False),
        (10, 10, False),
        (RAW_CAP, RAW_CAP, False),
        (RAW_CAP + 1, RAW_CAP, True),
        (70_000, RAW_CAP, True),
    ],
)
def test_raw_is_capped(size: int, kept: int, truncated: bool) -> None:
    raw = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    dl = letter(raw)
    assert (len(dl.raw), dl.truncated, dl.size) == (kept, truncated, size)
    assert dl.raw == raw[:RAW_CAP]


def test_json_form() -> None:
    data = deadletter.encode(letter(b"\x00{\xff"))
    assert json.loads(data) == {
        "reason": "bad_json: Input data was truncated",
        "source": "mqtt",
        "origin": "city/nord/air_quality/aq-1/telemetry",
        "raw": base64.b64encode(b"\x00{\xff").decode(),
        "truncated": False,
        "size": 3,
        "received_ts": 1_700_000_000_000_000_000,
        "gateway_id": "gw-nord",
    }


def test_from_rejected() -> None:
    rejected = reject("bad_checksum", "expected 0x01a2, got 0x01a3", b"BM" * 3000)
    dl = DeadLetter.from_rejected(
        rejected, source="serial", origin="/dev/ttyUSB0", received_ts=5, gateway_id="gw"
    )
    assert (dl.reason, dl.code, dl.source, dl.origin) == (
        rejected.reason,
        "bad_checksum",
        "serial",
        "/dev/ttyUSB0",
    )
    assert (dl.size, dl.truncated, dl.raw) == (6000, True, rejected.raw[:RAW_CAP])


def test_decode_refuses_an_unknown_source() -> None:
    data = deadletter.encode(letter(b"x")).replace(b'"mqtt"', b'"carrier-pigeon"')
    with pytest.raises(msgspec.ValidationError):
        deadletter.decode(data)


@SETTINGS
@given(st.binary(max_size=6000), st.sampled_from(["mqtt", "serial"]), st.text(max_size=40))
def test_round_trip(raw: bytes, source: str, origin: str) -> None:
    dl = DeadLetter.capped(
        reason="garbage: 3 bytes skipped", source=source, origin=origin,  # type: ignore[arg-type]
        raw=raw, received_ts=1, gateway_id="gw",
    )  # fmt: skip
    assert deadletter.decode(deadletter.encode(dl)) == dl
