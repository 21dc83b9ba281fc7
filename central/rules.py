"""Rule detectors: physical range, PM consistency, flatlines, silence, traffic-signal logic, districts.

Each rule is a pure function of one reading or a small class holding the per-sensor state it
needs; all return `Finding`s (the condition holds now) and leave raising and clearing alerts to
`central.alerts.AlertTracker`. Time comes from reading timestamps or a clock passed in, never
from the wall clock, so every rule is testable.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from central.alerts import Finding
from edge.reading import FieldValue, Reading

_NS = 1_000_000_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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


class KeyedArrays:
    """Per-key numeric state in numpy arrays, keyed by small ints the caller allocates (slots)."""

    def __init__(self, **fills: float) -> None:
        self._fills = fills
        self._arrays: dict[str, FloatArray] = {name: np.empty(0) for name in fills}

    def __getitem__(self, name: str) -> FloatArray:
        return self._arrays[name]

    def ensure(self, keys: IntArray) -> None:
        size = len(next(iter(self._arrays.values())))
        need = int(keys.max()) + 1 if keys.size else 0
        if need > size:
            grown = max(need, 2 * size, 64)
            for name, arr in self._arrays.items():
                fresh = np.full(grown, self._fills[name])
                fresh[:size] = arr
                self._arrays[name] = fresh

    def reset(self, keys: npt.ArrayLike) -> None:
        idx = np.asarray(keys, dtype=np.int64)
        idx = idx[idx < len(next(iter(self._arrays.values())))]
        for name, arr in self._arrays.items():
            arr[idx] = self._fills[name]


class _KeyMap:
    """Small ints for string keys, for the per-reading conveniences over the batch rules."""

    def __init__(self) -> None:
        self._ids: dict[object, int] = {}

    def __call__(self, key: object) -> int:
        return self._ids.setdefault(key, len(self._ids))

    def pop(self, match: Callable[[object], bool]) -> list[int]:
        gone = [k for k in self._ids if match(k)]
        return [self._ids.pop(k) for k in gone]


class Flatline:
    """The same value `n` times in a row on a numeric field (a frozen or disconnected sensor).

    `runs(keys, values)` is the batch form, one key per (sensor, field), each key at most once
    per call; `check(fields, names)` serves one sensor's reading.
    """

    def __init__(self, n: int = 30) -> None:
        self.n = n
        self._state = KeyedArrays(last=np.nan, run=0.0)
        self._keys = _KeyMap()

    def runs(self, keys: IntArray, values: FloatArray) -> FloatArray:
        """The run length each value extends (values must be finite)."""
        self._state.ensure(keys)
        last, run = self._state["last"], self._state["run"]
        runs = np.where(last[keys] == values, run[keys] + 1.0, 1.0)
        last[keys] = values
        run[keys] = runs
        return runs

    def reset(self, keys: npt.ArrayLike) -> None:
        self._state.reset(keys)

    def finding(self, name: str, value: float, run: int) -> Finding:
        return Finding(
            f"flatline:{name}",
            "warning",
            value,
            f"{name} has been exactly {value:g} for {run} readings",
        )

    def check(self, fields: Mapping[str, FieldValue], names: Iterable[str]) -> list[Finding]:
        present = [(n, v) for n in names if (v := _number(fields.get(n))) is not None]
        if not present:
            return []
        keys = np.array([self._keys(n) for n, _ in present], dtype=np.int64)
        runs = self.runs(keys, np.array([v for _, v in present]))
        return [
            self.finding(n, v, int(r))
            for (n, v), r in zip(present, runs.tolist(), strict=True)
            if r >= self.n
        ]


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


class DistrictConsensus:
    """An air-quality monitor far from the median of the monitors in its district.

    Keeps the latest value of each monitor per field; monitors older than `max_age_s` at the
    batch's newest timestamp are left out. Each district's median and median absolute deviation
    are computed once per batch over its fresh monitors (the monitor judged included: with the
    required `min_others` others, one outlier moves neither). Disagreement is floored so a
    district of near-identical monitors does not make noise an alert, and must persist for
    `window` readings of the monitor (one gust is not a fault).

    `check_batch` is the batch form over caller-chosen int keys, one per (monitor, field), each
    key at most once per call; `check(reading)` serves one reading.
    """

    def __init__(
        self,
        fields: tuple[str, ...] = ("pm25", "pm10", "no2", "o3"),
        min_others: int = 3,
        k: float = 5.0,
        abs_floor: float = 5.0,
        rel_floor: float = 0.25,
        max_age_s: float = 900.0,
        window: int = 5,
    ) -> None:
        self.fields = fields
        self.min_others = min_others
        self.k = k
        self.abs_floor = abs_floor
        self.rel_floor = rel_floor
        self.max_age_s = max_age_s
        self.window = window
        # group: district and field as one int (-1: none); ts and value: the latest reading.
        self._state = KeyedArrays(group=-1.0, ts=-np.inf, value=np.nan, streak=0.0)
        self._keys = _KeyMap()
        self._groups = _KeyMap()

    def group(self, district: str, name: str) -> int:
        """The int naming one (district, field) pair, for `check_batch`."""
        return self._groups((district, name))

    def check_batch(
        self, keys: IntArray, groups: IntArray, ts: IntArray, values: FloatArray
    ) -> tuple[IntArray, FloatArray, IntArray]:
        """Positions of the values that disagree persistently, with their district's median and
        the number of other fresh monitors."""
        st = self._state
        st.ensure(keys)
        group, last_ts, value, streak = st["group"], st["ts"], st["value"], st["streak"]
        group[keys], last_ts[keys], value[keys] = groups, ts, values
        horizon = float(ts.max()) - self.max_age_s * _NS
        members = np.flatnonzero(np.isin(group, groups) & (last_ts >= horizon))
        order = members[np.argsort(group[members], kind="stable")]
        ids, starts, counts = np.unique(group[order], return_index=True, return_counts=True)
        med = np.empty(ids.size)
        mad = np.empty(ids.size)
        for j, (a, c) in enumerate(zip(starts.tolist(), counts.tolist(), strict=True)):
            vals = value[order[a : a + c]]
            med[j] = np.median(vals)
            mad[j] = np.median(np.abs(vals - med[j])) * 1.4826
        at = np.searchsorted(ids, groups)
        others = counts[at] - 1
        allowed = np.maximum(
            np.maximum(self.k * mad[at], self.abs_floor), self.rel_floor * np.abs(med[at])
        )
        judged = others >= self.min_others
        off = judged & (np.abs(values - med[at]) > allowed)
        streak[keys] = np.where(off, streak[keys] + 1.0, 0.0)
        hits = np.flatnonzero(streak[keys] >= self.window)
        return hits, med[at[hits]], others[hits]

    def finding(
        self, name: str, value: float, district: str, median: float, others: int
    ) -> Finding:
        return Finding(
            f"district_disagreement:{name}",
            "warning",
            value,
            f"{name}={value:g} while the median of {others} monitors in {district} "
            f"(besides this one) is {median:g}",
        )

    def check(self, reading: Reading) -> list[Finding]:
        district = reading.location.district if reading.location else ""
        if not district:
            return []
        present = [(n, v) for n in self.fields if (v := _number(reading.fields.get(n))) is not None]
        found = []
        for name, x in present:
            hits, med, others = self.check_batch(
                np.array([self._keys((reading.sensor_id, name))]),
                np.array([self.group(district, name)]),
                np.array([reading.ts]),
                np.array([x]),
            )
            if hits.size:
                found.append(self.finding(name, x, district, float(med[0]), int(others[0])))
        return found

    def reset(self, keys: npt.ArrayLike) -> None:
        self._state.reset(keys)

    def forget(self, sensor_id: str) -> None:
        self.reset(self._keys.pop(lambda k: isinstance(k, tuple) and k[0] == sensor_id))
