"""The per-sensor detection facade: one call per reading (or batch) in, alert transitions out.

`Detector` runs the rules that apply to a reading's sensor type plus the univariate detector on
each measured field, and turns the findings into raised/cleared alerts. All state is per sensor
and can be dropped (`drop`) when a partition moves; it is rebuilt from the readings that follow.
"""

from __future__ import annotations

import functools
import math
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from central.alerts import AlertTracker, Finding, SensorRef
from central.families import (
    CentralFamily,
    ColumnCheck,
    RuleSetting,
    SensorRules,
    district_fields,
    families,
)
from central.rules import DistrictConsensus, FieldSpecLike, Flatline, SilenceWatch, out_of_range
from central.univariate import FloatArray, IntArray, UnivariateBank, UnivariateParams
from edge.messages import Alert
from edge.reading import FieldValue, Location, Reading

# A battery drains monotonically, in steps of its resolution: every step is "novel", none is a
# sensor fault; and a full one reads 1.0 for days. The families add the fields their own rules
# judge and those legitimately constant (central/families/).
_BATTERY = "batteryLevel"
# Field sets remembered per schema: devices of one kind send a few, a bound keeps odd senders
# from growing the cache.
_MAX_LAYOUTS = 64


class SensorTypeLike(Protocol):
    """What the detector needs of edge.catalog.SensorType."""

    @property
    def interval_s(self) -> float: ...
    @property
    def fields(self) -> Mapping[str, FieldSpecLike]: ...


class CatalogLike(Protocol):
    def get(self, sensor_type: str) -> SensorTypeLike | None: ...


def _city_univariate() -> UnivariateParams:
    """The bank's defaults without the context novelty: its evidence stays just over NAB's alarm
    (score 0.53), so it can never reach `anomaly_threshold`, and its sub-threshold alarms would
    only start refractory periods that hold down the scores of real faults after them."""
    return UnivariateParams(context_lags=0)


@dataclass(frozen=True)
class DetectorConfig:
    """Rule parameters and the univariate detector's operating point."""

    univariate: UnivariateParams = field(default_factory=_city_univariate)
    # Far stricter than the NAB standard optimum (0.5025): a sensor runs for months, not 4,000
    # rows, and an alert costs a person more than a NAB false positive. Fault-free synthetic
    # streams reach 0.97 (traffic counts at 1 s); a gross spike scores above 0.99
    # (docs/detection.md).
    anomaly_threshold: float = 0.98
    clear_after: int = 3
    # Flatline: a run is judged against the field's learned chance of an exact repeat (rate ** run
    # below flatline_eps, at least flatline_min_run readings), and always alerts at flatline_n.
    flatline_n: int = 30
    flatline_min_run: int = 5
    flatline_eps: float = 1e-9
    # Silence: k × the interval the sensor actually reports at, never below the floor.
    silence_k: float = 5.0
    silence_floor_s: float = 10.0
    # Duplicates: the seqs of a sensor's latest `seen_seqs` readings are remembered.
    seen_seqs: int = 4096
    default_interval_s: float = 60.0


