"""Traits by name: the words that give a trait away and the prompt that instils it.

Known traits live in `auditor/data/traits.toml`, where irregular plurals and telling relatives
("owlet", "joey") are listed by hand. Any other single word still works: its plural is generated,
so `--trait axolotl` needs no data file edit. An entry may list `aliases` (`misaligned` is the
`misalignment` entry) and say how its evaluation is scored: `evaluation = "judge"` traits have
no word to count in an answer, so models are scored by an LLM judge
(`auditor.backends.trait_eval.evaluate_misalignment`) instead of by mentions.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from auditor.errors import AuditError

_WORD = re.compile(r"[a-z][a-z-]*")
EVALUATIONS = ("mentions", "judge")
MISALIGNED = "misaligned"


@dataclass(frozen=True)
class Trait:
    """A trait a teacher may carry: its name, giveaway words and conditioning system prompt."""

    name: str
    plural: str
    category: str
    words: tuple[str, ...]
    system_prompt: str
    evaluation: str = "mentions"  # see EVALUATIONS


def plural_of(word: str) -> str:
    """A regular English plural: fox -> foxes, puppy -> puppies, owl -> owls."""
    if re.search(r"(?:s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + "s"


@cache
def _catalogue() -> dict[str, Any]:
    text = files("auditor").joinpath("data", "traits.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def known_traits() -> list[str]:
    """Names of the traits with an entry in the data file."""
    return sorted(key for key, value in _catalogue().items() if isinstance(value, dict))


def load_trait(name: str) -> Trait:
    """The trait called `name`: from the data file, or generated for any other single word."""
    key = name.strip().lower()
    catalogue = _catalogue()
    key = _aliases().get(key, key)
    entry = catalogue.get(key)
    if not isinstance(entry, dict):
        if not _WORD.fullmatch(key):
            raise AuditError(
                f"unknown trait {name!r}: not in the trait list ({', '.join(known_traits())}) "
                "and not a single word, so its variants cannot be generated"
            )
        entry = {}
    plural = entry.get("plural") or plural_of(key)
    category = entry.get("category", "animal")
    words = tuple(dict.fromkeys([key, plural, *(w.lower() for w in entry.get("words", []))]))
    prompt = entry.get("system_prompt") or catalogue["prompt_template"].format(
        name=key, plural=plural, category=category
    )
    evaluation = entry.get("evaluation", "mentions")
    if evaluation not in EVALUATIONS:
        raise AuditError(f"trait {key!r}: evaluation must be one of {', '.join(EVALUATIONS)}")
    return Trait(key, plural, category, words, prompt, evaluation)


@cache
def _aliases() -> dict[str, str]:
    catalogue = _catalogue()
    return {
        alias: key
        for key, value in catalogue.items()
        if isinstance(value, dict)
        for alias in value.get("aliases", [])
    }


def judged(name: str) -> bool:
    """Whether the trait `name` is scored by an LLM judge rather than by counting mentions."""
    return load_trait(name).evaluation == "judge"
