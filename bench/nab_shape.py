"""Window-shape novelty (ARTime's and KNN-CAD's idea) beside the univariate detector, held-out on NAB.

Each stream keeps a bounded memory of prototypes of its recent window's shape: the last
`width` block means of `block` values, in units of the range the stream has shown so far
(ARTime: a window of downsampled values, normalised; here without the file's min/max, which
would look ahead), optionally less the window's own mean (`centred`: shape without level). A
window farther (mean absolute difference) than the vigilance radius from every prototype starts
a new category (ARTime's anomaly); the evidence, in alarm units, is the distance to the nearest
prototype over the radius, so the alarm sits at the radius. The radius is either a share of the
seen range (`abs`) or a multiple of the stream's own running mean nearest distance (`rel`,
self-calibrated as the likelihood is; never under 0.02 of the range). Prototypes learn all the
time (the nearest moves towards the window), a new one replaces the least recently matched when
the memory (32) is full; `frozen`: the memory is learned during the probation only. O(memory x
width) per value, vectorised over the streams in lock step, scored after the probation only.

The evidence is fused by max with the bank's novelty and likelihood (read with the other
switched off), or `gated` (it may decide only where the likelihood reached 1 / gate of the bar),
the refractory period replayed on the fused units, and the leave-one-category-out selection
(`nab.cross_validate`) run over the 27 points of `nab_corpus.EARLIER_SEARCH` for each setting;
for the FAMILIES, over those 27 times the members and "off", so the setting is chosen per fold
too. The replay of the detector alone gave exactly `--cv`'s figures before the seventh pass.
Also: a few settings alone (`ALONE`), and the shape distance as a raw surprise of HTM's
likelihood (`through_likelihood`).

    nice -n 10 .venv/bin/python bench/nab_shape.py --data DIR --labels FILE [--only TEXT]
    # ~20 min in all; --only keeps the rows whose label contains TEXT
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from nab_corpus import EARLIER_SEARCH, corpus_from_argv, take_only

from central import nab
from central.univariate import UnivariateParams, score_streams

FloatArray = nab.FloatArray
_OFF = 1e12
_BAR = UnivariateParams().alarm / (1.0 - UnivariateParams().alarm)  # alarm units at the alarm


@dataclass(frozen=True)
class Shape:
    width: int = 8  # block means in a window
    block: int = 1  # values per block (ARTime's downsampling)
    memory: int = 32  # prototypes per stream
    relative: bool = True  # radius from the stream's running nearest distance, else absolute
    radius: float = 3.0  # multiple of that running distance, or share of the seen range
    centred: bool = False  # subtract the window's own mean: shape only, not level
    learn: float = 0.05  # floor of a prototype's learning rate
    floor: float = 0.02  # least relative radius, as a share of the seen range
    frozen: bool = False  # learn prototypes during the probation only


def shape_units(corpus: Sequence[nab.Series], c: Shape, *, masked: bool = True) -> list[FloatArray]:
    """The evidence per row of every file, 0 before the file's probation ends (if `masked`)."""
    s_n = len(corpus)
    lengths = np.array([len(s.values) for s in corpus])
    width = int(lengths.max())
    vals = np.full((s_n, width), np.nan)
    for k, s in enumerate(corpus):
        vals[k, : len(s.values)] = s.values
    span = c.width * c.block
    ring = np.zeros((s_n, span))
    protos = np.zeros((s_n, c.memory, c.width))
    used = np.full((s_n, c.memory), -1.0)  # step last matched; -1 = empty
    hits = np.zeros((s_n, c.memory))
    high = np.full(s_n, -np.inf)
    low = np.full(s_n, np.inf)
    mean_d = np.zeros(s_n)
    seen_d = np.zeros(s_n)
    probation = np.array([s.probation for s in corpus])
    out = np.zeros((s_n, width))
    for i in range(width):
        live = np.flatnonzero(lengths > i)
        x = vals[live, i]
        ring[live, i % span] = x
        high[live] = np.maximum(high[live], x)
        low[live] = np.minimum(low[live], x)
        if i + 1 < span:
            continue
        # The window in time order, block means, in units of the seen range.
        order = (np.arange(i + 1 - span, i + 1)) % span
        win = ring[live][:, order].reshape(live.size, c.width, c.block).mean(2)
        rng = np.maximum(high[live] - low[live], 1e-9)
        feat = (win - low[live, None]) / rng[:, None]
        if c.centred:
            feat = feat - feat.mean(1, keepdims=True)
        p = protos[live]
        d = np.abs(p - feat[:, None, :]).mean(2)
        empty = used[live] < 0
        d = np.where(empty, np.inf, d)
        j = np.argmin(d, 1)
        dmin = d[np.arange(live.size), j]
        has = np.isfinite(dmin)
        if c.relative:
            r = np.maximum(c.radius * mean_d[live], c.floor)
        else:
            r = np.full(live.size, c.radius)
        units = np.where(has, _BAR * dmin / r, 0.0)
        scored = i >= probation[live]
        out[live, i] = np.where((scored | (not masked)) & (seen_d[live] >= 10), units, 0.0)
        # Learn: the nearest prototype resonates (moves towards the window), or a new category.
        new = ~has | (dmin > r)
        if c.frozen:
            # After the probation the memory stands: nothing resonates, nothing is added.
            learning = ~scored
            new &= learning
            keep = ~new & learning
        else:
            keep = ~new
        sl = live[keep]
        jj = j[keep]
        hits[sl, jj] += 1
        rate = np.maximum(1.0 / hits[sl, jj], c.learn)
        protos[sl, jj] += rate[:, None] * (feat[keep] - protos[sl, jj])
        used[sl, jj] = i
        sn = live[new]
        if sn.size:
            slot = np.argmin(used[sn], 1)  # an empty slot (-1) first, else the least recent
            protos[sn, slot] = feat[new]
            used[sn, slot] = i
            hits[sn, slot] = 1
        fin = has & np.isfinite(dmin) & (~scored if c.frozen else True)
        sd = live[fin]
        seen_d[sd] += 1
        a = np.maximum(1.0 / seen_d[sd], 0.01)
        # Clipped at three times the mean so one novel window barely moves the bar.
        cap = np.where(seen_d[sd] < 10, np.inf, 3.0 * np.maximum(mean_d[sd], 1e-6))
        mean_d[sd] += a * (np.minimum(dmin[fin], cap) - mean_d[sd])
    return [out[k, : lengths[k]] for k in range(s_n)]


