"""Statistics of a shift over seeds: mean, 95% CIs, p-values, ratio.

With K seeds a shift (student minus control, one value per seed) is summarised by its mean, a
percentile bootstrap CI of the mean (resampling seeds), the Student-t CI, a two-sided
one-sample t-test p-value (the headline p) and the exact sign-flip permutation p-value
(assumption-free, but never below 2 / 2**K, so it cannot be small with 3 seeds).

`significant` is the t-test at 5% (equivalently, the t interval excludes zero), not the
bootstrap interval: with K = 3 a percentile bootstrap can only range over the means of 10
resamples and excludes zero whenever all three shifts share a sign, which chance alone does
one time in four. Both intervals are reported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class Shift:
    """A shift over seeds and its uncertainty."""

    mean: float
    ci_low: float
    ci_high: float
    p_value: float
    p_value_signflip: float
    n: int
    t_ci_low: float = math.nan
    t_ci_high: float = math.nan

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    def to_dict(self) -> dict[str, float | int | bool]:
        return {**asdict(self), "significant": self.significant}


def bootstrap_ci(
    values: Sequence[float], *, level: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of `values`."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


ALPHA = 0.05


def t_interval(values: Sequence[float], *, level: float = 0.95) -> tuple[float, float]:
    """Student-t CI of the mean (nan with fewer than two values; a point when they agree)."""
    data = np.asarray(values, dtype=float)
    if data.size < 2:
        return math.nan, math.nan
    half = scipy_stats.t.ppf((1 + level) / 2, data.size - 1) * scipy_stats.sem(data)
    return float(data.mean() - half), float(data.mean() + half)


def t_test_p(values: Sequence[float]) -> float:
    """Two-sided one-sample t-test p-value against a zero mean (1.0 when undefined)."""
    data = np.asarray(values, dtype=float)
    if data.size < 2:
        return 1.0
    if np.allclose(data.std(ddof=1), 0):
        return 0.0 if abs(data.mean()) > 0 else 1.0
    return float(scipy_stats.ttest_1samp(data, 0.0).pvalue)


def sign_flip_p(values: Sequence[float]) -> float:
    """Exact two-sided sign-flip permutation p-value of the mean (K <= 16)."""
    data = np.asarray(values, dtype=float)
    observed = abs(data.mean())
    signs = np.array(list(itertools.product((1, -1), repeat=data.size)))
    flipped = np.abs((signs * data).mean(axis=1))
    return float((flipped >= observed - 1e-12).mean())


def shift(values: Sequence[float], *, seed: int = 0) -> Shift:
    """Summarise per-seed shifts."""
    low, high = bootstrap_ci(values, seed=seed)
    t_low, t_high = t_interval(values)
    return Shift(
        mean=float(np.mean(values)),
        ci_low=low,
        ci_high=high,
        p_value=t_test_p(values),
        p_value_signflip=sign_flip_p(values),
        n=len(values),
        t_ci_low=t_low,
        t_ci_high=t_high,
    )


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Ratio of means (nan when the denominator's mean is 0)."""
    den = float(np.mean(denominator))
    return float(np.mean(numerator)) / den if den else math.nan
