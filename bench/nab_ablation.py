"""Ablation of the univariate detector on NAB, measured on held-out categories.

Each row removes or replaces one part of the detector and reruns the whole leave-one-category-out
selection (`nab.search_cross_validate` over `nab.SEARCH`, minus the axes of the removed part,
plus any the variant searches instead), so the held-out figure says what the part contributes on
files that took no part in any choice. The last column is the standard profile's gap between
the in-sample and held-out means of the categories.

    nice -n 10 .venv/bin/python bench/nab_ablation.py --data DIR --labels FILE [--only NAME]
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from nab_corpus import EARLIER_SEARCH, corpus_from_argv, take_only

from central import nab

_OFF = 1e12  # an alarm-unit scale no evidence reaches: the part never decides

# The axes the search had before the seventh pass fixed them (HTM's and ARTime's values).
_EARLIER_AXES = {k: v for k, v in EARLIER_SEARCH.items() if k not in nab.SEARCH}

# name -> (change to the search's start, axes that no longer apply, keep graded scores,
# axes searched besides nab.SEARCH's)
Variant = tuple[dict[str, Any], tuple[str, ...], bool, dict[str, tuple[float, ...]]]
VARIANTS: dict[str, Variant] = {
    "full detector": ({}, (), False, {}),
    "graded scores (no alarm = 1.0)": ({}, (), True, {}),
    "no novelty": (
        {"novelty_scale": _OFF},
        ("novelty_scale", "range_decay", "forgotten_weight"),
        False,
        {},
    ),
    "forgotten range at full weight (before)": (
        {"forgotten_weight": 1.0},
        ("forgotten_weight",),
        False,
        {},
    ),
    "whole history only (HTM's rule)": (
        {"forgotten_weight": 0.0},
        ("forgotten_weight",),
        False,
        {},
    ),
    "no anomaly likelihood": (
        {"likelihood_scale": _OFF},
        ("likelihood_scale", "short_window", "drift_alpha"),
        False,
        {},
    ),
    "no context novelty (neither range)": ({"context_lags": 0}, ("local_horizon",), False, {}),
    "no local context (slow range only)": ({"local_horizon": 0.0}, ("local_horizon",), False, {}),
    "no time-of-day profile (1 bucket)": ({"tod_buckets": 1}, ("tod_alpha",), False, {}),
    "no refractory period": ({"refractory": 0}, ("refractory",), False, {}),
    "refractory 30 (not ARTime's mask)": ({"refractory": 30}, (), False, {}),
    "novelty scale 0.058 (not HTM's tolerance)": ({"novelty_scale": 0.058}, (), False, {}),
    "both searched per fold (the sixth pass)": ({}, (), False, _EARLIER_AXES),
    "no search (the start point only)": ({}, tuple(nab.SEARCH), False, {}),
}


def main() -> None:
    only = take_only()
    corpus = corpus_from_argv(__doc__.splitlines()[0])
    names = [p.name for p in nab.PROFILES]
    print(f"{'variant':<42}" + "".join(f"{n:>26}" for n in names) + "   (in-sample / held-out)")
    for label, (change, dropped, graded, added) in VARIANTS.items():
        if only is not None and label != only:
            continue
        started = time.perf_counter()
        axes = {k: v for k, v in nab.SEARCH.items() if k not in dropped} | added
        cache = nab.ScoreCache(corpus, graded=graded)
        start = replace(nab.search_start(axes), **change)
        folds = nab.search_cross_validate(cache, axes, start)
        cells = "".join(
            f"{f'{cv.in_sample.normalised:.1f} / {cv.held_out_corpus:.1f}':>26}" for cv in folds
        )
        gap = folds[0].in_sample_mean - folds[0].held_out_mean
        print(
            f"{label:<42}{cells}   gap {gap:.1f}, {len(cache.points)} parameter sets, "
            f"{time.perf_counter() - started:.0f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