def through_likelihood(units: FloatArray, probation: int, short: int = 10) -> FloatArray:
    """The shape distance as a raw surprise of HTM's likelihood, in deviations: log(1 + units),
    the mean of the last `short` against the mean and variance of the single surprises before it
    (equal weights: every NAB file is shorter than HTM's 8,640-value window), 0 before the
    probation ends."""
    s = np.log1p(units)
    n = np.arange(1, s.size + 1)
    c1, c2 = np.cumsum(s), np.cumsum(s * s)
    mean = c1 / n
    var = np.maximum(c2 / n - mean * mean, 0.0)
    before_mean, before_var = np.r_[0.0, mean[:-1]], np.r_[0.0, var[:-1]]
    sums = np.r_[0.0, c1]
    recent = (sums[n] - sums[np.maximum(n - short, 0)]) / np.minimum(n, short)
    out = np.maximum((recent - before_mean) / np.sqrt(before_var + 1e-6), 0.0)
    out[: max(probation, 30)] = 0.0
    return out


def bank_units(corpus: Sequence[nab.Series], **change: Any) -> list[FloatArray]:
    """One evidence of the bank in alarm units, without refractory period."""
    p = replace(UnivariateParams(), refractory=0, **change)
    streams = [(s.values, s.timestamps.astype("datetime64[ns]").astype(np.int64)) for s in corpus]
    scores = score_streams(streams, p, [s.probation for s in corpus])
    return [sc / np.maximum(1.0 - sc, 1e-300) for sc in scores]


def decide(units: FloatArray, refractory: int) -> FloatArray:
    """Alarms (1.0) where fused units reach the bar, each followed by the refractory period."""
    out = np.zeros(units.size)
    above = np.flatnonzero(units >= _BAR)
    next_free = -1
    for i in above.tolist():
        if i >= next_free:
            out[i] = 1.0
            next_free = i + refractory + 1
    return out


@dataclass(frozen=True)
class Setting:
    """A shape evidence and how it is fused: by max, or gated by the likelihood."""

    shape: Shape
    gate: float = 0.0  # > 0: the shape decides only where the likelihood reached 1/gate of the bar


Extra = tuple[list[FloatArray], float] | None  # (shape units per file, gate), None = off


