"""The per-sensor detection facade: one call per reading (or batch) in, alert transitions out.

`Detector` runs the rules that apply to a reading's sensor type plus the univariate detector on
each measured field, and turns the findings into raised/cleared alerts. All state is per sensor
and can be dropped (`drop`) when a partition moves; it is rebuilt from the readings that follow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from central.alerts import Alert, AlertTracker, Finding, SensorRef
from central.rules import (
    CountProfile,
    CyclePlan,
    DistrictConsensus,
    FieldSpecLike,
    Flatline,
    LoopDetectors,
    SilenceWatch,
    StuckPhase,
    conflicting_greens,
    out_of_range,
    pm25_above_pm10,
)
from central.univariate import UnivariateBank, UnivariateParams
from edge.reading import Reading

TRAFFIC_SIGNAL = "traffic_signal"

# Plan-driven fields (cycle, splits) have their own rule, and per-loop fields are judged by the
# loop rules: a statistical detector on them would only repeat those alerts.
_NOT_UNIVARIATE = re.compile(r"^(cycleLength|split_.*|d\d+_.*)$")
# Occupancy is legitimately constant at night and a full battery reads 1.0 for days.
_NOT_FLATLINE = re.compile(r"(occupancy|batteryLevel)")


class SensorTypeLike(Protocol):
    """What the detector needs of edge.catalog.SensorType."""

    @property
    def interval_s(self) -> float: ...
    @property
    def fields(self) -> Mapping[str, FieldSpecLike]: ...


class CatalogLike(Protocol):
    def get(self, sensor_type: str) -> SensorTypeLike | None: ...


@dataclass(frozen=True)
class DetectorConfig:
    """Rule parameters and the univariate detector's operating point."""

    univariate: UnivariateParams = field(default_factory=UnivariateParams)
    anomaly_threshold: float = 0.9836  # the NAB standard-profile optimum (docs/detection.md)
    clear_after: int = 3
    flatline_n: int = 30
    silence_k: float = 5.0
    stuck_phase_cycles: float = 4.0
    cycle_tolerance: float = 0.1
    loop_hold_s: float = 600.0
    default_interval_s: float = 60.0


@dataclass
class _SensorState:
    ref: SensorRef
    interval_s: float
    specs: Mapping[str, FieldSpecLike]
    numeric: tuple[str, ...]
    flat_fields: tuple[str, ...]
    slots: dict[str, int] = field(default_factory=dict)
    last_seq: int = -1
    flatline: Flatline = field(default_factory=Flatline)
    stuck: StuckPhase = field(default_factory=StuckPhase)
    loops: LoopDetectors = field(default_factory=LoopDetectors)
    counts: CountProfile = field(default_factory=CountProfile)
    cycle: CyclePlan = field(default_factory=CyclePlan)


