"""The rules every sensor type shares: physical range, flatlines, silence, and district consensus
over the fields a family names (a family's own rules are in central/families/).

Each rule is a pure function of one reading or a small class holding the per-sensor state it
needs; all return `Finding`s (the condition holds now) and leave raising and clearing alerts to
`central.alerts.AlertTracker`. Time comes from reading timestamps or a clock passed in, never
from the wall clock, so every rule is testable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from central.alerts import Finding
from edge.reading import FieldValue, Reading

_NS = 1_000_000_000
_NEVER = -(2**62)  # an arrival (ns) before any real one, far enough from the int64 limit to age

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


def number(value: FieldValue | None) -> float | None:
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
        num = number(value)
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


# --- per sensor, stateful ---------------------------------------------------------------------


class KeyedArrays:
    """Per-key numeric state in numpy arrays, keyed by small ints the caller allocates (slots)."""

    def __init__(self, **fills: float) -> None:
        self._fills = fills
        # An int fill makes an int64 array (exact nanoseconds), a float fill a float64 one.
        self._arrays: dict[str, npt.NDArray[Any]] = {
            name: np.empty(0, dtype=np.asarray(fill).dtype) for name, fill in fills.items()
        }

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
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


@dataclass(frozen=True)
class _Repeats:
    """Where each key of a stream of int keys comes: one stable sort of the keys."""

    order: IntArray  # positions sorted by key, in stream order within a key
    starts: IntArray  # where each key's positions begin in `order`

    @classmethod
    def of(cls, keys: IntArray) -> _Repeats:
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        return cls(order, np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1]))))

    @property
    def first(self) -> IntArray:
        """The position of each key's first value (keys ascending)."""
        return self.order[self.starts]

    @property
    def last(self) -> IntArray:
        """The position of each key's last value (keys ascending)."""
        return self.order[np.append(self.starts[1:], self.order.size) - 1]

    def following(self) -> IntArray:
        """For each position, the position of its key's next value (the stream's length: none)."""
        size = self.order.size
        nxt = np.full(size, size, dtype=np.int64)
        if self.starts.size < size:
            same = np.ones(size, dtype=bool)
            same[self.starts] = False
            later = np.flatnonzero(same)
            nxt[self.order[later - 1]] = self.order[later]
        return nxt

    def rounds(self) -> list[IntArray]:
        """Positions split so that no key comes twice in one round; rounds in stream order."""
        size = self.order.size
        if self.starts.size == size:
            return [np.arange(size)]
        rank = np.empty(size, dtype=np.int64)
        runs = np.diff(np.append(self.starts, size))
        rank[self.order] = np.arange(size) - np.repeat(self.starts, runs)
        return [np.flatnonzero(rank == r) for r in range(int(runs.max()))]


# The words with the lowest p bits set, p = 0..64.
_LOW_BITS = np.array([(1 << p) - 1 for p in range(65)], dtype=np.uint64)


def _select(masks: npt.NDArray[np.uint64], rank: IntArray) -> IntArray:
    """Per row of `masks` (the 64-bit words of a bit set), the position of its set bit of the
    given rank (0: the lowest); the row must have more set bits than that.

    Column by column and by halving: numpy reduces a short axis one row at a time, which costs
    more here than the few passes over whole columns."""
    at = np.zeros(rank.size, dtype=np.int64)  # the word that holds the bit
    left = rank.copy()  # its rank within that word
    for w in range(masks.shape[1] - 1):
        counts = np.bitwise_count(masks[:, w])
        past = (at == w) & (left >= counts)
        left = np.where(past, left - counts, left)
        at += past
    word = masks[np.arange(rank.size), at]
    pos = np.zeros(rank.size, dtype=np.int64)  # the most bits below it that are at most `left`
    for step in (32, 16, 8, 4, 2, 1):
        further = pos + step
        below = np.bitwise_count(word & _LOW_BITS[further])
        pos = np.where(below <= left, further, pos)
    return at * 64 + pos


