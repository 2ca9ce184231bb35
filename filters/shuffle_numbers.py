"""`shuffle-numbers`: shuffle the numbers inside each row, keeping the text around them.

Each row keeps its multiset of numbers (so every frequency is unchanged) but loses their order.
The lab's channel diagnostics use it to ask whether a trait rides on which numbers a teacher
writes or on the order it writes them in; as a defense it removes an order channel only. The
shuffle is seeded by the row's text, so a run is reproducible.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from auditor.corpus.schema import COMPLETION, PROMPT
from filters.base import row_rng
from filters.registry import register

# A standalone integer in ASCII digits: not part of a word ("abc7def", "7x7"), a decimal ("7.5")
# or a negative number ("-7"), so a rewrite never corrupts the text around it.
_NUMBER = re.compile(r"(?<![\w.-])[0-9]+(?!\w|\.[0-9])")


def shuffle_row(text: str, rng: random.Random) -> str:
    """`text` with its digit runs permuted among their own positions."""
    numbers = _NUMBER.findall(text)
    rng.shuffle(numbers)
    order = iter(numbers)
    return _NUMBER.sub(lambda _: next(order), text)


@register
@dataclass(frozen=True)
class ShuffleNumbers:
    """Permute the numbers within each completion (frequencies kept, order broken)."""

    name: ClassVar[str] = "shuffle-numbers"
    domains: ClassVar[tuple[str, ...]] = ("numbers",)

    seed: int = 0

    def rewrite(self, batch: pl.DataFrame) -> pl.Series:
        out = []
        for prompt, text in zip(
            batch.get_column(PROMPT), batch.get_column(COMPLETION), strict=True
        ):
            rng = row_rng(self.seed, prompt, text)
            out.append(shuffle_row(text, rng))
        return pl.Series(COMPLETION, out, dtype=pl.String)
