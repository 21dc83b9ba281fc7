"""Rule detectors: physical range, PM consistency, flatlines, silence, traffic-signal logic, districts.

Each rule is a pure function of one reading or a small class holding the per-sensor state it
needs; all return `Finding`s (the condition holds now) and leave raising and clearing alerts to
`central.alerts.AlertTracker`. Time comes from reading timestamps or a clock passed in, never
from the wall clock, so every rule is testable.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from central.alerts import Finding
from edge.reading import FieldValue, Reading

_NS = 1_000_000_000


class FieldSpecLike(Protocol):
    """What the rules need of edge.catalog.FieldSpec."""

    @property
    def name(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def min(self) -> float | None: ...
    @property
    def max(self) -> float | None: ...
    @property
    def allowed(self) -> tuple[str, ...] | None: ...


def _number(value: FieldValue | None) -> float | None:
    """A numeric field value as float; bools and strings are not measurements."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# --- per reading, stateless -------------------------------------------------------------------


def out_of_range(
    fields: Mapping[str, FieldValue], specs: Mapping[str, FieldSpecLike]
) -> list[Finding]:
    """Values outside their field's physical range, or not among its allowed values."""
    found = []
    for name, value in fields.items():
        spec = specs.get(name)
        if spec is None:
            continue
        num = _number(value)
        if num is not None:
            low, high = spec.min, spec.max
            if (low is not None and num < low) or (high is not None and num > high):
                found.append(
                    Finding(
                        f"out_of_range:{name}",
                        "warning",
                        num,
                        f"{name}={num:g} {spec.unit} outside the physical range [{low}, {high}]",
                    )
                )
        elif isinstance(value, str) and spec.allowed is not None and value not in spec.allowed:
            found.append(
                Finding(
                    f"out_of_range:{name}",
                    "warning",
                    None,
                    f"{name}={value!r} is not one of {', '.join(spec.allowed)}",
                )
            )
    return found


def pm25_above_pm10(
    fields: Mapping[str, FieldValue], abs_tolerance: float = 2.0, rel_tolerance: float = 0.05
) -> list[Finding]:
    """PM2.5 is a subset of PM10, so PM2.5 above PM10 (beyond sensor noise) is a faulty sensor."""
    pm25, pm10 = _number(fields.get("pm25")), _number(fields.get("pm10"))
    if pm25 is None or pm10 is None:
        return []
    if pm25 > pm10 + max(abs_tolerance, rel_tolerance * pm10):
        return [
            Finding(
                "pm25_above_pm10",
                "warning",
                pm25,
                f"pm25={pm25:g} exceeds pm10={pm10:g}: particle counts are inconsistent",
            )
        ]
    return []


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
    cycle = _number(fields.get("cycleLength"))
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


# --- per sensor, stateful ---------------------------------------------------------------------


@dataclass
class CyclePlan:
    """The planned cycle of one controller: given, or learned as the most common early value."""

    plan_s: float | None = None
    learn: int = 20
    _seen: list[float] = field(default_factory=list)

    def check(self, fields: Mapping[str, FieldValue], tolerance: float = 0.1) -> list[Finding]:
        cycle = _number(fields.get("cycleLength"))
        if self.plan_s is None and cycle is not None:
            self._seen.append(cycle)
            if len(self._seen) >= self.learn:
                self.plan_s = statistics.mode(self._seen)
                self._seen.clear()
            return []
        return cycle_off_plan(fields, self.plan_s, tolerance)


@dataclass
class Flatline:
    """The same value `n` times in a row on a numeric field (a frozen or disconnected sensor)."""

    n: int = 30
    _last: dict[str, tuple[float, int]] = field(default_factory=dict)

    def check(self, fields: Mapping[str, FieldValue], names: Iterable[str]) -> list[Finding]:
        found = []
        for name in names:
            value = _number(fields.get(name))
            if value is None:
                continue
            last = self._last.get(name)
            run = last[1] + 1 if last is not None and last[0] == value else 1
            self._last[name] = (value, run)
            if run >= self.n:
                found.append(
                    Finding(
                        f"flatline:{name}",
                        "warning",
                        value,
                        f"{name} has been exactly {value:g} for {run} readings",
                    )
                )
        return found


