"""The NAB scorer on a tiny synthetic corpus: null 0, perfect 100, sigmoid, threshold sweep."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from central import nab
from central.errors import CorpusError
from central.univariate import UnivariateParams


def _write_corpus(root: Path) -> tuple[Path, Path]:
    data = root / "data" / "cat"
    data.mkdir(parents=True)
    start = np.datetime64("2020-01-01T00:00:00")
    windows: dict[str, list[list[str]]] = {}
    rng = np.random.default_rng(1)
    for name, spans in {
        "a.csv": [(120, 139)],
        "b.csv": [(100, 119), (160, 179)],
        "c.csv": [],
    }.items():
        stamps = start + np.arange(200) * np.timedelta64(5, "m")
        values = rng.normal(10, 1, 200)
        lines = ["timestamp,value"] + [
            f"{str(t).replace('T', ' ')},{v:.3f}" for t, v in zip(stamps, values, strict=True)
        ]
        (data / name).write_text("\n".join(lines) + "\n")
        windows[f"cat/{name}"] = [
            [
                str(stamps[a]).replace("T", " ") + ".000000",
                str(stamps[b]).replace("T", " ") + ".000000",
            ]
            for a, b in spans
        ]
    labels = root / "windows.json"
    labels.write_text(json.dumps(windows))
    return root / "data", labels


@pytest.fixture
def corpus(tmp_path: Path) -> list[nab.Series]:
    return nab.load_corpus(*_write_corpus(tmp_path))


def test_windows_become_row_ranges(corpus: list[nab.Series]) -> None:
    assert [s.windows for s in corpus] == [((120, 139),), ((100, 119), (160, 179)), ()]
    assert corpus[0].probation == 30


@pytest.mark.parametrize("profile", nab.PROFILES, ids=lambda p: p.name)
def test_null_scores_zero_and_perfect_hundred(
    corpus: list[nab.Series], profile: nab.Profile
) -> None:
    null = nab.optimise_threshold(corpus, [nab.null_scores(s) for s in corpus], profile)
    perfect = nab.optimise_threshold(corpus, [nab.perfect_scores(s) for s in corpus], profile)
    assert null.normalised == pytest.approx(0.0)
    assert perfect.normalised == pytest.approx(100.0)
    assert (perfect.true_positives, perfect.false_positives, perfect.false_negatives) == (3, 0, 0)


def test_scaled_sigmoid() -> None:
    assert float(nab.scaled_sigmoid(0.0)) == pytest.approx(0.0)
    assert float(nab.scaled_sigmoid(-1.0)) == pytest.approx(0.9866, abs=1e-4)
    assert float(nab.scaled_sigmoid(50.0)) == pytest.approx(-1.0)
    ys = np.linspace(-3, 3, 50)
    assert np.all(np.diff(nab.scaled_sigmoid(ys)) < 0)


def test_earlier_detection_in_window_scores_more(corpus: list[nab.Series]) -> None:
    series = corpus[0]
    worth = []
    for row in (120, 130, 139):
        det = np.zeros(200, dtype=bool)
        det[row] = True
        worth.append(nab.score_file(series, det, nab.STANDARD).raw)
    assert worth[0] == pytest.approx(1.0)
    assert worth[0] > worth[1] > worth[2] > 0


def test_only_first_detection_counts_and_false_positives_cost(corpus: list[nab.Series]) -> None:
    series = corpus[0]
    det = np.zeros(200, dtype=bool)
    det[[125, 126, 130]] = True
    one = nab.score_file(series, det, nab.STANDARD)
    assert (one.true_positives, one.false_positives) == (1, 0)
    det[50] = True  # before any window: full false-positive cost
    two = nab.score_file(series, det, nab.STANDARD)
    assert two.raw == pytest.approx(one.raw - 0.11)
    det[10] = True  # inside the probationary period: ignored
    assert nab.score_file(series, det, nab.STANDARD).raw == pytest.approx(two.raw)


def test_false_positive_just_after_window_costs_little(corpus: list[nab.Series]) -> None:
    series = corpus[0]
    near, far = np.zeros(200, dtype=bool), np.zeros(200, dtype=bool)
    near[141], far[199] = True, True
    cost_near = nab.score_file(series, near, nab.STANDARD).raw + 1.0
    cost_far = nab.score_file(series, far, nab.STANDARD).raw + 1.0
    assert -0.11 < cost_far < cost_near < 0


def test_sweep_agrees_with_direct_scoring(corpus: list[nab.Series]) -> None:
    rng = np.random.default_rng(3)
    scores = [rng.random(200) for _ in corpus]
    for profile in nab.PROFILES:
        best = nab.optimise_threshold(corpus, scores, profile)
        direct = sum(
            nab.score_file(s, sc >= best.threshold, profile).raw
            for s, sc in zip(corpus, scores, strict=True)
        )
        assert best.raw == pytest.approx(direct)
        for t in np.linspace(0.5, 1.0, 11):
            other = sum(
                nab.score_file(s, sc >= t, profile).raw
                for s, sc in zip(corpus, scores, strict=True)
            )
            assert other <= best.raw + 1e-9


def test_univariate_finds_a_spike_in_the_corpus(corpus: list[nab.Series]) -> None:
    spiked = nab.Series(
        corpus[0].name, corpus[0].timestamps, corpus[0].values.copy(), corpus[0].windows
    )
    spiked.values[128] += 30.0
    # The local context off: over this file's 30 probationary rows its range forgets within 12
    # values and it alarms on the noise's ripples (4 false positives; on NAB-sized files of the
    # same noise it adds none, docs/detection.md).
    params = UnivariateParams(local_horizon=0.0)
    scores = nab.univariate_scores([spiked], params)
    result = nab.optimise_threshold([spiked], scores, nab.STANDARD)
    assert result.true_positives == 1 and result.normalised > 80


def test_bad_corpus_names_the_file(tmp_path: Path) -> None:
    labels = tmp_path / "w.json"
    labels.write_text(json.dumps({"x/missing.csv": []}))
    with pytest.raises(CorpusError, match=r"missing\.csv"):
        nab.load_corpus(tmp_path, labels)


def _two_category_corpus(root: Path) -> tuple[Path, Path]:
    """Three categories of spiked noise (one without windows) in NAB's layout."""
    start = np.datetime64("2020-01-01T00:00:00")
    stamps = start + np.arange(300) * np.timedelta64(5, "m")
    text = [str(t).replace("T", " ") for t in stamps]
    rng = np.random.default_rng(7)
    windows: dict[str, list[list[str]]] = {}
    for cat, files in {"alpha": 2, "beta": 2, "gamma": 1}.items():
        (root / "data" / cat).mkdir(parents=True)
        for k in range(files):
            values = rng.normal(10, 1, 300)
            spans = [] if cat == "gamma" else [(200 + 10 * k, 219 + 10 * k)]
            for a, _ in spans:
                values[a + 5] += 40.0
            lines = ["timestamp,value"] + [
                f"{t},{v:.3f}" for t, v in zip(text, values, strict=True)
            ]
            (root / "data" / cat / f"f{k}.csv").write_text("\n".join(lines) + "\n")
            windows[f"{cat}/f{k}.csv"] = [[text[a], text[b]] for a, b in spans]
    labels = root / "windows.json"
    labels.write_text(json.dumps(windows))
    return root / "data", labels


