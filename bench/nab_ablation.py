"""Ablation of the univariate detector on NAB, measured on held-out categories.

Each row removes one part of the detector and reruns the whole leave-one-category-out selection
(`nab.search_cross_validate` over `nab.SEARCH`, minus the axes of the removed part), so the
held-out figure says what the part contributes on files that took no part in any choice.

    nice -n 10 .venv/bin/python bench/nab_ablation.py --data DIR --labels FILE [--only NAME]
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from nab_corpus import corpus_from_argv, take_only

from central import nab

_OFF = 1e12  # an alarm-unit scale no evidence reaches: the part never decides

# name -> (change to the search's start, axes that no longer apply, keep graded scores)
VARIANTS: dict[str, tuple[dict[str, Any], tuple[str, ...], bool]] = {
    "full detector": ({}, (), False),
    "graded scores (no alarm = 1.0)": ({}, (), True),
    "no novelty": ({"novelty_scale": _OFF}, ("novelty_scale", "range_decay"), False),
    "no anomaly likelihood": (
        {"likelihood_scale": _OFF},
        ("likelihood_scale", "short_window", "drift_alpha"),
        False,
    ),
    "no time-of-day profile (1 bucket)": ({"tod_buckets": 1}, ("tod_alpha",), False),
    "no refractory period": ({"refractory": 0}, ("refractory",), False),
    "no search (the start point only)": ({}, tuple(nab.SEARCH), False),
}


def main() -> None:
    only = take_only()
    corpus = corpus_from_argv(__doc__.splitlines()[0])
    names = [p.name for p in nab.PROFILES]
    print(f"{'variant':<36}" + "".join(f"{n:>26}" for n in names) + "   (in-sample / held-out)")
    for label, (change, dropped, graded) in VARIANTS.items():
        if only is not None and label != only:
            continue
        started = time.perf_counter()
        axes = {k: v for k, v in nab.SEARCH.items() if k not in dropped}
        cache = nab.ScoreCache(corpus, graded=graded)
        start = replace(nab.search_start(nab.SEARCH), **change)
        folds = nab.search_cross_validate(cache, axes, start)
        cells = "".join(
            f"{f'{cv.in_sample.normalised:.1f} / {cv.held_out_corpus:.1f}':>26}" for cv in folds
        )
        print(
            f"{label:<36}{cells}   {len(cache.points)} parameter sets, "
            f"{time.perf_counter() - started:.0f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
