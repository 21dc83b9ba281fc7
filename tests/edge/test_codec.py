"""Rejected, reason codes, and the catalog verdict every decoder applies to its fields."""

from __future__ import annotations

import math

import pytest

from edge.catalog import load_catalog
from edge.codec import CODES, NAME_PATTERN, Rejected, reject, vet_fields
from edge.errors import CitygateError, EncodeError

AIR = load_catalog().sensor("air_quality")


def test_reject_formats_code_and_detail() -> None:
    rejected = reject("bad_checksum", "expected 0x01a2, got 0x01a3", bytearray(b"\x01"))
    assert rejected == Rejected("bad_checksum: expected 0x01a2, got 0x01a3", b"\x01")
    assert type(rejected.raw) is bytes
    assert rejected.code == "bad_checksum"


def test_rejected_is_frozen() -> None:
    with pytest.raises(AttributeError):
        reject("garbage", "1 byte skipped", b"x").reason = "other"  # type: ignore[misc]


def test_encode_error_is_a_citygate_value_error() -> None:
    assert issubclass(EncodeError, CitygateError) and issubclass(EncodeError, ValueError)


@pytest.mark.parametrize(
    ("fields", "verdict"),
    [
        ({"pm25": 12.0}, ()),
        ({"pm25": 1200.0}, ("out_of_range",)),
        ({}, "bad_payload: no fields: InfluxDB cannot store a reading without any"),
        ({"pm25": "x"}, "wrong_kind: pm25 expects float, got str 'x'"),
        ({"pm25": math.inf, "pm10": 5.0}, "not_finite: pm25=inf is not finite"),
        ({"pm4": 1.0, "pm25": 1200.0}, "unknown_field: 'pm4' is not a field of air_quality"),
        (
            {"pm4": 1.0, "co": True},
            "unknown_field: 'pm4' is not a field of air_quality; co expects float, got bool True",
        ),
    ],
)
def test_vet_fields(fields: dict[str, object], verdict: object) -> None:
    result = vet_fields(AIR, fields, b"raw")  # type: ignore[arg-type]
    if isinstance(verdict, str):
        assert result == Rejected(verdict, b"raw")
        assert isinstance(result, Rejected) and result.code in CODES
    else:
        assert result == verdict


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("aq-0001", True),
        ("nord.3:a_b", True),
        ("A" * 64, True),
        ("A" * 65, False),
        ("", False),
        ("-leading", False),
        ("has/slash", False),
        ("wild+", False),
        ("wild#", False),
        ("space d", False),
        ("comma,", False),
        ("ünï", False),
    ],
)
def test_name_pattern(name: str, ok: bool) -> None:
    assert bool(NAME_PATTERN.fullmatch(name)) is ok
