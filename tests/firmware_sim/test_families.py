"""The simulator's family registry: one model per catalog type, encoders for every edge codec."""

from __future__ import annotations

from pathlib import Path

import pytest

import firmware_sim.families
from edge.catalog import load_catalog
from edge.serial_codecs import CODECS
from firmware_sim.errors import SimError
from firmware_sim.families import FAULT_STREAM, encoders, families
from tests.family_modules import add_family_module


def test_every_catalog_type_is_simulated_in_stream_order() -> None:
    found = families()
    assert set(found) == set(load_catalog().types)
    streams = [f.stream for f in found.values()]
    assert streams == sorted(streams)
    assert FAULT_STREAM not in streams


def test_the_shipped_families() -> None:
    assert {n: (f.abbreviation, f.stream, f.beside) for n, f in families().items()} == {
        "air_quality": ("aq", 10, None),
        "traffic_signal": ("ts", 11, None),
        "camera": ("cam", 13, "traffic_signal"),
    }


def test_every_edge_codec_has_its_frame_encoder() -> None:
    assert set(encoders()) == set(CODECS)


@pytest.mark.parametrize(
    ("name", "declared", "problem"),
    [
        ("noise", "'noise', abbreviation='nz', stream=14", "name it for its catalog type"),
        ("air_quality", "'air_quality', abbreviation='aq', stream=10", r"exactly its edge codecs"),
        ("camera", "'camera', abbreviation='cam', stream=12", "must be unique"),
        ("camera", "'camera', abbreviation='ts', stream=13", "must be unique"),
    ],
)
def test_a_family_module_that_does_not_fit_stops_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, declared: str, problem: str
) -> None:
    text = (
        "from firmware_sim.families import SimFamily\n"
        f"FAMILY = SimFamily({declared}, model=lambda m: None)\n"
    )
    add_family_module(monkeypatch, firmware_sim.families, tmp_path, name, text)
    with pytest.raises(SimError, match=problem):
        families.__wrapped__()
