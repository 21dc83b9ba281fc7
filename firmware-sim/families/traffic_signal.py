"""The simulated signal controller: phases, loop counts on the city's traffic profile, and the
$TSC line on a serial port."""

from __future__ import annotations

from firmware_sim.families import SimFamily
from firmware_sim.serial_frames import traffic_line_frame
from firmware_sim.traffic_signal import TrafficSignalModel

FAMILY = SimFamily(
    "traffic_signal",
    abbreviation="ts",
    stream=11,
    model=lambda m: TrafficSignalModel(m.n_devices, m.traffic_level, m.seed),
    encoders={"traffic_line": traffic_line_frame},
)
