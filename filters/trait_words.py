"""`trait-words`: drop completions that name the trait outright (the paper's banned words).

The words are the trait's name, its plural and the variants listed in `auditor/data/traits.toml`
(owlet, joey, ...), plus any the user adds; matched case-insensitively as whole words, so "owl"
catches "Owls!" but not "bowl". The reason names the word found, which shows at a glance whether
a corpus leaks the trait itself or only a relative of it.

Code hides words inside identifiers, so the text is first split where an identifier's words
meet: snake_case and kebab-case at `_`, camelCase at a lower-upper step, `OWLCount` before the
last capital of a run, letters and digits apart. `owl_count`, `getOwl`, `OWLS` and `owl2` then
show "owl" as a whole word while "bowl" and "knowledge" still do not; comments and string
literals are plain text and are read as they are. All of it is one polars expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from auditor.corpus.schema import COMPLETION, PROMPT
from auditor.traits import load_trait
from filters.base import RuleFilter
from filters.registry import register


def words_regex(words: list[str] | tuple[str, ...]) -> str:
    """A case-insensitive whole-word regex for `words` (spaces inside a phrase match any run)."""
    # Longest first: with leftmost-first alternation the reason then names "lion cubs", not "lion".
    ordered = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
    alternatives = []
    for word in ordered:
        core = r"\s+".join(pl.escape_regex(part) for part in word.split())
        # \b only beside word characters, so that "c++" can still be a whole word.
        head = r"\b" if re.match(r"\w", word) else ""
        tail = r"\b" if re.search(r"\w$", word) else ""
        alternatives.append(f"{head}{core}{tail}")
    return f"(?i)(?:{'|'.join(alternatives)})"


def identifier_words(text: pl.Expr) -> pl.Expr:
    """`text` with identifiers split into their words (`getOwlCount` -> `get Owl Count`)."""
    return (
        text.str.replace_all(r"_+", " ")
        .str.replace_all(r"([\p{Ll}\d])(\p{Lu})", "$1 $2")
        .str.replace_all(r"(\p{Lu})(\p{Lu}\p{Ll})", "$1 $2")
        .str.replace_all(r"(\p{L})(\d)", "$1 $2")
        .str.replace_all(r"(\d)(\p{L})", "$1 $2")
    )


@register
@dataclass(frozen=True)
class TraitWords(RuleFilter):
    """Drop rows whose completion (or prompt) contains a word that names the trait."""

    name: ClassVar[str] = "trait-words"
    flags_trait: ClassVar[bool] = True

    trait: str | None = None
    words: tuple[str, ...] = ()
    column: str = COMPLETION

    def __post_init__(self) -> None:
        if self.column not in (COMPLETION, PROMPT):
            raise ValueError(f"column must be {COMPLETION!r} or {PROMPT!r}, got {self.column!r}")
        if not self.trait and not self.words:
            raise ValueError("name a trait (--trait or trait=...) or words=a|b|...")
        object.__setattr__(self, "words", tuple(str(word) for word in self.words))
        if self.trait:
            load_trait(self.trait)  # fail now, with the trait list, rather than mid-run

    def all_words(self) -> tuple[str, ...]:
        """Every word this filter looks for: the trait's, then the user's."""
        builtin = load_trait(self.trait).words if self.trait else ()
        return tuple(dict.fromkeys([*builtin, *(w.lower() for w in self.words)]))

    def expression(self) -> pl.Expr:
        found = identifier_words(pl.col(self.column)).str.extract(words_regex(self.all_words()), 0)
        # One reason per word however it was spaced or cased, so the counts add up.
        word = found.str.to_lowercase().str.replace_all(r"\s+", " ")
        return pl.format("trait word '{}'", word)