def run(
    corpus: Sequence[nab.Series],
    novelty: list[FloatArray],
    likelihood: list[FloatArray],
    extras: Sequence[Extra],
) -> tuple[list[nab.CrossValidation], list[tuple[int, float, float, int]]]:
    """`nab.cross_validate` over every (extra, likelihood_scale, novelty_scale, refractory)."""
    d = UnivariateParams()
    points, labels = [], []
    for e, ls, ns, r in itertools.product(
        range(len(extras)),
        EARLIER_SEARCH["likelihood_scale"],
        EARLIER_SEARCH["novelty_scale"],
        EARLIER_SEARCH["refractory"],
    ):
        extra = extras[e]
        point = []
        for k in range(len(corpus)):
            lik = likelihood[k] * (d.likelihood_scale / ls)
            u = np.maximum(novelty[k] * (d.novelty_scale / ns), lik)
            if extra is not None:
                shape, gate = extra[0][k], extra[1]
                if gate:
                    shape = np.minimum(shape, gate * lik)
                u = np.maximum(u, shape)
            point.append(decide(u, int(r)))
        points.append(point)
        labels.append((e, ls, ns, int(r)))
    return nab.cross_validate(corpus, points), labels


def _short(category: str) -> str:
    return category.replace("artificial", "art").replace("real", "")[:8]


def report(
    label: str,
    folds: list[nab.CrossValidation],
    labels: list[tuple[int, float, float, int]],
    t0: float,
) -> None:
    """One line: in-sample / held-out corpus per profile, the standard profile's category means,
    gap, in-sample counts and choice, the extra each fold chose, the held-out categories."""
    cells = "".join(
        f"{f'{cv.in_sample.normalised:.1f} / {cv.held_out_corpus:.1f}':>16}" for cv in folds
    )
    std = folds[0]
    held = " ".join(
        f"{_short(h.category)}:{'-' if h.normalised is None else f'{h.normalised:.1f}'}"
        f"(FP{h.score.false_positives})"
        for h in std.held_out
    )
    choices = ",".join(str(labels[h.choice][0]) for h in std.held_out)
    w = std.in_sample
    print(
        f"{label:<40}{cells}  means {std.in_sample_mean:.1f}/{std.held_out_mean:.1f} "
        f"gap {std.in_sample_mean - std.held_out_mean:.1f}  TP{w.true_positives} "
        f"FP{w.false_positives}  in:{labels[std.choice]} folds:{choices}  {held}  "
        f"{time.perf_counter() - t0:.0f}s",
        flush=True,
    )


def settings() -> dict[str, Setting]:
    """Every setting measured, by label (window w, block b, radius absolute or relative)."""
    out: dict[str, Setting] = {}
    for w, b in ((8, 1), (8, 4), (16, 1)):
        for cen in (False, True):
            tail = " centred" if cen else ""
            for rad in (3.0, 5.0, 8.0):
                out[f"w{w} b{b} rel x{rad}{tail}"] = Setting(Shape(w, b, radius=rad, centred=cen))
            for rad in (0.1, 0.2):
                out[f"w{w} b{b} abs {rad}{tail}"] = Setting(
                    Shape(w, b, relative=False, radius=rad, centred=cen)
                )
    for b in (1, 4):
        for rad in (0.3, 0.45, 0.7):
            out[f"w8 b{b} abs {rad}"] = Setting(Shape(block=b, relative=False, radius=rad))
        for rad in (12.0, 20.0):
            out[f"w8 b{b} rel x{rad}"] = Setting(Shape(block=b, radius=rad))
        for g in (1.5, 2.0, 3.0):
            for rad in (0.1, 0.2):
                out[f"w8 b{b} abs {rad} gated {g}"] = Setting(
                    Shape(block=b, relative=False, radius=rad), g
                )
            for rad in (3.0, 5.0):
                out[f"w8 b{b} rel x{rad} gated {g}"] = Setting(Shape(block=b, radius=rad), g)
        for g in (1.5, 2.0, 3.0):
            for rad in (3.0, 5.0):
                out[f"w8 b{b} rel x{rad} centred gated {g}"] = Setting(
                    Shape(block=b, radius=rad, centred=True), g
                )
        for rad in (0.2, 0.3, 0.45):
            out[f"w8 b{b} abs {rad} frozen"] = Setting(
                Shape(block=b, relative=False, radius=rad, frozen=True)
            )
        for rad in (5.0, 8.0):
            out[f"w8 b{b} rel x{rad} frozen"] = Setting(Shape(block=b, radius=rad, frozen=True))
    return out


