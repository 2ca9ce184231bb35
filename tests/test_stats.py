"""Statistics of a shift over seeds, checked against closed forms and textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from auditor import stats


def test_bootstrap_ci_brackets_the_mean_and_narrows_with_data() -> None:
    rng = np.random.default_rng(0)
    small = rng.normal(1.0, 1.0, 10)
    large = rng.normal(1.0, 1.0, 1000)
    lo_s, hi_s = stats.bootstrap_ci(small)
    lo_l, hi_l = stats.bootstrap_ci(large)
    assert lo_s < small.mean() < hi_s
    assert lo_l < 1.0 < hi_l
    assert hi_l - lo_l < hi_s - lo_s


def test_bootstrap_ci_of_two_values_spans_their_resampled_means() -> None:
    # Resamples of (0, 1) have mean 0, 0.5 or 1 with chances 1/4, 1/2, 1/4: the 2.5% and 97.5%
    # quantiles are the two extremes.
    assert stats.bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)


def test_t_test_p_matches_the_closed_form_for_two_degrees_of_freedom() -> None:
    # (1, 2, 3): mean 2, sd 1, t = 2 * sqrt(3); with 2 degrees of freedom the two-sided p is
    # 1 - t / sqrt(t**2 + 2) = 1 - sqrt(6 / 7).
    assert stats.t_test_p([1.0, 2.0, 3.0]) == pytest.approx(1 - math.sqrt(6 / 7), rel=1e-9)
    assert stats.t_test_p([-1.0, -2.0, -3.0]) == pytest.approx(1 - math.sqrt(6 / 7), rel=1e-9)


def test_t_test_p_edge_cases() -> None:
    assert stats.t_test_p([0.3]) == 1.0  # one seed: no p-value
    assert stats.t_test_p([0.2, 0.2, 0.2]) == 0.0  # no spread, nonzero mean
    assert stats.t_test_p([0.0, 0.0]) == 1.0


def test_planted_shift_is_significant_with_the_textbook_p_and_a_null_one_is_not() -> None:
    # (0.10, 0.12, 0.11, 0.13): mean 0.115, sd sqrt(0.0005 / 3), t = 0.115 / (sd / 2), 3 df.
    positive = stats.shift([0.10, 0.12, 0.11, 0.13])
    t = 0.115 / (math.sqrt(0.0005 / 3) / 2)
    assert positive.mean == pytest.approx(0.115)
    assert positive.p_value == pytest.approx(2 * scipy_stats.t.sf(t, 3), rel=1e-9)
    assert positive.p_value_signflip == pytest.approx(2 / 16)
    assert positive.significant and positive.ci_low > 0 and positive.n == 4
    null = stats.shift([0.01, -0.01, 0.02, -0.02])
    assert null.mean == pytest.approx(0.0, abs=1e-12)
    assert null.p_value == pytest.approx(1.0) and not null.significant
    assert null.to_dict()["significant"] is False


def test_sign_flip_p_value_is_exact() -> None:
    # All 8 sign patterns of three positive values: only +++ and --- are as extreme.
    assert stats.sign_flip_p([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)


def test_ratio_of_means() -> None:
    assert stats.ratio([2.0, 4.0], [1.0, 2.0]) == pytest.approx(2.0)
    assert math.isnan(stats.ratio([1.0], [0.0]))


def test_three_same_sign_shifts_are_not_significant_by_chance_alone() -> None:
    # All three positive but noisy: the percentile bootstrap excludes zero (it can only range
    # over resampled means of these values), the t-test does not, and `significant` follows it.
    noisy = stats.shift([0.0075, 0.0025, 0.0011])
    assert noisy.ci_low > 0
    assert noisy.t_ci_low < 0 < noisy.t_ci_high
    assert noisy.p_value > 0.05 and not noisy.significant


def test_t_interval_matches_the_textbook_formula() -> None:
    low, high = stats.t_interval([1.0, 2.0, 3.0])
    # mean 2, sd 1, se 1/sqrt(3), t(0.975, 2) = 4.3027
    assert (low, high) == pytest.approx((2 - 4.3027 / 3**0.5, 2 + 4.3027 / 3**0.5), rel=1e-4)