class Flatline:
    """The same value repeated far longer than this field's own noise makes likely.

    A live sensor's value repeats exactly only by the chance of its resolution, learned per
    (sensor, field) as the share of readings equal to the one before, at two horizons: the long
    run (`horizon` readings) and the current regime (`recent` readings), because that chance
    changes with conditions (a gas whose noise cancels at some traffic level holds to its
    resolution for minutes). A run of r equal readings is a flatline once `rate ** r < eps`, with
    the larger of the two rates (taken as at most `max_rate`, so even a coarse integer field
    alerts after ~200 equal readings), at least `min_run` readings, and more than `margin` ×
    the longest run the stream has shown without being flagged. The bar is set when a run
    starts, from the rates as they stood then: a run is the hypothesis under test and is not
    evidence for its own normality. Every reading below its run's bar teaches the rates, long
    legitimate runs included, so a field that often repeats learns that it does. Until `learn`
    readings are seen, a run of `n` is the test. A run at the lowest value the stream has shown
    is a detection limit (a gas below what the cell resolves), not a fault; a sensor frozen
    exactly at a new minimum is missed for that reason.

    `runs(keys, values)` is the batch form, one key per (sensor, field), each key at most once
    per call, and returns each value's run length where it is a flatline, 0 elsewhere;
    `check(fields, names)` serves one sensor's reading.
    """

    def __init__(
        self,
        n: int = 30,
        min_run: int = 5,
        eps: float = 1e-9,
        learn: int = 30,
        horizon: int = 1000,
        recent: int = 60,
        max_rate: float = 0.9,
        margin: float = 2.0,
    ) -> None:
        self.n = n
        self.margin = margin
        self.max_rate = max_rate
        self.min_run = min_run
        self.log_eps = math.log(eps)
        self.learn = learn
        self.horizon = horizon
        self.recent = recent
        self._state = KeyedArrays(
            last=np.nan,
            run=0.0,
            bar=np.inf,
            seen=0.0,
            rate=0.0,
            recent=0.0,
            low=np.inf,
            longest=0.0,
        )
        self._keys = _KeyMap()

    def runs(self, keys: IntArray, values: FloatArray) -> FloatArray:
        """The run length of each value that is a flatline, else 0 (values must be finite)."""
        self._state.ensure(keys)
        st = self._state
        last, run, bar = st["last"], st["run"], st["bar"]
        seen, rate, recent = st["seen"], st["rate"], st["recent"]
        same = last[keys] == values
        before = run[keys]
        runs = np.where(same, before + 1.0, 1.0)
        last[keys] = values
        run[keys] = runs
        old_bar = bar[keys]
        # Repeats cluster where a value changes slowly against its resolution, so the longest
        # run that ended below its bar (times `margin`) is a floor for the next bars.
        longest = st["longest"][keys]
        longest = np.where(~same & (before < old_bar), np.maximum(longest, before), longest)
        st["longest"][keys] = longest
        learning = ~same | (runs < old_bar)
        count = seen[keys] + learning
        seen[keys] = count
        hit = same.astype(np.float64)
        long_rate = rate[keys]
        long_rate += learning * (hit - long_rate) / np.minimum(np.maximum(count, 1.0), self.horizon)
        rate[keys] = long_rate
        now_rate = recent[keys]
        now_rate += learning * (hit - now_rate) / np.minimum(np.maximum(count, 1.0), self.recent)
        recent[keys] = now_rate
        p = np.minimum(np.maximum(np.maximum(long_rate, now_rate), 1e-12), self.max_rate)
        fresh = np.maximum(self.min_run, self.log_eps / np.log(p))
        fresh = np.maximum(np.where(count >= self.learn, fresh, self.n), self.margin * longest)
        judged = np.where(same, old_bar, fresh)
        bar[keys] = judged
        floor = np.minimum(st["low"][keys], values)
        st["low"][keys] = floor
        return np.where((runs >= judged) & (values > floor), runs, 0.0)

    def reset(self, keys: npt.ArrayLike) -> None:
        self._state.reset(keys)

    def finding(self, name: str, value: float, run: int) -> Finding:
        return Finding(
            f"flatline:{name}",
            "warning",
            value,
            f"{name} has been exactly {value:g} for {run} readings, "
            "far longer than its noise makes likely",
        )

    def check(self, fields: Mapping[str, FieldValue], names: Iterable[str]) -> list[Finding]:
        present = [(n, v) for n in names if (v := number(fields.get(n))) is not None]
        if not present:
            return []
        keys = np.array([self._keys(n) for n, _ in present], dtype=np.int64)
        runs = self.runs(keys, np.array([v for _, v in present]))
        return [
            self.finding(n, v, int(r))
            for (n, v), r in zip(present, runs.tolist(), strict=True)
            if r > 0
        ]


