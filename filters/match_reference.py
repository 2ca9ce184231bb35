"""`match-reference`: keep a subset of rows whose number frequencies match a reference's.

A trait teacher over-uses some numbers and under-uses others relative to its base (the
frequency channel of subliminal transmission: a student from the same base reads those shifts
as a push toward the teacher). This defense resamples the corpus toward a reference corpus,
such as the base model's own output on the same prompts, so that what survives uses numbers
as often as the reference does.

How: each row gets a weight exp(sum of lambda[v] over its numbers v), the maximum-entropy
reweighting whose weighted number shares equal the reference's (generalised iterative
scaling on lambda), and is kept with probability weight / max(weight): in expectation the
kept rows then match the reference exactly, and a corpus that already matches keeps every
row. When a few heavy rows would make that keep less than `min_retention` of the corpus, the
probabilities are min(1, weight / tau) with tau set so that `min_retention` is kept: a looser
match, at a stated cost in data. The draws are
hashes of each row's text, so a run is reproducible; shares are matched within each batch
(batches are ~64 MB, the whole corpus for most number sets). Values a batch never uses cannot
be added by dropping rows, so matching is over the values the batch contains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl

from auditor.corpus.numbers import MAX_VALUE, number_counts
from auditor.corpus.schema import COMPLETION
from filters._reference_corpus import ReferenceDefense
from filters.base import collect_column, row_draw
from filters.registry import register


def maxent_weights(
    counts: np.ndarray | object, target: np.ndarray, *, iterations: int = 300
) -> np.ndarray:
    """Row log-weights whose weighted value shares approach `target` (on the values present).

    `counts` is a rows x values count matrix (dense or scipy sparse); rows without values keep
    log-weight 0.
    """
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    present = np.asarray(counts.sum(axis=0)).ravel() > 0
    goal = np.where(present, target, 0.0)
    goal = goal / goal.sum()
    log_goal = np.log(np.where(present, goal, 1.0))
    lam = np.zeros(goal.size)
    step = 1.0 / max(1.0, float(lengths.max(initial=1.0)))  # GIS: converges for this step
    log_w = np.zeros(lengths.size)
    for _ in range(iterations):
        log_w = counts @ lam
        w = np.exp(log_w - log_w.max(initial=0.0))
        mass = np.asarray(counts.T @ w).ravel()
        shares = mass / mass.sum()
        gap = np.where(present, log_goal - np.log(np.where(present, shares, 1.0)), 0.0)
        if np.abs(gap).max(initial=0.0) < 1e-3:
            break
        lam += step * gap
    return np.asarray(counts @ lam).ravel()


def keep_probabilities(log_weights: np.ndarray, min_retention: float) -> np.ndarray:
    """w / max(w), or min(1, w / tau) with tau (bisection) such that they average
    `min_retention` when w / max(w) would average less."""
    w = np.exp(log_weights - log_weights.max(initial=0.0))
    if w.size == 0 or w.mean() >= min_retention:
        return w
    low, high = 1e-12, 1.0
    for _ in range(100):
        tau = np.sqrt(low * high)
        if np.minimum(1.0, w / tau).mean() > min_retention:
            low = tau
        else:
            high = tau
    return np.minimum(1.0, w / high)


@register
@dataclass(frozen=True)
class MatchReference(ReferenceDefense):
    """Drop rows so the kept corpus's number frequencies match the reference's."""

    name: ClassVar[str] = "match-reference"

    min_retention: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.min_retention <= 1.0:
            raise ValueError(f"min_retention must be in (0, 1], got {self.min_retention}")
        super().__post_init__()

    def reasons(self, batch: pl.DataFrame) -> pl.Series:
        target = self.reference_shares()
        counts = number_counts(batch.get_column(COMPLETION))[:, : MAX_VALUE + 1]
        keep = keep_probabilities(maxent_weights(counts, target), self.min_retention)
        draws = collect_column(batch, row_draw(self.seed)).to_numpy()
        reason = "resampled toward the reference's number frequencies"
        dropped = pl.Series(draws >= keep)
        return pl.select(pl.when(dropped).then(pl.lit(reason))).to_series().alias("reason")
