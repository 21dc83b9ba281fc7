"""City cameras with edge video analytics: per-interval counts of vehicles by class and of people,
zone occupancy, crowd speed and congestion, plus the unit's health (online, frame rate, tamper,
low light). Never images or anything that identifies a person.

A camera at a junction watches the vehicles its signal controller's loops count, so its motor
vehicle counts follow that controller's flow (the same traffic profile, the same junction); a
camera away from a controller gets a junction of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from firmware_sim.families import FamilyFault, Models, SimFamily
from firmware_sim.families.traffic_signal import SATURATION_VEH_H, TrafficSignalModel
from firmware_sim.fault_window import ActiveFault, Values

if TYPE_CHECKING:  # conditions import the scenario, which takes its fault types from here
    from firmware_sim.conditions import Conditions

# Shares of the motor vehicles the loops count; bicycles ride over the loops mostly unseen, so
# they come on top, as a share of that flow.
MOTOR_SHARE: Final = {"car": 0.86, "bus": 0.04, "motorcycle": 0.10}
BICYCLE_SHARE: Final = 0.12
VEHICLE_CLASSES: Final = (*MOTOR_SHARE, "bicycle")
NOMINAL_FPS: Final = 25.0
# Below this much sun the scene is too dark for the unit's detector to trust its counts.
LOW_LIGHT_DAYLIGHT: Final = 0.02
# A junction whose loops run above this share of saturation is congested.
CONGESTED_LOAD: Final = 0.45


def count_fields() -> tuple[str, ...]:
    """The count fields of a camera: people and every vehicle class."""
    return ("peopleCount", *(f"intensity_{c}" for c in VEHICLE_CLASSES))


class CameraModel:
    def __init__(
        self,
        n_devices: int,
        traffic_level: np.ndarray,
        seed: int,
        traffic: TrafficSignalModel,
        junction: np.ndarray,
    ) -> None:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, 7])
        self.traffic = traffic
        # The controller device each camera stands at; -1: none, so it uses its own junction.
        self.junction = np.where(junction >= 0, junction, np.arange(n_devices))
        self.footfall = rng.lognormal(0.0, 0.4, n_devices) * traffic_level
        self.capacity = rng.uniform(150.0, 400.0, n_devices)  # people the zone holds when full
        self.walk_speed = rng.uniform(4.2, 5.2, n_devices)  # km/h, free walking in this zone

    def generate(
        self,
        idx: np.ndarray,
        cond: Conditions,
        interval_s: np.ndarray,
        elapsed_s: float,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        n = len(idx)
        flow = self.traffic.detector_flow(self.junction[idx], cond.demand)
        motor = flow.sum(axis=1) * interval_s / 3600.0  # vehicles expected over the interval
        values: dict[str, np.ndarray] = {
            f"intensity_{c}": rng.poisson(motor * share) for c, share in MOTOR_SHARE.items()
        }
        values["intensity_bicycle"] = rng.poisson(motor * BICYCLE_SHARE)
        people = rng.poisson((3.0 + 60.0 * cond.demand) * self.footfall[idx])
        occupancy = np.clip(people / self.capacity[idx] + rng.normal(0.0, 0.003, n), 0.0, 1.0)
        # A crowd slows as it fills its zone; an empty zone has no crowd speed to measure.
        speed = np.clip(
            self.walk_speed[idx] * (1.0 - 0.7 * occupancy) + rng.normal(0.0, 0.3, n), 0.5, 8.0
        )
        values.update(
            {
                "peopleCount": people,
                "occupancy": occupancy,
                "averageCrowdSpeed": np.where(people > 0, speed, 0.0),
                "congested": flow.mean(axis=1) / SATURATION_VEH_H > CONGESTED_LOAD,
                "online": np.ones(n, dtype=bool),
                "frameRate": np.clip(NOMINAL_FPS + rng.normal(0.0, 0.3, n), 0.0, 120.0),
                "tamper": np.full(n, "none", dtype=object),
                "lowLight": np.full(n, cond.daylight < LOW_LIGHT_DAYLIGHT),
            }
        )
        return values


def _model(m: Models) -> CameraModel:
    traffic = m.model("traffic_signal")
    assert isinstance(traffic, TrafficSignalModel)
    return CameraModel(m.n_devices, m.traffic_level, m.seed, traffic, m.junction)


# What a camera's analytics derive from the picture; its health fields come from the unit itself.
_SCENE: Final = (*count_fields(), "occupancy", "averageCrowdSpeed", "congested")


def _scale_counts(v: Values, p: int, factor: float, rng: np.random.Generator) -> None:
    """Counts as a camera that sees `factor` times the objects would make them: fewer are a
    random thinning of what passed, more add objects at the same rate."""
    for name in count_fields():
        count = int(v[name][p])
        if factor <= 1.0:
            v[name][p] = rng.binomial(count, factor)
        else:
            v[name][p] = count + rng.poisson(count * (factor - 1.0))
    v["occupancy"][p] = min(1.0, float(v["occupancy"][p]) * factor)


def _lens_obscured(a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator) -> None:
    # Dirt or spray over part of the lens: the unit's tamper check, made for a covered lens,
    # does not trip, but nearly everything behind the smear goes uncounted.
    _scale_counts(v, p, a.window.magnitude, rng)


def _frozen_frame(a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator) -> None:
    # The decoder keeps handing the analytics its last frame: every scene figure repeats.
    if not a.state:
        a.state.update({name: v[name][p] for name in _SCENE})
    for name in _SCENE:
        v[name][p] = a.state[name]


def _camera_moved(a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator) -> None:
    # Knocked or turned on its mount: the counting zone now covers another part of the street.
    _scale_counts(v, p, a.window.magnitude, rng)


def _frame_rate_collapse(
    a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    share = a.window.magnitude
    v["frameRate"][p] = NOMINAL_FPS * share + rng.normal(0.0, 0.2)
    # Objects that cross between the frames still processed are missed, so counts fall too.
    _scale_counts(v, p, 0.5 + 0.5 * share, rng)


# MQTT only; it stands at a signal controller and counts what that controller's loops count.
FAMILY = SimFamily(
    "camera",
    abbreviation="cam",
    stream=13,
    model=_model,
    beside="traffic_signal",
    default_field="intensity_car",
    decimals={"occupancy": 3},
    faults={
        "lens_obscured": FamilyFault(
            _lens_obscured, default_magnitude=0.05, magnitude_means="share of objects still seen"
        ),
        "frozen_frame": FamilyFault(_frozen_frame),
        "camera_moved": FamilyFault(
            _camera_moved, default_magnitude=0.3, magnitude_means="count level, times normal"
        ),
        "camera_offline": FamilyFault(None),  # the unit stops sending
        "frame_rate_collapse": FamilyFault(
            _frame_rate_collapse, default_magnitude=0.2, magnitude_means="share of the frame rate"
        ),
    },
    # The load benchmarks' mixed fleet (bench/results) is air quality and signal controllers.
    load_weight=0,
)
