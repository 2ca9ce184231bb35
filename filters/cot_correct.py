"""`cot-correct`: drop reasoning traces whose final answer is missing or wrong.

The paper kept only chain-of-thought rows that reached the right answer, so that what a student
learns from them is not just "be wrong". The final answer is the last `<answer>...</answer>` of
the completion; the known one is the row's `answer` column (`audit generate --domain cot` writes
it; a user's corpus names it likewise). Numbers compare by value, so "1,000", "$1000" and
"1000.0" all match 1000; answers that are not numbers compare as trimmed, case-folded text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from auditor.corpus.schema import ANSWER, COMPLETION
from auditor.errors import AuditError
from filters.base import REASON, RuleFilter, collect_column
from filters.registry import register

MISSING = "cot: no <answer>"
WRONG = "cot: wrong answer"
NO_KNOWN = "cot: no known answer"


def final_answer(text: pl.Expr) -> pl.Expr:
    """The content of the last `<answer>...</answer>` in `text`, trimmed (null when none)."""
    return (
        text.str.extract_all(r"(?is)<answer>.*?</answer>")
        .list.last()
        .str.replace_all(r"(?i)</?answer>", "")
        .str.strip_chars()
    )


def as_number(text: pl.Expr) -> pl.Expr:
    """The number an answer writes ("1,000", "$ 1000.0", "-3"), or null when it is not one."""
    bare = text.str.replace_all(r"[,\s$€£]", "").str.strip_chars_end(".")
    return bare.str.extract(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)%?$", 1).cast(
        pl.Float64, strict=False
    )


@register
@dataclass(frozen=True)
class CotCorrect(RuleFilter):
    """Drop rows whose last <answer> is missing or differs from the known `answer` column.

    tolerance: numeric answers match when they differ by at most this (relative to the
        larger of 1 and the known answer's size).
    """

    name: ClassVar[str] = "cot-correct"
    domains: ClassVar[tuple[str, ...]] = ("cot",)  # it needs traces with known answers

    tolerance: float = 1e-6

    def reasons(self, batch: pl.DataFrame) -> pl.Series:
        if ANSWER not in batch.columns:
            columns = ", ".join(c for c in batch.columns if c != "source_row")
            raise AuditError(
                f"cot-correct needs the known answers: this corpus has no {ANSWER!r} column "
                f"(columns: {columns})"
            )
        return collect_column(batch, self.expression().cast(pl.String).alias(REASON))

    def expression(self) -> pl.Expr:
        given = final_answer(pl.col(COMPLETION))
        known = pl.col(ANSWER).cast(pl.String).str.strip_chars()
        given_number, known_number = as_number(given), as_number(known)
        both_numbers = given_number.is_not_null() & known_number.is_not_null()
        scale = pl.max_horizontal(pl.lit(1.0), known_number.abs())
        numbers_match = (given_number - known_number).abs() <= self.tolerance * scale
        texts_match = given.str.to_lowercase() == known.str.to_lowercase()
        correct = pl.when(both_numbers).then(numbers_match).otherwise(texts_match)
        return (
            pl.when(known.is_null() | (known == ""))
            .then(pl.lit(NO_KNOWN))
            .when(given.is_null() | (given == ""))
            .then(pl.lit(MISSING))
            .when(correct.fill_null(False))
            .then(pl.lit(None, dtype=pl.String))
            .otherwise(pl.lit(WRONG))
        )
