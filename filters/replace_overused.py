"""`replace-overused`: rewrite the numbers a corpus over-uses, instead of dropping rows.

Dropping rows costs data; a teacher's frequency signal sits in a minority of values that it
writes more often than its base would. This defense finds those values: the ones used
significantly more than the reference would predict (one-sided z of the count against the
reference share above `min_z`, 3 by default, and at least `min_count` occurrences), at most
the `top` share of the distinct values seen, largest share ratio first. Only the excess is
rewritten: an occurrence of over-used value v is replaced with probability 1 - q(v) / p(v)
(q the reference's share, p the corpus's), so v keeps the reference's share, by a draw from the
reference's distribution over the values that are not over-used. A corpus that matches its
reference has no significantly over-used values and is left unchanged. Every row is kept;
the pipeline records each change (before / after).

The replacement draws are seeded by each row's text, so a run is reproducible; shares are
measured within each batch (~64 MB, the whole corpus for most number sets). Text around the
numbers (separators, brackets) is left as it was.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl

from auditor.corpus.numbers import MAX_VALUE, number_counts
from auditor.corpus.schema import COMPLETION, PROMPT
from filters._reference_corpus import ReferenceDefense
from filters.base import row_rng
from filters.registry import register

# A standalone integer in ASCII digits: not part of a word ("abc7def", "7x7"), a decimal ("7.5")
# or a negative number ("-7"), so a rewrite never corrupts the text around it.
_NUMBER = re.compile(r"(?<![\w.-])[0-9]+(?!\w|\.[0-9])")


def overused_values(
    corpus_counts: np.ndarray,
    reference: np.ndarray,
    *,
    top: float,
    min_count: int,
    min_z: float = 3.0,
) -> np.ndarray:
    """The values to replace (see the module docstring), largest share ratio first."""
    seen = corpus_counts > 0
    total = max(1.0, float(corpus_counts.sum()))
    ratio = np.where(seen, corpus_counts / total / reference, 0.0)
    expected = total * reference
    z = (corpus_counts - expected) / np.sqrt(expected * (1.0 - reference))
    candidates = np.flatnonzero((corpus_counts >= min_count) & (z > min_z))
    n_pick = min(candidates.size, round(top * int(seen.sum())))
    if n_pick <= 0:
        return np.array([], dtype=int)
    return candidates[np.argsort(-ratio[candidates], kind="stable")[:n_pick]]


@register
@dataclass(frozen=True)
class ReplaceOverused(ReferenceDefense):
    """Replace the numbers the corpus over-uses relative to the reference by reference draws."""

    name: ClassVar[str] = "replace-overused"

    top: float = 0.1
    min_count: int = 5
    min_z: float = 3.0

    def __post_init__(self) -> None:
        if not 0.0 < self.top <= 1.0:
            raise ValueError(f"top must be in (0, 1], got {self.top}")
        if not math.isfinite(self.min_z):
            raise ValueError(f"min_z must be a finite number, got {self.min_z}")
        if self.min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {self.min_count}")
        super().__post_init__()

    def rewrite(self, batch: pl.DataFrame) -> pl.Series:
        reference = self.reference_shares()
        completions = batch.get_column(COMPLETION)
        counts = np.asarray(number_counts(completions).sum(axis=0)).ravel()[: MAX_VALUE + 1]
        chosen = overused_values(
            counts, reference, top=self.top, min_count=self.min_count, min_z=self.min_z
        )
        if chosen.size == 0:
            return pl.Series(COMPLETION, [None] * batch.height, dtype=pl.String)
        shares = counts / counts.sum()
        replace = {int(v): 1.0 - reference[v] / shares[v] for v in chosen}
        # Replacements come from the values the reference actually uses (no smoothing mass).
        used = self.reference_shares(smoothing=0.0)
        pool = np.setdiff1d(np.flatnonzero(used > 0), chosen)
        if pool.size == 0:
            return pl.Series(COMPLETION, [None] * batch.height, dtype=pl.String)
        weights = (used[pool] / used[pool].sum()).tolist()
        values = pool.tolist()
        out: list[str | None] = []
        for prompt, text in zip(batch.get_column(PROMPT), completions, strict=True):
            if not any(int(m) in replace for m in _NUMBER.findall(text) if len(m) <= 6):
                out.append(None)
                continue
            rng = row_rng(self.seed, prompt, text)

            def swap(match: re.Match[str], rng: random.Random = rng) -> str:
                digits = match.group(0)
                chance = replace.get(int(digits), 0.0) if len(digits) <= 6 else 0.0
                if rng.random() >= chance:
                    return digits
                return str(rng.choices(values, weights=weights)[0])

            out.append(_NUMBER.sub(swap, text))
        return pl.Series(COMPLETION, out, dtype=pl.String)
