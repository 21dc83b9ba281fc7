"""`citygate central ...`: commands of the central consumers (registered in deploy/cli.py)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from central import nab
from central.errors import CentralError


@click.group(name="central")
def central() -> None:
    """Central consumers: anomaly detection, rules and alerts."""


@central.group()
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
def evaluate_nab(data_dir: Path, labels_file: Path) -> None:
    """Score the univariate detector on a NAB-style corpus (standard, low FP, low FN)."""
    try:
        corpus = nab.load_corpus(data_dir, labels_file)
    except CentralError as exc:
        raise click.ClickException(str(exc)) from exc
    windows = sum(len(s.windows) for s in corpus)
    rows = sum(len(s.values) for s in corpus)
    click.echo(f"corpus: {len(corpus)} files, {rows} rows, {windows} windows")
    started = time.perf_counter()
    scores = nab.univariate_scores(corpus)
    elapsed = time.perf_counter() - started
    detectors = {
        "citygate-univariate": scores,
        "null": [nab.null_scores(s) for s in corpus],
        "perfect": [nab.perfect_scores(s) for s in corpus],
    }
    names = [p.name for p in nab.PROFILES]
    click.echo(f"{'detector':<22}" + "".join(f"{n:>20}" for n in names))
    detail = []
    for label, sc in detectors.items():
        results = nab.score_corpus(corpus, sc)
        click.echo(f"{label:<22}" + "".join(f"{r.normalised:>20.1f}" for r in results))
        if label == "citygate-univariate":
            detail = [
                f"  {r.profile.name}: threshold {r.threshold:.6f}, raw {r.raw:.2f}, "
                f"TP {r.true_positives}, FP {r.false_positives}, FN {r.false_negatives}"
                for r in results
            ]
    click.echo("citygate-univariate at each profile's corpus-optimal threshold:")
    click.echo("\n".join(detail))
    click.echo(
        f"detection time: {elapsed:.2f}s ({rows / elapsed:,.0f} rows/s, lock-step over files)"
    )
