"""Self-calibrating novelty and contextual (CAD OSE-like) novelty beside the detector, held-out on NAB.

1. Novelty variants: the excursion beyond the seen range (the bank's own range, read before
   each update) measured against the stream's own history instead of as a fixed share of the
   range: against the running mean one-step change (`steps`), the running spread of the level
   forecast (`spread`), the running mean of past excursions as shares of the range
   (`excursions`), or the log share standardised against the past excursions' log shares
   (`excursion z`, in deviations). Each replaces the bank's novelty; its scale axis is centred
   without labels (the scale at which it raises as many alarms on the corpus as the bank's
   novelty at its default) and searched per fold over 5 values (x0.7 steps) with the other two
   axes of `nab_corpus.EARLIER_SEARCH`.
2. Context novelty (the idea of Numenta NAB's contextOSE / CAD OSE, implemented from its
   description): each value is quantised into `bins` bins of the seen range; the context tokens
   of a value are the pairs (lag j, bin j values ago, bin now) for j = 1..`lags` and the triple of
   the last three bins; the evidence is the share of the current tokens never seen before in the
   stream (a bounded boolean table per stream: lags x bins^2 + bins^3). An alarm at a share `c`.
3. Fusion by max with the bank's evidences; ablation (each evidence alone, and off per fold).

The refractory period is replayed on the fused units and `nab.cross_validate` runs over every
point; the replay of the detector alone gave exactly `--cv`'s figures before the seventh pass.

    nice -n 10 .venv/bin/python bench/nab_context.py --data DIR --labels FILE   # ~2 min
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Sequence

import numpy as np
from nab_corpus import EARLIER_SEARCH, corpus_from_argv
from nab_shape import _BAR, _OFF, bank_units, decide

from central import nab
from central.univariate import UnivariateBank, UnivariateParams

FloatArray = nab.FloatArray
Units = list[FloatArray]


def bank_trace(corpus: Sequence[nab.Series]) -> dict[str, Units]:
    """Per file and row, the bank's seen range and level spread before the row's update."""
    p = UnivariateParams()
    bank = UnivariateBank(len(corpus), p)
    bank.set_warmup(np.arange(len(corpus)), [s.probation for s in corpus])
    lengths = np.array([len(s.values) for s in corpus])
    width = int(lengths.max())
    vals = np.full((len(corpus), width), np.nan)
    stamps = np.zeros((len(corpus), width), dtype=np.int64)
    for k, s in enumerate(corpus):
        vals[k, : lengths[k]] = s.values
        stamps[k, : lengths[k]] = s.timestamps.astype("datetime64[ns]").astype(np.int64)
    out = {n: np.full((len(corpus), width), np.nan) for n in ("high", "low", "spread")}
    for i in range(width):
        live = np.flatnonzero(lengths > i)
        out["high"][live, i] = bank.high[live]
        out["low"][live, i] = bank.low[live]
        out["spread"][live, i] = bank.level_spread[live]
        bank.update(live, vals[live, i], stamps[live, i])
    return {n: [a[k, : lengths[k]] for k in range(len(corpus))] for n, a in out.items()}


def _past_mean(
    x: FloatArray, mask: FloatArray | None = None, alpha: float = 1.0 / 8640
) -> FloatArray:
    """Causal running mean of x (only where mask) over the values before each row (nan before)."""
    out = np.full(x.size, np.nan)
    mean, n = 0.0, 0
    for i, v in enumerate(x.tolist()):
        if n:
            out[i] = mean
        if mask is None or mask[i]:
            n += 1
            mean += max(alpha, 1.0 / n) * (v - mean)
    return out


def novelty_variants(corpus: Sequence[nab.Series], trace: dict[str, Units]) -> dict[str, Units]:
    """Each variant's units at scale 1, 0 during the probation."""
    out: dict[str, Units] = {
        k: [] for k in ("range", "steps", "spread", "excursions", "excursion z")
    }
    for k, s in enumerate(corpus):
        x = s.values
        high, low, spread = trace["high"][k], trace["low"][k], trace["spread"][k]
        first = ~np.isfinite(high)
        high, low = np.where(first, x, high), np.where(first, x, low)
        floor = 1e-3 * np.abs(x) + 1e-9
        e = np.maximum(np.maximum(x - high, low - x), 0.0)
        share = e / np.maximum(high - low, floor)
        step = np.abs(np.diff(x, prepend=x[0]))
        step_mean = _past_mean(step)
        pos = share > 0
        exc_mean = _past_mean(share, pos)
        logs = np.log(np.maximum(share, 1e-12))
        log_mean = _past_mean(logs, pos)
        log_sq = _past_mean(logs * logs, pos)
        log_sd = np.sqrt(np.maximum(log_sq - log_mean**2, 1e-6))
        variants = {
            "range": share,
            "steps": e / np.maximum(np.nan_to_num(step_mean), floor),
            "spread": e / np.maximum(spread, floor),
            "excursions": share / np.maximum(np.nan_to_num(exc_mean, nan=np.inf), 1e-12),
            "excursion z": np.where(pos, np.maximum((logs - log_mean) / log_sd, 0.0), 0.0),
        }
        for name, u in variants.items():
            u = np.nan_to_num(u, nan=0.0, posinf=0.0)
            u[: s.probation] = 0.0
            out[name].append(u)
    return out


