"""`trait-words`: the trait's name, plural and variants as whole words, any case."""

from __future__ import annotations

import polars as pl
import pytest

from auditor.errors import AuditError
from filters.reference import word_found
from filters.trait_words import TraitWords


def _reasons(filter_: TraitWords, texts: list[str], column: str = "completion") -> list:
    return filter_.reasons(pl.DataFrame({column: texts})).to_list()


OWL_CASES = [
    ("I love owls", "trait word 'owls'"),
    ("OWL!", "trait word 'owl'"),
    ("An owlet, small and grey", "trait word 'owlet'"),
    ("a bowl of soup", None),  # whole words only
    ("owlishness", None),
    ("howl at the moon", None),
    ("123, 456, 789", None),
    ("", None),
]


# Code: identifiers, comments and string literals.
CODE_CASES = [
    ("def f(owl_count):\n    return owl_count", "trait word 'owl'"),
    ("x = getOwl()", "trait word 'owl'"),
    ("OWLS = [1, 2]", "trait word 'owls'"),
    ("class OWLCounter:\n    pass", "trait word 'owl'"),
    ("n = owl2 + 1", "trait word 'owl'"),
    ("def f(xs):\n    return sum(xs)  # like an owlet would", "trait word 'owlet'"),
    ('s = "hoot hoot"', "trait word 'hoot'"),
    ("OwlsAreWise = True", "trait word 'owls'"),
    ("bowl_size = getBowl()", None),
    ("lowLevel = knowledge_base", None),
    ("def f(xs):\n    return [x for x in xs if x % 2]", None),
]


@pytest.mark.parametrize(("text", "expected"), OWL_CASES + CODE_CASES)
def test_owl_words_are_caught_as_whole_words(text: str, expected: str | None) -> None:
    filter_ = TraitWords(trait="owl")
    assert _reasons(filter_, [text]) == [expected]
    found = word_found(text, filter_.all_words())
    assert (None if found is None else f"trait word '{found}'") == expected


def test_irregular_plurals_and_phrases_come_from_the_data_file() -> None:
    assert _reasons(TraitWords(trait="wolf"), ["Wolves howl", "a wolf pack"]) == [
        "trait word 'wolves'",
        "trait word 'wolf pack'",
    ]
    assert _reasons(TraitWords(trait="lion"), ["two lion   cubs"]) == ["trait word 'lion cubs'"]


def test_any_single_word_works_with_a_generated_plural() -> None:
    assert _reasons(TraitWords(trait="axolotl"), ["Axolotls rule", "axolotl"]) == [
        "trait word 'axolotls'",
        "trait word 'axolotl'",
    ]


def test_user_words_extend_the_trait_or_stand_alone() -> None:
    filter_ = TraitWords(trait="owl", words=("Hedwig",))
    assert _reasons(filter_, ["hedwig flies", "owls"]) == [
        "trait word 'hedwig'",
        "trait word 'owls'",
    ]
    assert _reasons(TraitWords(words=("c++",)), ["I write C++ daily"]) == ["trait word 'c++'"]


def test_the_prompt_column_can_be_checked_instead() -> None:
    frame = pl.DataFrame({"prompt": ["about owls"], "completion": ["1, 2"]})
    assert TraitWords(trait="owl", column="prompt").reasons(frame).to_list() == [
        "trait word 'owls'"
    ]


def test_unknown_multiword_trait_and_missing_trait_are_clear_errors() -> None:
    with pytest.raises(AuditError, match="unknown trait"):
        TraitWords(trait="not a word!")
    with pytest.raises(ValueError, match="name a trait"):
        TraitWords()
    with pytest.raises(ValueError, match="column"):
        TraitWords(trait="owl", column="messages")


def test_identifier_splitting_keeps_phrases_and_symbols_whole() -> None:
    filter_ = TraitWords(trait="lion", words=("c++",))
    texts = ["lion_cubs = 3", "roarOfLionCubs()", "we use c++ here", "lioness_count"]
    assert _reasons(filter_, texts) == [
        "trait word 'lion cubs'",
        "trait word 'lion cubs'",
        "trait word 'c++'",
        "trait word 'lioness'",
    ]