def test_cross_validation_scores_each_category_with_choices_made_without_it(
    tmp_path: Path,
) -> None:
    corpus = nab.load_corpus(*_two_category_corpus(tmp_path))
    # The protocol under test, on range novelty and likelihood: the context novelty needs more
    # than these files' 45 probationary rows to learn i.i.d. noise's contexts (14 false
    # positives in the five files with it on).
    base = UnivariateParams(context_lags=0)
    grid = nab.grid_params({"refractory": (10, 30)}, base)
    by_point = [nab.univariate_scores(corpus, p) for p in grid]
    [cv] = nab.cross_validate(corpus, by_point, [nab.STANDARD])
    assert [h.category for h in cv.held_out] == ["alpha", "beta", "gamma"]
    assert [(h.files, h.windows) for h in cv.held_out] == [(2, 2), (2, 2), (1, 0)]
    assert cv.held_out[2].normalised is None  # no windows: excluded from the mean
    for held in cv.held_out:
        # The held-out threshold is the optimum of the other categories alone.
        others = [i for i, s in enumerate(corpus) if nab.category_of(s) != held.category]
        trained = nab.optimise_threshold(
            [corpus[i] for i in others], [by_point[held.choice][i] for i in others], nab.STANDARD
        )
        assert held.threshold == trained.threshold
    # Clear spikes: found in sample; out of sample a threshold from other files finds most.
    assert cv.in_sample.normalised > 80 and cv.held_out_mean > 50
    total = sum(h.score.raw for h in cv.held_out)
    assert cv.held_out_corpus == pytest.approx(100 * (total + 4) / 8)


