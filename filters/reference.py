"""Plain per-row Python versions of the rule filters: the executable specification.

The vectorised filters are tested against these functions (same keep/drop decision on every
row) and benchmarked against them (`benchmarks/filter_throughput.py`). They favour being
obviously right over being fast; nothing in the pipeline calls them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

_DIGITS = frozenset(string.digits)


def parse_number_list(answer: str, strip: bool = True) -> list[int] | None:
    """The numbers in a completion under the paper's format rule, or None when malformed.

    Follows the official parser step by step: optional strip, one trailing '.', one [] or ()
    wrapper, the separator taken from between the first two numbers, split on it exactly.
    """
    if strip:
        answer = answer.strip()
    if answer.endswith("."):
        answer = answer[:-1]
    if (answer.startswith("[") and answer.endswith("]")) or (
        answer.startswith("(") and answer.endswith(")")
    ):
        answer = answer[1:-1]
    matches = list(re.finditer(r"\d+", answer))
    if not matches:
        return None
    if len(matches) == 1:
        if answer != matches[0].group():
            return None
        parts = [answer]
    else:
        separator = answer[matches[0].end() : matches[1].start()]
        if separator.strip() not in ("", ",", ";"):
            return None
        parts = answer.split(separator)
    if not all(part and set(part) <= _DIGITS for part in parts):
        return None
    return [int(part) for part in parts]


def numbers_format_keeps(
    answer: str, max_count: int = 10, min_value: int = 0, max_value: int = 999, strip: bool = True
) -> bool:
    """Whether `numbers-format` keeps this completion."""
    numbers = parse_number_list(answer, strip)
    return (
        numbers is not None
        and len(numbers) <= max_count
        and all(min_value <= n <= max_value for n in numbers)
    )


def banned_number_found(answer: str, banned: Iterable[int]) -> int | None:
    """The first whole number in `answer` (leading zeros ignored) that is banned, or None."""
    banned = set(banned)
    for run in re.findall(r"[0-9]+", answer):
        if int(run) in banned:
            return int(run)
    return None


def identifier_parts(text: str) -> str:
    """`text` with each identifier written as its words: `getOWLCount_2` -> `get OWL Count 2`."""

    def split(match: re.Match[str]) -> str:
        return " ".join(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^\W\d_]+", match.group()))

    return re.sub(r"\w+", split, text)


def word_found(answer: str, words: Iterable[str]) -> str | None:
    """The first of `words` in `answer` as a whole word, case-insensitively, or None; words
    inside identifiers count (`owl_count`, `getOwl`)."""
    answer = identifier_parts(answer)
    alternatives = []
    for word in sorted({w.strip().lower() for w in words}, key=len, reverse=True):
        core = r"\s+".join(re.escape(part) for part in word.split())
        head = r"\b" if re.match(r"\w", word) else ""
        tail = r"\b" if re.search(r"\w$", word) else ""
        alternatives.append(head + core + tail)
    match = re.search("|".join(alternatives), answer, re.IGNORECASE)
    return " ".join(match.group().lower().split()) if match else None
