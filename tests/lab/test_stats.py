from __future__ import annotations

import numpy as np
import pytest

from auditor.lab import stats


def test_bootstrap_ci_brackets_the_mean_and_narrows_with_data() -> None:
    rng = np.random.default_rng(0)
    small = rng.normal(1.0, 1.0, 10)
    large = rng.normal(1.0, 1.0, 1000)
    lo_s, hi_s = stats.bootstrap_ci(small)
    lo_l, hi_l = stats.bootstrap_ci(large)
    assert lo_s < small.mean() < hi_s
    assert lo_l < 1.0 < hi_l
    assert hi_l - lo_l < hi_s - lo_s


def test_clear_positive_shift_is_significant_and_zero_shift_is_not() -> None:
    positive = stats.shift([0.10, 0.12, 0.11, 0.13])
    assert positive.significant and positive.ci_low > 0 and positive.p_value < 0.001
    null = stats.shift([0.01, -0.01, 0.02, -0.02])
    assert not null.significant and null.p_value > 0.5


def test_sign_flip_p_value_is_exact() -> None:
    # All 8 sign patterns of three positive values: only +++ and --- are as extreme.
    assert stats.sign_flip_p([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)


def test_ratio_of_means() -> None:
    assert stats.ratio([2.0, 4.0], [1.0, 2.0]) == pytest.approx(2.0)


def test_transmission_summary_flags_a_known_shift_and_not_a_null_one() -> None:
    from auditor.lab.transmission import summarise

    records = [
        {
            "target": "owl",
            "seed": s,
            "student": 0.10 + 0.01 * s,
            "control": 0.05 + 0.01 * s,
            "xinit_student": 0.06 + d,
            "xinit_control": 0.06,
        }
        for s, d in enumerate([0.001, -0.001, 0.0005, -0.0005])
    ]
    summary = summarise(records)["owl"]
    assert summary["student_shift"]["significant"]
    assert summary["student_shift"]["mean"] == pytest.approx(0.05)
    assert not summary["xinit_shift"]["significant"]
    assert "soft_shift" not in summary


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
