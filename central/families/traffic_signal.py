"""The traffic-signal family's rules: conflicting greens, stuck phase, cycle off plan, loop
detector faults and count profile; and each controller's loop counts for the cameras beside it
(`count_disagreement`, central/families/camera.py).

Each rule is a pure function of one reading or a small class holding the per-controller state it
needs, returning `Finding`s; time comes from reading timestamps. Field names follow the catalog
(edge/sensors/traffic_signal.yaml): "phase_<approach>", "d<N>_intensity" per loop detector.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from central.alerts import Finding
from central.families import CentralFamily, RuleSetting
from central.families.camera import Junctions
from central.rules import number
from edge.reading import FieldValue, Reading

_NS = 1_000_000_000


@dataclass(frozen=True)
class TrafficSignalParams:
    """The rules' parameters, shared by a detector's controllers (pass one to the Detector to
    change them)."""

    cycle_plans: Mapping[str, float] = field(default_factory=dict)  # planned cycle by id, s
    stuck_phase_cycles: float = 1.5
    cycle_tolerance: float = 0.1
    loop_stuck_cycles: float = 1.5
    loop_expected_zero: float = 20.0


_GREEN_NS = ("phase_N", "phase_S")
_GREEN_EW = ("phase_E", "phase_W")


def conflicting_greens(fields: Mapping[str, FieldValue]) -> list[Finding]:
    """North/south and east/west shown green together, or the conflict monitor tripped."""
    ns = [p for p in _GREEN_NS if fields.get(p) == "green"]
    ew = [p for p in _GREEN_EW if fields.get(p) == "green"]
    if ns and ew:
        both = ", ".join(ns + ew)
        return [
            Finding(
                "conflicting_greens", "critical", None, f"conflicting greens shown: {both} green"
            )
        ]
    if fields.get("conflictMonitor") is True:
        return [
            Finding(
                "conflicting_greens",
                "critical",
                None,
                "the conflict monitor tripped: the controller saw conflicting greens",
            )
        ]
    return []


def cycle_off_plan(
    fields: Mapping[str, FieldValue], plan_s: float | None, tolerance: float = 0.1
) -> list[Finding]:
    """cycleLength differs from the planned cycle by more than `tolerance` (a fraction)."""
    cycle = number(fields.get("cycleLength"))
    if cycle is None or plan_s is None or plan_s <= 0:
        return []
    if abs(cycle - plan_s) > tolerance * plan_s:
        return [
            Finding(
                "cycle_off_plan",
                "warning",
                cycle,
                f"cycleLength={cycle:g}s but the plan is {plan_s:g}s (±{tolerance:.0%})",
            )
        ]
    return []


@dataclass
class CyclePlan:
    """The planned cycle of one controller: given, or learned per time-of-day slot.

    Controllers run a day plan per day type (weekday, Saturday, Sunday) that switches timing
    plans by time of day, commonly by the quarter hour. A learned plan is the slot's usual
    cycle (a running mean) for its day type, trusted only once that slot has been seen on
    `min_days` different days: a plan learned from one morning would call every later plan
    change a fault, and an hourly plan cannot follow a rush hour that changes the cycle every
    quarter (90 false alerts per 1,000 clean sensor-hours, docs/detection.md). Days and times
    are UTC: a city far from UTC shifts its day types by its offset.
    """

    plan_s: float | None = None
    buckets: int = 96  # slots per day
    alpha: float = 0.05
    min_days: int = 2
    # Per slot, in compact arrays (made on first use): the running mean (NaN until seen), on
    # how many days the slot was seen (counted up to min_days) and the last such day.
    _mean: array[float] = field(default_factory=lambda: array("d"))
    _days: array[int] = field(default_factory=lambda: array("i"))
    _last_day: array[int] = field(default_factory=lambda: array("i"))

    def _slot(self, seconds: int) -> int:
        day = seconds // 86_400
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        day_type = 0 if weekday < 5 else weekday - 4  # weekday, Saturday, Sunday
        return day_type * self.buckets + (seconds % 86_400) * self.buckets // 86_400

    def check(
        self, ts: int, fields: Mapping[str, FieldValue], tolerance: float = 0.1
    ) -> list[Finding]:
        if self.plan_s is not None:
            return cycle_off_plan(fields, self.plan_s, tolerance)
        cycle = number(fields.get("cycleLength"))
        if cycle is None:
            return []
        if not self._mean:
            slots = 3 * self.buckets
            self._mean.extend([math.nan] * slots)
            self._days.extend([0] * slots)
            self._last_day.extend([-1] * slots)
        seconds = ts // _NS
        slot, day = self._slot(seconds), seconds // 86_400
        mean = self._mean[slot]
        seen = not math.isnan(mean)
        found = (
            cycle_off_plan(fields, mean, tolerance)
            if seen and self._days[slot] >= self.min_days
            else []
        )
        self._mean[slot] = mean + self.alpha * (cycle - mean) if seen else cycle
        if self._last_day[slot] != day and self._days[slot] < self.min_days:
            self._days[slot] += 1
            self._last_day[slot] = day
        return found


@dataclass
class StuckPhase:
    """A signal phase unchanged for longer than `factor` × the controller's cycle.

    In one cycle every approach gets its green, so no aspect legitimately lasts a whole cycle
    (red is at most the cycle minus the approach's own green).
    """

    factor: float = 1.5
    default_cycle_s: float = 120.0
    _since: dict[str, tuple[FieldValue, int]] = field(default_factory=dict)

    def check(self, ts: int, fields: Mapping[str, FieldValue]) -> list[Finding]:
        cycle = number(fields.get("cycleLength")) or self.default_cycle_s
        limit_ns = int(self.factor * cycle * _NS)
        found = []
        for name, value in fields.items():
            if not name.startswith("phase_"):
                continue
            since = self._since.get(name)
            if since is None or since[0] != value:
                self._since[name] = (value, ts)
                continue
            held_ns = ts - since[1]
            if held_ns > limit_ns:
                found.append(
                    Finding(
                        f"stuck_phase:{name}",
                        "warning",
                        held_ns / _NS,
                        f"{name} has shown {value} for {held_ns / _NS:.0f}s, "
                        f"more than {self.factor:g} cycles of {cycle:g}s",
                    )
                )
        return found


@dataclass
class LoopDetectors:
    """Inductive-loop health: the controller's own diagnostics, a loop stuck on, a loop idle.

    - The controller reports a detector fault ("d{N}_fault" other than "none"): raised at once,
      typed by the code (stuck_on and no_activity by name, any other as detector_fault).
    - Stuck on: occupancy of at least `stuck_occupancy` for longer than `cycles` × the cycle. A
      queued vehicle may hold a stop-line loop through a red, but not through its green too.
    - No activity: no count while the controller's other detectors counted so much that, at this
      detector's learned share of their counts, counting none has probability below
      exp(-`expected_zero`) (Poisson). Quiet hours are no evidence, busy ones soon are.

    Detector fields follow the catalog's "d{N}_occupancy" / "d{N}_intensity" names.
    """

    cycles: float = 1.5
    default_cycle_s: float = 120.0
    stuck_occupancy: float = 0.95
    expected_zero: float = 20.0
    min_counts: float = 50.0  # the others' counts a share is learned from before it is trusted
    _stuck_since: dict[str, int] = field(default_factory=dict)
    _missed: dict[str, float] = field(default_factory=dict)  # expected since the last count
    _own: dict[str, float] = field(default_factory=dict)  # lifetime count of the detector
    _others: dict[str, float] = field(default_factory=dict)  # lifetime mean count of the others

    def check(self, ts: int, fields: Mapping[str, FieldValue]) -> list[Finding]:
        found = []
        cycle = number(fields.get("cycleLength")) or self.default_cycle_s
        hold_ns = int(self.cycles * cycle * _NS)
        counts: dict[str, float] = {}
        occupancy: dict[str, float] = {}
        for name, raw in fields.items():
            if name[0] != "d":
                continue
            det, _, kind = name.partition("_")
            if kind == "fault":
                if isinstance(raw, str) and raw != "none":
                    found.append(self._reported(det, raw))
            elif (v := number(raw)) is not None:
                if kind == "intensity":
                    counts[det] = v
                elif kind == "occupancy":
                    occupancy[det] = v
        for det, occ in occupancy.items():
            if occ >= self.stuck_occupancy:
                since = self._stuck_since.setdefault(det, ts)
                if ts - since > hold_ns:
                    found.append(
                        Finding(
                            f"detector_stuck_on:{det}",
                            "warning",
                            occ,
                            f"detector {det} occupancy {occ:.2f} for {(ts - since) / _NS:.0f}s, "
                            f"more than {self.cycles:g} cycles of {cycle:g}s",
                        )
                    )
            else:
                self._stuck_since.pop(det, None)
        if len(counts) > 1:
            total = sum(counts.values())
            for det, count in counts.items():
                others = (total - count) / (len(counts) - 1)
                own = self._own[det] = self._own.get(det, 0.0) + count
                seen = self._others[det] = self._others.get(det, 0.0) + others
                if count > 0 or occupancy.get(det, 0.0) >= self.stuck_occupancy:
                    self._missed.pop(det, None)
                    continue
                if seen < self.min_counts:
                    continue
                missed = self._missed[det] = self._missed.get(det, 0.0) + others * (own + 1.0) / (
                    seen + 1.0
                )
                if missed > self.expected_zero:
                    found.append(
                        Finding(
                            f"detector_no_activity:{det}",
                            "warning",
                            0.0,
                            f"detector {det} counted nothing while its share of the other "
                            f"detectors' counts was {missed:.0f} vehicles",
                        )
                    )
        return found

    @staticmethod
    def _reported(det: str, code: str) -> Finding:
        kind = code if code in ("stuck_on", "no_activity") else "fault"
        return Finding(
            f"detector_{kind}:{det}",
            "warning",
            None,
            f"the controller reports detector {det} fault {code!r}",
        )


@dataclass
class CountProfile:
    """Vehicle counts far from this controller's time-of-day profile (hourly, learned online).

    Counts are roughly Poisson, so the allowed deviation grows with the square root of the mean.
    """

    buckets: int = 24
    alpha: float = 0.1
    k: float = 5.0
    min_days: int = 3
    _mean: dict[str, list[float]] = field(default_factory=dict)
    _visits: dict[str, list[int]] = field(default_factory=dict)

    def check(
        self, ts: int, fields: Mapping[str, FieldValue], names: Iterable[str]
    ) -> list[Finding]:
        bucket = (ts // _NS % 86_400) * self.buckets // 86_400
        found = []
        for name in names:
            x = number(fields.get(name))
            if x is None:
                continue
            mean = self._mean.setdefault(name, [0.0] * self.buckets)
            visits = self._visits.setdefault(name, [0] * self.buckets)
            mu, seen = mean[bucket], visits[bucket]
            # A bucket is trusted once it has seen min_days' worth of its hour's readings.
            trusted = seen >= self.min_days * 60
            if trusted and abs(x - mu) > self.k * (mu + 1.0) ** 0.5 + 1.0:
                found.append(
                    Finding(
                        f"counts_off_profile:{name}",
                        "info",
                        x,
                        f"{name}={x:g} while this hour usually counts about {mu:.1f}",
                    )
                )
            a = max(self.alpha, 1.0 / (seen + 1))
            mean[bucket] = mu + a * (x - mu)
            visits[bucket] = seen + 1
        return found


@dataclass
class TrafficSignalRules:
    """The per-controller state of the traffic-signal rules."""

    params: TrafficSignalParams
    junctions: Junctions
    stuck: StuckPhase
    loops: LoopDetectors
    cycle: CyclePlan
    counts: CountProfile = field(default_factory=CountProfile)

    def check(self, r: Reading, interval_s: float) -> list[Finding]:
        fields = r.fields
        found = [
            *conflicting_greens(fields),
            *self.stuck.check(r.ts, fields),
            *self.cycle.check(r.ts, fields, self.params.cycle_tolerance),
            *self.loops.check(r.ts, fields),
            *self.counts.check(r.ts, fields, ("intensity",)),
        ]
        junctions = self.junctions
        loc = r.location
        if loc is not None and loc.latitude is not None and loc.longitude is not None:
            junctions.place(r.sensor_id, loc.district, loc.latitude, loc.longitude)
        count = number(fields.get("intensity"))
        if count is None:
            return found
        for camera, check in junctions.cameras_at(r.sensor_id).items():
            check.loops(r.ts, count, interval_s)
            verdict = check.finding("controller", camera)
            if verdict is not None:
                found.append(verdict)
        return found


def _rules(sensor_id: str, setting: RuleSetting) -> TrafficSignalRules:
    params = setting.shared(TrafficSignalParams)
    return TrafficSignalRules(
        params,
        setting.shared(Junctions),
        stuck=StuckPhase(factor=params.stuck_phase_cycles),
        loops=LoopDetectors(
            cycles=params.loop_stuck_cycles, expected_zero=params.loop_expected_zero
        ),
        cycle=CyclePlan(plan_s=params.cycle_plans.get(sensor_id)),
    )


FAMILY = CentralFamily(
    "traffic_signal",
    rules=_rules,
    # Plan-driven fields (cycle, splits) have the cycle rule, per-loop fields the loop rules.
    own_fields=r"cycleLength|split_.*|d\d+_.*",
    steady_fields="occupancy",  # an empty road at night
)
