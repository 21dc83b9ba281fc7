"""City cameras with edge video analytics: per-interval counts of vehicles by class and of people,
zone occupancy, crowd speed and congestion, plus the unit's health (online, frame rate, tamper,
low light). Never images or anything that identifies a person.

A camera at a junction watches the vehicles its signal controller's loops count, so its motor
vehicle counts follow that controller's flow (the same traffic profile, the same junction); a
camera away from a controller gets a junction of its own.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from firmware_sim.conditions import Conditions
from firmware_sim.families import Models, SimFamily
from firmware_sim.families.traffic_signal import SATURATION_VEH_H, TrafficSignalModel

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


# MQTT only; it stands at a signal controller and counts what that controller's loops count.
FAMILY = SimFamily("camera", abbreviation="cam", stream=13, model=_model, beside="traffic_signal")
