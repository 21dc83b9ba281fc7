"""The fault types the simulator can inject: which sensors and transports each one fits.

A fault changes what a device sends (values, timing or bytes) for a window of time; every window
is written with its ground truth to the labels file so detectors can be scored against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

FaultType = Literal[
    "spike",
    "drift",
    "stuck",
    "dropout",
    "out_of_range",
    "noise_burst",
    "pm25_above_pm10",
    "clock_skew",
    "duplicate",
    "out_of_order",
    "malformed",
    "conflicting_greens",
    "stuck_phase",
    "detector_stuck_on",
    "detector_no_activity",
    "unplug",
]

AIR: Final = "air_quality"
TRAFFIC: Final = "traffic_signal"
BOTH: Final = frozenset({AIR, TRAFFIC})


@dataclass(frozen=True)
class FaultKind:
    """Where a fault type applies and what its `magnitude` means when a scenario omits it."""

    sensor_types: frozenset[str]
    serial_only: bool = False
    default_magnitude: float = 0.0
    magnitude_means: str = ""


KINDS: Final[dict[str, FaultKind]] = {
    "spike": FaultKind(BOTH, default_magnitude=8.0, magnitude_means="multiplier of the value"),
    "drift": FaultKind(
        BOTH, default_magnitude=0.5, magnitude_means="change per minute, in % of range"
    ),
    "stuck": FaultKind(BOTH),
    "dropout": FaultKind(BOTH),
    "out_of_range": FaultKind(BOTH, default_magnitude=1.5, magnitude_means="multiple of the max"),
    "noise_burst": FaultKind(
        BOTH, default_magnitude=0.2, magnitude_means="sigma, fraction of range"
    ),
    "pm25_above_pm10": FaultKind(
        frozenset({AIR}), default_magnitude=1.4, magnitude_means="pm25/pm10"
    ),
    "clock_skew": FaultKind(BOTH, default_magnitude=300.0, magnitude_means="seconds added to ts"),
    "duplicate": FaultKind(BOTH),
    "out_of_order": FaultKind(BOTH),
    "malformed": FaultKind(BOTH),
    "conflicting_greens": FaultKind(frozenset({TRAFFIC})),
    "stuck_phase": FaultKind(frozenset({TRAFFIC})),
    "detector_stuck_on": FaultKind(frozenset({TRAFFIC})),
    "detector_no_activity": FaultKind(frozenset({TRAFFIC})),
    "unplug": FaultKind(BOTH, serial_only=True),
}

# The field a value fault changes when the scenario names none: the one detectors watch most.
DEFAULT_FIELD: Final = {AIR: "pm25", TRAFFIC: "intensity"}