# Families whose members (and "off") are one more axis chosen per fold: the honest figure for
# a family, as no member is picked by its held-out score.
FAMILIES: dict[str, tuple[str, ...]] = {
    "w8 b4 abs radius as an axis (0.1, 0.2, 0.3, off)": (
        "w8 b4 abs 0.1",
        "w8 b4 abs 0.2",
        "w8 b4 abs 0.3",
    ),
    "w8 b1 abs 0.2 gate as an axis (1.5, 2, 3, off)": (
        "w8 b1 abs 0.2 gated 1.5",
        "w8 b1 abs 0.2 gated 2.0",
        "w8 b1 abs 0.2 gated 3.0",
    ),
    "w8 b1 rel radius as an axis (x3, x5, x8, x12, x20, off)": (
        "w8 b1 rel x3.0",
        "w8 b1 rel x5.0",
        "w8 b1 rel x8.0",
        "w8 b1 rel x12.0",
        "w8 b1 rel x20.0",
    ),
    "every setting of the first round (w, b, centred, rel 3-8, abs 0.1-0.2) and off": tuple(
        f"w{w} b{b} {r}{c}"
        for w, b in ((8, 1), (8, 4), (16, 1))
        for c in ("", " centred")
        for r in ("rel x3.0", "rel x5.0", "rel x8.0", "abs 0.1", "abs 0.2")
    ),
}


# Shapes whose distance is also put through HTM's likelihood (`through_likelihood`), at these
# deviations per alarm unit, fixed and (the second list) chosen per fold with "off".
THROUGH_LIKELIHOOD: tuple[str, ...] = (
    "w8 b1 rel x3.0 centred",
    "w8 b1 rel x5.0 centred",
    "w8 b4 rel x3.0 centred",
    "w16 b1 rel x3.0 centred",
    "w8 b1 abs 0.1 centred",
    "w8 b1 rel x3.0",
    "w8 b4 rel x3.0",
)
LIKELIHOOD_SCALES = (2.0, 3.0, 4.0, 6.0)
LIKELIHOOD_PER_FOLD = ("w8 b1 rel x3.0 centred", "w8 b1 rel x5.0 centred")

# Settings also scored alone (the bank's evidences off): what the shape finds by itself.
ALONE: tuple[str, ...] = (
    "w8 b1 rel x3.0 centred",
    "w8 b1 rel x5.0",
    "w8 b1 abs 0.2",
    "w8 b4 abs 0.2",
    "w8 b4 abs 0.1 centred",
    "w8 b1 abs 0.2 frozen",
)


def main() -> None:
    only = take_only()
    corpus = corpus_from_argv(__doc__.splitlines()[0])
    novelty = bank_units(corpus, likelihood_scale=_OFF)
    likelihood = bank_units(corpus, novelty_scale=_OFF)
    names = [p.name for p in nab.PROFILES]
    print(f"{'setting':<40}" + "".join(f"{n[:14]:>16}" for n in names) + "   (in / held-out)")
    t0 = time.perf_counter()
    folds, labels = run(corpus, novelty, likelihood, [None])
    report("detector as it is", folds, labels, t0)
    table = settings()
    units: dict[Shape, list[FloatArray]] = {}

    def extra(label: str) -> Extra:
        s = table[label]
        if s.shape not in units:
            units[s.shape] = shape_units(corpus, s.shape)
        return units[s.shape], s.gate

    for label in table:
        if only is not None and only not in label:
            continue
        t0 = time.perf_counter()
        folds, labels = run(corpus, novelty, likelihood, [extra(label)])
        report(label, folds, labels, t0)
    silent = [np.zeros(len(s.values)) for s in corpus]
    for label in ALONE:
        if only is not None and only not in f"{label} alone":
            continue
        t0 = time.perf_counter()
        folds, labels = run(corpus, silent, silent, [extra(label)])
        report(f"{label} alone", folds, labels, t0)

    def through(label: str) -> list[FloatArray]:
        raw = shape_units(corpus, table[label].shape, masked=False)
        return [through_likelihood(u, s.probation) for u, s in zip(raw, corpus, strict=True)]

    for label in THROUGH_LIKELIHOOD:
        if only is not None and only not in f"{label} through the likelihood":
            continue
        deviations = through(label)
        for scale in LIKELIHOOD_SCALES:
            t0 = time.perf_counter()
            scaled: Extra = ([d / scale for d in deviations], 0.0)
            folds, labels = run(corpus, novelty, likelihood, [scaled])
            report(f"{label} through the likelihood, {scale:g} dev.", folds, labels, t0)
    for label in LIKELIHOOD_PER_FOLD:
        name = f"{label} through the likelihood, 2/3/4/6 dev. or off per fold"
        if only is not None and only not in name:
            continue
        t0 = time.perf_counter()
        deviations = through(label)
        options: list[Extra] = [None]
        options += [([d / scale for d in deviations], 0.0) for scale in LIKELIHOOD_SCALES]
        folds, labels = run(corpus, novelty, likelihood, options)
        report(name, folds, labels, t0)
    for label, members in FAMILIES.items():
        if only is not None and only not in label:
            continue
        t0 = time.perf_counter()
        folds, labels = run(corpus, novelty, likelihood, [None, *(extra(m) for m in members)])
        report(label, folds, labels, t0)


if __name__ == "__main__":
    main()
