"""The edge family registry: serial codecs are found in edge/families/ and named for the config."""

from __future__ import annotations

import typing

from edge.catalog import load_catalog
from edge.families import families
from edge.serial_codecs import CODECS, CodecName


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
