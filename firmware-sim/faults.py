"""Fault windows: planning them from a scenario (scheduled, or random at a rate per device),
tracking which are active at a tick, and changing the values of readings while they are.

Faults that change timing or bytes rather than values (dropout, clock skew, duplicates, reordering,
malformed payloads, unplugging) are only tracked here; the simulator applies them when it emits.
Value faults of any device are applied here, a family's own ones by its module.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Final

import numpy as np

from edge.catalog import Catalog
from firmware_sim.errors import ScenarioError
from firmware_sim.fault_kinds import DEFAULT_FIELD, EMISSION, KINDS
from firmware_sim.fault_window import PARTS, ActiveFault, FaultWindow, Values
from firmware_sim.fleet import Fleet
from firmware_sim.scenario import FaultSpec, Scenario, SerialTransport

# Faults that change one named field; the others act on timing, bytes or a group of fields.
FIELD_FAULTS: Final = frozenset({"spike", "drift", "stuck", "out_of_range", "noise_burst"})
_RANDOM_CHUNK_S: Final = 600
_NS: Final = 1_000_000_000


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
            detector=int(rng.integers(1, PARTS + 1)),
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
            family_fault = KINDS[w.fault].apply
            if family_fault is None:
                _APPLY[w.fault](self, active, values, pos, t_ns, rng)
            else:
                family_fault(active, values, pos, t_ns, rng)

    def _span(self, sensor_type: str, name: str) -> tuple[float, float]:
        spec = self.catalog.sensor(sensor_type).fields[name]
        low = 0.0 if spec.min is None else spec.min
        high = low + 1000.0 if spec.max is None else spec.max
        return low, high


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


_APPLY: Final = {
    "spike": _spike,
    "drift": _drift,
    "stuck": _stuck,
    "out_of_range": _out_of_range,
    "noise_burst": _noise_burst,
}
