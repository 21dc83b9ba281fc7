"""The simulated junction camera: it stands at a signal controller and counts the traffic that
controller's loops count, plus people and its own health; MQTT only."""

from __future__ import annotations

from firmware_sim.camera import CameraModel
from firmware_sim.families import Models, SimFamily
from firmware_sim.traffic_signal import TrafficSignalModel


def _model(m: Models) -> CameraModel:
    traffic = m.model("traffic_signal")
    assert isinstance(traffic, TrafficSignalModel)
    return CameraModel(m.n_devices, m.traffic_level, m.seed, traffic, m.junction)


FAMILY = SimFamily("camera", abbreviation="cam", stream=13, model=_model, beside="traffic_signal")
