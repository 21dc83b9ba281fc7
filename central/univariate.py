"""The robust univariate streaming detector, vectorised over a bank of many sensors' fields.

Each value is compared with two forecasts, a Huber-clipped EWMA level and a time-of-day profile,
and the residual of whichever forecast has served this stream better so far is scaled by its
robust spread. The residual and its recent mean (level shifts, drift) are then judged against
this stream's own history of surprises, so one threshold suits quiet and noisy sensors alike.
Work per value is O(1), there is no look-ahead, and all state lives in numpy arrays.
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


@dataclass(frozen=True)
class UnivariateParams:
    """Global hyper-parameters, shared by every stream (chosen once, not per sensor)."""

    warmup: int = 60  # values seen before any score is given
    level_alpha: float = 0.1  # EWMA level forecast
    scale_alpha: float = 0.005  # spread (mean absolute residual) of each forecast
    clip: float = 4.0  # Huber clip of an update, in spreads: spikes barely move the baseline
    tod_buckets: int = 48  # time-of-day profile resolution
    tod_alpha: float = 0.05  # per visit of a bucket
    drift_alpha: float = 0.03  # recent mean of scaled residuals, for level shifts and drift
    history_alpha: float = 0.01  # how fast the stream's own distribution of surprises moves
    refractory: int = 400  # values after an alarm whose score is held down (one alarm per event)
    alarm: float = 0.99  # score that starts the refractory period

    def __post_init__(self) -> None:
        for name in ("level_alpha", "scale_alpha", "tod_alpha", "drift_alpha", "history_alpha"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"UnivariateParams.{name}={value!r}: expected 0 < value <= 1")
        if self.warmup < 2 or self.tod_buckets < 1 or self.refractory < 0 or self.clip <= 0:
            raise ValueError(f"UnivariateParams: invalid {self!r}")


class UnivariateBank:
    """Detector state for many streams (one per sensor field), addressed by slot number.

    `update(slots, values, ts)` scores one value for each slot given; a slot may appear several
    times in a batch, in which case its values are applied in batch order. A stream costs
    10 numbers plus its time-of-day profile (`tod_buckets` floats).
    """

    count: IntArray  # values seen
    level: FloatArray  # EWMA level forecast
    level_spread: FloatArray  # its mean absolute residual
    tod: FloatArray  # (streams, tod_buckets) time-of-day profile, NaN until a bucket is seen
    tod_spread: FloatArray
    tod_seen: IntArray  # residuals the time-of-day forecast has made
    drift: FloatArray  # recent mean of scaled residuals
    hist_mean: FloatArray  # this stream's distribution of log-surprise: mean
    hist_var: FloatArray  # ... and variance
    cooldown: IntArray  # values left in the refractory period

    def __init__(self, capacity: int, params: UnivariateParams | None = None) -> None:
        self.params = params or UnivariateParams()
        self._capacity = 0
        self._grow(max(capacity, 1))

    def _grow(self, capacity: int) -> None:
        old = self._capacity
        b = self.params.tod_buckets

        def extend(
            name: str, shape: tuple[int, ...], fill: float, dtype: type = np.float64
        ) -> None:
            fresh: npt.NDArray[Any] = np.full(shape, fill, dtype=dtype)
            if old:
                fresh[:old] = getattr(self, name)
            setattr(self, name, fresh)

        extend("count", (capacity,), 0, np.int64)
        extend("level", (capacity,), 0.0)
        extend("level_spread", (capacity,), 0.0)
        extend("tod", (capacity, b), np.nan)
        extend("tod_spread", (capacity,), 0.0)
        extend("drift", (capacity,), 0.0)
        extend("hist_mean", (capacity,), 0.0)
        extend("hist_var", (capacity,), 0.0)
        extend("cooldown", (capacity,), 0, np.int64)
        extend("tod_seen", (capacity,), 0, np.int64)
        self._capacity = capacity

    @property
    def capacity(self) -> int:
        return self._capacity

    def reset(self, slots: npt.ArrayLike) -> None:
        """Forget the slots' history (a sensor left this consumer or was recommissioned)."""
        idx = np.asarray(slots, dtype=np.int64)
        self.count[idx] = 0
        self.level[idx] = 0.0
        self.level_spread[idx] = 0.0
        self.tod[idx] = np.nan
        self.tod_spread[idx] = 0.0
        self.drift[idx] = 0.0
        self.hist_mean[idx] = 0.0
        self.hist_var[idx] = 0.0
        self.cooldown[idx] = 0

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
        self.ensure(int(s.max()) + 1)
        # Each round holds at most one value per slot, so rounds can be applied vectorised.
        order = np.argsort(s, kind="stable")
        sorted_s = s[order]
        starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
        rank = np.empty(s.size, dtype=np.int64)
        rank[order] = np.arange(s.size) - np.repeat(starts, np.diff(np.r_[starts, s.size]))
        if rank.max() == 0:
            return self._step(s, v, t)
        out = np.empty(s.size)
        for r in range(int(rank.max()) + 1):
            sel = np.flatnonzero(rank == r)
            out[sel] = self._step(s[sel], v[sel], t[sel])
        return out

    def _step(self, s: IntArray, x: FloatArray, t: IntArray) -> FloatArray:
        p = self.params
        finite = np.isfinite(x)
        if not finite.all():
            out = np.zeros(s.size)
            keep = np.flatnonzero(finite)
            out[keep] = self._step(s[keep], x[keep], t[keep])
            return out

        n = self.count[s]
        first = n == 0
        level = np.where(first, x, self.level[s])
        lspread = self.level_spread[s]
        bucket = (t % _DAY_NS) * p.tod_buckets // _DAY_NS
        tod = self.tod[s, bucket]
        tspread = self.tod_spread[s]
        has_tod = np.isfinite(tod)

        # Residuals against each forecast, in units of that forecast's spread; a spread floor
        # relative to the level keeps a perfectly flat stream from dividing by zero.
        floor = 1e-3 * np.abs(level) + _TINY
        e_level = x - level
        z_level = e_level / np.maximum(lspread, floor)
        e_tod = np.where(has_tod, x - tod, 0.0)
        z_tod = e_tod / np.maximum(tspread, floor)
        use_tod = has_tod & (self.tod_seen[s] >= p.warmup) & (tspread < lspread)
        z = np.where(use_tod, z_tod, z_level)
        drift = self.drift[s]
        drift = drift + p.drift_alpha * (np.clip(z, -p.clip, p.clip) - drift)
        # An EWMA of unit-variance residuals has variance alpha / (2 - alpha): rescale to unit.
        drift_z = drift * np.sqrt((2.0 - p.drift_alpha) / p.drift_alpha)
        surprise = np.log1p(np.maximum(np.abs(z), np.abs(drift_z)))

        # Judge the surprise against this stream's history of surprises.
        mean, var = self.hist_mean[s], self.hist_var[s]
        u = (surprise - mean) / np.sqrt(var + 1e-6)
        score = 1.0 / (1.0 + np.exp(-np.clip(u, -50.0, 50.0)))
        warm = n >= p.warmup
        score = np.where(warm, score, 0.0)
        cooldown = self.cooldown[s]
        score = np.where(cooldown > 0, 0.0, score)
        cooldown = np.where(score >= p.alarm, p.refractory, np.maximum(cooldown - 1, 0))

        # Learn: Huber-clipped updates so a spike barely moves the baseline, a shift does.
        ha = np.where(first, 1.0, p.history_alpha)
        ha = np.maximum(ha, 1.0 / (n + 1.0))
        delta = surprise - mean
        self.hist_mean[s] = mean + ha * delta
        self.hist_var[s] = (1.0 - ha) * (var + ha * delta * delta)

        lim_l = p.clip * np.maximum(lspread, floor)
        self.level[s] = level + p.level_alpha * np.clip(e_level, -lim_l, lim_l)
        sa = np.maximum(p.scale_alpha, 1.0 / (n + 1.0))
        self.level_spread[s] = lspread + sa * (np.minimum(np.abs(e_level), lim_l) - lspread)
        lim_t = p.clip * np.maximum(tspread, floor)
        self.tod[s, bucket] = np.where(
            has_tod, tod + p.tod_alpha * np.clip(e_tod, -lim_t, lim_t), x
        )
        tn = self.tod_seen[s]
        ta = np.maximum(p.scale_alpha, 1.0 / (tn + 1.0))
        self.tod_spread[s] = np.where(
            has_tod, tspread + ta * (np.minimum(np.abs(e_tod), lim_t) - tspread), tspread
        )
        self.tod_seen[s] = tn + has_tod
        self.drift[s] = np.where(warm, drift, 0.0)
        self.count[s] = n + 1
        self.cooldown[s] = cooldown
        return score


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
    streams: list[tuple[FloatArray, IntArray]], params: UnivariateParams | None = None
) -> list[FloatArray]:
    """Score many independent streams in lock step, one row of each per step, no look-ahead."""
    bank = UnivariateBank(len(streams), params)
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
        out[live, i] = bank._step(live, vals[live, i], stamps[live, i])
    return [out[k, : lengths[k]] for k in range(len(streams))]
