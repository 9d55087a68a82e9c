"""IQM and the stratified-bootstrap interval against cases computed by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from genpo.workbench.stats import iqm, mean_std, stratified_bootstrap


def test_iqm_drops_the_outer_quarters():
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert iqm([0, 1, 2, 100]) == pytest.approx(1.5)
    assert iqm([7.0]) == 7.0
    assert iqm([0, 10, 20]) == pytest.approx(10.0)  # floor(0.75) = 0 trimmed


def test_bootstrap_of_three_scores_by_hand():
    # Means of 3 draws from {0, 10, 20}: 0 and 20 each have probability 1/27 > 2.5%, so the
    # 95% percentile interval is exactly [0, 20] around the point estimate 10.
    ci = stratified_bootstrap(np.array([0.0, 10.0, 20.0]), reps=4000)
    assert (ci.point, ci.low, ci.high) == (pytest.approx(10.0), 0.0, 20.0)


def test_bootstrap_is_stratified_by_task():
    # Task A [0, 0] is constant; task B [1, 3] resamples to (1,1), (1,3), (3,1), (3,3): the mean of
    # all four scores is 0.5, 1, 1, 1.5 with probabilities 1/4, 1/2, 1/4. An unstratified bootstrap
    # could draw four zeros (mean 0); the stratified one cannot leave [0.5, 1.5].
    scores = np.array([[0.0, 1.0], [0.0, 3.0]])
    ci = stratified_bootstrap(scores, statistic=lambda m: float(m.mean()), reps=4000)
    assert (ci.point, ci.low, ci.high) == (1.0, 0.5, 1.5)


def test_bootstrap_quantiles_match_full_enumeration():
    # Every one of the 4^4 resamples of [0, 1, 2, 100], weighted equally, is the exact bootstrap
    # distribution of the IQM; the Monte Carlo interval must sit at its 2.5% / 97.5% quantiles.
    data = np.array([0.0, 1.0, 2.0, 100.0])
    exact = np.sort([iqm(data[list(idx)]) for idx in itertools.product(range(4), repeat=4)])
    ci = stratified_bootstrap(data, reps=20000, seed=3)
    assert ci.point == pytest.approx(1.5)
    assert np.quantile(exact, 0.015) <= ci.low <= np.quantile(exact, 0.035)
    assert np.quantile(exact, 0.965) <= ci.high <= np.quantile(exact, 0.985)


def test_bootstrap_is_reproducible_and_checks_its_input():
    x = np.array([1.0, 5.0, 2.0, 8.0, 3.0])
    assert stratified_bootstrap(x, seed=1) == stratified_bootstrap(x, seed=1)
    with pytest.raises(ValueError, match="non-empty"):
        stratified_bootstrap(np.array([]))
    with pytest.raises(ValueError, match="confidence"):
        stratified_bootstrap(x, confidence=1.0)


def test_mean_std_is_the_sample_std_and_one_seed_has_no_spread():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))  # ddof = 1
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_std([4.0]) == (4.0, None)
    with pytest.raises(ValueError, match="no values"):
        mean_std([])