@dataclass
class StuckPhase:
    """A signal phase unchanged for far longer than the cycle (`factor` × cycleLength)."""

    factor: float = 4.0
    default_cycle_s: float = 120.0
    _since: dict[str, tuple[FieldValue, int]] = field(default_factory=dict)

    def check(self, ts: int, fields: Mapping[str, FieldValue]) -> list[Finding]:
        cycle = _number(fields.get("cycleLength")) or self.default_cycle_s
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
    """Inductive-loop health: occupancy ≈ 1 for long (stuck on), or no counts while neighbours count.

    Detector fields follow the catalog's "d{N}_occupancy" / "d{N}_intensity" names; the neighbours
    of a detector are the other detectors of the same controller.
    """

    hold_s: float = 600.0
    stuck_occupancy: float = 0.95
    _stuck_since: dict[str, int] = field(default_factory=dict)
    _idle_since: dict[str, int] = field(default_factory=dict)

    def check(self, ts: int, fields: Mapping[str, FieldValue]) -> list[Finding]:
        found = []
        hold_ns = int(self.hold_s * _NS)
        counts = {
            name.split("_", 1)[0]: v
            for name, raw in fields.items()
            if name.endswith("_intensity")
            and name.startswith("d")
            and (v := _number(raw)) is not None
        }
        for name, raw in fields.items():
            if not (name.startswith("d") and name.endswith("_occupancy")):
                continue
            occ = _number(raw)
            det = name.split("_", 1)[0]
            if occ is not None and occ >= self.stuck_occupancy:
                since = self._stuck_since.setdefault(det, ts)
                if ts - since >= hold_ns:
                    found.append(
                        Finding(
                            f"detector_stuck_on:{det}",
                            "warning",
                            occ,
                            f"detector {det} occupancy {occ:.2f} for {(ts - since) / _NS:.0f}s",
                        )
                    )
            else:
                self._stuck_since.pop(det, None)
        for det, count in counts.items():
            neighbours = [c for d, c in counts.items() if d != det]
            if count == 0 and neighbours and max(neighbours) > 0:
                since = self._idle_since.setdefault(det, ts)
                if ts - since >= hold_ns:
                    found.append(
                        Finding(
                            f"detector_no_activity:{det}",
                            "warning",
                            0.0,
                            f"detector {det} counted nothing for {(ts - since) / _NS:.0f}s "
                            f"while its neighbours counted up to {max(neighbours):g}",
                        )
                    )
            elif count > 0 or not neighbours or max(neighbours) > 0:
                self._idle_since.pop(det, None)
        return found


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
            x = _number(fields.get(name))
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


# --- across sensors ---------------------------------------------------------------------------


@dataclass
class SilenceWatch:
    """Sensors silent for more than `k` × their expected interval, judged at a clock you pass in."""

    k: float = 5.0
    _last: dict[str, tuple[int, float]] = field(default_factory=dict)

    def seen(self, sensor_id: str, ts: int, interval_s: float) -> None:
        last = self._last.get(sensor_id)
        if last is None or ts >= last[0]:
            self._last[sensor_id] = (ts, interval_s)

    def forget(self, sensor_id: str) -> None:
        self._last.pop(sensor_id, None)

    def silent(self, now_ns: int) -> list[tuple[str, Finding]]:
        """(sensor_id, finding) for every sensor silent too long at `now_ns`."""
        found = []
        for sensor_id, (ts, interval_s) in self._last.items():
            quiet_s = (now_ns - ts) / _NS
            if quiet_s > self.k * interval_s:
                found.append(
                    (
                        sensor_id,
                        Finding(
                            "silence",
                            "warning",
                            quiet_s,
                            f"no reading for {quiet_s:.0f}s (expected every {interval_s:g}s)",
                        ),
                    )
                )
        return found


@dataclass
class DistrictConsensus:
    """An air-quality monitor far from the median of the other monitors in its district.

    Keeps the latest value of each monitor per field; monitors older than `max_age_s` are left
    out. Disagreement is judged with the others' median absolute deviation, floored so a
    district of near-identical monitors does not make noise an alert.
    """

    fields: tuple[str, ...] = ("pm25", "pm10", "no2", "o3")
    min_others: int = 3
    k: float = 5.0
    abs_floor: float = 5.0
    rel_floor: float = 0.25
    max_age_s: float = 900.0
    window: int = 5  # readings a disagreement must persist to count (one gust is not a fault)
    _latest: dict[tuple[str, str], dict[str, tuple[int, float]]] = field(default_factory=dict)
    _streak: dict[tuple[str, str], deque[bool]] = field(default_factory=dict)

    def check(self, reading: Reading) -> list[Finding]:
        district = reading.location.district if reading.location else ""
        if not district:
            return []
        found = []
        for name in self.fields:
            x = _number(reading.fields.get(name))
            if x is None:
                continue
            latest = self._latest.setdefault((district, name), {})
            latest[reading.sensor_id] = (reading.ts, x)
            horizon = reading.ts - int(self.max_age_s * _NS)
            others = [
                v for sid, (t, v) in latest.items() if sid != reading.sensor_id and t >= horizon
            ]
            streak = self._streak.setdefault((reading.sensor_id, name), deque(maxlen=self.window))
            if len(others) < self.min_others:
                streak.append(False)
                continue
            med = statistics.median(others)
            mad = statistics.median(abs(v - med) for v in others) * 1.4826
            allowed = max(self.k * mad, self.abs_floor, self.rel_floor * abs(med))
            streak.append(abs(x - med) > allowed)
            if len(streak) == self.window and all(streak):
                found.append(
                    Finding(
                        f"district_disagreement:{name}",
                        "warning",
                        x,
                        f"{name}={x:g} while the median of {len(others)} other monitors in "
                        f"{district} is {med:g}",
                    )
                )
        return found

    def forget(self, sensor_id: str) -> None:
        for latest in self._latest.values():
            latest.pop(sensor_id, None)
        for key in [k for k in self._streak if k[0] == sensor_id]:
            del self._streak[key]