def context_units(
    corpus: Sequence[nab.Series], trace: dict[str, Units], bins: int, lags: int
) -> Units:
    """Share of the value's context tokens never seen before in its stream (0 in probation)."""
    out = []
    for k, s in enumerate(corpus):
        x = s.values
        high, low = trace["high"][k], trace["low"][k]
        high, low = np.where(np.isfinite(high), high, x), np.where(np.isfinite(low), low, x)
        span = np.maximum(high - low, 1e-3 * np.abs(x) + 1e-9)
        # Quantised against the range seen before the value (no look-ahead), clipped at its edges.
        b = np.clip(((x - low) / span * bins).astype(np.int64), 0, bins - 1)
        pairs = np.zeros((lags, bins, bins), dtype=bool)
        triples = np.zeros((bins, bins, bins), dtype=bool)
        u = np.zeros(x.size)
        bl = b.tolist()
        for i in range(lags, x.size):
            now = bl[i]
            new = 0
            for j in range(1, lags + 1):
                if not pairs[j - 1, bl[i - j], now]:
                    new += 1
                    pairs[j - 1, bl[i - j], now] = True
            t = (bl[i - 2], bl[i - 1], now)
            if not triples[t]:
                new += 1
                triples[t] = True
            u[i] = new / (lags + 1)
        u[: s.probation] = 0.0
        out.append(u)
    return out


def calibrate(units: Units, target: int, refractory: int = 30) -> float:
    """The scale at which `units` alone raises `target` alarms on the corpus (no labels used)."""
    lo, hi = 1e-6, 1e6
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        count = sum(int(decide(u / mid, refractory).sum()) for u in units)
        lo, hi = (mid, hi) if count > target else (lo, mid)
    return float(np.sqrt(lo * hi))


Point = tuple[float, float, int, int]  # likelihood scale, novelty scale, refractory, extra


def evidences(corpus: Sequence[nab.Series]) -> tuple[Units, Units, dict[str, Units]]:
    """The bank's likelihood (alarm units), its range novelty in units of the default scale (so
    EARLIER_SEARCH's values apply) and its trace, all with the context off."""
    likelihood = bank_units(corpus, novelty_scale=_OFF, context_lags=0)
    scale = UnivariateParams().novelty_scale
    ref = [u * scale for u in bank_units(corpus, likelihood_scale=_OFF, context_lags=0)]
    return likelihood, ref, bank_trace(corpus)


def run(
    corpus: Sequence[nab.Series],
    novelty: Units,
    scales: Sequence[float],
    likelihood: Units,
    extras: Sequence[Units | None],
) -> tuple[list[nab.CrossValidation], list[Point]]:
    """`nab.cross_validate` over every (likelihood scale, novelty scale, refractory, extra)."""
    d = UnivariateParams()
    points, labels = [], []
    for ls, ns, r, e in itertools.product(
        EARLIER_SEARCH["likelihood_scale"], scales, EARLIER_SEARCH["refractory"], range(len(extras))
    ):
        extra = extras[e]
        point = []
        for k in range(len(corpus)):
            u = np.maximum(novelty[k] / ns, likelihood[k] * (d.likelihood_scale / ls))
            if extra is not None:
                u = np.maximum(u, extra[k])
            point.append(decide(u, int(r)))
        points.append(point)
        labels.append((ls, ns, int(r), e))
    return nab.cross_validate(corpus, points), labels


def _short(category: str) -> str:
    return category.replace("artificial", "art").replace("real", "")[:8]


