"""`citygate central ...`: commands of the central consumers (a `citygate.commands` entry point).

Evaluations that need more than central (the simulator's ground truth) live in the package on
top and join `citygate central evaluate` through the `citygate.central.evaluate` entry points.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from central import nab
from deploy.plugins import PluginGroup

DETECTOR = "citygate-univariate"  # the detector's name in NAB's results layout and the tables


@click.group(name="central")
def central() -> None:
    """Central consumers: anomaly detection, rules and alerts."""


@central.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Central YAML configuration.",
)
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(["tsdb", "detect", "liveness"]),
    help="Run only these consumer groups (repeatable); default: the config's `run` list.",
)
@click.option("--json-logs", is_flag=True, help="Log JSON lines instead of key=value.")
def run(config_path: Path, only: tuple[str, ...], json_logs: bool) -> None:
    """Run the central consumer groups (tsdb, detect, liveness) until SIGTERM."""
    from central import config as central_config
    from central.service import run_forever
    from deploy import logs

    cfg = central_config.load(config_path).only(only)  # type: ignore[arg-type]
    logs.configure(json=json_logs or cfg.logging.json_lines, level=cfg.logging.level)
    run_forever(cfg)


@central.group(cls=PluginGroup, entry_point_group="citygate.central.evaluate")
def evaluate() -> None:
    """Measure the detectors against labelled data."""


@evaluate.command("nab")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Corpus data directory (<category>/<name>.csv files).",
)
@click.option(
    "--labels",
    "labels_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Windows JSON: 'category/name.csv' -> [[start, end], ...].",
)
@click.option(
    "--cv",
    is_flag=True,
    help="Also choose the searched hyper-parameters (nab.SEARCH; the rest stay at their "
    "defaults) by leave-one-category-out cross-validation and print each category's held-out "
    "score beside the in-sample one.",
)
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write per-file scores in NAB's results layout "
    "(<detector>/<category>/<detector>_<file>.csv) under this directory.",
)
def evaluate_nab(data_dir: Path, labels_file: Path, cv: bool, results_dir: Path | None) -> None:
    """Score the univariate detector on a NAB-style corpus (standard, low FP, low FN)."""
    corpus = nab.load_corpus(data_dir, labels_file)
    windows = sum(len(s.windows) for s in corpus)
    rows = sum(len(s.values) for s in corpus)
    click.echo(f"corpus: {len(corpus)} files, {rows} rows, {windows} windows")
    started = time.perf_counter()
    scores = nab.univariate_scores(corpus)
    elapsed = time.perf_counter() - started
    detectors = {
        DETECTOR: scores,
        "null": [nab.null_scores(s) for s in corpus],
        "perfect": [nab.perfect_scores(s) for s in corpus],
    }
    names = [p.name for p in nab.PROFILES]
    click.echo(f"{'detector':<22}" + "".join(f"{n:>20}" for n in names))
    detail = []
    for label, sc in detectors.items():
        results = nab.score_corpus(corpus, sc)
        click.echo(f"{label:<22}" + "".join(f"{r.normalised:>20.1f}" for r in results))
        if label == DETECTOR:
            detail = [
                f"  {r.profile.name}: threshold {r.threshold:.6f}, raw {r.raw:.2f}, "
                f"TP {r.true_positives}, FP {r.false_positives}, FN {r.false_negatives}"
                for r in results
            ]
    click.echo(f"{DETECTOR} at each profile's corpus-optimal threshold:")
    click.echo("\n".join(detail))
    click.echo(
        f"detection time: {elapsed:.2f}s ({rows / elapsed:,.0f} rows/s, lock-step over files)"
    )
    if results_dir is not None:
        written = nab.write_results(results_dir, corpus, scores, DETECTOR)
        click.echo(f"wrote {len(written)} files under {results_dir / DETECTOR}")
    if cv:
        _cross_validate(corpus)


def _cross_validate(corpus: list[nab.Series]) -> None:
    cache = nab.ScoreCache(corpus)
    start = nab.search_start()
    started = time.perf_counter()
    folds = nab.search_cross_validate(cache, nab.SEARCH, start)
    elapsed = time.perf_counter() - started
    axes = list(nab.SEARCH)
    click.echo(
        f"\nleave-one-category-out cross-validation: the hyper-parameters of nab.SEARCH "
        f"({', '.join(f'{a} {list(nab.SEARCH[a])}' for a in axes)}) chosen by coordinate "
        f"search from the middle values, {len(cache.points)} parameter sets scored, "
        f"{elapsed:.1f}s; one parameter set per fold, chosen by the {nab.STANDARD.name} "
        "profile, and a threshold per profile (NAB: one parameter set per detector)"
    )

    def chosen(k: int) -> str:
        moved = [a for a in axes if getattr(cache.points[k], a) != getattr(start, a)]
        return ", ".join(f"{a}={getattr(cache.points[k], a):g}" for a in moved) or "start"

    def cell(value: float | None) -> str:
        return f"{value:>10.1f}" if value is not None else f"{'-':>10}"

    for cv in folds:
        click.echo(
            f"{cv.profile.name}: in-sample {cv.in_sample.normalised:.1f} ({chosen(cv.choice)}, "
            f"threshold {cv.in_sample.threshold:.6f}); held-out corpus {cv.held_out_corpus:.1f}"
        )
        click.echo(
            f"  {'category':<24}{'files':>6}{'windows':>8}{'in-sample':>10}{'held-out':>10}"
            f"{'FP':>5}  chosen on the other categories"
        )
        for ins, out in zip(cv.in_sample_folds, cv.held_out, strict=True):
            click.echo(
                f"  {out.category:<24}{out.files:>6}{out.windows:>8}{cell(ins.normalised)}"
                f"{cell(out.normalised)}{out.score.false_positives:>5}  {chosen(out.choice)}, "
                f"threshold {out.threshold:.6f}"
            )
        click.echo(
            f"  {'mean (with windows)':<38}{cell(cv.in_sample_mean)}{cell(cv.held_out_mean)}"
            f"  gap {cv.in_sample_mean - cv.held_out_mean:.1f}"
        )