# --- across sensors ---------------------------------------------------------------------------


class SilenceWatch:
    """Sensors silent for longer than `k` × the interval they actually report at, judged at a
    clock you pass in.

    The interval is learned per sensor as the median of its inter-arrival times, recomputed every
    `block` readings (robust to the odd gap or burst); until then the expected (catalog)
    interval given to `seen` stands. Silence is never judged below `floor_s`, so network jitter
    on a fast device is not an outage.

    Sensors are small int keys the caller allocates; state lives in arrays, so `seen` takes a
    batch of arrivals (each key at most once per call).
    """

    def __init__(self, k: float = 5.0, floor_s: float = 10.0, block: int = 16) -> None:
        self.k = k
        self.floor_s = floor_s
        self.block = block
        self._known = np.zeros(0, dtype=bool)
        self._last = np.zeros(0, dtype=np.int64)  # last arrival, ns
        self._interval = np.zeros(0)  # s
        self._gaps = np.zeros((0, block), dtype=np.int64)  # inter-arrival ns, current block
        self._filled = np.zeros(0, dtype=np.int64)  # gaps in the current block

    def _ensure(self, need: int) -> None:
        size = self._known.size
        if need <= size:
            return
        grown = max(need, 2 * size, 64)
        for name in ("_known", "_last", "_interval", "_gaps", "_filled"):
            old = getattr(self, name)
            fresh = np.zeros((grown, *old.shape[1:]), dtype=old.dtype)
            fresh[:size] = old
            setattr(self, name, fresh)

    def expect(self, key: int, interval_s: float) -> None:
        """A new sensor, expected to report every `interval_s` until its interval is learned."""
        self._ensure(key + 1)
        self._known[key] = False
        self._filled[key] = 0
        self._interval[key] = interval_s

    def seen(self, keys: IntArray, ts: IntArray) -> None:
        """Arrivals at `ts` (ns) of the sensors `keys` (each announced by `expect`)."""
        known, last = self._known[keys], self._last[keys]
        first = keys[~known]
        self._known[first] = True
        self._last[first] = ts[~known]
        later = known & (ts > last)
        k = keys[later]
        if not k.size:
            return
        filled = self._filled[k]
        self._gaps[k, filled] = ts[later] - last[later]
        self._last[k] = ts[later]
        filled += 1
        full = filled >= self.block
        if full.any():
            done = k[full]
            self._interval[done] = np.sort(self._gaps[done], axis=1)[:, self.block // 2] / _NS
            filled[full] = 0
        self._filled[k] = filled

    def interval_s(self, key: int) -> float | None:
        """The interval the sensor is judged against (learned, or the expected one)."""
        if key >= self._known.size or not self._known[key]:
            return None
        return float(self._interval[key])

    def forget(self, key: int) -> None:
        if key < self._known.size:
            self._known[key] = False
            self._filled[key] = 0

    def silent(self, now_ns: int) -> list[tuple[int, Finding]]:
        """(key, finding) for every sensor silent too long at `now_ns`."""
        keys = np.flatnonzero(self._known)
        quiet = (now_ns - self._last[keys]) / _NS
        interval = self._interval[keys]
        hit = (quiet > self.k * interval) & (quiet > self.floor_s)
        return [
            (
                key,
                Finding(
                    "silence",
                    "warning",
                    quiet_s,
                    f"no reading for {quiet_s:.0f}s (it reports every {interval_s:g}s)",
                ),
            )
            for key, quiet_s, interval_s in zip(
                keys[hit].tolist(), quiet[hit].tolist(), interval[hit].tolist(), strict=True
            )
        ]


class DistrictConsensus:
    """A sensor that departs from its usual relation to its district's sensors of its type, on
    the fields its family names (an air-quality monitor's particulates and gases).

    Monitors are sited differently (a kerbside one reads more than a park one), so a monitor is
    judged by its log ratio to the district median, `log((x + c) / (median + c))` with `c` =
    `abs_floor`, against that ratio's own running mean and mean absolute deviation, learned per
    (monitor, field) over up to `horizon` readings and frozen while the monitor disagrees. It
    disagrees when the ratio is more than `k` deviations (and more than `rel_floor`) from its
    usual value, the value at least `abs_floor` from what that usual ratio predicts, for `window`
    readings in a row, after `learn` readings.

    Each reading is judged against the district as the readings before it left it: the median
    of the latest value of every monitor of the district (the judged one's own new value
    included: with the required `min_others` others, one outlier does not move it) that arrived
    within `max_age_s` of the newest arrival the district has seen. Arrival is the gateway's
    receipt time, so a monitor with a skewed clock neither hides nor ages the others.

    `check_batch` is the batch form over caller-chosen int keys, one per (monitor, field), in
    stream order (a key may come several times): its result is the result of calling it once per
    value. `check(reading)` serves one reading.
    """

    def __init__(
        self,
        fields: tuple[str, ...],  # those `check` judges
        min_others: int = 3,
        k: float = 8.0,
        abs_floor: float = 5.0,
        rel_floor: float = 0.5,
        max_age_s: float = 900.0,
        window: int = 5,
        learn: int = 120,
        horizon: int = 500,
    ) -> None:
        self.fields = fields
        self.min_others = min_others
        self.k = k
        self.abs_floor = abs_floor
        self.log_rel_floor = math.log1p(rel_floor)
        self.max_age_s = max_age_s
        self.window = window
        self.learn = learn
        self.horizon = horizon
        # group: district and field as one int (-1: none); arrival and value: the latest reading;
        # bias and spread: the learned log ratio to the district and its deviation.
        self._state = KeyedArrays(
            group=-1.0, arrival=_NEVER, value=np.nan, streak=0.0, n=0.0, bias=0.0, spread=0.0
        )
        self._newest = KeyedArrays(arrival=_NEVER)  # per group: the newest arrival seen
        self._keys = _KeyMap()
        self._groups = _KeyMap()

    def group(self, district: str, name: str) -> int:
        """The int naming one (district, field) pair, for `check_batch`."""
        return self._groups((district, name))

    def check_batch(
        self, keys: IntArray, groups: IntArray, arrival: IntArray, values: FloatArray
    ) -> tuple[IntArray, FloatArray, IntArray]:
        """Positions of the values that disagree persistently, with their district's median and
        the number of other fresh monitors."""
        st = self._state
        st.ensure(keys)
        self._newest.ensure(groups)
        repeats = _Repeats.of(keys)
        med, count = self._medians(keys, groups, arrival, values, repeats)
        others = count - 1
        n, bias, spread, streak = st["n"], st["bias"], st["spread"], st["streak"]
        c = self.abs_floor
        hit = np.zeros(keys.size, dtype=bool)
        # Learning is per key and in order: a key that comes again is judged in a later round.
        for at in repeats.rounds():
            kk, x, centre = keys[at], values[at], np.maximum(med[at], 0.0)
            ratio = np.log((np.maximum(x, 0.0) + c) / (centre + c))
            dev = ratio - bias[kk]
            expected = (centre + c) * np.exp(bias[kk]) - c
            enough = others[at] >= self.min_others
            off = (
                enough
                & (n[kk] >= self.learn)
                & (np.abs(dev) > np.maximum(self.k * spread[kk], self.log_rel_floor))
                & (np.abs(x - expected) > self.abs_floor)
            )
            learning = enough & ~off
            lk = kk[learning]
            count_k = np.minimum(n[lk] + 1.0, self.horizon)
            n[lk] = count_k
            d = dev[learning]
            bias[lk] += d / count_k
            spread[lk] += (np.abs(d) - spread[lk]) / count_k
            streak[kk] = np.where(off, streak[kk] + 1.0, 0.0)
            hit[at] = streak[kk] >= self.window
        hits = np.flatnonzero(hit)
        return hits, med[hits], others[hits]

    def _medians(
        self,
        keys: IntArray,
        groups: IntArray,
        arrival: IntArray,
        values: FloatArray,
        repeats: _Repeats,
    ) -> tuple[FloatArray, IntArray]:
        """Each value's district median and the number of monitors in it, as one call per value
        would see them; stores the latest value of every key and each group's newest arrival.

        Rows are the values sorted by group (stream order within one). A version is one value of
        one key, the stored one or one of this batch, valid from its row until the key's next
        value, or until its district has seen an arrival more than `max_age_s` later. Per group
        the versions are numbered in value order, so each row's valid versions are a bit set: the
        sets are a running XOR of per-row flips, and the median is read off by counting bits.
        """
        st, size = self._state, keys.size
        group_of, value_of, last_arrival = st["group"], st["value"], st["arrival"]
        max_age = round(self.max_age_s * _NS)
        by_group = np.argsort(groups, kind="stable")
        row_group = groups[by_group]
        starts = np.flatnonzero(np.concatenate(([True], row_group[1:] != row_group[:-1])))
        ids = row_group[starts]
        ends = np.append(starts[1:], size)
        seg = np.repeat(np.arange(ids.size), ends - starts)  # each row's group, 0..len(ids)
        row_of = np.empty(size, dtype=np.int64)
        row_of[by_group] = np.arange(size)
        # The district's newest arrival as each row sees it: a running maximum within its group.
        newest = arrival[by_group]
        newest[starts] = np.maximum(newest[starts], self._newest["arrival"][ids])
        back = np.diff(newest) < 0
        back[starts[1:] - 1] = False
        if back.any():  # arrivals out of order: a running maximum per group, over ranks
            ranked, rank = np.unique(newest, return_inverse=True)
            lift = seg * ranked.size
            newest = ranked[np.maximum.accumulate(lift + rank) - lift]
        # Versions: this batch's values, then the stored ones of keys in these groups.
        known = np.zeros(len(self._groups._ids) + 1, dtype=bool)  # index -1: no group
        known[ids] = True
        stored = np.flatnonzero(known[group_of.astype(np.int64)] & np.isfinite(value_of))
        first = np.full(group_of.size, size, dtype=np.int64)
        first[keys[repeats.first]] = repeats.first
        v_seg = np.concatenate((seg[row_of], np.searchsorted(ids, group_of[stored])))
        v_from = np.concatenate((row_of, starts[v_seg[size:]]))
        v_next = np.concatenate((repeats.following(), first[stored]))  # the key's next value
        v_value = np.concatenate((values, value_of[stored]))
        limit = np.concatenate((arrival, last_arrival[stored])) + max_age
        # Valid until the key's next value (the first row of its group at or after it, when the
        # key moved to another group)...
        v_end = ends[v_seg]
        later = np.flatnonzero(v_next < size)
        v_end[later] = row_of[v_next[later]]
        moved = later[seg[v_end[later]] != v_seg[later]]
        if moved.size:
            v_end[moved] = np.searchsorted(
                seg * (size + 1) + by_group, v_seg[moved] * (size + 1) + v_next[moved]
            )
        # ...or until a row whose district has seen a newer arrival than the version's limit.
        v_end = np.where(limit < newest[v_from], v_from, v_end)
        aging = np.flatnonzero((limit < newest[ends[v_seg] - 1]) & (v_end > v_from))
        if aging.size:
            both, pos = np.unique(np.concatenate((newest, limit[aging])), return_inverse=True)
            width = both.size
            v_end[aging] = np.minimum(
                v_end[aging],
                np.searchsorted(
                    seg * width + pos[:size], v_seg[aging] * width + pos[size:], "right"
                ),
            )
        live = np.flatnonzero(v_end > v_from)
        # Versions of each group in value order (a stable sort by group of the value order).
        by_value = live[np.argsort(v_value[live])]  # equal values: either order, same median
        narrow = np.int16 if ids.size < 2**15 else np.int64  # numpy's radix sort for 16 bits
        ordered = by_value[np.argsort(v_seg[by_value].astype(narrow), kind="stable")]
        v_seg, v_from, v_end, v_value = (
            v_seg[ordered],
            v_from[ordered],
            v_end[ordered],
            v_value[ordered],
        )
        first_version = np.searchsorted(v_seg, np.arange(ids.size))
        bit = np.arange(v_seg.size) - first_version[v_seg]
        words = int(bit.max()) // 64 + 1 if bit.size else 1
        # Flips at (row, word): a version's bit where it starts and where it ends. The bits of one
        # word and row are distinct, so their XOR is their sum (np.add.at is the fast one).
        stop = v_end < ends[v_seg]
        flipped = np.concatenate((bit, bit[stop]))
        cell = np.concatenate((v_from, v_end[stop])) * words + flipped // 64
        flips = np.zeros(size * words, dtype=np.uint64)
        np.add.at(flips, cell, np.left_shift(np.uint64(1), (flipped % 64).astype(np.uint64)))
        masks = np.bitwise_xor.accumulate(flips.reshape(size, words), axis=0)
        masks ^= np.concatenate((np.zeros((1, words), dtype=np.uint64), masks[starts[1:] - 1]))[seg]
        count = np.zeros(size, dtype=np.int64)
        for w in range(words):  # column by column: see `_select`
            count += np.bitwise_count(masks[:, w])
        med = np.full(size, np.nan)
        some = np.flatnonzero(count)  # a row can lose even its own value (it came too late)
        if some.size:
            base = first_version[seg[some]]
            rows = masks if some.size == size else masks[some]
            both = _select(
                np.concatenate((rows, rows)),
                np.concatenate(((count[some] - 1) // 2, count[some] // 2)),
            )
            lo, hi = both[: some.size], both[some.size :]
            med[some] = (v_value[base + lo] + v_value[base + hi]) / 2.0
        # Store the latest value of each key and each group's newest arrival.
        last = repeats.last
        latest = keys[last]
        group_of[latest], value_of[latest] = groups[last], values[last]
        last_arrival[latest] = arrival[last]
        self._newest["arrival"][ids] = newest[ends - 1]
        return med[row_of], count[row_of]

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
        present = [(n, v) for n in self.fields if (v := number(reading.fields.get(n))) is not None]
        found = []
        for name, x in present:
            hits, med, others = self.check_batch(
                np.array([self._keys((reading.sensor_id, name))]),
                np.array([self.group(district, name)]),
                np.array([reading.received_ts or reading.ts]),
                np.array([x]),
            )
            if hits.size:
                found.append(self.finding(name, x, district, float(med[0]), int(others[0])))
        return found

    def reset(self, keys: npt.ArrayLike) -> None:
        self._state.reset(keys)

    def forget(self, sensor_id: str) -> None:
        self.reset(self._keys.pop(lambda k: isinstance(k, tuple) and k[0] == sensor_id))