def report(label: str, folds: list[nab.CrossValidation], labels: list[Point], t0: float) -> None:
    cells = "".join(
        f"{f'{cv.in_sample.normalised:.1f} / {cv.held_out_corpus:.1f}':>14}" for cv in folds
    )
    std = folds[0]

    def show(c: int) -> str:
        ls, ns, r, e = labels[c]
        return f"{ls:g}/{ns:.3g}/{r}/{e}"

    held = " ".join(
        f"{_short(h.category)}:{'-' if h.normalised is None else f'{h.normalised:.1f}'}"
        f"[{show(h.choice)}]"
        for h in std.held_out
    )
    w = std.in_sample
    print(
        f"{label:<34}{cells}  means {std.in_sample_mean:.1f}/{std.held_out_mean:.1f} "
        f"gap {std.in_sample_mean - std.held_out_mean:.1f} TP{w.true_positives} "
        f"FP{w.false_positives} in[{show(std.choice)}]  {held}  {time.perf_counter() - t0:.0f}s",
        flush=True,
    )


def second(corpus: Sequence[nab.Series]) -> None:
    """The second round: CAD OSE's own defaults, the share chosen per fold, other sizes."""
    likelihood, ref, trace = evidences(corpus)
    shares = (0.6, 0.8, 1.0)

    def at(units: Units, c: float) -> Units:
        return [u * (_BAR / c) * (1 + 1e-9) for u in units]

    rows: list[tuple[str, int, int, Sequence[float | None]]] = [
        ("CAD OSE defaults b8 l7 at 0.75", 8, 7, (0.75,)),
        ("context b16 l7, c per fold", 16, 7, shares),
        ("context b16 l5 at 0.8", 16, 5, (0.8,)),
        ("context b16 l3 at 0.8", 16, 3, (0.8,)),
        ("context b12 l7 at 0.8", 12, 7, (0.8,)),
        ("context b32 l7 at 0.8", 32, 7, (0.8,)),
        ("context b12 l7, c per fold", 12, 7, shares),
        ("context b16 l5, c per fold", 16, 5, shares),
    ]
    for label, bins, lags, cs in rows:
        t0 = time.perf_counter()
        units = context_units(corpus, trace, bins, lags)
        options: list[Units | None] = [None if c is None else at(units, c) for c in cs]
        folds, labels = run(corpus, ref, EARLIER_SEARCH["novelty_scale"], likelihood, options)
        report(label, folds, labels, t0)


def third(corpus: Sequence[nab.Series]) -> None:
    """The third round: the context's size chosen per fold, and the ablation of the kept one."""
    likelihood, ref, trace = evidences(corpus)

    def at(units: Units, c: float) -> Units:
        return [u * (_BAR / c) * (1 + 1e-9) for u in units]

    # The kept setting's neighbours and "off", chosen per fold with the three axes: extras
    # 0 off, then (bins, lags) = (8, 3), (8, 5), (8, 7), (16, 3), (16, 5), (16, 7), all at 1.0.
    t0 = time.perf_counter()
    family: list[Units | None] = [None]
    for bins, lags in itertools.product((8, 16), (3, 5, 7)):
        family.append(at(context_units(corpus, trace, bins, lags), 1.0))
    folds, labels = run(corpus, ref, EARLIER_SEARCH["novelty_scale"], likelihood, family)
    report("bins 8/16 x lags 3/5/7 at 1 or off", folds, labels, t0)
    folds, labels = run(corpus, ref, EARLIER_SEARCH["novelty_scale"], likelihood, family[1:])
    report("bins 8/16 x lags 3/5/7 at 1", folds, labels, t0)
    silent = [np.zeros(len(s.values)) for s in corpus]
    folds, labels = run(corpus, silent, [1.0], silent, [family[1]])
    report("context b8 l3 alone", folds, labels, t0)
    folds, labels = run(corpus, ref, EARLIER_SEARCH["novelty_scale"], silent, [family[1]])
    report("context b8 l3 + novelty (no likelihood)", folds, labels, t0)
    folds, labels = run(corpus, silent, [1.0], likelihood, [family[1]])
    report("context b8 l3 + likelihood (no novelty)", folds, labels, t0)


def ablation(corpus: Sequence[nab.Series]) -> None:
    """The ablation of the kept detector: CAD OSE's published size (8 bins, 7 lags, 0.75)."""
    p = UnivariateParams()
    likelihood, ref, trace = evidences(corpus)
    kept = context_units(corpus, trace, p.context_bins, p.context_lags)
    kept = [u * (_BAR / p.context_share) * (1 + 1e-9) for u in kept]
    silent = [np.zeros(len(s.values)) for s in corpus]
    t0 = time.perf_counter()
    for name, novelty, scales, like, extra in (
        ("all three (kept)", ref, EARLIER_SEARCH["novelty_scale"], likelihood, kept),
        ("context alone", silent, [1.0], silent, kept),
        ("context + novelty (no likelihood)", ref, EARLIER_SEARCH["novelty_scale"], silent, kept),
        ("context + likelihood (no novelty)", silent, [1.0], likelihood, kept),
        (
            "novelty + likelihood (no context)",
            ref,
            EARLIER_SEARCH["novelty_scale"],
            likelihood,
            None,
        ),
    ):
        folds, labels = run(corpus, novelty, scales, like, [extra])
        report(name, folds, labels, t0)


