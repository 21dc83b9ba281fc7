"""The univariate detector on synthetic streams: quiet on clean data, loud on faults, batch order."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from central.univariate import (
    SPATIAL_TOLERANCE,
    UnivariateBank,
    UnivariateParams,
    artime_mask,
    score_series,
    score_streams,
)

_MIN = 60 * 1_000_000_000


def _daily(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = np.arange(n, dtype=np.int64) * 5 * _MIN
    values = 50 + 20 * np.sin(2 * np.pi * ts / (86_400 * 1e9)) + rng.normal(0, 1, n)
    return values, ts


def test_scores_are_in_unit_interval_and_zero_while_warming() -> None:
    values, ts = _daily(800)
    scores = score_series(values, ts)
    assert np.all((scores >= 0) & (scores <= 1))
    assert np.all(scores[: UnivariateParams().warmup] == 0)


@pytest.mark.parametrize("fault", ["spike", "level_shift", "drift"])
def test_fault_scores_above_clean_data(fault: str) -> None:
    values, ts = _daily(2000)
    clean = score_series(values, ts)
    faulty = values.copy()
    if fault == "spike":
        faulty[1500] += 25
    elif fault == "level_shift":
        faulty[1500:] += 12
    else:
        faulty[1500:] += np.linspace(0, 30, 500)
    scores = score_series(faulty, ts)
    assert scores[1500:].max() >= UnivariateParams().alarm
    assert scores[1500:].max() > clean[600:1500].max()


def test_batch_of_many_sensors_equals_one_by_one() -> None:
    streams = [_daily(400, seed) for seed in range(5)]
    together = score_streams(streams)
    for (values, ts), got in zip(streams, together, strict=True):
        np.testing.assert_allclose(got, score_series(values, ts))


def test_repeated_slot_in_one_batch_keeps_order() -> None:
    values, ts = _daily(300)
    bank = UnivariateBank(2)
    interleaved = bank.update(np.repeat([0, 1], 300), np.tile(values, 2), np.tile(ts, 2))
    np.testing.assert_allclose(interleaved[:300], score_series(values, ts))
    np.testing.assert_allclose(interleaved[300:], score_series(values, ts))


def test_non_finite_values_are_skipped_and_reset_forgets() -> None:
    bank = UnivariateBank(1)
    assert bank.update([0], [np.nan], [0])[0] == 0.0
    assert bank.count[0] == 0
    bank.update([0, 0], [1.0, 2.0], [0, 1])
    bank.reset([0])
    assert bank.count[0] == 0 and np.isnan(bank.tod[0]).all()


def test_invalid_params_are_refused() -> None:
    with pytest.raises(ValueError, match="level_alpha"):
        UnivariateParams(level_alpha=0.0)
    with pytest.raises(ValueError, match=r"forgotten_weight=1\.5"):
        UnivariateParams(forgotten_weight=1.5)
    with pytest.raises(ValueError, match=r"local_horizon=-1\.0"):
        UnivariateParams(local_horizon=-1.0)


def test_per_stream_warmup_and_novelty() -> None:
    values, ts = _daily(600)
    values[400] = 200.0  # far beyond anything seen: novelty alone makes it an alarm
    [short, long] = score_streams([(values, ts), (values, ts)], warmups=[100, 450])
    assert np.all(short[:100] == 0) and np.all(long[:450] == 0)
    assert short[400] > 0.9 and long[400] == 0


def test_refractory_holds_down_after_an_alarm() -> None:
    values, ts = _daily(600)
    values[400] = values[410] = 200.0
    # The context novelties off: the hold is what is tested, and at warm-up 60 the local
    # context (forgetting within 12 values) alarms now and then on the noisy daily wave.
    scores = score_series(values, ts, UnivariateParams(refractory=30, context_lags=0))
    assert scores[400] >= UnivariateParams().alarm and scores[401:431].max() == 0.0


def test_refractory_by_default_is_artimes_mask_from_each_streams_warmup() -> None:
    # 12 steps of ARTime's downsampled stream: NAB's probationary periods of 604 values (4,032
    # rows) and 243 (1,624 rows) give 72 and 24; a warm-up under 104 values one step, 12.
    assert [artime_mask(w) for w in (604, 243, 60, 2)] == [72, 24, 12, 12]
    values, ts = _daily(1500)
    values[700] = 200.0
    [short, long] = score_streams([(values, ts), (values, ts)], warmups=[243, 604])
    alarm = UnivariateParams().alarm
    assert short[700] >= alarm and long[700] >= alarm
    assert short[701:725].max() == 0.0 < short[725:740].max()  # 24 values held, then scored
    assert long[701:773].max() == 0.0 < long[773:800].max()  # 72


def test_novelty_alone_alarms_at_htms_spatial_tolerance() -> None:
    # novelty alone
    params = UnivariateParams(likelihood_scale=1e12, range_decay=0.0, context_lags=0)
    ts = np.arange(200, dtype=np.int64) * 5 * _MIN
    for excess, alarmed in ((0.9 * SPATIAL_TOLERANCE, False), (1.1 * SPATIAL_TOLERANCE, True)):
        values = np.tile([0.0, 10.0], 100)
        values[150] = 10.0 + excess * 10.0
        assert bool(score_series(values, ts, params)[150] >= params.alarm) == alarmed


_NOVELTY_ONLY = UnivariateParams(likelihood_scale=1e12, context_lags=0)


def test_a_height_shown_before_is_not_news_once_the_forgotten_range_has_decayed() -> None:
    # An early peak at 11.5 over a square wave between 0 and 10, the same height 5,000 values
    # later: beyond the forgotten range (~10 by then, 0.15 of its width beyond), inside the whole
    # history's. At full weight (the detector before) that was an alarm.
    values = np.tile([0.0, 10.0], 2600)
    values[100] = values[5100] = 11.5
    ts = np.arange(values.size, dtype=np.int64) * 5 * _MIN
    alarm = _NOVELTY_ONLY.alarm
    assert score_series(values, ts, _NOVELTY_ONLY)[5100] < alarm
    assert score_series(values, ts, replace(_NOVELTY_ONLY, forgotten_weight=1.0))[5100] >= alarm


def test_the_forgotten_range_keeps_an_old_glitch_from_blinding_the_stream() -> None:
    # A glitch of 1,000 widens the whole history's range for good; the forgotten range is back
    # near 0-10 after 1,000 values at 1e-2, so 30 is news again, at a quarter of the weight.
    params = replace(_NOVELTY_ONLY, range_decay=1e-2)
    values = np.tile([0.0, 10.0], 700)
    values[100], values[1300] = 1000.0, 30.0
    ts = np.arange(values.size, dtype=np.int64) * 5 * _MIN
    assert score_series(values, ts, params)[1300] >= params.alarm
    assert score_series(values, ts, replace(params, forgotten_weight=0.0))[1300] < params.alarm


def test_likelihood_is_quiet_on_stationary_noise() -> None:
    # HTM's form: the recent mean surprise against the spread of single surprises. Against the
    # spread of recent means (the earlier form) this stream raised 9 alarms.
    params = UnivariateParams(novelty_scale=1e12)  # the likelihood alone
    values = np.random.default_rng(0).normal(10.0, 1.0, 20_000)
    ts = np.arange(values.size, dtype=np.int64) * 5 * _MIN
    scores = score_series(values, ts, params)
    assert (scores[1000:] >= params.alarm).sum() <= 4


_CONTEXT_ONLY = UnivariateParams(novelty_scale=1e12, likelihood_scale=1e12)


def test_context_alarms_on_a_context_never_seen_inside_the_range() -> None:
    # A square wave between 0 and 10, then 5: inside the seen range (no novelty), but in a bin
    # the stream has never visited, so every context token is new.
    values = np.tile([0.0, 10.0], 300)
    values[501] = 5.0
    ts = np.arange(values.size, dtype=np.int64) * 5 * _MIN
    scores = score_series(values, ts, _CONTEXT_ONLY)
    assert scores[501] >= _CONTEXT_ONLY.alarm
    assert scores[100:501].max() < 1e-6


def test_context_is_quiet_once_a_pattern_has_been_seen() -> None:
    # Away from 0: a stream that starts at 0 learns its level slowly (the spread's floor is
    # relative to the level), and the local range, which forgets towards that level, moves
    # with it until the level has caught up (two alarms by reading 701 for this wave at 0).
    values = 100.0 + np.tile([0.0, 3.0, 7.0, 10.0, 7.0, 3.0], 200)
    ts = np.arange(values.size, dtype=np.int64) * 5 * _MIN
    scores = score_series(values, ts, _CONTEXT_ONLY)
    assert scores[100:].max() < 1e-6


def test_local_context_sees_a_new_pattern_inside_a_narrow_recent_band() -> None:
    # A square wave between 100 and 110, then between 104.2 and 104.8, then one repeat of
    # 104.8: in the bins of the slowly forgotten range every value of the band is one bin, so
    # the repeat is nothing new; in those of the local range (forgetting within one ARTime mask,
    # 12 values at warm-up 60) the band spans the bins and the repeat's tokens were never shown.
    values = 100.0 + np.r_[np.tile([0.0, 10.0], 200), np.tile([4.2, 4.8], 200)]
    values[702] = 104.8
    ts = np.arange(values.size, dtype=np.int64) * 5 * _MIN
    slow_only = replace(_CONTEXT_ONLY, local_horizon=0.0)
    assert score_series(values, ts, _CONTEXT_ONLY)[702] >= _CONTEXT_ONLY.alarm
    assert score_series(values, ts, slow_only)[450:].max() < 1e-6


def test_local_range_forgets_within_the_streams_own_artime_mask() -> None:
    bank = UnivariateBank(3, UnivariateParams(local_horizon=2.0))
    bank.set_warmup([1, 2], [604, 243])
    # warm-up 60, 604, 243: masks of 12, 72 and 24 values, two of them
    np.testing.assert_allclose(bank.near_rate[:3], [1 / 24, 1 / 144, 1 / 48])
    off = UnivariateBank(2, UnivariateParams(local_horizon=0.0))
    assert off.near_seen.shape == (2, 1) and not off.near_rate.any()


def test_context_memory_is_bounded_and_can_be_switched_off() -> None:
    bank = UnivariateBank(3)
    assert bank.seen.shape == (3, 7 * 8**2 + 8**3)  # 960 bytes per stream
    values = np.tile([0.0, 10.0], 300)
    values[501] = 5.0
    ts = np.arange(values.size, dtype=np.int64) * 5 * _MIN
    off = replace(_CONTEXT_ONLY, context_lags=0)
    assert score_series(values, ts, off).max() < 1e-6
    with pytest.raises(ValueError, match="context_lags=1"):
        UnivariateParams(context_lags=1)
