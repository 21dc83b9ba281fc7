"""The fault types the simulator can inject: which sensors and transports each one fits.

A fault changes what a device sends (values, timing or bytes) for a window of time; every window
is written with its ground truth to the labels file so detectors can be scored against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from edge.catalog import load_catalog

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
    "lens_obscured",
    "frozen_frame",
    "camera_moved",
    "camera_offline",
    "frame_rate_collapse",
]

AIR: Final = "air_quality"
TRAFFIC: Final = "traffic_signal"
CAMERA: Final = "camera"
# Faults of any device (values, timing, bytes) fit every type of the catalog.
ANY: Final = frozenset(load_catalog().types)


@dataclass(frozen=True)
class FaultKind:
    """Where a fault type applies and what its `magnitude` means when a scenario omits it."""

    sensor_types: frozenset[str]
    serial_only: bool = False
    default_magnitude: float = 0.0
    magnitude_means: str = ""


KINDS: Final[dict[str, FaultKind]] = {
    "spike": FaultKind(ANY, default_magnitude=8.0, magnitude_means="multiplier of the value"),
    "drift": FaultKind(
        ANY, default_magnitude=0.5, magnitude_means="change per minute, in % of range"
    ),
    "stuck": FaultKind(ANY),
    "dropout": FaultKind(ANY),
    "out_of_range": FaultKind(ANY, default_magnitude=1.5, magnitude_means="multiple of the max"),
    "noise_burst": FaultKind(
        ANY, default_magnitude=0.2, magnitude_means="sigma, fraction of range"
    ),
    "pm25_above_pm10": FaultKind(
        frozenset({AIR}), default_magnitude=1.4, magnitude_means="pm25/pm10"
    ),
    "clock_skew": FaultKind(ANY, default_magnitude=300.0, magnitude_means="seconds added to ts"),
    "duplicate": FaultKind(ANY),
    "out_of_order": FaultKind(ANY),
    "malformed": FaultKind(ANY),
    "conflicting_greens": FaultKind(frozenset({TRAFFIC})),
    "stuck_phase": FaultKind(frozenset({TRAFFIC})),
    "detector_stuck_on": FaultKind(frozenset({TRAFFIC})),
    "detector_no_activity": FaultKind(frozenset({TRAFFIC})),
    "unplug": FaultKind(ANY, serial_only=True),
    "lens_obscured": FaultKind(
        frozenset({CAMERA}), default_magnitude=0.05, magnitude_means="share of objects still seen"
    ),
    "frozen_frame": FaultKind(frozenset({CAMERA})),
    "camera_moved": FaultKind(
        frozenset({CAMERA}), default_magnitude=0.3, magnitude_means="count level, times normal"
    ),
    "camera_offline": FaultKind(frozenset({CAMERA})),
    "frame_rate_collapse": FaultKind(
        frozenset({CAMERA}), default_magnitude=0.2, magnitude_means="share of the frame rate"
    ),
}

# The field a value fault changes when the scenario names none: the one detectors watch most.
DEFAULT_FIELD: Final = {AIR: "pm25", TRAFFIC: "intensity", CAMERA: "intensity_car"}