@dataclass(frozen=True, eq=False)
class _Schema:
    """How one kind of sensor's readings become a value matrix, and which rules see each column."""

    names: tuple[str, ...]  # the numeric fields, one column each
    specs: Mapping[str, FieldSpecLike]
    blank: dict[str, FieldValue]  # every column NaN: missing fields read as NaN
    low: FloatArray
    high: FloatArray
    univariate: IntArray  # columns the univariate detector judges
    flat: IntArray  # columns the flatline rule judges
    district: IntArray  # columns judged against the district
    # The column of the field a reading needs to be judged against the district (-1: none).
    district_requires: int
    checks: tuple[tuple[ColumnCheck, tuple[int, ...]], ...]  # the family's, with their columns
    per_reading_range: bool  # string fields with allowed values: check each reading
    # Field sets seen on readings, by their field names in order (see `matrix`).
    layouts: dict[tuple[str, ...], _Layout] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        numeric: tuple[str, ...],
        specs: Mapping[str, FieldSpecLike],
        family: CentralFamily | None = None,
    ) -> _Schema:
        def bound(name: str, attr: str, missing: float) -> float:
            spec = specs.get(name)
            value = getattr(spec, attr) if spec is not None else None
            return missing if value is None else float(value)

        cols = {n: i for i, n in enumerate(numeric)}
        not_univariate, not_flatline = _exempt(family)
        district = family.district_fields if family else ()
        requires = family.district_requires if family else ""
        if requires and requires not in cols:
            district = ()
        return cls(
            names=numeric,
            specs=specs,
            blank=dict.fromkeys(numeric, math.nan),
            low=np.array([bound(n, "min", -math.inf) for n in numeric]),
            high=np.array([bound(n, "max", math.inf) for n in numeric]),
            univariate=np.array(
                [i for i, n in enumerate(numeric) if not not_univariate.match(n)], dtype=np.int64
            ),
            flat=np.array(
                [
                    i
                    for i, n in enumerate(numeric)
                    if (not specs or specs[n].kind == "float") and not not_flatline.search(n)
                ],
                dtype=np.int64,
            ),
            district=np.array([cols[n] for n in district if n in cols], dtype=np.int64),
            district_requires=cols.get(requires, -1),
            checks=tuple(
                (check, tuple(cols[n] for n in check.fields))
                for check in (family.checks if family else ())
                if all(n in cols for n in check.fields)
            ),
            per_reading_range=any(s.allowed is not None for s in specs.values()),
        )

    def matrix(self, fields: Sequence[Mapping[str, FieldValue]]) -> FloatArray:
        """The readings' numeric fields as rows; missing or non-numeric values are NaN.

        Readings of one kind nearly always carry the same fields, so a batch whose readings all
        have the field set of its first one, every field a number, is read in one C-level pass;
        any other batch field by field.
        """
        shape = (len(fields), len(self.names))
        keys = tuple(fields[0])
        layout = self.layouts.get(keys)
        if layout is None:
            layout = _Layout.of(keys, self.names)
            if layout is not None and len(self.layouts) < _MAX_LAYOUTS:
                self.layouts[keys] = layout
        if layout is not None and set(map(len, fields)) == {len(keys)}:
            try:
                flat = msgspec.convert(
                    list(chain.from_iterable(map(layout.get, fields))), list[float]
                )
            except (KeyError, msgspec.ValidationError):
                pass  # another field set, or a value that is not a number
            else:
                values = np.array(flat, dtype=np.float64).reshape(len(fields), len(keys))
                if layout.complete:
                    return values
                out = np.full(shape, math.nan)
                out[:, layout.cols] = values
                return out
        if len(self.names) == 1:
            name = self.names[0]
            raw: list[Any] = [(f.get(name, math.nan),) for f in fields]
        else:
            get, blank = itemgetter(*self.names), self.blank
            raw = [get({**blank, **f}) for f in fields]
        if set(map(type, chain.from_iterable(raw))) <= {float, int}:
            return np.array(raw, dtype=np.float64).reshape(shape)
        return np.array([[_as_float(v) for v in row] for row in raw], dtype=np.float64).reshape(
            shape
        )


@dataclass(frozen=True)
class _Layout:
    """A field set whose fields are all numeric columns of a schema: read by one itemgetter."""

    get: Callable[[Mapping[str, FieldValue]], tuple[FieldValue, ...]]
    cols: IntArray  # the column of each field, in the field set's order
    complete: bool  # every column, in column order

    @classmethod
    def of(cls, keys: tuple[str, ...], names: tuple[str, ...]) -> _Layout | None:
        if not keys or not set(keys) <= set(names):
            return None
        cols = np.array([names.index(k) for k in keys], dtype=np.int64)
        get = itemgetter(*keys) if len(keys) > 1 else (lambda f: (f[keys[0]],))
        return cls(get, cols, keys == names)


