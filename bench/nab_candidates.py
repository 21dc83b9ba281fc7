"""Candidate evidences and decision rules for the univariate detector, measured held-out on NAB.

Each candidate is fused with the bank's two evidences (novelty and likelihood, in alarm units,
read from the bank with the other evidence switched off) by max, the refractory period is
replayed on the fused units, and the whole leave-one-category-out selection over `nab.GRID`
is rerun. The candidates are causal but written per file for the experiment, not vectorised:
only what earns its place goes into `UnivariateBank`.

    nice -n 10 .venv/bin/python bench/nab_candidates.py --data DIR --labels FILE   # ~3 min
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from nab_corpus import corpus_from_argv
from numpy.lib.stride_tricks import sliding_window_view

from central import nab
from central.univariate import UnivariateParams, score_streams

FloatArray = nab.FloatArray
_OFF = 1e12  # an alarm-unit scale no evidence reaches


def bank_units(corpus: Sequence[nab.Series], **change: float) -> list[FloatArray]:
    """One evidence of the bank in alarm units, without refractory period."""
    p = replace(UnivariateParams(), refractory=0, **change)
    streams = [(s.values, s.timestamps.astype("datetime64[ns]").astype(np.int64)) for s in corpus]
    scores = score_streams(streams, p, [s.probation for s in corpus])
    return [sc / np.maximum(1.0 - sc, 1e-300) for sc in scores]


def decide(
    units: FloatArray, alarm: float, refractory: int, sustain: tuple[float, int] | None
) -> FloatArray:
    """Alarms (1.0) from fused units with the refractory period; `sustain` = (share of the bar,
    values): also alarm when that many consecutive values reach that share of the bar."""
    bar = alarm / (1.0 - alarm)
    out = np.zeros(units.size)
    cooldown = run = 0
    for i, u in enumerate(units.tolist()):
        if cooldown:
            cooldown -= 1
            run = 0
            continue
        fire = u >= bar
        if sustain is not None:
            run = run + 1 if u >= sustain[0] * bar else 0
            fire = fire or run >= sustain[1]
        if fire:
            out[i] = 1.0
            cooldown, run = refractory, 0
    return out


def spectral_residual(
    x: FloatArray, w: int = 64, m: int = 5, q: int = 3, z: int = 21
) -> FloatArray:
    """Spectral-residual saliency of each value in its trailing window (Ren et al. 2019): the
    window, extended by m values extrapolated from its mean gradient, loses the locally averaged
    log amplitude spectrum; the value's saliency against the mean of the last z saliencies."""
    out = np.zeros(x.size)
    if x.size <= w:
        return out
    win = sliding_window_view(x, w)
    grad = ((win[:, -1:] - win[:, -m - 1 : -1]) / np.arange(m, 0, -1)).sum(1, keepdims=True)
    ext = np.concatenate([win, np.repeat(win[:, -m - 1 : -m] + grad, m, axis=1)], axis=1)
    spectrum = np.fft.fft(ext, axis=1)
    log_amp = np.log(np.abs(spectrum) + 1e-8)
    pad = np.pad(log_amp, ((0, 0), (q // 2, q // 2)), mode="edge")
    smooth = sliding_window_view(pad, q, axis=1).mean(2)
    saliency = np.abs(np.fft.ifft(np.exp(log_amp - smooth + 1j * np.angle(spectrum)), axis=1))
    local = saliency[:, w - z : w].mean(1)
    out[w - 1 :] = (saliency[:, w - 1] - local) / (local + 1e-8)
    return out


def knn_cad(x: FloatArray, lag: int = 10, reservoir: int = 400, k: int = 5) -> FloatArray:
    """KNN-CAD's nonconformity (Burnaev and Ishimtsev): mean distance of the latest `lag` values
    to their k nearest among the last `reservoir` windows that end before it starts, in units of
    the range seen so far."""
    out = np.zeros(x.size)
    win = sliding_window_view(x, lag)
    width = np.maximum.accumulate(x) - np.minimum.accumulate(x) + 1e-9
    for j in range(lag + k + 1, len(win)):
        past = win[max(0, j - lag - reservoir) : j - lag + 1]
        d = np.sqrt(((past - win[j]) ** 2).sum(1))
        out[j + lag - 1] = np.partition(d, k)[:k].mean() / width[j + lag - 1]
    return out


def standardise(e: FloatArray, alpha: float = 0.002) -> FloatArray:
    """Each value against the EWMA mean and variance of the values before it."""
    out = np.zeros(e.size)
    mean = var = 0.0
    for i, v in enumerate(e.tolist()):
        if i > 30:
            out[i] = (v - mean) / np.sqrt(var + 1e-6)
        a = max(alpha, 1.0 / (i + 1))
        d = v - mean
        mean += a * d
        var = (1 - a) * (var + a * d * d)
    return out


def rank_pvalue(e: FloatArray) -> FloatArray:
    """-log10 of the share of earlier values at or above each value (exact causal ranks: the
    best any quantile sketch could do)."""
    out = np.zeros(e.size)
    past: list[float] = []
    for i, v in enumerate(e.tolist()):
        if len(past) > 30:
            out[i] = -np.log10((len(past) - bisect_left(past, v) + 1) / (len(past) + 1))
        insort(past, v)
    return out


@dataclass(frozen=True)
class Candidate:
    """An extra evidence (units per file, before its scale), a gate on the likelihood, a rule."""

    extra: Callable[[int], FloatArray] | None = None
    scale: float = 1.0
    gate: Callable[[int], FloatArray] | None = None  # the likelihood must reach this too
    sustain: tuple[float, int] | None = None


def main() -> None:
    corpus = corpus_from_argv(__doc__.splitlines()[0])
    novelty = bank_units(corpus, likelihood_scale=_OFF)
    likelihood = bank_units(corpus, novelty_scale=_OFF, likelihood_scale=1.0)
    values = [s.values for s in corpus]
    sr = [standardise(spectral_residual(v)) for v in values]
    knn_raw = [knn_cad(v) for v in values]
    knn_z = [standardise(e) for e in knn_raw]
    knn_p = [rank_pvalue(e) for e in knn_raw]
    lik_p = [rank_pvalue(e) for e in likelihood]
    candidates = {"detector as it is": Candidate()}
    for share, values_ in ((0.8, 2), (0.7, 2), (0.8, 3)):
        candidates[f"sustained bar: {values_} values >= {share} of it"] = Candidate(
            sustain=(share, values_)
        )
    for scale in (6.0, 8.0, 12.0):
        candidates[f"spectral residual (w 64), standardised / {scale}"] = Candidate(
            sr.__getitem__, scale
        )
    for scale in (6.0, 8.0):
        candidates[f"KNN-CAD (lag 10, 400, k 5), standardised / {scale}"] = Candidate(
            knn_z.__getitem__, scale
        )
    for scale in (3.0, 3.5):
        candidates[f"KNN-CAD, -log10 p / {scale}"] = Candidate(knn_p.__getitem__, scale)
    for scale in (1.75, 2.0, 2.25):
        candidates[f"likelihood gated by its -log10 p / {scale}"] = Candidate(
            gate=lambda k, s=scale: lik_p[k] / s
        )
    grid = [
        (a, ls, int(r))
        for a in nab.GRID["alarm"]
        for ls in nab.GRID["likelihood_scale"]
        for r in nab.GRID["refractory"]
    ]
    names = [p.name for p in nab.PROFILES]
    print(f"{'candidate':<52}" + "".join(f"{n:>22}" for n in names) + "   (in-sample / held-out)")
    for label, c in candidates.items():
        by_point = []
        for alarm, scale, refractory in grid:
            point = []
            for k in range(len(corpus)):
                lik = likelihood[k] / scale
                if c.gate is not None:
                    lik = np.minimum(lik, c.gate(k))
                units = np.maximum(novelty[k], lik)
                if c.extra is not None:
                    units = np.maximum(units, c.extra(k) / c.scale)
                point.append(decide(units, alarm, refractory, c.sustain))
            by_point.append(point)
        folds = nab.cross_validate(corpus, by_point)
        cells = "".join(
            f"{f'{cv.in_sample.normalised:.1f} / {cv.held_out_corpus:.1f}':>22}" for cv in folds
        )
        whole = folds[0].in_sample
        counts = f"TP {whole.true_positives} FP {whole.false_positives} FN {whole.false_negatives}"
        print(f"{label:<52}{cells}   {counts}", flush=True)


if __name__ == "__main__":
    main()
