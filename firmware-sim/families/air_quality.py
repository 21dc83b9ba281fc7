"""The simulated air-quality monitor: pollution that follows traffic and weather, over MQTT or
as a Plantower PMS5003 or Nova SDS011 on a serial line."""

from __future__ import annotations

from firmware_sim.air_quality import AirQualityModel
from firmware_sim.families import SimFamily
from firmware_sim.serial_frames import pms5003_frame, sds011_frame

FAMILY = SimFamily(
    "air_quality",
    abbreviation="aq",
    stream=10,
    model=lambda m: AirQualityModel(m.n_devices, m.traffic_level, m.seed),
    encoders={"pms5003": pms5003_frame, "sds011": sds011_frame},
)
