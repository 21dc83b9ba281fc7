"""The robust univariate streaming detector, vectorised over a bank of many sensors' fields.

Each value gets two kinds of evidence. Novelty: how far it lies outside the range this stream has
shown so far (every value it has shown, as HTM's spatial anomaly has it, and a slowly forgetting
min/max at a fraction of the weight). Anomaly likelihood: the value's forecast residual
(Huber-clipped EWMA level or time-of-day profile, whichever has served the stream better, plus a
slow drift term) becomes a raw surprise, and the mean surprise of the last few values is judged
against the long-run distribution of the raw surprise, as in the HTM "anomaly likelihood". Work per value
is O(1), there is no look-ahead, and all state lives in numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_DAY_NS = 86_400 * 1_000_000_000
_TINY = 1e-9
# The score that starts the refractory period (0.5 = one alarm unit).
_ALARM = 0.53
# HTM's spatial anomaly in NAB's numenta detector: a value beyond the range of every value seen so
# far by 5 % of that range is an anomaly whatever the likelihood says.
SPATIAL_TOLERANCE = 0.05


def artime_mask(warmup: int) -> int:
    """ARTime's mask after an anomaly (NAB's leading detector), in values: 1.5 feature windows
    of 8 steps of its downsampled stream, which takes one step per warmup / (8 x 13) values
    (the probationary period spans 13 feature windows; an even number of values, as there)."""
    even = warmup - warmup % 2
    return 12 * max(1, round(even / (8 * 13)))


@dataclass(frozen=True)
class UnivariateParams:
    """Global hyper-parameters, shared by every stream (chosen once, not per sensor)."""

    warmup: int = 60  # values seen before any score is given (per slot: `set_warmup`)
    level_alpha: float = 0.1  # EWMA level forecast
    scale_alpha: float = 0.005  # spread (mean absolute residual) of each forecast
    clip: float = 4.0  # Huber clip of an update, in spreads: spikes barely move the baseline
    tod_buckets: int = 48  # time-of-day profile resolution
    tod_alpha: float = 0.025  # per visit of a bucket
    drift_alpha: float = 0.06  # recent mean of scaled residuals, for level shifts and drift
    short_window: int = 10  # values in the likelihood's recent mean of surprise
    # The likelihood's long-run mean and variance of the raw surprise: HTM's window of 8640
    # values (a month at 5 min), an equal-weight mean until then.
    long_alpha: float = 1.0 / 8640
    likelihood_scale: float = 2.0  # standardised recent surprise that counts as one alarm unit
    # Excursion beyond the seen range, as a fraction of it, that counts as one alarm unit: set so
    # that novelty alone alarms at HTM's spatial tolerance.
    novelty_scale: float = SPATIAL_TOLERANCE * (1.0 - _ALARM) / _ALARM
    # The forgotten range: a second seen range that forgets towards the level at `range_decay`
    # per value (the context's bins are of it too); an excursion beyond it counts at
    # `forgotten_weight` of one beyond the whole history, so one old spike does not blind a
    # long-running sensor for ever, and a value back at a height the stream has shown before is
    # not news.
    range_decay: float = 1e-4
    forgotten_weight: float = 0.25
    # Values after an alarm whose score is held down (one alarm per event); None: each stream's
    # own, from its warm-up (`artime_mask`: 72 values after NAB's 604 of a 4,032-row file).
    refractory: int | None = None
    alarm: float = _ALARM
    # Context novelty (CAD OSE's idea): each value is quantised into `context_bins` bins of the
    # range seen before it; its context tokens are (lag j, bin j values ago, bin now) for
    # j = 1..`context_lags` and the last three bins together. The evidence is the share of the
    # tokens the stream has never shown, scaled so that `context_share` of them reach the
    # alarm. `context_lags` 0 switches it off.
    context_bins: int = 8  # CAD OSE's numNormValueBits 3
    context_lags: int = 7  # CAD OSE's published default, as its bins and share
    context_share: float = 0.75  # CAD OSE's: three quarters of the tokens new
    # The same context novelty a second time, over a local range that forgets towards the level
    # within `local_horizon` of the stream's ARTime masks (`artime_mask` of its warm-up: 72
    # values on a 4,032-row NAB file), with its own bins and table: a context new against what
    # the stream has just been doing. 0 switches it off.
    local_horizon: float = 1.0

    def __post_init__(self) -> None:
        for name in ("level_alpha", "scale_alpha", "tod_alpha", "drift_alpha", "long_alpha"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"UnivariateParams.{name}={value!r}: expected 0 < value <= 1")
        if (
            self.warmup < 2
            or self.tod_buckets < 1
            or self.short_window < 1
            or (self.refractory is not None and self.refractory < 0)
            or self.clip <= 0
            or self.likelihood_scale <= 0
            or self.novelty_scale <= 0
            or not 0.0 <= self.range_decay < 1.0
            or not 0.0 <= self.forgotten_weight <= 1.0
            or self.context_bins < 1
            or self.context_lags < 0
            or self.context_lags == 1
            or not 0.0 < self.context_share <= 1.0
            or self.local_horizon < 0
        ):
            raise ValueError(f"UnivariateParams: invalid {self!r}")


class UnivariateBank:
    """Detector state for many streams (one per sensor field), addressed by slot number.

    `update(slots, values, ts)` scores one value for each slot given; a slot may appear several
    times in a batch, in which case its values are applied in batch order. A stream costs
    20 numbers plus its time-of-day profile (`tod_buckets` floats), its recent surprises
    (`short_window` floats), and for each of the two context novelties its last
    `context_lags` bins and its table of context tokens seen (`context_lags * bins**2 +
    bins**3` bytes: 960 by default).
    """

    count: IntArray  # values seen
    warmup: IntArray  # values to see before scoring
    level: FloatArray  # EWMA level forecast
    level_spread: FloatArray  # its mean absolute residual
    tod: FloatArray  # (streams, tod_buckets) time-of-day profile, NaN until a bucket is seen
    tod_spread: FloatArray
    tod_seen: IntArray  # residuals the time-of-day forecast has made
    drift: FloatArray  # recent mean of scaled residuals
    recent: FloatArray  # (streams, short_window) ring of the latest surprises
    recent_sum: FloatArray
    lik_mean: FloatArray  # long-run distribution of the raw surprise: mean
    lik_var: FloatArray  # ... and variance
    top: FloatArray  # the range of every value seen
    bottom: FloatArray
    high: FloatArray  # the forgotten range (slowly forgetting towards the level)
    low: FloatArray
    cooldown: IntArray  # values left in the refractory period
    hold: IntArray  # the refractory period's length
    bins: IntArray  # (streams, context_lags) ring of the latest context bins
    seen: npt.NDArray[np.bool_]  # (streams, tokens) context tokens the stream has shown
    near_high: FloatArray  # the local range (forgetting within a few ARTime masks)
    near_low: FloatArray
    near_rate: FloatArray  # how fast it forgets, per value
    near_bins: IntArray  # the local context's ring and tokens, as `bins` and `seen`
    near_seen: npt.NDArray[np.bool_]

    def __init__(self, capacity: int, params: UnivariateParams | None = None) -> None:
        self.params = params or UnivariateParams()
        self._capacity = 0
        self._grow(max(capacity, 1))

    def _grow(self, capacity: int) -> None:
        old = self._capacity

        def extend(
            name: str, shape: tuple[int, ...], fill: float, dtype: type = np.float64
        ) -> None:
            fresh: npt.NDArray[Any] = np.full(shape, fill, dtype=dtype)
            if old:
                fresh[:old] = getattr(self, name)
            setattr(self, name, fresh)

        for name, shape, fill, dtype in self._fields(capacity):
            extend(name, shape, fill, dtype)
        self._capacity = capacity

    def _fields(self, capacity: int) -> list[tuple[str, tuple[int, ...], float, type]]:
        """Every state array: name, shape, fresh value, dtype."""
        p = self.params
        f, i = np.float64, np.int64
        return [
            ("count", (capacity,), 0, i),
            ("warmup", (capacity,), p.warmup, i),
            ("level", (capacity,), 0.0, f),
            ("level_spread", (capacity,), 0.0, f),
            ("tod", (capacity, p.tod_buckets), np.nan, f),
            ("tod_spread", (capacity,), 0.0, f),
            ("tod_seen", (capacity,), 0, i),
            ("drift", (capacity,), 0.0, f),
            ("recent", (capacity, p.short_window), 0.0, f),
            ("recent_sum", (capacity,), 0.0, f),
            ("lik_mean", (capacity,), 0.0, f),
            ("lik_var", (capacity,), 0.0, f),
            ("top", (capacity,), -np.inf, f),
            ("bottom", (capacity,), np.inf, f),
            ("high", (capacity,), -np.inf, f),
            ("low", (capacity,), np.inf, f),
            ("cooldown", (capacity,), 0, i),
            ("bins", (capacity, max(p.context_lags, 1)), 0, i),
            ("seen", (capacity, self._tokens()), False, np.bool_),
            ("hold", (capacity,), self._hold(p.warmup), i),
            ("near_high", (capacity,), -np.inf, f),
            ("near_low", (capacity,), np.inf, f),
            ("near_rate", (capacity,), self._near_rate(p.warmup), f),
            ("near_bins", (capacity, max(p.context_lags, 1) if p.local_horizon else 1), 0, i),
            ("near_seen", (capacity, self._tokens() if p.local_horizon else 1), False, np.bool_),
        ]

    def _tokens(self) -> int:
        p = self.params
        if not p.context_lags:
            return 1
        return p.context_lags * p.context_bins**2 + p.context_bins**3

    def _near_rate(self, warmup: int) -> float:
        horizon = self.params.local_horizon
        return 1.0 / (horizon * artime_mask(warmup)) if horizon else 0.0

    def _hold(self, warmup: int) -> int:
        p = self.params
        return artime_mask(warmup) if p.refractory is None else p.refractory

    @property
    def capacity(self) -> int:
        return self._capacity

    def reset(self, slots: npt.ArrayLike) -> None:
        """Forget the slots' history (a sensor left this consumer or was recommissioned)."""
        idx = np.asarray(slots, dtype=np.int64)
        for name, _, fill, _ in self._fields(0):
            getattr(self, name)[idx] = fill

    def set_warmup(self, slots: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Values each slot learns from before it is scored (NAB: the probationary period)."""
        idx = np.asarray(slots, dtype=np.int64)
        warmups = np.maximum(np.asarray(values, dtype=np.int64), 2)
        self.warmup[idx] = warmups
        self.hold[idx] = [self._hold(int(w)) for w in np.atleast_1d(warmups)]
        self.near_rate[idx] = [self._near_rate(int(w)) for w in np.atleast_1d(warmups)]

    def ensure(self, capacity: int) -> None:
        if capacity > self._capacity:
            self._grow(max(capacity, 2 * self._capacity))

    def update(self, slots: npt.ArrayLike, values: npt.ArrayLike, ts: npt.ArrayLike) -> FloatArray:
        """Score each value in [0, 1] (0 while warming up or for a non-finite value)."""
        s = np.asarray(slots, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        t = np.asarray(ts, dtype=np.int64)
        if s.size == 0:
            return np.empty(0)
        finite = np.isfinite(v)
        if not finite.all():
            out = np.zeros(s.size)
            keep = np.flatnonzero(finite)
            out[keep] = self.update(s[keep], v[keep], t[keep])
            return out
        self.ensure(int(s.max()) + 1)
        # Each round holds at most one value per slot, so rounds can be applied vectorised.
        order = np.argsort(s, kind="stable")
        sorted_s = s[order]
        starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
        if starts.size == s.size:
            return self.step(s, v, t)
        rank = np.empty(s.size, dtype=np.int64)
        rank[order] = np.arange(s.size) - np.repeat(starts, np.diff(np.r_[starts, s.size]))
        out = np.empty(s.size)
        for r in range(int(rank.max()) + 1):
            sel = np.flatnonzero(rank == r)
            out[sel] = self.step(s[sel], v[sel], t[sel])
        return out

    def step(self, s: IntArray, x: FloatArray, t: IntArray) -> FloatArray:
        """`update` for slots that are distinct, within capacity, and finite values."""
        p = self.params
        n = self.count[s]
        first = n == 0
        if first.any():
            # A stream's first value is its level and its whole seen range (novelty 0).
            fresh = s[first]
            self.level[fresh] = self.high[fresh] = self.low[fresh] = x[first]
            self.top[fresh] = self.bottom[fresh] = x[first]
            self.near_high[fresh] = self.near_low[fresh] = x[first]
        level = self.level[s]
        lspread = self.level_spread[s]
        # The 2-D profile and ring are addressed through flat views: one-dimensional gathers
        # and scatters cost a fraction of (row, column) ones.
        at_tod = s * p.tod_buckets + (t % _DAY_NS) * p.tod_buckets // _DAY_NS
        tod_flat = self.tod.reshape(-1)
        tod = tod_flat[at_tod]
        tspread = self.tod_spread[s]
        has_tod = np.isfinite(tod)
        tn = self.tod_seen[s]
        warmup = self.warmup[s]
        cooldown = self.cooldown[s]

        # Residuals against each forecast, in units of that forecast's spread; a spread floor
        # relative to the level keeps a perfectly flat stream from dividing by zero.
        floor = 1e-3 * np.abs(level) + _TINY
        e_level = x - level
        lscale = np.maximum(lspread, floor)
        z_level = e_level / lscale
        e_tod = np.where(has_tod, x - tod, 0.0)
        tscale = np.maximum(tspread, floor)
        z_tod = e_tod / tscale
        use_tod = has_tod & (tn >= p.warmup) & (tspread < lspread)
        z = np.where(use_tod, z_tod, z_level)
        drift = self.drift[s]
        drift = drift + p.drift_alpha * (np.minimum(np.maximum(z, -p.clip), p.clip) - drift)
        # An EWMA of unit-variance residuals has variance alpha / (2 - alpha): rescale to unit.
        drift_z = drift * np.sqrt((2.0 - p.drift_alpha) / p.drift_alpha)
        surprise = np.log1p(np.maximum(np.abs(z), np.abs(drift_z)))

        # Anomaly likelihood (HTM): the mean surprise of the last few values against the
        # long-run mean and spread of single surprises. The spread of single values, not of
        # recent means, keeps the bar where one stream's noise puts it: a standardised recent
        # mean was 3 deviations past once per few hundred values on noisy streams.
        at_recent = s * p.short_window + n % p.short_window
        recent_flat = self.recent.reshape(-1)
        recent_sum = self.recent_sum[s] - recent_flat[at_recent] + surprise
        recent_flat[at_recent] = surprise
        short = recent_sum / np.minimum(n + 1, p.short_window)
        mean, var = self.lik_mean[s], self.lik_var[s]
        likelihood = (short - mean) / np.sqrt(var + 1e-6)
        learn = 1.0 / (n + 1.0)
        la = np.maximum(p.long_alpha, learn)
        delta = surprise - mean
        self.lik_mean[s] = mean + la * delta
        self.lik_var[s] = (1.0 - la) * (var + la * delta * delta)

        # Novelty: the excursion beyond the range seen so far, as a fraction of that range.
        top, bottom = self.top[s], self.bottom[s]
        novelty = _excursion(x, top, bottom, np.maximum(top - bottom, floor))
        self.top[s] = np.maximum(top, x)
        self.bottom[s] = np.minimum(bottom, x)
        high, low = self.high[s], self.low[s]
        width = np.maximum(high - low, floor)
        if p.forgotten_weight:
            forgotten = _excursion(x, high, low, width)
            novelty = np.maximum(novelty, p.forgotten_weight * forgotten)
        self.high[s], self.low[s] = _forget(high, low, level, p.range_decay, x)

        units = np.maximum(
            np.maximum(novelty / p.novelty_scale, likelihood / p.likelihood_scale), 0.0
        )
        if p.context_lags:
            units = np.maximum(units, self._context(s, n, x, low, width, self.bins, self.seen))
            if p.local_horizon:
                near_high, near_low = self.near_high[s], self.near_low[s]
                near = np.maximum(near_high - near_low, floor)
                local = self._context(s, n, x, near_low, near, self.near_bins, self.near_seen)
                units = np.maximum(units, local)
                rate = self.near_rate[s]
                self.near_high[s], self.near_low[s] = _forget(near_high, near_low, level, rate, x)
        score = units / (1.0 + units)
        score = np.where((n >= warmup) & (cooldown == 0), score, 0.0)
        self.cooldown[s] = np.where(score >= p.alarm, self.hold[s], np.maximum(cooldown - 1, 0))

        # Learn: Huber-clipped updates so a spike barely moves the baseline, a shift does.
        lim_l = p.clip * lscale
        self.level[s] = level + p.level_alpha * np.minimum(np.maximum(e_level, -lim_l), lim_l)
        sa = np.maximum(p.scale_alpha, learn)
        self.level_spread[s] = lspread + sa * (np.minimum(np.abs(e_level), lim_l) - lspread)
        lim_t = p.clip * tscale
        tod_flat[at_tod] = np.where(
            has_tod, tod + p.tod_alpha * np.minimum(np.maximum(e_tod, -lim_t), lim_t), x
        )
        ta = np.maximum(p.scale_alpha, 1.0 / (tn + 1.0))
        self.tod_spread[s] = np.where(
            has_tod, tspread + ta * (np.minimum(np.abs(e_tod), lim_t) - tspread), tspread
        )
        self.tod_seen[s] = tn + has_tod
        self.drift[s] = np.where(n >= p.warmup, drift, 0.0)
        self.recent_sum[s] = recent_sum
        self.count[s] = n + 1
        return score

    def _context(
        self,
        s: IntArray,
        n: IntArray,
        x: FloatArray,
        low: FloatArray,
        width: FloatArray,
        bins: IntArray,
        seen: npt.NDArray[np.bool_],
    ) -> FloatArray:
        """Context novelty in alarm units against the range [low, low + width) and the ring of
        bins and table of tokens given; learns the value's tokens and bin."""
        p = self.params
        lags, b = p.context_lags, p.context_bins
        now = np.minimum(np.maximum((x - low) / width * b, 0.0), b - 1).astype(np.int64)
        ring = bins.reshape(-1)
        base = s * lags
        back = np.arange(1, lags + 1)
        # Bins 1..lags values ago (ring positions of values n-1 .. n-lags).
        prev = ring[base[:, None] + (n[:, None] - back) % lags]
        tokens = np.empty((s.size, lags + 1), dtype=np.int64)
        tokens[:, :lags] = (back - 1) * b * b + prev * b + now[:, None]
        tokens[:, lags] = lags * b * b + (prev[:, 1] * b + prev[:, 0]) * b + now
        ring[base + n % lags] = now
        ready = n >= lags
        seen_flat = seen.reshape(-1)
        at = s[:, None] * seen.shape[1] + tokens
        fresh = np.where(ready, (~seen_flat[at]).sum(axis=1), 0)
        seen_flat[at[ready]] = True
        bar = p.alarm / (1.0 - p.alarm) * (1.0 + 1e-9)
        units: FloatArray = fresh / ((lags + 1) * p.context_share) * bar
        return units


def score_series(
    values: FloatArray, ts: IntArray, params: UnivariateParams | None = None
) -> FloatArray:
    """Score one stream value by value (a convenience over a one-slot bank)."""
    bank = UnivariateBank(1, params)
    zeros = np.zeros(1, dtype=np.int64)
    return np.array(
        [bank.update(zeros, values[i : i + 1], ts[i : i + 1])[0] for i in range(len(values))]
    )


def score_streams(
    streams: list[tuple[FloatArray, IntArray]],
    params: UnivariateParams | None = None,
    warmups: list[int] | None = None,
) -> list[FloatArray]:
    """Score many independent streams in lock step, one row of each per step, no look-ahead.

    `warmups` optionally gives each stream its own learning period (default `params.warmup`).
    """
    bank = UnivariateBank(len(streams), params)
    if warmups is not None:
        bank.set_warmup(np.arange(len(streams)), warmups)
    lengths = np.array([len(v) for v, _ in streams])
    width = int(lengths.max()) if len(streams) else 0
    vals = np.full((len(streams), width), np.nan)
    stamps = np.zeros((len(streams), width), dtype=np.int64)
    for k, (v, t) in enumerate(streams):
        vals[k, : len(v)] = v
        stamps[k, : len(t)] = t
    out = np.zeros((len(streams), width))
    for i in range(width):
        live = np.flatnonzero(lengths > i)
        out[live, i] = bank.update(live, vals[live, i], stamps[live, i])
    return [out[k, : lengths[k]] for k in range(len(streams))]


def _excursion(x: FloatArray, high: FloatArray, low: FloatArray, width: FloatArray) -> FloatArray:
    """How far each value lies outside [low, high], as a fraction of `width` (0 inside)."""
    return np.maximum(x - high, low - x) / width


def _forget(
    high: FloatArray, low: FloatArray, level: FloatArray, rate: float | FloatArray, x: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """A range after seeing `x`: widened to it, and its ends drawn towards the level at `rate`."""
    return np.maximum(high - rate * (high - level), x), np.minimum(low + rate * (level - low), x)
