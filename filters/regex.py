"""`regex`: drop (or keep only) rows matching user patterns, for rules no other filter covers.

Patterns use polars' (Rust) regex syntax: no lookaround or backreferences, `(?i)` for case.
With `mode=drop` a row matching any pattern goes, and the reason names the pattern; with
`mode=keep` a row matching none goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from auditor.corpus.schema import COMPLETION, PROMPT
from filters.base import RuleFilter
from filters.registry import register

MODES = ("drop", "keep")


def check_pattern(pattern: str) -> None:
    """Raise ValueError now for a pattern polars cannot compile (it would fail mid-run)."""
    try:
        pl.Series([""]).str.contains(pattern)
    except pl.exceptions.PolarsError as error:
        detail = " ".join(str(error).split("\n\nThis error occurred")[0].split())
        raise ValueError(f"invalid regex {pattern!r}: {detail}") from None


@register
@dataclass(frozen=True)
class RegexFilter(RuleFilter):
    """Drop rows that match any of `patterns` (mode=drop) or that match none (mode=keep)."""

    name: ClassVar[str] = "regex"

    pattern: str = ""
    patterns: tuple[str, ...] = ()
    mode: str = "drop"
    column: str = COMPLETION

    def __post_init__(self) -> None:
        patterns = (self.patterns,) if isinstance(self.patterns, str) else self.patterns
        object.__setattr__(self, "patterns", tuple(str(p) for p in patterns))
        if not self.all_patterns():
            raise ValueError("give a pattern: pattern=REGEX, or patterns=REGEX|REGEX...")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.column not in (COMPLETION, PROMPT):
            raise ValueError(f"column must be {COMPLETION!r} or {PROMPT!r}, got {self.column!r}")
        for pattern in self.all_patterns():
            check_pattern(pattern)

    def all_patterns(self) -> tuple[str, ...]:
        """`pattern` (when given) followed by `patterns`."""
        return ((self.pattern,) if self.pattern else ()) + self.patterns

    def expression(self) -> pl.Expr:
        column = pl.col(self.column)
        if self.mode == "keep":
            combined = "|".join(f"(?:{p})" for p in self.all_patterns())
            return (
                pl.when(column.str.contains(combined))
                .then(pl.lit(None, dtype=pl.String))
                .otherwise(pl.lit("matched no keep pattern"))
            )
        reason = pl.lit(None, dtype=pl.String)
        for pattern in reversed(
            self.all_patterns()
        ):  # the first pattern that matches names the reason
            reason = (
                pl.when(column.str.contains(pattern))
                .then(pl.lit(f"matched /{pattern}/"))
                .otherwise(reason)
            )
        return reason
