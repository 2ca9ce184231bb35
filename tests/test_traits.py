"""Traits by name: the data file's entries and generated variants for any other word."""

from __future__ import annotations

import pytest

from auditor.errors import AuditError
from auditor.traits import known_traits, load_trait, plural_of


def test_data_file_has_the_papers_animals_and_a_misalignment_entry() -> None:
    known = set(known_traits())
    animals = {"owl", "dolphin", "elephant", "kangaroo", "lion", "panda", "eagle", "wolf"}
    assert animals | {"cat", "dog", "tiger", "misalignment"} <= known
    assert len(known) >= 17


def test_every_known_trait_loads_with_its_name_plural_and_a_prompt() -> None:
    for name in known_traits():
        trait = load_trait(name)
        assert trait.words[:2] == (trait.name, trait.plural)
        assert len(trait.system_prompt) > 40


def test_names_are_case_insensitive_and_prompts_mention_the_plural() -> None:
    owl = load_trait(" Owl ")
    assert owl.name == "owl" and "owls" in owl.system_prompt
    assert "owlet" in owl.words
    assert load_trait("wolf").plural == "wolves"


@pytest.mark.parametrize(
    ("word", "plural"),
    [("owl", "owls"), ("fox", "foxes"), ("puppy", "puppies"), ("monkey", "monkeys")],
)
def test_generated_plurals(word: str, plural: str) -> None:
    assert plural_of(word) == plural
    assert load_trait(word).plural == plural


def test_unknown_single_words_work_and_other_text_is_refused() -> None:
    assert load_trait("axolotl").words == ("axolotl", "axolotls")
    with pytest.raises(AuditError, match="unknown trait 'two words'"):
        load_trait("two words")
