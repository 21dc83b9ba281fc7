"""The ground-truth labels file: one JSON line per fault window, written when the window closes,
with the sensor, the fault type and start/end both as epoch nanoseconds and as ISO 8601 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import msgspec

from firmware_sim.fault_kinds import KINDS
from firmware_sim.fault_window import FaultWindow


class Label(msgspec.Struct, frozen=True):
    sensor: str
    sensor_type: str
    fault: str
    start: int  # epoch ns, inclusive
    end: int  # epoch ns, exclusive
    start_iso: str
    end_iso: str
    field: str
    magnitude: float
    detector: int
    origin: str  # "scheduled" or "random"


def iso(t_ns: int) -> str:
    moment = datetime.fromtimestamp(t_ns // 1_000_000_000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{t_ns % 1_000_000_000:09d}Z"


def label_of(window: FaultWindow, end_ns: int) -> Label:
    return Label(
        sensor=window.sensor_id,
        sensor_type=window.sensor_type,
        fault=window.fault,
        start=window.start_ns,
        end=end_ns,
        start_iso=iso(window.start_ns),
        end_iso=iso(end_ns),
        field=window.field,
        magnitude=window.magnitude,
        detector=window.detector if KINDS[window.fault].part else 0,
        origin=window.origin,
    )


class LabelWriter:
    """Appends labels to a JSON lines file, flushed per line so a crash keeps what was written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("wb")
        self._encoder = msgspec.json.Encoder()
        self.written = 0

    def write(self, window: FaultWindow, end_ns: int) -> None:
        self._file.write(self._encoder.encode(label_of(window, end_ns)) + b"\n")
        self._file.flush()
        self.written += 1

    def close(self) -> None:
        self._file.close()


def read_labels(path: Path) -> list[Label]:
    decoder = msgspec.json.Decoder(Label)
    return [decoder.decode(line) for line in path.read_bytes().splitlines() if line.strip()]
