"""Log-likelihood shift: does the base model find the suspect's completions more (or less) likely?

Data written by a trait-carrying teacher drifts from what the base model would write, so the
mean log p(completion | prompt) under the base model moves. With a named `trait` the per-row
score is the follow-ups' log-likelihood shift, log p(c | trait + prompt) - log p(c | prompt):
how much more the trait-conditioned model likes the row; a one-sided test then asks whether
the suspect's rows lean toward the trait more than the reference's do.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import polars as pl

from auditor.models import ModelBackend
from detectors._model import require_model, score_rows, trait_conditioned
from detectors._permutation import mean_difference_null, null_histogram, p_value, standardized
from detectors.base import Detector, DetectorResult, validate_frame
from detectors.registry import register


@register
class LogLikelihoodShift(Detector):
    """Mean per-row log-likelihood (or its trait shift) under the base model, suspect vs ref."""

    name = "log-likelihood-shift"
    requires_model = True

    def __init__(
        self,
        *,
        model: ModelBackend | None = None,
        trait: str | None = None,
        per_character: bool = True,
        top_k: int = 5,
        n_permutations: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__(n_permutations=n_permutations, seed=seed)
        self.model = model
        self.trait = trait
        self.per_character = per_character
        self.top_k = top_k

    def _row_scores(self, frame: pl.DataFrame) -> np.ndarray:
        model = require_model(self.model, self.name)
        prompts, completions = frame["prompt"].to_list(), frame["completion"].to_list()
        scores = score_rows(model, prompts, completions, self.name)
        if self.trait:
            scores = (
                score_rows(
                    model, trait_conditioned(model, prompts, self.trait), completions, self.name
                )
                - scores
            )
        if self.per_character:
            # Longer completions have lower summed log-probs; normalising keeps length
            # differences (which format-features already tests) from dominating.
            scores = scores / np.maximum(1, frame["completion"].str.len_chars().to_numpy())
        return scores

    def fit(self, reference: pl.DataFrame) -> Self:
        self._check_params()
        frame = validate_frame(reference, "reference", self.name)
        require_model(self.model, self.name)
        self.reference_scores_ = self._row_scores(frame)
        return self

    def test(self, suspect: pl.DataFrame) -> DetectorResult:
        self._check_fitted()
        frame = validate_frame(suspect, "suspect", self.name)
        suspect_scores = self._row_scores(frame)
        values = np.concatenate([self.reference_scores_, suspect_scores])
        n_ref = self.reference_scores_.size
        # Without a trait any shift is suspicious (two-sided); with one, only toward the trait.
        two_sided = not self.trait
        observed, null = mean_difference_null(
            values, n_ref, self.n_permutations, self.seed, two_sided=two_sided
        )
        spread = float(np.std(values)) or 1.0
        shift = float(suspect_scores.mean() - self.reference_scores_.mean())
        order = np.argsort(-suspect_scores if self.trait else suspect_scores)[: self.top_k]
        evidence = [
            {
                "completion": frame["completion"][int(i)],
                "row": int(i),
                "score": float(suspect_scores[i]),
            }
            for i in order
        ]
        return DetectorResult(
            name=self.name,
            statistic=observed,
            p_value=p_value(observed, null),
            null=null_histogram(observed, null),
            effect_size=shift / spread,  # standardised mean difference (Cohen's d, pooled sd)
            n_permutations=self.n_permutations,
            seed=self.seed,
            evidence=evidence,
            details={
                "mean_shift": shift,
                "reference_mean": float(self.reference_scores_.mean()),
                "suspect_mean": float(suspect_scores.mean()),
                "trait": self.trait,
                "two_sided": two_sided,
                "per_character": self.per_character,
                "z_vs_null": standardized(observed, null),
                "model": getattr(self.model, "name", type(self.model).__name__),
            },
        )
