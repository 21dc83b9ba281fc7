"""The simulator's family registry: one model per catalog type, encoders for every edge codec."""

from __future__ import annotations

from edge.catalog import load_catalog
from edge.serial_codecs import CODECS
from firmware_sim.families import FAULT_STREAM, encoders, families


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
