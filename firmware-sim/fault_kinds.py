"""The fault types the simulator can inject: which sensors and transports each one fits.

A fault changes what a device sends (values, timing or bytes) for a window of time; every window
is written with its ground truth to the labels file so detectors can be scored against it. The
faults of any device are listed here; a family's own faults are declared by its module in
`firmware-sim/families/` and joined in by type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from edge.catalog import load_catalog
from firmware_sim.errors import SimError
from firmware_sim.families import families
from firmware_sim.fault_window import ValueFault

# Faults of any device (values, timing, bytes) fit every type of the catalog.
ANY: Final = frozenset(load_catalog().types)


@dataclass(frozen=True)
class FaultKind:
    """Where a fault type applies and what its `magnitude` means when a scenario omits it."""

    sensor_types: frozenset[str]
    serial_only: bool = False
    default_magnitude: float = 0.0
    magnitude_means: str = ""
    emission: bool = False  # it acts on what the device emits (timing, bytes), not its values
    silences: bool = False  # the device sends nothing while it lasts
    part: bool = False  # it hits one part of the device (labelled as `detector`)
    apply: ValueFault | None = None  # a family's value fault; the generic ones are in faults.py


_GENERIC: Final[dict[str, FaultKind]] = {
    "spike": FaultKind(ANY, default_magnitude=8.0, magnitude_means="multiplier of the value"),
    "drift": FaultKind(
        ANY, default_magnitude=0.5, magnitude_means="change per minute, in % of range"
    ),
    "stuck": FaultKind(ANY),
    "dropout": FaultKind(ANY, emission=True, silences=True),
    "out_of_range": FaultKind(ANY, default_magnitude=1.5, magnitude_means="multiple of the max"),
    "noise_burst": FaultKind(
        ANY, default_magnitude=0.2, magnitude_means="sigma, fraction of range"
    ),
    "clock_skew": FaultKind(
        ANY, default_magnitude=300.0, magnitude_means="seconds added to ts", emission=True
    ),
    "duplicate": FaultKind(ANY, emission=True),
    "out_of_order": FaultKind(ANY, emission=True),
    "malformed": FaultKind(ANY, emission=True),
    "unplug": FaultKind(ANY, serial_only=True, emission=True, silences=True),
}

KINDS: Final[dict[str, FaultKind]] = {
    **_GENERIC,
    **{
        name: FaultKind(
            frozenset({family.name}),
            default_magnitude=fault.default_magnitude,
            magnitude_means=fault.magnitude_means,
            emission=fault.apply is None,
            silences=fault.apply is None,
            part=fault.part,
            apply=fault.apply,
        )
        for family in families().values()
        for name, fault in family.faults.items()
    },
}
if len(KINDS) != len(_GENERIC) + sum(len(f.faults) for f in families().values()):
    raise SimError(f"firmware-sim/families: a fault type repeats one of {sorted(_GENERIC)}")

if TYPE_CHECKING:
    FaultType = str
else:
    # A Literal made from the registry, so a scenario naming an unknown fault is refused with
    # the known ones.
    FaultType = Literal[tuple(KINDS)]

# The field a value fault changes when the scenario names none, by sensor type.
DEFAULT_FIELD: Final = {f.name: f.default_field for f in families().values()}
EMISSION: Final = frozenset(name for name, kind in KINDS.items() if kind.emission)
SILENCING: Final = frozenset(name for name, kind in KINDS.items() if kind.silences)
