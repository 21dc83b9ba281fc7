"""How much the held-out NAB figures depend on where the grid's points sit.

Reruns the leave-one-category-out selection (`nab.cross_validate`) with `nab.GRID` and with
its likelihood and alarm axes moved or narrowed around the detector's defaults. A detector whose
held-out score holds only at one grid is tuned to the 64 windows, not better at detection.

    nice -n 10 .venv/bin/python bench/nab_grid_shift.py --data DIR --labels FILE
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nab_corpus import corpus_from_argv

from central import nab
from central.univariate import UnivariateParams

# Likelihood-axis factors of the default likelihood_scale, and alarm-axis offsets from nab.GRID.
SHIFTS: dict[str, tuple[tuple[float, ...], float]] = {
    "likelihood x (0.9, 1, 1.1)": ((0.9, 1.0, 1.1), 0.0),
    "likelihood x (0.96, 1.12, 1.28)": ((0.96, 1.12, 1.28), 0.0),
    "likelihood x (0.7, 0.9, 1.12)": ((0.7, 0.9, 1.12), 0.0),
    "alarm axis - 0.02": ((), -0.02),
    "alarm axis + 0.02": ((), 0.02),
}


def shifted_grid(factors: Sequence[float], offset: float) -> Mapping[str, Sequence[float]]:
    scale = UnivariateParams().likelihood_scale
    grid = dict(nab.GRID)
    if factors:
        grid["likelihood_scale"] = tuple(round(scale * f, 3) for f in factors)
    grid["alarm"] = tuple(round(a + offset, 3) for a in nab.GRID["alarm"])
    return grid


def main() -> None:
    corpus = corpus_from_argv(__doc__.splitlines()[0])
    names = [p.name for p in nab.PROFILES]
    print(f"{'grid':<34}" + "".join(f"{n:>22}" for n in names) + "   (in-sample / held-out)")
    rows = {"nab.GRID": dict(nab.GRID)} | {k: shifted_grid(*v) for k, v in SHIFTS.items()}
    for label, grid in rows.items():
        by_point = [nab.univariate_scores(corpus, p) for p in nab.grid_params(grid)]
        folds = nab.cross_validate(corpus, by_point)
        cells = "".join(
            f"{f'{cv.in_sample.normalised:.1f} / {cv.held_out_corpus:.1f}':>22}" for cv in folds
        )
        axes = ", ".join(f"{k} {list(v)}" for k, v in grid.items())
        print(f"{label:<34}{cells}   {axes}", flush=True)


if __name__ == "__main__":
    main()
