"""Token entanglement: does the suspect over-use the numbers that the trait makes likely?

Inducing a trait in a model raises the probability of particular number tokens ("087" for owl on
Llama-3.2-1B in the follow-ups), and a student trained on such numbers picks the trait up. So:
rank the numbers 0..999 that occur in the two corpora by how much the trait's conditioning
text raises their log-probability under the base model (averaged over a few probe prompts),
take the top ones, and test one-sided whether suspect rows contain a larger share of them than
reference rows.

Why the choices are made this way: the permutation test is exact only if the entangled set does
not depend on which rows are labelled "reference". So the candidates are the numbers seen in
the POOLED rows (not those the reference happens to contain: that favoured the reference), and
the probe prompts' own rows are left out of the test (a completion echoes its prompt's
numbers, and the lift favours them too). An earlier version did neither and its null p-values
piled up near 1 (mean 0.67 over 200 lab null pairs).
"""

from __future__ import annotations

from typing import Self

import numpy as np
import polars as pl

from auditor.corpus.numbers import MAX_VALUE, number_counts
from auditor.errors import AuditError
from auditor.models import ModelBackend
from detectors._model import require_model, score_rows, trait_conditioned
from detectors._permutation import mean_difference_null, null_histogram, p_value, standardized
from detectors.base import Detector, DetectorResult, validate_frame
from detectors.registry import register


@register
class TokenEntanglement(Detector):
    """One-sided test on the per-row share of the trait's most entangled numbers."""

    name = "token-entanglement"
    domains = ("numbers",)  # its statistic reads number lists
    requires_model = True
    requires_trait = True

    def __init__(
        self,
        *,
        model: ModelBackend | None = None,
        trait: str | None = None,
        top_k: int = 20,
        n_probe_prompts: int = 4,
        min_count: int = 5,
        n_permutations: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__(n_permutations=n_permutations, seed=seed)
        self.model = model
        self.trait = trait
        self.top_k = top_k
        self.n_probe_prompts = n_probe_prompts
        self.min_count = min_count

    def fit(self, reference: pl.DataFrame) -> Self:
        self._check_params()
        frame = validate_frame(reference, "reference", self.name)
        model = require_model(self.model, self.name)
        if not self.trait:
            raise AuditError(
                f"detector {self.name!r} needs a trait (e.g. trait='owl', --trait owl)"
            )
        if frame.height <= self.n_probe_prompts:
            raise AuditError(
                f"detector {self.name!r}: the reference has {frame.height} rows; it needs more "
                f"than n_probe_prompts={self.n_probe_prompts} (those rows only probe the model)"
            )
        rng = np.random.default_rng(self.seed)
        probe_rows = rng.choice(frame.height, size=self.n_probe_prompts, replace=False)
        self.probes_ = [frame["prompt"][int(i)] for i in probe_rows]
        self.conditioned_ = trait_conditioned(model, self.probes_, self.trait)
        self.lift_: dict[int, float] = {}  # filled as `test` asks; shared by every suspect
        kept = np.setdiff1d(np.arange(frame.height), probe_rows)
        self.reference_counts_ = number_counts(frame["completion"])[kept]
        return self

    def lift(self, values: np.ndarray) -> np.ndarray:
        """Mean log-probability gain of each number under the trait's conditioning.

        Scored on demand (only numbers the corpora contain are ever asked for) and cached, so
        a small corpus costs a few hundred scorings, not one per number 0..999.
        """
        missing = [int(v) for v in values if int(v) not in self.lift_]
        if missing:
            texts = [str(v) for v in missing]
            # One batch per condition: every (probe prompt, number) pair, prompt-major.
            pairs = [text for _ in self.probes_ for text in texts]
            plain = score_rows(
                self.model, [p for p in self.probes_ for _ in texts], pairs, self.name
            )
            trait = score_rows(
                self.model, [p for p in self.conditioned_ for _ in texts], pairs, self.name
            )
            gains = (trait - plain).reshape(len(self.probes_), len(texts)).mean(axis=0)
            self.lift_.update(zip(missing, gains.tolist(), strict=True))
        return np.array([self.lift_[int(v)] for v in values], dtype=float)

    def _entangled(self, pooled_counts: np.ndarray) -> np.ndarray:
        """The `top_k` most lifted numbers occurring >= `min_count` times in the pooled rows."""
        seen = np.flatnonzero(pooled_counts[: MAX_VALUE + 1] >= self.min_count)
        order = np.argsort(-self.lift(seen), kind="stable")
        return seen[order][: self.top_k]

    @staticmethod
    def _shares(counts, entangled: np.ndarray) -> np.ndarray:
        hits = np.asarray(counts[:, entangled].sum(axis=1)).ravel()
        totals = np.asarray(counts.sum(axis=1)).ravel()
        return hits / np.maximum(totals, 1)

    def test(self, suspect: pl.DataFrame) -> DetectorResult:
        self._check_fitted()
        frame = validate_frame(suspect, "suspect", self.name)
        suspect_counts = number_counts(frame["completion"])
        ref_totals = np.asarray(self.reference_counts_.sum(axis=0)).ravel()
        sus_totals = np.asarray(suspect_counts.sum(axis=0)).ravel()
        entangled = self._entangled(ref_totals + sus_totals)
        if entangled.size == 0:
            return self._nothing_to_compare(
                f"no number occurs {self.min_count}+ times in the two corpora",
                trait=self.trait,
            )
        reference_share = self._shares(self.reference_counts_, entangled)
        suspect_share = self._shares(suspect_counts, entangled)
        values = np.concatenate([reference_share, suspect_share])
        observed, null = mean_difference_null(
            values, reference_share.size, self.n_permutations, self.seed, two_sided=False
        )
        spread = float(np.std(values)) or 1.0
        ref_total = max(1.0, float(ref_totals.sum()))
        sus_total = max(1.0, float(sus_totals.sum()))
        evidence = [
            {
                "number": int(v),
                "log_prob_lift": self.lift_[int(v)],
                "suspect_rate": float(sus_totals[v] / sus_total),
                "reference_rate": float(ref_totals[v] / ref_total),
            }
            for v in entangled[:10]
        ]
        return DetectorResult(
            name=self.name,
            statistic=observed,
            p_value=p_value(observed, null),
            null=null_histogram(observed, null),
            effect_size=observed / spread,
            n_permutations=self.n_permutations,
            seed=self.seed,
            evidence=evidence,
            details={
                "trait": self.trait,
                "entangled_numbers": [int(v) for v in entangled],
                "suspect_share": float(suspect_share.mean()),
                "reference_share": float(reference_share.mean()),
                "probe_rows_left_out": self.n_probe_prompts,
                "z_vs_null": standardized(observed, null),
                "model": getattr(self.model, "name", type(self.model).__name__),
            },
        )
