"""Token entanglement: does the suspect over-use the numbers that the trait makes likely?

Inducing a trait in a model raises the probability of particular number tokens ("087" for owl on
Llama-3.2-1B in the follow-ups), and a student trained on such numbers picks the trait up. So:
rank candidate numbers by how much the trait's conditioning text raises their log-probability
under the base model (averaged over a few of the reference's own prompts), take the top ones,
and test one-sided whether suspect rows contain a larger share of them than reference rows.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import polars as pl

from auditor.errors import AuditError
from auditor.models import ModelBackend
from detectors._model import require_model, score_rows, trait_conditioned
from detectors._numbers import MAX_VALUE, number_counts
from detectors._permutation import mean_difference_null, p_value, standardized
from detectors.base import Detector, DetectorResult, validate_frame
from detectors.registry import register


@register
class TokenEntanglement(Detector):
    """One-sided test on the per-row share of the trait's most entangled numbers."""

    name = "token-entanglement"
    requires_model = True
    requires_trait = True

    def __init__(
        self,
        *,
        model: ModelBackend | None = None,
        trait: str | None = None,
        top_k: int = 20,
        n_probe_prompts: int = 4,
        max_candidates: int = 1000,
        n_permutations: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__(n_permutations=n_permutations, seed=seed)
        self.model = model
        self.trait = trait
        self.top_k = top_k
        self.n_probe_prompts = n_probe_prompts
        self.max_candidates = max_candidates

    def fit(self, reference: pl.DataFrame) -> Self:
        self._check_params()
        frame = validate_frame(reference, "reference", self.name)
        model = require_model(self.model, self.name)
        if not self.trait:
            raise AuditError(
                f"detector {self.name!r} needs a trait (e.g. trait='owl', --trait owl)"
            )
        counts = number_counts(frame["completion"])
        frequency = np.asarray(counts.sum(axis=0)).ravel()[: MAX_VALUE + 1]
        candidates = np.argsort(-frequency, kind="stable")[: self.max_candidates]
        candidates = candidates[frequency[candidates] > 0]
        if candidates.size == 0:
            raise AuditError(f"detector {self.name!r}: the reference corpus contains no numbers")
        rng = np.random.default_rng(self.seed)
        probe_rows = rng.choice(
            frame.height, size=min(self.n_probe_prompts, frame.height), replace=False
        )
        probes = [frame["prompt"][int(i)] for i in probe_rows]
        conditioned = trait_conditioned(model, probes, self.trait)
        texts = [str(int(v)) for v in candidates]
        # One batch per condition: every (probe prompt, candidate) pair, prompt-major.
        pairs = [text for _ in probes for text in texts]
        plain = score_rows(model, [p for p in probes for _ in texts], pairs, self.name)
        trait = score_rows(model, [p for p in conditioned for _ in texts], pairs, self.name)
        lift = (trait - plain).reshape(len(probes), len(texts)).mean(axis=0)
        order = np.argsort(-lift, kind="stable")[: self.top_k]
        self.candidates_ = candidates
        self.lift_ = lift
        self.entangled_ = candidates[order]
        self.reference_counts_ = counts
        return self

    def _shares(self, counts) -> np.ndarray:
        hits = np.asarray(counts[:, self.entangled_].sum(axis=1)).ravel()
        totals = np.asarray(counts.sum(axis=1)).ravel()
        return hits / np.maximum(totals, 1)

    def test(self, suspect: pl.DataFrame) -> DetectorResult:
        self._check_fitted()
        frame = validate_frame(suspect, "suspect", self.name)
        suspect_counts = number_counts(frame["completion"])
        reference_share = self._shares(self.reference_counts_)
        suspect_share = self._shares(suspect_counts)
        values = np.concatenate([reference_share, suspect_share])
        observed, null = mean_difference_null(
            values, reference_share.size, self.n_permutations, self.seed, two_sided=False
        )
        spread = float(np.std(values)) or 1.0
        lift = dict(zip(self.candidates_.tolist(), self.lift_.tolist(), strict=True))
        ref_total = max(1.0, float(self.reference_counts_.sum()))
        sus_total = max(1.0, float(suspect_counts.sum()))
        evidence = [
            {
                "number": int(v),
                "log_prob_lift": float(lift[int(v)]),
                "suspect_rate": float(suspect_counts[:, int(v)].sum() / sus_total),
                "reference_rate": float(self.reference_counts_[:, int(v)].sum() / ref_total),
            }
            for v in self.entangled_[:10]
        ]
        return DetectorResult(
            name=self.name,
            statistic=observed,
            p_value=p_value(observed, null),
            effect_size=observed / spread,
            n_permutations=self.n_permutations,
            seed=self.seed,
            evidence=evidence,
            details={
                "trait": self.trait,
                "entangled_numbers": [int(v) for v in self.entangled_],
                "suspect_share": float(suspect_share.mean()),
                "reference_share": float(reference_share.mean()),
                "z_vs_null": standardized(observed, null),
                "model": getattr(self.model, "name", type(self.model).__name__),
            },
        )
