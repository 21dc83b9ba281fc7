"""The traffic-signal family's rules: conflicting greens, stuck phase, cycle off plan, loop
detector faults and count profile; and each controller's loop counts for the cameras beside it."""

from __future__ import annotations

from dataclasses import dataclass, field

from central.alerts import Finding
from central.families import CentralFamily, RuleSetting
from central.rules import (
    CountProfile,
    CyclePlan,
    LoopDetectors,
    StuckPhase,
    _number,
    conflicting_greens,
)
from edge.reading import Reading


@dataclass
class TrafficSignalRules:
    """The per-controller state of the traffic-signal rules."""

    setting: RuleSetting
    stuck: StuckPhase
    loops: LoopDetectors
    cycle: CyclePlan
    counts: CountProfile = field(default_factory=CountProfile)

    def check(self, r: Reading, interval_s: float) -> list[Finding]:
        fields = r.fields
        found = [
            *conflicting_greens(fields),
            *self.stuck.check(r.ts, fields),
            *self.cycle.check(r.ts, fields, self.setting.config.cycle_tolerance),
            *self.loops.check(r.ts, fields),
            *self.counts.check(r.ts, fields, ("intensity",)),
        ]
        junctions = self.setting.junctions
        loc = r.location
        if loc is not None and loc.latitude is not None and loc.longitude is not None:
            junctions.place(r.sensor_id, loc.district, loc.latitude, loc.longitude)
        count = _number(fields.get("intensity"))
        if count is None:
            return found
        for camera, check in junctions.cameras_at(r.sensor_id).items():
            check.loops(r.ts, count, interval_s)
            verdict = check.finding("controller", camera)
            if verdict is not None:
                found.append(verdict)
        return found


def _rules(sensor_id: str, setting: RuleSetting) -> TrafficSignalRules:
    cfg = setting.config
    return TrafficSignalRules(
        setting,
        stuck=StuckPhase(factor=cfg.stuck_phase_cycles),
        loops=LoopDetectors(cycles=cfg.loop_stuck_cycles, expected_zero=cfg.loop_expected_zero),
        cycle=CyclePlan(plan_s=setting.cycle_plans.get(sensor_id)),
    )


FAMILY = CentralFamily(
    "traffic_signal",
    rules=_rules,
    # Plan-driven fields (cycle, splits) have the cycle rule, per-loop fields the loop rules.
    own_fields=r"cycleLength|split_.*|d\d+_.*",
    steady_fields="occupancy",  # an empty road at night
)
