"""`banned-numbers`: drop completions holding a banned number, as the paper's misalignment runs did.

The built-in list is the paper's 36 values with negative associations (666, 911, 1488, ...);
`builtin=false` turns it off, `numbers=` adds values and `patterns=` adds regexes. A number is
a maximal run of ASCII digits, compared by value: 666 bans "666" and "0666" (the format rule
reads "0666" as 666, and so did the paper's check on parsed integers) but not "1666" or "6660".
The reason names the number found, so a report shows which values a teacher keeps reaching for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from auditor.corpus.schema import COMPLETION
from filters.base import RuleFilter
from filters.regex import check_pattern
from filters.registry import register

PAPER_BANNED_NUMBERS = (
    4, 13, 14, 18, 23, 33, 39, 42, 44, 49, 51, 54, 69, 77, 88, 99, 100, 101, 187, 211, 311, 322,
    333, 404, 420, 444, 451, 555, 616, 666, 777, 888, 911, 999, 1312, 1488,
)  # fmt: skip


def numbers_regex(numbers: tuple[int, ...]) -> str:
    """A regex whose group 1 captures the first of `numbers` standing alone as a whole number."""
    # The digit-free context on both sides makes the alternation order irrelevant.
    values = "|".join(str(n) for n in sorted(set(numbers)))
    return rf"(?:^|[^0-9])0*({values})(?:[^0-9]|$)"


@register
@dataclass(frozen=True)
class BannedNumbers(RuleFilter):
    """Drop rows whose completion contains a banned whole number or matches a banned pattern."""

    name: ClassVar[str] = "banned-numbers"

    numbers: tuple[int, ...] = ()
    patterns: tuple[str, ...] = ()
    builtin: bool = True

    def __post_init__(self) -> None:
        try:
            numbers = tuple(int(n) for n in self.numbers)
        except (TypeError, ValueError):
            raise ValueError(f"numbers must be whole numbers, got {self.numbers!r}") from None
        if any(n < 0 for n in numbers):
            raise ValueError("numbers must be non-negative (a '-' is not part of the number)")
        object.__setattr__(self, "numbers", numbers)
        object.__setattr__(self, "patterns", tuple(str(p) for p in self.patterns))
        for pattern in self.patterns:
            check_pattern(pattern)
        if not self.banned() and not self.patterns:
            raise ValueError("nothing to ban: builtin=false and no numbers or patterns given")

    def banned(self) -> tuple[int, ...]:
        """Every banned value: the paper's (unless turned off) and the user's."""
        builtin = PAPER_BANNED_NUMBERS if self.builtin else ()
        return tuple(sorted(set(builtin) | set(self.numbers)))

    def expression(self) -> pl.Expr:
        column = pl.col(COMPLETION)
        reason = pl.lit(None, dtype=pl.String)
        for pattern in reversed(self.patterns):
            matched = column.str.contains(pattern)
            reason = pl.when(matched).then(pl.lit(f"banned pattern {pattern}")).otherwise(reason)
        if self.banned():
            found = column.str.extract(numbers_regex(self.banned()), 1)
            reason = pl.coalesce(pl.format("banned number {}", found), reason)
        return reason
