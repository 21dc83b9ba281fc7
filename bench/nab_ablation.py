"""Ablation of the univariate detector on NAB, measured on held-out categories.

Each row removes one part of the detector and reruns the whole leave-one-category-out selection
(`nab.cross_validate` over `nab.GRID`, minus the axes of the removed part), so the held-out
figure says what the part contributes on files that took no part in any choice.

    nice -n 10 .venv/bin/python bench/nab_ablation.py --data DIR --labels FILE
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from nab_corpus import corpus_from_argv

from central import nab
from central.univariate import UnivariateParams

_OFF = 1e12  # an alarm-unit scale no evidence reaches: the part never decides

# name -> (change to the defaults, grid axes that no longer apply, keep graded scores)
VARIANTS: dict[str, tuple[dict[str, Any], tuple[str, ...], bool]] = {
    "full detector": ({}, (), False),
    "graded scores (no alarm = 1.0)": ({}, (), True),
    "no novelty": ({"novelty_scale": _OFF}, ("novelty_scale",), False),
    "no anomaly likelihood": ({"likelihood_scale": _OFF}, ("likelihood_scale",), False),
    "no time-of-day profile (1 bucket)": ({"tod_buckets": 1}, (), False),
    "no refractory period": ({"refractory": 0}, ("refractory",), False),
    "no grid (defaults only)": ({}, tuple(nab.GRID), False),
}


def main() -> None:
    corpus = corpus_from_argv(__doc__.splitlines()[0])
    names = [p.name for p in nab.PROFILES]
    print(f"{'variant':<36}" + "".join(f"{n:>26}" for n in names) + "   (in-sample / held-out)")
    for label, (change, dropped, graded) in VARIANTS.items():
        started = time.perf_counter()
        base = replace(UnivariateParams(), **change)
        grid = nab.grid_params({k: v for k, v in nab.GRID.items() if k not in dropped}, base)
        by_point = [nab.univariate_scores(corpus, p, graded=graded) for p in grid]
        folds = nab.cross_validate(corpus, by_point)
        cells = "".join(
            f"{f'{cv.in_sample.normalised:.1f} / {cv.held_out_corpus:.1f}':>26}" for cv in folds
        )
        print(f"{label:<36}{cells}   {len(grid)} points, {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
