"""The simulator's side of each sensor family: its device model, sensor-id abbreviation, random
stream, the serial frames its devices write, the faults only its devices have and what load mode
and replay mode take of it, one module per family.

`firmware-sim/families/<type>.py` is named for its catalog type and declares `FAMILY`, a
`SimFamily`. Modules are found by name, so adding a family edits no list in the simulator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

import numpy as np

from edge.catalog import family_modules, load_catalog
from edge.families import families as edge_families
from edge.reading import Reading
from firmware_sim.errors import SimError
from firmware_sim.fault_window import ValueFault

if TYPE_CHECKING:  # conditions import the scenario, which takes its fault types from here
    from firmware_sim.conditions import Conditions

# The random stream of fault effects; families take the others (tick_rng's stream argument).
FAULT_STREAM: Final = 12
DEFAULT_DECIMALS: Final = 1


class DeviceModel(Protocol):
    """What a sensor family's model does: the values of the devices `idx` due now."""

    def generate(
        self,
        idx: np.ndarray,
        cond: Conditions,
        interval_s: np.ndarray,
        elapsed_s: float,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]: ...


@dataclass
class Models:
    """What a family's model is built from: the whole fleet's rows, and the other families'
    models (a camera counts the traffic its junction's controller sees)."""

    n_devices: int
    traffic_level: np.ndarray  # per device, its district's
    seed: int
    junction: np.ndarray  # per device, the index of the device it stands beside; -1: none
    built: dict[str, DeviceModel] = field(default_factory=dict)

    def model(self, name: str) -> DeviceModel:
        """The family's model, built once per simulator."""
        made = self.built.get(name)
        if made is None:
            made = self.built[name] = families()[name].model(self)
        return made


Encoder = Callable[[Reading, int], bytes]  # reading, device index -> the bytes on its line


@dataclass(frozen=True)
class FamilyFault:
    """A fault only this family's devices have (faults of any device live in fault_kinds.py)."""

    apply: ValueFault | None  # what it does to the values; None: the device falls silent
    default_magnitude: float = 0.0
    magnitude_means: str = ""
    part: bool = False  # it hits one part of the device (the window's `detector`, labelled)


@dataclass(frozen=True)
class SimFamily:
    name: str  # the catalog type, and the module's name
    abbreviation: str  # in sensor ids: <district>-<abbreviation>-00001
    # Its tick_rng stream: changing it changes every value its devices generate. Families are
    # simulated in stream order, which fixes the order of each tick's messages.
    stream: int
    model: Callable[[Models], DeviceModel]
    encoders: Mapping[str, Encoder] = field(default_factory=dict)  # by edge serial codec name
    # Its devices stand at the devices of this family, one each in a district, a few metres
    # away (a camera at its signal controller's junction).
    beside: str | None = None
    # The field a value fault (spike, drift, ...) changes when the scenario names none: the one
    # detectors watch most.
    default_field: str = ""
    faults: Mapping[str, FamilyFault] = field(default_factory=dict)  # by fault type
    # Its share of the fleet `citygate sim load --sensor-type mixed` runs (0: not in it).
    load_weight: int = 1
    # What the file names of CSV series this family plays in replay mode say they hold: a word
    # in the name -> (field, factor to its unit), as NAB realTraffic names its files.
    replay_series: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    # Decimal places its devices report, by field (an instrument's resolution, not Python's
    # float repr); other float fields report DEFAULT_DECIMALS.
    decimals: Mapping[str, int] = field(default_factory=dict)

    def decimals_of(self, name: str) -> int:
        return self.decimals.get(name, DEFAULT_DECIMALS)


@functools.cache
def families() -> dict[str, SimFamily]:
    """Every family module's `FAMILY`, by name in stream order, checked against the catalog and
    the edge codecs."""
    types = load_catalog().types
    found: list[SimFamily] = []
    for where, family, sensor in family_modules(__name__, __path__, "FAMILY", SimError):
        edge = edge_families().get(family.name)
        speaks = sorted(c.name for c in edge.serial_codecs) if edge else []
        if sorted(family.encoders) != speaks:
            raise SimError(f"{where} must encode exactly its edge codecs {speaks}")
        if family.beside is not None and family.beside not in types:
            raise SimError(f"{where}: {family.beside!r} to stand beside is no catalog type")
        fields = sensor.fields
        named = [
            family.default_field,
            *(f for f, _ in family.replay_series.values()),
            *family.decimals,
        ]
        if not all(name in fields for name in named):
            raise SimError(
                f"{where}: default_field, replay_series and decimals must name its fields"
            )
        found.append(family)
    found.sort(key=lambda f: f.stream)
    streams = [f.stream for f in found] + [FAULT_STREAM]
    abbreviations = [f.abbreviation for f in found]
    faults = [name for f in found for name in f.faults]
    if (
        len(set(streams)) != len(streams)
        or len(set(abbreviations)) != len(abbreviations)
        or len(set(faults)) != len(faults)
    ):
        raise SimError(
            f"firmware-sim/families: streams {streams} (fault stream {FAULT_STREAM}), "
            f"abbreviations {abbreviations} and fault types {faults} must be unique"
        )
    return {f.name: f for f in found}


def encoders() -> dict[str, Encoder]:
    """Every family's serial frame encoders, by edge codec name."""
    return {name: enc for f in families().values() for name, enc in f.encoders.items()}
