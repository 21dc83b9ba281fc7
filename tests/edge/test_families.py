"""The edge family registry: serial codecs are found in edge/families/ and named for the config."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

import edge.families
from edge.catalog import load_catalog
from edge.errors import CatalogError
from edge.families import families
from edge.serial_codecs import CODECS, CodecName
from tests.family_modules import add_family_module


def test_families_are_catalog_types_and_carry_their_own_codecs() -> None:
    found = families()
    assert set(found) <= set(load_catalog().types)
    for name, family in found.items():
        assert family.name == name
        assert all(codec.sensor_type == name for codec in family.serial_codecs)


def test_the_codecs_shipped_by_family() -> None:
    assert {n: c.sensor_type for n, c in CODECS.items()} == {
        "pms5003": "air_quality",
        "sds011": "air_quality",
        "traffic_line": "traffic_signal",
    }


def test_the_config_choice_is_the_registry() -> None:
    assert typing.get_args(CodecName) == tuple(CODECS)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("noise", "FAMILY = EdgeFamily('noise')", "a catalog type"),
        ("sound", "FAMILY = EdgeFamily('air_quality')", "named for its module"),
        (
            "air_quality",
            "FAMILY = EdgeFamily('air_quality', serial_codecs=(TrafficLineCodec(),))",
            "must carry 'air_quality'",
        ),
    ],
)
def test_a_family_module_that_does_not_fit_stops_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, text: str, problem: str
) -> None:
    header = (
        "from edge.families import EdgeFamily\n"
        "from edge.families.traffic_signal import TrafficLineCodec\n"
    )
    add_family_module(monkeypatch, edge.families, tmp_path, name, header + text + "\n")
    with pytest.raises(CatalogError, match=problem):
        families.__wrapped__()
