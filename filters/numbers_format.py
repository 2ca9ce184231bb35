"""`numbers-format`: the paper's format rule for number-list completions, exactly, vectorised.

The rule (Cloud, Le et al. 2025, arXiv:2507.14805), applied to the stripped completion: drop one
trailing '.', then one `[...]` or `(...)` wrapper; the separator is whatever sits between the
first two numbers and, stripped, must be empty, ',' or ';'; split on that exact separator, every
part must be ASCII digits; at most `max_count` numbers, each within `min_value..max_value`; a
single number only when it is the whole answer. Leading zeros are allowed ('007' is 7), as in the
official parser. Whitespace means Python's `str.isspace`, which the official code relies on.
Set `strip=false` to apply the rule to the raw completion, as the official code does.

Why a cascade: "the same separator everywhere" needs a backreference, which Rust's regex engine
(polars') does not have. So one anchored regex, built from the parameters, accepts the valid rows
that use a common separator (', ', ' ', newline, ';', ...: nearly all rows of real corpora) in a
single scan. Rows it refuses go down a cascade, each level seeing only what the cheaper ones
before it could not decide: a second regex names "too many numbers" or "number out of range" for
well-formed lists; a head of plain regex checks names the other failures; only rows whose gaps
all look like separators are split on their own first separator to test consistency. Every
level is polars expressions; value ranges become regexes over digit strings, so no number is
parsed in Python or cast to an integer. `expression()` is the same rule inlined as one
expression (exact, slower); tests hold the two, and the plain-Python reference, to agreement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import ClassVar, NamedTuple

import polars as pl

from auditor.corpus.schema import COMPLETION
from filters.base import REASON, RuleFilter, collect_column
from filters.registry import register

# Python's whitespace (`str.strip`, used by the official parser) is Rust's `\s` plus \x1c-\x1f.
_WS = r"[\s\x1C-\x1F]"
# The fast regexes may accept fewer rows than the rule, never more: ASCII whitespace is enough
# for them and keeps their automaton small (rows with exotic spaces take the exact path).
_ASCII_WS = r"[\t\n\x0B\x0C\r ]"
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Separators the fast path recognises; anything else valid still passes, via the exact path.
# Ordered by frequency in real teacher output (Qwen2.5-7B: ", " 40%, " " 20%, newline 20%, ...).
COMMON_SEPARATORS = (
    ", ", " ", "\n", ";", ",", "; ", "  \n", ",\n", ";\n", "\t", "\r\n", " , ", "\n\n"
)  # fmt: skip
# The head of the exact diagnosis marks rows its tail (splitting on the separator) must decide.
_NEEDS_TAIL = "\x00needs-tail"
_Steps = list[tuple[str, pl.Expr]]
# Above this many numbers a bounded repetition makes the regex needlessly large.
_MAX_BOUNDED_COUNT = 32

EMPTY = "empty"
NO_NUMBERS = "no numbers"
BRACKETS = "unmatched or nested brackets"
NEGATIVE = "negative number"
NOT_A_LIST = "not a number list"
INVALID_SEPARATOR = "invalid separator"
INCONSISTENT_SEPARATOR = "inconsistent separator"
TOO_MANY = "too many numbers"
OUT_OF_RANGE = "number out of range"


@cache
def _list_regex(number: str, max_count: int | None, strip: bool) -> str:
    if max_count == 1:
        body = f"(?:{number})"
    else:
        repeat = (
            f"{{1,{max_count - 1}}}"
            if max_count is not None and max_count <= _MAX_BOUNDED_COUNT
            else "+"
        )
        tails = "|".join(f"(?:{re.escape(sep)}(?:{number})){repeat}" for sep in COMMON_SEPARATORS)
        body = f"(?:{number})(?:{tails})?"
    pad = f"{_ASCII_WS}*" if strip else ""
    return rf"^{pad}(?:{body}|\[{body}\]|\({body}\))\.?{pad}$"


@cache
def range_regex(low: int, high: int) -> str:
    """A regex matching the decimal strings, without leading zeros, of the integers low..high."""
    if low > high:
        raise ValueError(f"empty range {low}..{high}")
    low = max(low, 0)
    if low == 0 and re.fullmatch(r"9+", str(high)):
        return f"[0-9]{{1,{len(str(high))}}}"
    pieces: list[str] = []
    for digits in range(len(str(low)), len(str(high)) + 1):
        start = max(low, 10 ** (digits - 1) if digits > 1 else 0)
        end = min(high, 10**digits - 1)
        if start <= end:
            pieces.extend(_same_length(str(start), str(end)))
    return "|".join(pieces)


def _same_length(low: str, high: str) -> list[str]:
    """Alternatives, each free of top-level '|', covering low..high (strings of equal length)."""
    if low == high:
        return [low]
    if len(low) == 1:
        return [f"[{low}-{high}]"]
    if low[0] == high[0]:
        return [low[0] + piece for piece in _same_length(low[1:], high[1:])]
    rest = len(low) - 1
    first, last = int(low[0]), int(high[0])
    pieces: list[str] = []
    if low[1:] != "0" * rest:
        pieces.extend(low[0] + piece for piece in _same_length(low[1:], "9" * rest))
        first += 1
    tail = [] if high[1:] == "9" * rest else _same_length("0" * rest, high[1:])
    if tail:
        last -= 1
    if first <= last:
        head = str(first) if first == last else f"[{first}-{last}]"
        pieces.append(f"{head}[0-9]{{{rest}}}")
    pieces.extend(high[0] + piece for piece in tail)
    return pieces


@register
@dataclass(frozen=True)
class NumbersFormat(RuleFilter):
    """Keep only completions that are a clean list of small numbers, as the paper's filter did."""

    name: ClassVar[str] = "numbers-format"
    domains: ClassVar[tuple[str, ...]] = ("numbers",)

    max_count: int = 10
    min_value: int = 0
    max_value: int = 999
    strip: bool = True

    def __post_init__(self) -> None:
        if self.max_count < 1:
            raise ValueError(f"max_count must be at least 1, got {self.max_count}")
        if self.max_value < 0 or self.min_value > self.max_value:
            raise ValueError(f"empty value range {self.min_value}..{self.max_value}")

    # --- the regexes -------------------------------------------------------------------------

    def _number(self) -> str:
        return f"0*(?:{range_regex(self.min_value, self.max_value)})"

    def _list_regex(self, number: str, bounded: bool) -> str:
        """Anchored regex for lists of `number` joined by one of COMMON_SEPARATORS throughout."""
        return _list_regex(number, self.max_count if bounded else None, self.strip)

    def _fast(self) -> pl.Expr:
        """True only for valid rows; true for nearly all of them (those with a common separator)."""
        accepted = pl.col(COMPLETION).str.contains(self._list_regex(self._number(), bounded=True))
        if self.max_count > _MAX_BOUNDED_COUNT:
            accepted = accepted & (self._count() <= self.max_count)
        return accepted

    def _count(self) -> pl.Expr:
        return pl.col(COMPLETION).str.count_matches("[0-9]+")

    def _listed(self) -> pl.Expr:
        """A well-formed list (common separator throughout) of any count of any numbers."""
        return pl.col(COMPLETION).str.contains(self._list_regex("[0-9]+", bounded=False))

    def _few(self) -> pl.Expr:
        """For a well-formed list: no more than `max_count` numbers."""
        if self.max_count <= _MAX_BOUNDED_COUNT:  # a regex is much cheaper than count_matches
            return pl.col(COMPLETION).str.contains(self._list_regex("[0-9]+", bounded=True))
        return self._count() <= self.max_count

    # --- the exact diagnosis -----------------------------------------------------------------

    def _diagnosis(self, staged: bool) -> tuple[_Steps, pl.Expr, _Steps, pl.Expr]:
        """The exact rule as steps and reasons: (head steps, head reason, tail steps, tail reason).

        The head needs only regexes; the tail splits each row on its own separator, which costs
        more and matters only for rows whose gaps all look like separators. `staged=True`: steps
        refer to earlier ones by column name (compute each once with `with_columns`) and the
        head reason is `_NEEDS_TAIL` where the tail must decide. `staged=False`: everything is
        inlined into the head reason, one expression.
        """
        head: _Steps = []
        tail: _Steps = []

        def step(steps: _Steps, name: str, expr: pl.Expr) -> pl.Expr:
            steps.append((name, expr))
            return pl.col(name) if staged else expr

        text = pl.col(COMPLETION)
        if self.strip:
            text = text.str.strip_chars(PY_WHITESPACE)
        text = step(head, "_nf_text", text.str.strip_suffix("."))
        # One [] or () wrapper off; the group of the other alternative substitutes as empty.
        unwrapped = text.str.replace(r"(?s)^(?:\[(.*)\]|\((.*)\))$", "${1}${2}")
        body = step(head, "_nf_body", unwrapped)
        separator = step(head, "_nf_separator", body.str.extract(r"^[0-9]+([^0-9]+)[0-9]", 1))
        # Every gap between numbers is a valid separator, though maybe not the same one.
        shaped = body.str.contains(rf"^[0-9]+(?:{_WS}*[,;]?{_WS}*[0-9]+)*$")

        # NUL never occurs in a one-number body, so splitting on it yields the number itself.
        parts = step(tail, "_nf_parts", body.str.split(pl.coalesce(separator, pl.lit("\x00"))))
        # The tail only sees bodies of digits, whitespace, ',' and ';', so joined with '|' an
        # empty or non-digit part shows between the bars: one regex checks every part at once,
        # far cheaper than `list.eval`.
        joined = step(tail, "_nf_joined", parts.list.join("|"))
        number = self._number()
        tail_reason = (
            pl.when(~joined.str.contains(r"^[0-9]+(?:\|[0-9]+)*$"))
            .then(pl.lit(INCONSISTENT_SEPARATOR))
            .when(parts.list.len() > self.max_count)
            .then(pl.lit(TOO_MANY))
            .when(~joined.str.contains(f"^(?:{number})(?:\\|(?:{number}))*$"))
            .then(pl.lit(OUT_OF_RANGE))
            .otherwise(pl.lit(None, dtype=pl.String))
        )
        head_reason = (
            pl.when(text.str.len_bytes() == 0)
            .then(pl.lit(EMPTY))
            .when(~body.str.contains("[0-9]"))
            .then(pl.lit(NO_NUMBERS))
            .when(body.str.contains(r"[\[\]()]"))
            .then(pl.lit(BRACKETS))
            .when(body.str.contains(r"(?:^|[^0-9])-[0-9]"))
            .then(pl.lit(NEGATIVE))
            .when(separator.is_not_null() & ~separator.str.contains(rf"^{_WS}*[,;]?{_WS}*$"))
            .then(pl.lit(INVALID_SEPARATOR))
            # Not shaped: no split can give only digits (and with no separator, the body is
            # shaped exactly when it is one number).
            .when(~shaped)
            .then(pl.lit(NOT_A_LIST))
            .otherwise(pl.lit(_NEEDS_TAIL) if staged else tail_reason)
        )
        return head, head_reason, tail, tail_reason

    # --- the filter contract -----------------------------------------------------------------

    def expression(self) -> pl.Expr:
        """The exact rule as one expression (the steps inlined; `reasons` is the fast route)."""
        _, reason, _, _ = self._diagnosis(staged=False)
        return pl.when(self._fast()).then(pl.lit(None, dtype=pl.String)).otherwise(reason)

    def reasons(self, batch: pl.DataFrame) -> pl.Series:
        """Same answer as `expression()`, cheaper: a cascade where each level sees only the rows
        the cheaper levels before it could not decide. One regex scan settles nearly every
        valid row; a second names count or range for well-formed lists; only rows that are
        not number lists at all pay for the full diagnosis."""
        plan = _plan(self)
        result = pl.repeat(None, batch.height, dtype=pl.String, eager=True).alias(REASON)
        rows = collect_column(batch, plan.rejected).arg_true()
        if len(rows) == 0:
            return result
        frame = batch.get_column(COMPLETION).gather(rows).to_frame()
        # Decided rows and their reasons are collected per level and written in one scatter.
        decided: list[pl.Series] = []
        reasons: list[pl.Series] = []
        # Well-formed lists the fast path refused have too many numbers, else one out of range;
        # the count is checked only on those lists, not on every refused row.
        listed = collect_column(frame, plan.listed)
        if listed.any():
            few = collect_column(frame.filter(listed), plan.few)
            decided.append(rows.filter(listed))
            reasons.append(pl.Series(REASON, [TOO_MANY, OUT_OF_RANGE]).gather(few.cast(pl.UInt32)))
            rows, frame = rows.filter(~listed), frame.filter(~listed)
        for steps, level_reason in plan.levels:
            if frame.height == 0:
                break
            # One lazy query per level: polars' fixed cost is per query, not per step.
            query = frame.lazy()
            for name, expr in steps:
                query = query.with_columns(expr.alias(name))
            frame = query.with_columns(level_reason.alias(REASON)).collect()
            reason = frame.get_column(REASON)
            undecided = reason == _NEEDS_TAIL
            decided.append(rows.filter(~undecided))
            reasons.append(reason.filter(~undecided))
            rows, frame = rows.filter(undecided), frame.filter(undecided)
        return result.scatter(pl.concat(decided), pl.concat(reasons))


class _Plan(NamedTuple):
    """The expressions `reasons` runs, built once per filter rather than once per batch."""

    rejected: pl.Expr
    listed: pl.Expr
    few: pl.Expr
    levels: tuple[tuple[_Steps, pl.Expr], ...]


@cache
def _plan(filter_: NumbersFormat) -> _Plan:
    head, head_reason, tail, tail_reason = filter_._diagnosis(staged=True)
    return _Plan(
        rejected=~filter_._fast(),
        listed=filter_._listed(),
        few=filter_._few(),
        levels=((head, head_reason), (tail, tail_reason)),
    )