def test_cli_cv_and_results_dir(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from central.cli import central

    data, labels = _two_category_corpus(tmp_path)
    out = tmp_path / "results"
    argv = ["evaluate", "nab", "--data", str(data), "--labels", str(labels)]
    result = CliRunner().invoke(central, [*argv, "--cv", "--results-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert "leave-one-category-out" in result.output and "held-out corpus" in result.output
    # Every profile reports each category's held-out score and the mean beside the in-sample.
    for profile in nab.PROFILES:
        assert f"{profile.name}: in-sample" in result.output
    assert result.output.count("mean (with windows)") == len(nab.PROFILES)
    for category in ("alpha", "beta", "gamma"):
        assert result.output.count(f"  {category} ") == len(nab.PROFILES)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.csv"))
    det = "citygate-univariate"
    assert files == [
        f"{det}/alpha/{det}_f0.csv",
        f"{det}/alpha/{det}_f1.csv",
        f"{det}/beta/{det}_f0.csv",
        f"{det}/beta/{det}_f1.csv",
        f"{det}/gamma/{det}_f0.csv",
    ]
    lines = (out / det / "alpha" / f"{det}_f0.csv").read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score,label"
    assert lines[1].startswith("2020-01-01 00:00:00,")
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == 300
    assert [i for i, r in enumerate(rows) if r[3] == "1"] == list(range(200, 220))
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows)


def test_alarms_are_reported_as_one_and_graded_scores_on_request(tmp_path: Path) -> None:
    corpus = nab.load_corpus(*_two_category_corpus(tmp_path))
    params = UnivariateParams()
    graded = nab.univariate_scores(corpus, params, graded=True)
    binary = nab.univariate_scores(corpus, params)
    for g, b in zip(graded, binary, strict=True):
        np.testing.assert_array_equal(b, (g >= params.alarm).astype(float))
    assert any(b.max() == 1.0 for b in binary)


def test_grid_params_is_every_combination_over_the_defaults() -> None:
    grid = nab.grid_params({"alarm": (0.5, 0.6), "refractory": (10, 20, 30)})
    assert len(grid) == 6
    assert {(p.alarm, p.refractory) for p in grid} == {
        (a, r) for a in (0.5, 0.6) for r in (10, 20, 30)
    }
    assert all(p.likelihood_scale == UnivariateParams().likelihood_scale for p in grid)


def test_one_grid_point_per_fold_serves_every_profile(tmp_path: Path) -> None:
    corpus = nab.load_corpus(*_two_category_corpus(tmp_path))
    grid = nab.grid_params({"alarm": (0.5, 0.7), "refractory": (10, 30)})
    by_point = [nab.univariate_scores(corpus, p) for p in grid]
    shared = nab.cross_validate(corpus, by_point)
    assert len({cv.choice for cv in shared}) == 1
    for k in range(len(shared[0].held_out)):
        assert len({cv.held_out[k].choice for cv in shared}) == 1
    standard = nab.cross_validate(corpus, by_point, [nab.STANDARD], select_by=None)[0]
    assert standard.held_out_corpus == shared[0].held_out_corpus


def test_coordinate_search_improves_on_its_start_and_caches_every_point(tmp_path: Path) -> None:
    corpus = nab.load_corpus(*_two_category_corpus(tmp_path))
    cache = nab.ScoreCache(corpus)
    axes = {"alarm": (0.5, 0.9, 0.99), "refractory": (0, 10, 30)}
    start = nab.search_start(axes)
    assert (start.alarm, start.refractory) == (0.9, 10)
    everything = list(range(len(corpus)))
    k, best = nab.coordinate_search(cache, everything, nab.STANDARD, axes, start)
    at_start = nab.optimise_threshold(corpus, nab.univariate_scores(corpus, start), nab.STANDARD)
    assert best.raw >= at_start.raw
    # The chosen point's cached scores are the detector's own for those parameters.
    direct = nab.univariate_scores(corpus, cache.points[k])
    for a, b in zip(cache.scores(k), direct, strict=True):
        np.testing.assert_array_equal(a, b)
    # No axis value alone beats the choice (a coordinate-wise optimum on these files).
    for axis, values in axes.items():
        for value in values:
            other = replace(cache.points[k], **{axis: value})
            result = nab.optimise_threshold(
                corpus, nab.univariate_scores(corpus, other), nab.STANDARD
            )
            assert result.raw <= best.raw + 1e-12
    # Each sweep tries two new values per axis at most; repeated points are scored once.
    assert len(cache.points) == len(set(cache.points)) <= 1 + nab.SEARCH_SWEEPS * len(axes) * 2


def test_search_cross_validation_chooses_each_fold_without_its_category(tmp_path: Path) -> None:
    corpus = nab.load_corpus(*_two_category_corpus(tmp_path))
    cache = nab.ScoreCache(corpus)
    axes = {"alarm": (0.5, 0.9, 0.99), "refractory": (0, 10, 30)}
    # The local context off, as in the test above (45 probationary rows).
    start = replace(nab.search_start(axes), local_horizon=0.0)
    folds = nab.search_cross_validate(cache, axes, start)
    assert [cv.profile for cv in folds] == list(nab.PROFILES)
    for held in folds[0].held_out:
        train = [i for i, s in enumerate(corpus) if nab.category_of(s) != held.category]
        k, trained = nab.coordinate_search(cache, train, nab.STANDARD, axes, start)
        assert (held.choice, held.threshold) == (k, trained.threshold)
    # One parameter set per fold serves every profile (chosen by the standard one).
    for k in range(len(folds[0].held_out)):
        assert len({cv.held_out[k].choice for cv in folds}) == 1
    assert folds[0].in_sample.normalised > 80 and folds[0].held_out_mean > 50


def test_search_starts_at_the_defaults_and_leaves_the_rest_fixed() -> None:
    # The search's start is the detector as shipped, so `--cv` and the plain command score the
    # same parameters in-sample; every parameter off the axes stays at its default in every fold.
    assert nab.search_start() == UnivariateParams()
    for axis, values in nab.SEARCH.items():
        assert hasattr(UnivariateParams(), axis)
        assert list(values) == sorted(set(values)), axis