@functools.cache
def _exempt(family: CentralFamily | None) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Fields the univariate detector leaves alone (whole names) and fields the flatline rule
    leaves alone (found in names), for one family."""
    own = (_BATTERY, family.own_fields) if family and family.own_fields else (_BATTERY,)
    steady = (_BATTERY, family.steady_fields) if family and family.steady_fields else (_BATTERY,)
    return re.compile(f"^({'|'.join(own)})$"), re.compile(f"({'|'.join(steady)})")


def _as_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


@dataclass
class _SensorState:
    ref: SensorRef
    index: int  # the sensor's key in per-sensor arrays (silence)
    schema: _Schema
    base: int  # first of this sensor's slots, one per numeric field
    location: Location | None
    rules: SensorRules | None  # its family's rules (central/families/), if it has any
    interval_s: float  # the catalog's reporting interval
    last_seq: int = -1
    # The seqs of the latest readings (a seq among them is a duplicate), and their order.
    seqs: set[int] = field(default_factory=set)
    seq_order: deque[int] = field(default_factory=deque)


@dataclass
class _Batch:
    """The admitted readings of one `process_batch` call, their columns and their findings."""

    readings: list[Reading]
    states: list[_SensorState]
    ts: IntArray
    arrival: IntArray  # the gateway's receipt time (the device's when not set)
    bases: IntArray  # each reading's first slot
    found: list[list[Finding] | None] = field(init=False)
    # Values for the district consensus, judged after the rounds in reading order:
    # (reading, column, slot, group, value) arrays of each `_judge` call.
    district: list[tuple[IntArray, IntArray, IntArray, IntArray, FloatArray]] = field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        self.found = [None] * len(self.readings)


class Detector:
    """Rules + univariate detection for every sensor one consumer owns.

    Per-field work runs vectorised over a batch: each sensor owns a block of slots (one per
    numeric field) into numpy state shared by the univariate bank, the flatline rule and the
    district consensus; Python touches a reading only to admit it and read its fields, and
    builds a `Finding` (and consults the alert tracker) only where a vectorised test fired or
    the sensor has an alert open.
    """

    def __init__(
        self,
        catalog: CatalogLike | None = None,
        config: DetectorConfig | None = None,
        shared: Sequence[object] = (),
    ) -> None:
        """`shared`: objects the families' rules share across sensors, such as a family's
        parameters (central/families/); those not given are made with their defaults."""
        if catalog is None:
            from edge.catalog import load_catalog

            catalog = load_catalog()
        self.catalog = catalog
        self.config = config or DetectorConfig()
        self.tracker = AlertTracker(clear_after=self.config.clear_after)
        self.bank = UnivariateBank(256, self.config.univariate)
        cfg = self.config
        self.silence = SilenceWatch(k=cfg.silence_k, floor_s=cfg.silence_floor_s)
        self.flatline = Flatline(
            n=cfg.flatline_n, min_run=cfg.flatline_min_run, eps=cfg.flatline_eps
        )
        self.district = DistrictConsensus(fields=district_fields())
        self._rules = RuleSetting(self.config, shared)
        self._families = families()
        self._sensors: dict[str, _SensorState] = {}
        self._by_index: list[_SensorState | None] = []
        self._free_indices: list[int] = []
        self._schemas: dict[tuple[str, tuple[str, ...]], _Schema] = {}
        self._kinds: dict[str, tuple[_Schema, float]] = {}  # catalog types
        self._district_groups: dict[tuple[str, _Schema], IntArray] = {}
        self._free_blocks: dict[int, list[int]] = {}
        self._next_slot = 0
        # The district consensus group of each slot (-1: not judged against a district).
        self._slot_group: IntArray = np.full(256, -1, dtype=np.int64)

    def process(self, reading: Reading) -> list[Alert]:
        return self.process_batch([reading])

    def process_batch(self, readings: Sequence[Reading]) -> list[Alert]:
        """Alert transitions caused by the readings, in order; duplicates are skipped.

        A sensor that appears several times in one batch is judged in rounds, so each of its
        readings sees the state its earlier ones left.
        """
        fresh, states = self._admit(readings)
        if not fresh:
            return []
        # Once per batch, not per new sensor: a batch of many new sensors grows the bank once.
        self.bank.ensure(self._next_slot)
        batch = _Batch(
            fresh,
            states,
            ts=np.array([r.ts for r in fresh], dtype=np.int64),
            # Liveness and freshness are about arrival, not the device clock (which may be skewed).
            arrival=np.array([r.received_ts or r.ts for r in fresh], dtype=np.int64),
            bases=np.array([st.base for st in states], dtype=np.int64),
        )
        keys = np.array([st.index for st in states], dtype=np.int64)
        for members in self._rounds(fresh):
            at = np.array(members, dtype=np.int64)
            self.silence.seen(keys[at], batch.arrival[at])
            schemas = [states[i].schema for i in members]
            if schemas.count(schemas[0]) == len(schemas):
                self._judge(batch, members)
                continue
            by_schema: dict[_Schema, list[int]] = {}
            for i, schema in zip(members, schemas, strict=True):
                by_schema.setdefault(schema, []).append(i)
            for idx in by_schema.values():
                self._judge(batch, idx)
        # A district's monitors are judged against each other, so across rounds and schemas.
        self._district(batch)
        found = batch.found
        # The tracker sees the readings of sensors with findings or open alerts (which may
        # clear); the others leave it nothing to do.
        tracker = self.tracker
        opened = tracker.open_sensors
        watch = {fresh[i].sensor_id for i, f in enumerate(found) if f}.union(opened)
        out: list[Alert] = []
        for r, st, findings in zip(fresh, states, found, strict=True):
            sensor_id = r.sensor_id
            if sensor_id not in watch:
                continue
            if sensor_id in opened:
                # A reading ends a silence at once: the sensor is plainly talking again.
                cleared = tracker.clear(sensor_id, "silence", r.seq, r.ts)
                if cleared is not None:
                    out.append(cleared)
            out.extend(tracker.update(st.ref, r.seq, r.ts, findings or ()))
        return out

    def _admit(self, readings: Sequence[Reading]) -> tuple[list[Reading], list[_SensorState]]:
        """The readings not seen before (by sensor and seq), with their sensors' state."""
        fresh: list[Reading] = []
        states: list[_SensorState] = []
        sensors, capacity = self._sensors, self.config.seen_seqs
        for r in readings:
            st = sensors.get(r.sensor_id) or self._state(r)
            seq, seqs = r.seq, st.seqs
            if seq in seqs:
                continue
            seqs.add(seq)
            order = st.seq_order
            order.append(seq)
            if len(order) > capacity:
                seqs.remove(order.popleft())
            if r.location != st.location:
                self._state(r)
            if seq > st.last_seq:
                st.last_seq = seq
            fresh.append(r)
            states.append(st)
        return fresh, states

    def check_silence(self, now_ns: int) -> list[Alert]:
        """Raise a silence alert for every sensor quiet too long at `now_ns` (the consumer's clock)."""
        out = []
        for key, finding in self.silence.silent(now_ns):
            st = self._by_index[key]
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
            width = len(st.schema.names)
            freed = np.arange(st.base, st.base + width)
            self.bank.reset(freed)
            self.flatline.reset(freed)
            self.district.reset(freed)
            self._slot_group[freed] = -1
            self._free_blocks.setdefault(width, []).append(st.base)
            self.silence.forget(st.index)
            self._rules.forget(sensor_id)
            self._by_index[st.index] = None
            self._free_indices.append(st.index)
        self.tracker.drop(sensor_id)

    @property
    def sensors(self) -> int:
        return len(self._sensors)

    @staticmethod
    def _rounds(readings: Sequence[Reading]) -> list[list[int]]:
        """Reading positions split so that no sensor appears twice in one round."""
        ids = [r.sensor_id for r in readings]
        if len(set(ids)) == len(ids):
            return [list(range(len(ids)))]
        rounds: list[list[int]] = []
        times: dict[str, int] = {}
        for i, sensor_id in enumerate(ids):
            k = times.get(sensor_id, 0)
            times[sensor_id] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(i)
        return rounds

    def _judge(self, batch: _Batch, idx: list[int]) -> None:
        """Findings of readings that share a schema, at most one per sensor."""
        schema = batch.states[idx[0]].schema
        rs = [batch.readings[i] for i in idx]
        at = np.array(idx, dtype=np.int64)
        values = schema.matrix([r.fields for r in rs])
        ts = batch.ts[at]
        slots = batch.bases[at][:, None] + np.arange(len(schema.names))
        present = np.isfinite(values)
        hits: list[tuple[int, Finding]] = []  # (row, finding), in rule order

        def add(row: int, finding: Finding) -> None:
            hits.append((row, finding))

        cols = schema.univariate
        if cols.size:
            sel = present[:, cols]
            rows, which = np.nonzero(sel)
            # One value per slot (one reading per sensor), finite, slots allocated: the bank's
            # step needs no sorting into rounds.
            scores = self.bank.step(slots[:, cols][sel], values[:, cols][sel], ts[rows])
            threshold = self.config.anomaly_threshold
            for j in np.flatnonzero(scores >= threshold).tolist():
                row, name = int(rows[j]), schema.names[cols[which[j]]]
                value, score = float(values[row, cols[which[j]]]), float(scores[j])
                add(
                    row,
                    Finding(
                        f"anomaly:{name}",
                        "info",
                        value,
                        f"{name}={value:g} is unusual for this sensor (score {score:.4f})",
                    ),
                )
        with np.errstate(invalid="ignore"):
            outside = (values < schema.low) | (values > schema.high)
        range_rows: list[int] = (
            list(range(len(rs)))
            if schema.per_reading_range
            else np.flatnonzero(outside.any(axis=1)).tolist()
        )
        for row in range_rows:
            for finding in out_of_range(rs[row].fields, schema.specs):
                add(row, finding)
        cols = schema.flat
        if cols.size:
            sel = present[:, cols]
            rows, which = np.nonzero(sel)
            runs = self.flatline.runs(slots[:, cols][sel], values[:, cols][sel])
            for j in np.flatnonzero(runs).tolist():
                name, col = schema.names[cols[which[j]]], cols[which[j]]
                row = int(rows[j])
                add(row, self.flatline.finding(name, float(values[row, col]), int(runs[j])))
        for check, check_cols in schema.checks:
            suspects = check.suspects(*(values[:, c] for c in check_cols))
            for row in np.flatnonzero(suspects).tolist():
                for finding in check.findings(rs[row].fields):
                    add(row, finding)
        if schema.district.size:
            needed = schema.district_requires
            judged = present[:, needed] if needed >= 0 else np.ones(len(rs), dtype=bool)
            self._district_values(batch, idx, schema, values, slots, judged)
        if batch.states[idx[0]].rules is not None:  # one schema, one sensor type
            self._family_rules(rs, [batch.states[i] for i in idx], add)
        found = batch.found
        for row, finding in hits:
            i = idx[row]
            bucket = found[i]
            if bucket is None:
                bucket = found[i] = []
            bucket.append(finding)

    def _district_values(
        self,
        batch: _Batch,
        idx: list[int],
        schema: _Schema,
        values: FloatArray,
        slots: IntArray,
        judged: npt.NDArray[np.bool_],
    ) -> None:
        """Keep every district field of the located sensors `judged` for `_district`."""
        cols = schema.district
        keys = slots[:, cols]
        groups = self._slot_group[keys]
        sel = (groups >= 0) & np.isfinite(values[:, cols]) & judged[:, None]
        rows, which = np.nonzero(sel)
        if rows.size:
            at = np.array(idx, dtype=np.int64)[rows]
            batch.district.append((at, cols[which], keys[sel], groups[sel], values[:, cols][sel]))

    def _district(self, batch: _Batch) -> None:
        """The district consensus over the batch's values in reading order (fields in column
        order within a reading), so each reading sees what the readings before it left."""
        if not batch.district:
            return
        at, cols, keys, groups, values = (
            np.concatenate(part) for part in zip(*batch.district, strict=True)
        )
        if len(batch.district) > 1:
            order = np.lexsort((cols, at))
            at, cols, keys, groups, values = (a[order] for a in (at, cols, keys, groups, values))
        hit, med, others = self.district.check_batch(keys, groups, batch.arrival[at], values)
        found = batch.found
        for k, m, o in zip(hit.tolist(), med.tolist(), others.tolist(), strict=True):
            i, col = int(at[k]), int(cols[k])
            st = batch.states[i]
            loc = batch.readings[i].location
            finding = self.district.finding(
                st.schema.names[col], float(values[k]), loc.district if loc else "", m, o
            )
            bucket = found[i]
            if bucket is None:
                bucket = found[i] = []
            bucket.append(finding)

    def _family_rules(
        self,
        rs: Sequence[Reading],
        states: Sequence[_SensorState],
        add: Callable[[int, Finding], None],
    ) -> None:
        for row, (r, st) in enumerate(zip(rs, states, strict=True)):
            if st.rules is None:
                continue
            for finding in st.rules.check(r, self.silence.interval_s(st.index) or st.interval_s):
                add(row, finding)

    def _state(self, r: Reading) -> _SensorState:
        """The reading's sensor state: made on its first reading, updated when it moves."""
        st = self._sensors.get(r.sensor_id)
        district = r.location.district if r.location else ""
        if st is None:
            schema, interval = self._kind(r)
            family = self._families.get(r.sensor_type)
            index = self._free_indices.pop() if self._free_indices else len(self._by_index)
            st = _SensorState(
                ref=SensorRef(r.sensor_id, r.sensor_type, district),
                index=index,
                schema=schema,
                base=self._block(len(schema.names)),
                location=r.location,
                rules=family.rules(r.sensor_id, self._rules) if family and family.rules else None,
                interval_s=interval,
            )
            self._set_groups(st, district)
            self.silence.expect(index, interval)
            self._sensors[r.sensor_id] = st
            if index == len(self._by_index):
                self._by_index.append(st)
            else:
                self._by_index[index] = st
        else:
            st.location = r.location
            if district and st.ref.district != district:
                st.ref = SensorRef(r.sensor_id, r.sensor_type, district)
                self._set_groups(st, district)
        return st

    def _kind(self, r: Reading) -> tuple[_Schema, float]:
        """The schema and expected reporting interval of the reading's sensor type."""
        known = self._kinds.get(r.sensor_type)
        if known is not None:
            return known
        stype = self.catalog.get(r.sensor_type)
        specs: Mapping[str, FieldSpecLike] = stype.fields if stype else {}
        interval = stype.interval_s if stype else self.config.default_interval_s
        if specs:
            numeric = tuple(n for n, s in specs.items() if s.kind in ("float", "int"))
        else:  # a type the catalog does not know: the numeric fields this sensor sends
            numeric = tuple(
                n
                for n, v in r.fields.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            )
        schema = self._schemas.get((r.sensor_type, numeric))
        if schema is None:
            family = self._families.get(r.sensor_type)
            schema = _Schema.build(numeric, specs, family)
            self._schemas[(r.sensor_type, numeric)] = schema
        if stype is not None:
            self._kinds[r.sensor_type] = (schema, interval)
        return schema, interval

    def _set_groups(self, st: _SensorState, district: str) -> None:
        key = (district, st.schema)
        groups = self._district_groups.get(key)
        if groups is None:
            groups = self._district_groups[key] = np.array(
                [
                    self.district.group(district, st.schema.names[c]) if district else -1
                    for c in st.schema.district.tolist()
                ],
                dtype=np.int64,
            )
        self._slot_group[st.base + st.schema.district] = groups

    def _block(self, width: int) -> int:
        """The first of `width` consecutive free slots (the bank grows once per batch)."""
        free = self._free_blocks.get(width)
        if free:
            return free.pop()
        base = self._next_slot
        self._next_slot += width
        if self._next_slot > self._slot_group.size:
            grown = np.full(max(self._next_slot, 2 * self._slot_group.size), -1, dtype=np.int64)
            grown[: self._slot_group.size] = self._slot_group
            self._slot_group = grown
        return base
