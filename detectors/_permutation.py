"""Row-level permutation machinery shared by the detectors.

Reference and suspect rows are pooled (reference first); a permutation reassigns which pooled
rows count as "suspect", keeping both group sizes. Detectors whose statistic depends on the
groups only through per-group sums of a row x feature matrix evaluate all permutations as a
few matrix products: with `Z` the pooled-rows x permutations indicator matrix, the suspect sums
for every permutation are `X.T @ Z`. The p-value is add-one corrected, (b + 1) / (n + 1), so it
is never zero and the test is exact at any number of permutations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from auditor import steps
from detectors.base import NullHistogram

NULL_BINS = 30


def suspect_indicators(
    n_reference: int, n_suspect: int, n_permutations: int, seed: int, chunk: int = 50
) -> Iterator[np.ndarray]:
    """Yield float32 indicator matrices (pooled rows x up to `chunk` permutations).

    Column j is 1 where pooled row i is labelled "suspect" in permutation j. The same seed
    always yields the same permutations, so results are reproducible.
    """
    rng = np.random.default_rng(seed)
    n = n_reference + n_suspect
    done = 0
    while done < n_permutations:
        width = min(chunk, n_permutations - done)
        # argsort of uniform keys = one independent uniform permutation per column.
        order = np.argsort(rng.random((n, width)), axis=0)
        z = np.zeros((n, width), dtype=np.float32)
        np.put_along_axis(z, order[:n_suspect], 1.0, axis=0)
        done += width
        yield z
        steps.report(done, n_permutations)  # resumed: the caller has used this chunk


def observed_indicator(n_reference: int, n_suspect: int) -> np.ndarray:
    """The true labelling as a one-column indicator (reference rows first)."""
    z = np.zeros((n_reference + n_suspect, 1), dtype=np.float32)
    z[n_reference:] = 1.0
    return z


def p_value(observed: float, null: np.ndarray) -> float:
    """Add-one permutation p-value: the share of null statistics at least as large as observed."""
    null = np.asarray(null, dtype=float)
    # A tiny tolerance so float noise in recomputing the same statistic doesn't break ties.
    exceed = int(np.sum(null >= observed - 1e-12 * max(1.0, abs(observed))))
    return (exceed + 1) / (null.size + 1)


def null_histogram(observed: float, null: np.ndarray, bins: int = NULL_BINS) -> NullHistogram:
    """The null sample as a histogram whose range also shows the observed statistic."""
    null = np.asarray(null, dtype=float)
    low = min(float(null.min()), observed)
    high = max(float(null.max()), observed)
    if high <= low:
        high = low + 1.0
    counts, edges = np.histogram(null, bins=bins, range=(low, high))
    return NullHistogram(
        edges=tuple(float(e) for e in edges),
        counts=tuple(int(c) for c in counts),
        mean=float(null.mean()),
        std=float(null.std()),
    )


def standardized(observed: float, null: np.ndarray) -> float:
    """How many null standard deviations the observed statistic sits above the null mean."""
    spread = float(np.std(null))
    return 0.0 if spread == 0.0 else (observed - float(np.mean(null))) / spread


def sum_statistic_null(
    pooled: object,
    n_reference: int,
    statistic: Callable[[np.ndarray], np.ndarray],
    n_permutations: int,
    seed: int,
) -> tuple[float, np.ndarray]:
    """Observed and permutation-null values of a statistic of the suspect group's column sums.

    `pooled` is a (sparse or dense) rows x features matrix, reference rows first. `statistic`
    maps suspect sums (features x k, one column per labelling) to k values; it may use the
    pooled column totals, which no permutation changes.
    """
    n_suspect = pooled.shape[0] - n_reference  # type: ignore[attr-defined]
    transposed = pooled.T  # type: ignore[attr-defined]
    # Match dtypes: a mixed float32/float64 product falls off numpy's BLAS fast path.
    dtype = transposed.dtype

    def sums(z: np.ndarray) -> np.ndarray:
        return np.asarray(transposed @ z.astype(dtype, copy=False))

    observed = float(statistic(sums(observed_indicator(n_reference, n_suspect)))[0])
    null = [
        statistic(sums(z)) for z in suspect_indicators(n_reference, n_suspect, n_permutations, seed)
    ]
    return observed, np.concatenate(null)


def mean_difference_null(
    values: np.ndarray, n_reference: int, n_permutations: int, seed: int, two_sided: bool
) -> tuple[float, np.ndarray]:
    """Observed and null suspect-minus-reference mean differences of one value per row.

    `values` holds reference rows first. One-sided tests ask "is the suspect higher?".
    """
    n_suspect = values.size - n_reference
    total = float(values.sum())

    def difference(sums: np.ndarray) -> np.ndarray:
        diff = sums / n_suspect - (total - sums) / n_reference
        return np.abs(diff) if two_sided else diff

    return sum_statistic_null(
        values[:, None], n_reference, lambda s: difference(s[0]), n_permutations, seed
    )
