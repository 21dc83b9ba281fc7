"""Fault windows: planning them from a scenario (scheduled, or random at a rate per device),
tracking which are active at a tick, and changing the values of readings while they are.

Faults that change timing or bytes rather than values (dropout, clock skew, duplicates, reordering,
malformed payloads, unplugging) are only tracked here; the simulator applies them when it emits.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from edge.catalog import Catalog
from firmware_sim.errors import ScenarioError
from firmware_sim.families.camera import NOMINAL_FPS, count_fields
from firmware_sim.families.traffic_signal import APPROACHES, DETECTORS, refresh_totals
from firmware_sim.fault_kinds import DEFAULT_FIELD, KINDS
from firmware_sim.fleet import Fleet
from firmware_sim.scenario import FaultSpec, Scenario, SerialTransport

EMISSION: Final = frozenset(
    {"dropout", "clock_skew", "duplicate", "out_of_order", "malformed", "unplug", "camera_offline"}
)
# A controller's loop diagnostics flag a stuck or silent detector only after watching it a while.
DIAGNOSTIC_DELAY_NS: Final = 30 * 1_000_000_000
# Faults that change one named field; the others act on timing, bytes or a group of fields.
FIELD_FAULTS: Final = frozenset({"spike", "drift", "stuck", "out_of_range", "noise_burst"})
_RANDOM_CHUNK_S: Final = 600
_NS: Final = 1_000_000_000


@dataclass(frozen=True)
class FaultWindow:
    """One fault on one device from start_ns (inclusive) to end_ns (exclusive)."""

    id: int
    device: int
    sensor_id: str
    sensor_type: str
    fault: str
    start_ns: int
    end_ns: int
    field: str = ""
    magnitude: float = 0.0
    detector: int = 0  # 1..8 for detector faults
    origin: str = "scheduled"


@dataclass
class ActiveFault:
    window: FaultWindow
    state: dict[str, object] = field(default_factory=dict)


class FaultBook:
    """The plan of fault windows of a run and the ones active now."""

    def __init__(self, scenario: Scenario, fleet: Fleet, start_ns: int, catalog: Catalog) -> None:
        self.fleet = fleet
        self.catalog = catalog
        self.seed = scenario.seed
        self.start_ns = start_ns
        self._ids = itertools.count()
        self._pending: list[tuple[int, int, FaultWindow]] = []
        self.active: dict[int, ActiveFault] = {}
        self.emission: dict[int, list[FaultWindow]] = {}
        self._random: list[tuple[int, FaultSpec, np.ndarray]] = []
        self._chunks_planned = 0
        for i, spec in enumerate(scenario.faults):
            devices = self._resolve(i, spec)
            if spec.random:
                self._random.append((i, spec, devices))
            else:
                start = start_ns + round(spec.start * _NS)
                rng = np.random.default_rng([self.seed & 0xFFFFFFFF, 6, i])
                for device in devices.tolist():
                    self._push(self._window(spec, device, start, rng, "scheduled"))
        self._plan_random(until_ns=start_ns)

    def _resolve(self, i: int, spec: FaultSpec) -> np.ndarray:
        """The devices a fault spec targets, filtered to those the fault type fits."""
        kind = KINDS[spec.type]
        devices = self.fleet.devices
        if spec.sensor:
            if spec.sensor not in self.fleet.index:
                raise ScenarioError(
                    f"faults.{i}.sensor = {spec.sensor!r}: no such device; ids look like "
                    f"{devices[0].sensor_id!r}",
                    key=f"faults.{i}.sensor",
                )
            chosen = [self.fleet.index[spec.sensor]]
        else:
            sel = spec.selector
            chosen = [
                d.index
                for d in devices
                if sel is None
                or (
                    (sel.district is None or d.district == sel.district)
                    and (sel.sensor_type is None or d.sensor_type == sel.sensor_type)
                    and (sel.sensors is None or d.sensor_id in sel.sensors)
                )
            ]
        fitting = [
            d
            for d in chosen
            if devices[d].sensor_type in kind.sensor_types
            and (not kind.serial_only or isinstance(devices[d].transport, SerialTransport))
        ]
        if not fitting and not spec.random:
            where = "serial " if kind.serial_only else ""
            raise ScenarioError(
                f"faults.{i}.type = {spec.type!r}: it targets no {where}device of a type it fits "
                f"({', '.join(sorted(kind.sensor_types))})",
                key=f"faults.{i}.type",
            )
        if spec.field:
            for d in fitting:
                if spec.field not in self.catalog.sensor(devices[d].sensor_type).fields:
                    raise ScenarioError(
                        f"faults.{i}.field = {spec.field!r}: not a field of "
                        f"{devices[d].sensor_type}",
                        key=f"faults.{i}.field",
                    )
        result = np.asarray(fitting, dtype=np.int64)
        if spec.selector and spec.selector.count and spec.selector.count < len(result):
            rng = np.random.default_rng([self.seed & 0xFFFFFFFF, 4, i])
            result = np.sort(rng.choice(result, spec.selector.count, replace=False))
        return result

    def _window(
        self, spec: FaultSpec, device: int, start: int, rng: np.random.Generator, origin: str
    ) -> FaultWindow:
        dev = self.fleet.devices[device]
        return FaultWindow(
            id=next(self._ids),
            device=device,
            sensor_id=dev.sensor_id,
            sensor_type=dev.sensor_type,
            fault=spec.type,
            start_ns=start,
            end_ns=start + round(spec.duration * _NS),
            field=(spec.field or DEFAULT_FIELD[dev.sensor_type])
            if spec.type in FIELD_FAULTS
            else "",
            magnitude=spec.effective_magnitude,
            detector=int(rng.integers(1, DETECTORS + 1)),
            origin=origin,
        )

    def _push(self, window: FaultWindow) -> None:
        heapq.heappush(self._pending, (window.start_ns, window.id, window))

    def _plan_random(self, until_ns: int) -> None:
        """Plan random windows chunk by chunk, a little ahead of time, so runs can be endless."""
        chunk_ns = _RANDOM_CHUNK_S * _NS
        while self.start_ns + self._chunks_planned * chunk_ns <= until_ns + chunk_ns:
            c = self._chunks_planned
            self._chunks_planned += 1
            for i, spec, devices in self._random:
                assert spec.random is not None
                chunk_start = self.start_ns + round(spec.start * _NS) + c * chunk_ns
                rng = np.random.default_rng([self.seed & 0xFFFFFFFF, 5, i, c])
                expected = spec.random.rate_per_hour * len(devices) * _RANDOM_CHUNK_S / 3600
                n = int(rng.poisson(expected)) if len(devices) else 0
                chosen = rng.choice(devices, n) if n else np.empty(0, dtype=np.int64)
                offsets = np.sort(rng.random(n)) * chunk_ns
                for device, offset in zip(chosen, offsets, strict=True):
                    self._push(
                        self._window(spec, int(device), chunk_start + int(offset), rng, "random")
                    )

    def advance(self, t_ns: int) -> tuple[list[FaultWindow], list[FaultWindow]]:
        """Start and end windows up to t_ns; returns (started, ended)."""
        if self._random:
            self._plan_random(t_ns)
        started: list[FaultWindow] = []
        ended: list[FaultWindow] = []
        for fault_id, active in list(self.active.items()):
            if active.window.end_ns <= t_ns:
                del self.active[fault_id]
                self._forget(active.window)
                ended.append(active.window)
        while self._pending and self._pending[0][0] <= t_ns:
            _, _, window = heapq.heappop(self._pending)
            if window.end_ns <= t_ns:
                # Shorter than a tick (or missed while the run lagged): label it, it left no trace.
                started.append(window)
                ended.append(window)
                continue
            self.active[window.id] = ActiveFault(window)
            if window.fault in EMISSION:
                self.emission.setdefault(window.device, []).append(window)
            started.append(window)
        return started, ended

    def _forget(self, window: FaultWindow) -> None:
        if window.fault in EMISSION:
            remaining = [w for w in self.emission[window.device] if w.id != window.id]
            if remaining:
                self.emission[window.device] = remaining
            else:
                del self.emission[window.device]

    def close(self) -> list[FaultWindow]:
        """End every active window (the run is over); returns them."""
        windows = [a.window for a in self.active.values()]
        self.active.clear()
        self.emission.clear()
        return windows

    def apply_values(
        self,
        sensor_type: str,
        due: np.ndarray,
        values: dict[str, np.ndarray],
        t_ns: int,
        rng: np.random.Generator,
    ) -> None:
        """Change, in place, the values of due devices with an active value fault."""
        for active in self.active.values():
            w = active.window
            if w.sensor_type != sensor_type or w.fault in EMISSION:
                continue
            pos = int(np.searchsorted(due, w.device))
            if pos >= len(due) or due[pos] != w.device:
                continue
            _APPLY[w.fault](self, active, values, pos, t_ns, rng)

    def _span(self, sensor_type: str, name: str) -> tuple[float, float]:
        spec = self.catalog.sensor(sensor_type).fields[name]
        low = 0.0 if spec.min is None else spec.min
        high = low + 1000.0 if spec.max is None else spec.max
        return low, high


Values = dict[str, np.ndarray]


def _spike(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    w = a.window
    low, high = book._span(w.sensor_type, w.field)
    v[w.field][p] = v[w.field][p] * w.magnitude + 0.02 * (high - low)


def _drift(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    w = a.window
    low, high = book._span(w.sensor_type, w.field)
    minutes = (t - w.start_ns) / 60e9
    v[w.field][p] = v[w.field][p] + w.magnitude / 100 * (high - low) * minutes


def _stuck(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    name = a.window.field
    if name not in a.state:
        a.state[name] = v[name][p]
    v[name][p] = a.state[name]


def _out_of_range(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    w = a.window
    low, high = book._span(w.sensor_type, w.field)
    v[w.field][p] = high + (high - low) * max(w.magnitude - 1.0, 0.05)


def _noise_burst(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    w = a.window
    low, high = book._span(w.sensor_type, w.field)
    value = float(v[w.field][p])
    sigma = w.magnitude * (abs(value) + 0.05 * (high - low))
    v[w.field][p] = max(low, value + rng.normal(0.0, sigma))


def _pm25_above_pm10(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    v["pm25"][p] = v["pm10"][p] * a.window.magnitude


def _conflicting_greens(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    # The conflict monitor failed too (else it would force flashing): detectors must see it.
    for approach in APPROACHES:
        v[f"phase_{approach}"][p] = "green"


_PHASE_FIELDS: Final = (
    *(f"phase_{a}" for a in APPROACHES),
    *(f"split_{a}" for a in APPROACHES),
    "cycleLength",
)


def _stuck_phase(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    if not a.state:
        a.state.update({name: v[name][p] for name in _PHASE_FIELDS})
    for name in _PHASE_FIELDS:
        v[name][p] = a.state[name]


def _detector(a: ActiveFault, v: Values, p: int, t: int, occupancy: float, code: str) -> None:
    k = a.window.detector
    v[f"d{k}_intensity"][p] = 0
    v[f"d{k}_occupancy"][p] = occupancy
    if t - a.window.start_ns >= DIAGNOSTIC_DELAY_NS:
        v[f"d{k}_fault"][p] = code
    refresh_totals(v, p)


def _detector_stuck_on(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    _detector(a, v, p, t, 1.0, "stuck_on")


def _detector_no_activity(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    _detector(a, v, p, t, 0.0, "no_activity")


# What a camera's analytics derive from the picture; its health fields come from the unit itself.
_CAMERA_SCENE: Final = (*count_fields(), "occupancy", "averageCrowdSpeed", "congested")


def _scale_counts(v: Values, p: int, factor: float, rng: np.random.Generator) -> None:
    """Counts as a camera that sees `factor` times the objects would make them: fewer are a
    random thinning of what passed, more add objects at the same rate."""
    for name in count_fields():
        count = int(v[name][p])
        if factor <= 1.0:
            v[name][p] = rng.binomial(count, factor)
        else:
            v[name][p] = count + rng.poisson(count * (factor - 1.0))
    v["occupancy"][p] = min(1.0, float(v["occupancy"][p]) * factor)


def _lens_obscured(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    # Dirt or spray over part of the lens: the unit's tamper check, made for a covered lens,
    # does not trip, but nearly everything behind the smear goes uncounted.
    _scale_counts(v, p, a.window.magnitude, rng)


def _frozen_frame(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    # The decoder keeps handing the analytics its last frame: every scene figure repeats.
    if not a.state:
        a.state.update({name: v[name][p] for name in _CAMERA_SCENE})
    for name in _CAMERA_SCENE:
        v[name][p] = a.state[name]


def _camera_moved(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    # Knocked or turned on its mount: the counting zone now covers another part of the street.
    _scale_counts(v, p, a.window.magnitude, rng)


def _frame_rate_collapse(
    book: FaultBook, a: ActiveFault, v: Values, p: int, t: int, rng: np.random.Generator
) -> None:
    share = a.window.magnitude
    v["frameRate"][p] = NOMINAL_FPS * share + rng.normal(0.0, 0.2)
    # Objects that cross between the frames still processed are missed, so counts fall too.
    _scale_counts(v, p, 0.5 + 0.5 * share, rng)


_APPLY: Final = {
    "spike": _spike,
    "drift": _drift,
    "stuck": _stuck,
    "out_of_range": _out_of_range,
    "noise_burst": _noise_burst,
    "pm25_above_pm10": _pm25_above_pm10,
    "conflicting_greens": _conflicting_greens,
    "stuck_phase": _stuck_phase,
    "detector_stuck_on": _detector_stuck_on,
    "detector_no_activity": _detector_no_activity,
    "lens_obscured": _lens_obscured,
    "frozen_frame": _frozen_frame,
    "camera_moved": _camera_moved,
    "frame_rate_collapse": _frame_rate_collapse,
}
