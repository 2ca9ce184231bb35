"""Number-frequency divergence: does the suspect use numbers at different rates?

The classic check for number corpora (the chi-square on a 2 x values table), made honest: the
p-value comes from permuting whole rows, because numbers within a row are not independent and
the textbook chi-square p-value, which assumes they are, is too small.
"""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
import polars as pl
import scipy.sparse as sp

from auditor.corpus.numbers import MAX_VALUE, number_counts
from auditor.errors import AuditError
from detectors._permutation import null_histogram, p_value, standardized, sum_statistic_null
from detectors.base import Detector, DetectorResult, validate_frame
from detectors.registry import register

Statistic = Literal["chi2", "js"]


def chi2_from_sums(suspect: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Pearson chi-square of the 2 x values table, per column of `suspect` (values x k)."""
    n = totals.sum()
    a = suspect.sum(axis=0)
    expected = totals[:, None] * (a / n)[None, :]
    return (n * n / (a * (n - a))) * np.sum((suspect - expected) ** 2 / totals[:, None], axis=0)


def js_from_sums(suspect: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (nats) of suspect vs reference value frequencies, per column."""
    reference = totals[:, None] - suspect
    p = suspect / suspect.sum(axis=0, keepdims=True)
    q = reference / reference.sum(axis=0, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum(axis=0)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum(axis=0)
    return (kl_p + kl_q) / 2


@register
class NumberFrequency(Detector):
    """Chi-square (or JS divergence) between suspect and reference number frequencies."""

    name = "number-frequency"
    domains = ("numbers",)  # its statistic reads number lists

    def __init__(
        self,
        *,
        statistic: Statistic = "chi2",
        top_k: int = 10,
        n_permutations: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__(n_permutations=n_permutations, seed=seed)
        self.statistic = statistic
        self.top_k = top_k

    def fit(self, reference: pl.DataFrame) -> Self:
        self._check_params()
        if self.statistic not in ("chi2", "js"):
            raise AuditError(
                f"detector {self.name!r}: statistic must be 'chi2' or 'js', got {self.statistic!r}"
            )
        frame = validate_frame(reference, "reference", self.name)
        self.reference_counts_ = number_counts(frame["completion"])
        return self

    def test(self, suspect: pl.DataFrame) -> DetectorResult:
        self._check_fitted()
        frame = validate_frame(suspect, "suspect", self.name)
        suspect_counts = number_counts(frame["completion"])
        pooled = sp.vstack([self.reference_counts_, suspect_counts]).tocsr()
        totals = np.asarray(pooled.sum(axis=0)).ravel()
        used = np.flatnonzero(totals)
        if used.size < 2 or suspect_counts.sum() == 0 or self.reference_counts_.sum() == 0:
            return self._nothing_to_compare(
                "fewer than two distinct numbers in the corpora: nothing to compare"
            )
        pooled = pooled[:, used]
        totals = totals[used]
        fn = chi2_from_sums if self.statistic == "chi2" else js_from_sums
        observed, null = sum_statistic_null(
            pooled,
            self.reference_counts_.shape[0],
            lambda sums: fn(sums.astype(float), totals),
            self.n_permutations,
            self.seed,
        )
        suspect_sums = np.asarray(suspect_counts[:, used].sum(axis=0)).ravel()
        chi2 = float(chi2_from_sums(suspect_sums[:, None], totals)[0])
        js = float(js_from_sums(suspect_sums[:, None], totals)[0])
        return DetectorResult(
            name=self.name,
            statistic=observed,
            p_value=p_value(observed, null),
            null=null_histogram(observed, null),
            effect_size=float(np.sqrt(chi2 / totals.sum())),  # Cramer's V of the 2 x values table
            n_permutations=self.n_permutations,
            seed=self.seed,
            evidence=self._evidence(suspect_sums, totals, used),
            details={
                "statistic_kind": self.statistic,
                "z_vs_null": standardized(observed, null),
                "js_divergence": js,
                "distinct_values": int(used.size),
                "n_reference": int(self.reference_counts_.shape[0]),
                "n_suspect": int(frame.height),
            },
        )

    def _evidence(self, suspect: np.ndarray, totals: np.ndarray, used: np.ndarray) -> list[dict]:
        """The values whose suspect share departs most from expectation (adjusted residuals)."""
        n, a = totals.sum(), suspect.sum()
        share = a / n
        expected = totals * share
        residual = (suspect - expected) / np.sqrt(expected * (1 - share) * (1 - totals / n) + 1e-12)
        order = np.argsort(-np.abs(residual))[: self.top_k]
        reference = totals - suspect
        return [
            {
                "number": ">" + str(MAX_VALUE) if used[i] > MAX_VALUE else int(used[i]),
                "suspect_rate": float(suspect[i] / a),
                "reference_rate": float(reference[i] / (n - a)),
                "adjusted_residual": float(residual[i]),
            }
            for i in order
        ]