class Detector:
    """Rules + univariate detection for every sensor one consumer owns."""

    def __init__(
        self,
        catalog: CatalogLike | None = None,
        config: DetectorConfig | None = None,
        cycle_plans: Mapping[str, float] | None = None,
    ) -> None:
        if catalog is None:
            from edge.catalog import load_catalog

            catalog = load_catalog()
        self.catalog = catalog
        self.config = config or DetectorConfig()
        self.cycle_plans = dict(cycle_plans or {})
        self.tracker = AlertTracker(clear_after=self.config.clear_after)
        self.bank = UnivariateBank(256, self.config.univariate)
        self.silence = SilenceWatch(k=self.config.silence_k)
        self.district = DistrictConsensus()
        self._sensors: dict[str, _SensorState] = {}
        self._free_slots: list[int] = []
        self._next_slot = 0

    def process(self, reading: Reading) -> list[Alert]:
        return self.process_batch([reading])

    def process_batch(self, readings: Sequence[Reading]) -> list[Alert]:
        """Alert transitions caused by the readings, in order; duplicates are skipped.

        The univariate detector runs once, vectorised, over every numeric field of the batch.
        """
        fresh = [r for r in readings if self.tracker.admit(r.sensor_id, r.seq)]
        states = [self._state(r) for r in fresh]
        slots: list[int] = []
        values: list[float] = []
        stamps: list[int] = []
        owners: list[tuple[int, str]] = []
        for i, (r, st) in enumerate(zip(fresh, states, strict=True)):
            for name in st.numeric:
                value = r.fields.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    slots.append(self._slot(st, name))
                    values.append(float(value))
                    stamps.append(r.ts)
                    owners.append((i, name))
        scores = self.bank.update(
            np.array(slots, dtype=np.int64), np.array(values), np.array(stamps, dtype=np.int64)
        )
        anomalies: list[list[Finding]] = [[] for _ in fresh]
        threshold = self.config.anomaly_threshold
        for (i, name), score, value in zip(owners, scores.tolist(), values, strict=True):
            if score >= threshold:
                anomalies[i].append(
                    Finding(
                        f"anomaly:{name}",
                        "info",
                        value,
                        f"{name}={value:g} is unusual for this sensor (score {score:.4f})",
                    )
                )
        out: list[Alert] = []
        for r, st, found in zip(fresh, states, anomalies, strict=True):
            out.extend(self._rules(r, st, found))
        return out

    def check_silence(self, now_ns: int) -> list[Alert]:
        """Raise a silence alert for every sensor quiet too long at `now_ns` (the consumer's clock)."""
        out = []
        for sensor_id, finding in self.silence.silent(now_ns):
            st = self._sensors.get(sensor_id)
            if st is None:
                continue
            alert = self.tracker.raise_now(st.ref, finding, st.last_seq, now_ns)
            if alert is not None:
                out.append(alert)
        return out

    def drop(self, sensor_id: str) -> None:
        """Forget a sensor entirely (its partition now belongs to another consumer)."""
        st = self._sensors.pop(sensor_id, None)
        if st is not None:
            freed = list(st.slots.values())
            self.bank.reset(freed)
            self._free_slots.extend(freed)
        self.tracker.drop(sensor_id)
        self.silence.forget(sensor_id)
        self.district.forget(sensor_id)

    @property
    def sensors(self) -> int:
        return len(self._sensors)

    def _state(self, r: Reading) -> _SensorState:
        st = self._sensors.get(r.sensor_id)
        district = r.location.district if r.location else ""
        if st is None:
            stype = self.catalog.get(r.sensor_type)
            specs: Mapping[str, FieldSpecLike] = stype.fields if stype else {}
            interval = stype.interval_s if stype else self.config.default_interval_s
            if specs:
                numeric = tuple(n for n, s in specs.items() if s.kind in ("float", "int"))
            else:
                numeric = tuple(
                    n
                    for n, v in r.fields.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                )
            cfg = self.config
            st = _SensorState(
                ref=SensorRef(r.sensor_id, r.sensor_type, district),
                interval_s=interval,
                specs=specs,
                numeric=tuple(n for n in numeric if not _NOT_UNIVARIATE.match(n)),
                flat_fields=tuple(
                    n
                    for n in numeric
                    if (not specs or specs[n].kind == "float") and not _NOT_FLATLINE.search(n)
                ),
                flatline=Flatline(n=cfg.flatline_n),
                stuck=StuckPhase(factor=cfg.stuck_phase_cycles),
                loops=LoopDetectors(hold_s=cfg.loop_hold_s),
                cycle=CyclePlan(plan_s=self.cycle_plans.get(r.sensor_id)),
            )
            self._sensors[r.sensor_id] = st
        elif district and st.ref.district != district:
            st.ref = SensorRef(r.sensor_id, r.sensor_type, district)
        return st

    def _slot(self, st: _SensorState, name: str) -> int:
        slot = st.slots.get(name)
        if slot is None:
            if self._free_slots:
                slot = self._free_slots.pop()
            else:
                slot = self._next_slot
                self._next_slot += 1
            st.slots[name] = slot
        return slot

    def _rules(self, r: Reading, st: _SensorState, found: list[Finding]) -> list[Alert]:
        fields = r.fields
        cfg = self.config
        found.extend(out_of_range(fields, st.specs))
        found.extend(st.flatline.check(fields, st.flat_fields))
        if "pm25" in fields:
            found.extend(pm25_above_pm10(fields))
            found.extend(self.district.check(r))
        if r.sensor_type == TRAFFIC_SIGNAL:
            found.extend(conflicting_greens(fields))
            found.extend(st.stuck.check(r.ts, fields))
            found.extend(st.cycle.check(fields, cfg.cycle_tolerance))
            found.extend(st.loops.check(r.ts, fields))
            found.extend(st.counts.check(r.ts, fields, ("intensity",)))
        out: list[Alert] = []
        # A reading ends a silence at once: no hysteresis, the sensor is plainly talking again.
        cleared = self.tracker.clear(r.sensor_id, "silence", r.seq, r.ts)
        if cleared is not None:
            out.append(cleared)
        self.silence.seen(r.sensor_id, r.ts, st.interval_s)
        st.last_seq = max(st.last_seq, r.seq)
        out.extend(self.tracker.update(st.ref, r.seq, r.ts, found))
        return out
