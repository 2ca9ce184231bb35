"""`random`: drop a fixed fraction of rows at random: the benchmark's null defense.

A filter that removes rows without looking at what makes them carry a trait should leave the
leakage where it was (the student still sees the same kind of rows, just fewer of them). The
filter benchmark runs it to check itself: if dropping half the rows at random came out as a
defense, the benchmark would be crediting filters for data loss. The draw is a hash of the
row's text and the seed, so it is reproducible and needs no state across batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from filters.base import RuleFilter, row_draw
from filters.registry import register


@register
@dataclass(frozen=True)
class RandomDrop(RuleFilter):
    """Drop each row with probability `fraction`, decided by a hash of its text and `seed`."""

    name: ClassVar[str] = "random"

    fraction: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be between 0 and 1, got {self.fraction}")

    def expression(self) -> pl.Expr:
        return pl.when(row_draw(self.seed) < self.fraction).then(
            pl.lit(f"random drop ({self.fraction:g})")
        )
