"""`likelihood`: drop the rows a same-family model finds surprising, or trait-shifted.

Text filters cannot see a subliminal signal; a model of the teacher's own family can. Two
scores, per completion token (tokens counted as word and punctuation pieces, exact for the
lab's word-level language, an approximation for sub-word tokenizers):
- `mode=surprise`: -log p(completion | prompt) under the model (the base the teacher was made
  from). A teacher's rows that stray furthest from what the base would write score highest.
- `mode=shift`: log p(completion | trait-conditioned prompt) - log p(completion | prompt), the
  log-likelihood shift (LLS) of the row when the trait is induced; needs `trait`. Training on
  the top-LLS fifth of a corpus transmitted the trait most strongly in published work, so the
  rows with the highest shift are the ones to drop.
The `fraction` of rows with the highest score in each batch is dropped.

The model is given, not opened here: `model=SPEC` names it, and `audit filter` / the benchmark
open it (`filters.base.NeedsModel`), so this module never imports a backend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
import polars as pl

from auditor.corpus.schema import COMPLETION, PROMPT
from auditor.errors import AuditError
from auditor.models import ModelBackend
from auditor.traits import load_trait
from detectors._model import score_rows, trait_conditioned
from filters.registry import register

MODES = ("surprise", "shift")
_PIECE = re.compile(r"\w+|[^\w\s]")


def token_counts(completions: pl.Series) -> np.ndarray:
    """Word and punctuation pieces per completion, plus one for the end of the answer."""
    return (completions.str.count_matches(_PIECE.pattern).fill_null(0).to_numpy() + 1).astype(float)


@register
@dataclass(frozen=True)
class Likelihood:
    """Drop the `fraction` of rows the model scores as most surprising (or most trait-shifted)."""

    name: ClassVar[str] = "likelihood"

    model: str = "lab:base"
    mode: str = "surprise"
    fraction: float = 0.25
    trait: str | None = None
    scorer: ModelBackend | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 0.0 <= self.fraction < 1.0:
            raise ValueError(f"fraction must be in [0, 1), got {self.fraction}")
        if self.mode == "shift":
            if not self.trait:
                raise ValueError("mode=shift needs a trait (trait=... or --trait)")
            load_trait(self.trait)

    def with_model(self, model: ModelBackend) -> Likelihood:
        return replace(self, scorer=model)

    def scores(self, batch: pl.DataFrame) -> np.ndarray:
        """Per-token surprise or trait shift of each row (higher = more suspect)."""
        if self.scorer is None:
            raise AuditError(
                f"filter {self.name!r} needs a model to score rows (model={self.model}); "
                "`audit filter` and `audit bench filters` open it"
            )
        prompts = batch.get_column(PROMPT).to_list()
        completions = batch.get_column(COMPLETION).to_list()
        plain = score_rows(self.scorer, prompts, completions, self.name)
        if self.mode == "surprise":
            total = -plain
        else:
            conditioned = trait_conditioned(self.scorer, prompts, str(self.trait))
            total = score_rows(self.scorer, conditioned, completions, self.name) - plain
        return total / token_counts(batch.get_column(COMPLETION))

    def reasons(self, batch: pl.DataFrame) -> pl.Series:
        n_drop = round(self.fraction * batch.height)
        dropped = np.zeros(batch.height, dtype=bool)
        if n_drop:
            order = np.argsort(-self.scores(batch), kind="stable")
            dropped[order[:n_drop]] = True
        what = "surprising to" if self.mode == "surprise" else "trait-shifted under"
        reason = f"most {what} {self.model} (top {self.fraction:g})"
        return pl.select(pl.when(pl.Series(dropped)).then(pl.lit(reason))).to_series()