def fourth(corpus: Sequence[nab.Series]) -> None:
    """The fourth round: CAD OSE's 8 bins fixed, the lags and the share chosen per fold."""
    likelihood, ref, trace = evidences(corpus)
    t0 = time.perf_counter()
    raw = {lags: context_units(corpus, trace, 8, lags) for lags in (3, 5, 7)}
    for label, shares in (
        ("lags 3/5/7 at 1", (1.0,)),
        ("lags 3/5/7 x share 0.6/0.8/1", (0.6, 0.8, 1.0)),
    ):
        options: list[Units | None] = [
            [u * (_BAR / c) * (1 + 1e-9) for u in raw[lags]]
            for lags, c in itertools.product((3, 5, 7), shares)
        ]
        folds, labels = run(corpus, ref, EARLIER_SEARCH["novelty_scale"], likelihood, options)
        report(f"bins 8, {label} per fold", folds, labels, t0)


def main() -> None:
    rounds = {"--second": second, "--third": third, "--fourth": fourth, "--ablation": ablation}
    chosen = [r for flag, r in rounds.items() if flag in sys.argv]
    sys.argv = [a for a in sys.argv if a not in rounds]
    corpus = corpus_from_argv(__doc__.splitlines()[0])
    if chosen:
        chosen[0](corpus)
        return
    d = UnivariateParams()
    t0 = time.perf_counter()
    bank_novelty = bank_units(corpus, likelihood_scale=_OFF, context_lags=0)
    likelihood = bank_units(corpus, novelty_scale=_OFF, context_lags=0)
    trace = bank_trace(corpus)
    variants = novelty_variants(corpus, trace)
    print(
        f"setup {time.perf_counter() - t0:.0f}s; (in / held-out) standard, low FP, low FN;"
        " choices as likelihood/novelty/refractory/extra",
        flush=True,
    )
    # The bank's own novelty in units of its default scale, so the EARLIER_SEARCH values apply.
    ref = [u * d.novelty_scale for u in bank_novelty]
    t0 = time.perf_counter()
    folds, labels = run(corpus, ref, EARLIER_SEARCH["novelty_scale"], likelihood, [None])
    report("detector as it is", folds, labels, t0)
    t0 = time.perf_counter()
    folds, labels = run(
        corpus, variants["range"], EARLIER_SEARCH["novelty_scale"], likelihood, [None]
    )
    report("range (replayed from the trace)", folds, labels, t0)
    target = sum(int(decide(u, d.refractory).sum()) for u in bank_novelty)
    print(f"bank novelty alone raises {target} alarms at its default", flush=True)
    steps = (0.49, 0.7, 1.0, 1.43, 2.04)
    centres: dict[str, float] = {}
    for name in ("steps", "spread", "excursions", "excursion z"):
        t0 = time.perf_counter()
        centre = calibrate(variants[name], target)
        centres[name] = centre
        scales = [centre * f for f in steps]
        folds, labels = run(corpus, variants[name], scales, likelihood, [None])
        report(f"{name} (centre {centre:.3g})", folds, labels, t0)
    silent = [np.zeros(len(s.values)) for s in corpus]
    ctx: dict[tuple[int, int], Units] = {}
    for bins, lags in ((8, 7), (16, 7), (8, 3), (16, 3)):
        t0 = time.perf_counter()
        ctx[bins, lags] = context_units(corpus, trace, bins, lags)
        for c in (0.6, 0.8, 1.0):
            t0 = time.perf_counter()
            extra = [u * (_BAR / c) * (1 + 1e-9) for u in ctx[bins, lags]]
            folds, labels = run(corpus, ref, EARLIER_SEARCH["novelty_scale"], likelihood, [extra])
            report(f"context b{bins} l{lags} at {c:g}", folds, labels, t0)
        t0 = time.perf_counter()
        options: list[Units | None] = [None]
        options += [[u * (_BAR / c) * (1 + 1e-9) for u in ctx[bins, lags]] for c in (0.6, 0.8, 1.0)]
        folds, labels = run(corpus, ref, EARLIER_SEARCH["novelty_scale"], likelihood, options)
        report(f"context b{bins} l{lags}, c/off per fold", folds, labels, t0)
        t0 = time.perf_counter()
        folds, labels = run(corpus, silent, [1.0], silent, options[1:])
        report(f"context b{bins} l{lags} alone", folds, labels, t0)


if __name__ == "__main__":
    main()
