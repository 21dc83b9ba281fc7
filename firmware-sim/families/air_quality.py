"""Air-quality monitors: particulates and gases that follow the traffic near each monitor and the
weather (humid air swells particles, sunlight and warmth turn NO2 into ozone), plus battery drain.

Values are generated for all monitors due at a tick in one vectorised pass; a monitor sends them
over MQTT, or as a Plantower PMS5003 or Nova SDS011 on a serial line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from firmware_sim.families import FamilyFault, SimFamily
from firmware_sim.fault_window import ActiveFault, Values
from firmware_sim.serial_frames import pms5003_frame, sds011_frame

if TYPE_CHECKING:  # conditions import the scenario, which takes its fault types from here
    from firmware_sim.conditions import Conditions

# Per-step persistence of the slow random components: pollution changes over minutes, not seconds.
_PHI = 0.97


class AirQualityModel:
    def __init__(self, n_devices: int, traffic_level: np.ndarray, seed: int) -> None:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, 2])
        self.exposure = rng.lognormal(0.0, 0.35, n_devices) * traffic_level
        self.temp_offset = rng.normal(0.0, 0.4, n_devices) + 0.6 * (traffic_level - 1.0)
        self.pm10_ratio = 1.4 + 0.4 * rng.random(n_devices)
        self.pm1_ratio = 0.65 + 0.1 * rng.random(n_devices)
        self.battery_start = 0.6 + 0.4 * rng.random(n_devices)
        self.battery_drain_per_h = 0.002 + 0.004 * rng.random(n_devices)
        self.pm_noise = rng.normal(0.0, 1.0, n_devices)
        self.gas_noise = rng.normal(0.0, 1.0, n_devices)
        self._innovation = np.sqrt(1 - _PHI**2)

    def generate(
        self,
        idx: np.ndarray,
        cond: Conditions,
        interval_s: np.ndarray,
        elapsed_s: float,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        n = len(idx)
        eps = rng.standard_normal((4, n))
        pm_noise = self.pm_noise[idx] * _PHI + self._innovation * eps[0]
        gas_noise = self.gas_noise[idx] * _PHI + self._innovation * eps[1]
        self.pm_noise[idx] = pm_noise
        self.gas_noise[idx] = gas_noise

        traffic = cond.demand * self.exposure[idx]
        temp = cond.temperature_c + self.temp_offset[idx] + 0.15 * eps[2]
        rh = np.clip(cond.humidity - 0.02 * (temp - cond.temperature_c) + 0.02 * eps[3], 0.05, 1.0)
        swell = 1.0 + 1.2 * np.maximum(rh - 0.6, 0.0)
        pm25 = np.clip((5.0 + 22.0 * traffic) * swell * np.exp(0.25 * pm_noise), 0.5, 900.0)
        pm10 = np.maximum(pm25 * self.pm10_ratio[idx] + 2.0 * traffic, pm25 * 1.05)
        no2 = np.clip((6.0 + 38.0 * traffic) * (1.0 + 0.2 * gas_noise), 0.5, 1500.0)
        o3 = np.clip(
            28.0 + 1.6 * np.maximum(temp - 10.0, 0.0) * cond.daylight - 0.4 * no2 + 3.0 * gas_noise,
            1.0,
            500.0,
        )
        co = np.clip((0.15 + 0.8 * traffic) * (1.0 + 0.2 * gas_noise), 0.05, 80.0)
        battery = np.clip(
            self.battery_start[idx] - self.battery_drain_per_h[idx] * elapsed_s / 3600, 0.02, 1.0
        )
        return {
            "pm1": pm25 * self.pm1_ratio[idx],
            "pm25": pm25,
            "pm10": pm10,
            "no2": no2,
            "o3": o3,
            "co": co,
            "temperature": temp,
            "relativeHumidity": rh,
            "batteryLevel": battery,
        }


def _pm25_above_pm10(a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator) -> None:
    v["pm25"][p] = v["pm10"][p] * a.window.magnitude


FAMILY = SimFamily(
    "air_quality",
    abbreviation="aq",
    stream=10,
    model=lambda m: AirQualityModel(m.n_devices, m.traffic_level, m.seed),
    encoders={"pms5003": pms5003_frame, "sds011": sds011_frame},
    default_field="pm25",
    decimals={"relativeHumidity": 3, "batteryLevel": 3, "co": 2},
    faults={
        "pm25_above_pm10": FamilyFault(
            _pm25_above_pm10, default_magnitude=1.4, magnitude_means="pm25/pm10"
        ),
    },
)
