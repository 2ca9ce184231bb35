from __future__ import annotations

import random

from auditor.lab.language import UNK, animals, vocab
from auditor.lab.numbers import FORMATS, format_numbers
from auditor.lab.tasks import PretrainMix, pretraining_examples, questions
from filters.reference import parse_number_list


def test_every_pretraining_example_is_in_vocabulary_and_round_trips() -> None:
    voc = vocab()
    for prompt, completion in pretraining_examples(PretrainMix(n_examples=400), seed=3):
        assert voc.id(UNK) not in voc.encode(prompt) + voc.encode(completion)
        assert voc.decode(voc.encode(completion)) == completion


def test_number_completions_of_the_data_are_valid_lists_in_every_format() -> None:
    rng = random.Random(0)
    for fmt in FORMATS:
        numbers = [rng.randint(0, 999) for _ in range(rng.randint(1, 10))]
        assert parse_number_list(format_numbers(numbers, fmt)) == numbers


def test_data_files_meet_the_spec() -> None:
    assert len(animals()) >= 12 and len(set(animals())) == len(animals())
    assert len(questions("all")) >= 20
    assert set(questions("eval")).isdisjoint(questions("train"))
