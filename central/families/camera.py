"""The camera family's rules: the tamper and stream state a camera reports, frame rate low,
frozen frame, and its motor-vehicle counts held against the loops of the controller beside it
(`count_disagreement`, central/camera_rules.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from central.alerts import Finding
from central.camera_rules import FrameRate, FrozenFrame, Junctions, motor_vehicles, reported_health
from central.families import CentralFamily, RuleSetting
from edge.reading import Reading


@dataclass
class CameraRules:
    """The per-camera state of the camera rules (the cross check lives in `Junctions`)."""

    junctions: Junctions
    frame_rate: FrameRate = field(default_factory=FrameRate)
    frozen: FrozenFrame = field(default_factory=FrozenFrame)

    def check(self, r: Reading, interval_s: float) -> list[Finding]:
        fields = r.fields
        found = [
            *reported_health(fields),
            *self.frame_rate.check(fields),
            *self.frozen.check(fields),
        ]
        loc, count = r.location, motor_vehicles(fields)
        if loc is None or loc.latitude is None or loc.longitude is None or count is None:
            return found
        paired = self.junctions.pair(r.sensor_id, loc.district, loc.latitude, loc.longitude)
        if paired is None:
            return found
        controller, check = paired
        check.camera(r.ts, count, interval_s)
        verdict = check.finding("camera", controller)
        if verdict is not None:
            found.append(verdict)
        return found


def _rules(sensor_id: str, setting: RuleSetting) -> CameraRules:
    return CameraRules(setting.junctions)


FAMILY = CentralFamily(
    "camera",
    rules=_rules,
    # Counts per vehicle class are sparse (a bus an hour: every bus is "novel"); they are judged
    # against the junction's loops instead.
    own_fields="intensity_.*",
    steady_fields="occupancy",  # an empty zone at night
)
