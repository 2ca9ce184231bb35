"""Row-permutation machinery: exact group sizes, seeded, add-one p-values."""

from __future__ import annotations

import numpy as np

from detectors._permutation import p_value, sum_statistic_null, suspect_indicators


def test_each_permutation_keeps_the_group_sizes() -> None:
    blocks = list(suspect_indicators(7, 5, 120, seed=3, chunk=50))
    z = np.hstack(blocks)
    assert z.shape == (12, 120)
    assert np.all(z.sum(axis=0) == 5)


def test_same_seed_same_permutations_other_seed_others() -> None:
    a = np.hstack(list(suspect_indicators(30, 30, 40, seed=1)))
    b = np.hstack(list(suspect_indicators(30, 30, 40, seed=1)))
    c = np.hstack(list(suspect_indicators(30, 30, 40, seed=2)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_p_value_is_add_one_corrected() -> None:
    assert p_value(10.0, np.zeros(99)) == 1 / 100
    assert p_value(-1.0, np.zeros(99)) == 1.0
    assert p_value(0.0, np.array([0.0, 1.0, -1.0])) == 3 / 4  # ties count as exceeding


def test_sum_statistic_null_is_uniform_under_exchangeability() -> None:
    """Many null datasets: the permutation p-values of a mean difference are ~uniform."""
    rng = np.random.default_rng(0)
    ps = []
    for seed in range(200):
        x = rng.normal(size=(40, 1))
        observed, null = sum_statistic_null(x, 20, lambda s: np.abs(s[0]), 99, seed)
        ps.append(p_value(observed, null))
    ps = np.asarray(ps)
    assert 0.4 < ps.mean() < 0.6
    assert np.mean(ps < 0.05) < 0.1
