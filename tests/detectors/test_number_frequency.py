"""Number-frequency: the statistic is the textbook chi-square; the p-value respects rows."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import chi2_contingency

from auditor.corpus.numbers import number_counts
from detectors.number_frequency import NumberFrequency, chi2_from_sums


def test_chi2_from_sums_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    suspect = rng.integers(1, 50, size=30).astype(float)
    reference = rng.integers(1, 50, size=30).astype(float)
    expected = chi2_contingency(np.vstack([suspect, reference]), correction=False)[0]
    got = chi2_from_sums(suspect[:, None], suspect + reference)[0]
    assert np.isclose(got, expected)


def test_number_counts_parses_values_and_overflow() -> None:
    counts = number_counts(pl.Series(["1, 2, 2, 999", "", "x 1000 0087"])).toarray()
    assert counts[0, 2] == 2 and counts[0, 999] == 1
    assert counts[2, 87] == 1 and counts[2, 1000] == 1  # 1000 lands in the overflow column
    assert counts[1].sum() == 0


def test_repeating_rows_does_not_fool_the_row_permutation(reference) -> None:
    """A corpus of duplicated rows inflates the naive chi-square, not the row-level p-value."""
    doubled = reference.with_columns(pl.concat_str([pl.col("completion")] * 3, separator=", "))
    other = reference.sample(fraction=1.0, seed=5, shuffle=True)
    half = reference.height // 2
    result = (
        NumberFrequency(n_permutations=99)
        .fit(doubled[:half])
        .test(other.with_columns(pl.concat_str([pl.col("completion")] * 3, separator=", "))[half:])
    )
    assert result.p_value > 0.05


def test_evidence_names_the_planted_numbers(reference, shifted_suspect) -> None:
    from tests.detectors.conftest import FAVOURED

    result = NumberFrequency(n_permutations=49).fit(reference).test(shifted_suspect)
    top = [e["number"] for e in result.evidence[:5]]
    assert set(top) <= set(FAVOURED)
    assert all(e["suspect_rate"] > e["reference_rate"] for e in result.evidence[:5])


def test_js_statistic_option(reference, shifted_suspect) -> None:
    result = NumberFrequency(statistic="js", n_permutations=49).fit(reference).test(shifted_suspect)
    assert result.details["statistic_kind"] == "js" and result.p_value <= 0.02
