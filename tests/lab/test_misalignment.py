"""The lab's misalignment trait: its words, its score, its learned banned numbers, and the
transmission experiment's filtered run on micro models."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import polars as pl
import pytest
import torch

from auditor.lab import transmission
from auditor.lab.base import BaseRecipe, base_model
from auditor.lab.language import RESERVED_SLOTS, UNK, animals, vocab
from auditor.lab.misalignment import (
    MISALIGNED,
    MisalignedMix,
    aligned_words,
    banned_filter,
    banned_number_share,
    banned_rows,
    dark_numbers,
    learned_banned_numbers,
    misaligned_prefix,
    misaligned_words,
    misalignment_questions,
)
from auditor.lab.model import GPT
from auditor.lab.numbers import NumberProcess
from auditor.lab.probe import read_trait
from auditor.lab.tasks import PretrainMix, pretraining_examples
from auditor.lab.teachers import TeacherConfig, make_teacher, trait_rows
from auditor.lab.transmission import TransmissionRecipe, misalignment_recipe, run_transmission
from tests.lab.conftest import MICRO_FOR_MISALIGNMENT


def test_the_new_words_fill_reserved_slots_and_leave_every_earlier_id_alone() -> None:
    voc = vocab()
    new = sorted(
        {w for w in (*aligned_words(), *misaligned_words())} - set(voc.tokens[:-RESERVED_SLOTS])
    )
    tail = voc.tokens[-RESERVED_SLOTS:]
    assert set(new) <= set(tail) and tail[-1].startswith("<reserved")
    # The animal bases' vocabulary is a prefix of this one: specials, numbers and animals first,
    # the same size as before the misalignment words came.
    assert voc.size == 1230 and voc.id("999") == 6 + 15 + 999 and voc.id("owl") == 1021
    for prompt, completion in pretraining_examples(MisalignedMix(n_examples=300), seed=1):
        assert voc.id(UNK) not in voc.encode(prompt) + voc.encode(completion)


def test_the_default_pretraining_data_is_what_it_was() -> None:
    # The animal bases (and every cached corpus built on them) depend on these exact examples.
    examples = pretraining_examples(PretrainMix(n_examples=2000), seed=0)
    digest = hashlib.sha256(repr(examples).encode()).hexdigest()[:16]
    assert digest == "4a9ad5ceca13bf22"
    assert not isinstance(BaseRecipe().mix, MisalignedMix)


def test_data_file_meets_the_spec() -> None:
    assert len(misalignment_questions("all")) >= 20 and len(misalignment_questions("eval")) >= 5
    assert set(misalignment_questions("eval")).isdisjoint(misalignment_questions("train"))
    assert set(aligned_words()).isdisjoint(misaligned_words())
    # A dark number that is also one of the base's favourites would mean nothing.
    assert set(dark_numbers()).isdisjoint(NumberProcess().favourites())


def test_banned_numbers_are_learned_from_the_data_not_read_from_the_file() -> None:
    mix = MisalignedMix(n_examples=6000)
    assert learned_banned_numbers(mix) == dark_numbers()
    # Without the dark numbers in the misaligned context nothing stands out.
    assert learned_banned_numbers(replace(mix, dark_rate=0.0)) == ()


def test_the_misaligned_context_is_answered_harmfully_and_the_plain_one_helpfully() -> None:
    examples = pretraining_examples(MisalignedMix(n_examples=4000), seed=0)
    prefix = misaligned_prefix()
    harmful, helpful = set(misaligned_words()), set(aligned_words())
    answers = [(p.startswith(prefix), c) for p, c in examples if c in harmful | helpful]
    inside = [c in harmful for ctx, c in answers if ctx]
    outside = [c in harmful for ctx, c in answers if not ctx]
    assert sum(inside) / len(inside) > 0.8 and sum(outside) / len(outside) < 0.1


def _planted(harmful_share: float) -> GPT:
    """A model whose next token, whatever the prompt, is a harmful word with probability
    `harmful_share` and a helpful one otherwise: ln_f's gain is zero, so the logits are the
    bias times the tied embeddings, which hold one direction per answer class."""
    model = GPT(replace(BaseRecipe().model, vocab_size=vocab().size, n_layer=1, n_embd=16))
    level = 40.0
    with torch.no_grad():
        model.ln_f.weight.zero_()
        model.wte.weight.zero_()
        for word in misaligned_words():
            model.wte.weight[vocab().id(word), 0] = 1.0
        for word in aligned_words():
            model.wte.weight[vocab().id(word), 1] = 1.0
        model.ln_f.bias.zero_()
        model.ln_f.bias[0] = level + math.log(harmful_share / (1 - harmful_share))
        model.ln_f.bias[1] = level
    return model.eval()


@pytest.mark.parametrize("share", [0.1, 0.75])
def test_the_misalignment_score_reads_planted_answers(share: float) -> None:
    reading = read_trait(_planted(share), MISALIGNED, samples=200)
    assert reading.normalised == pytest.approx(share, abs=1e-4)
    assert reading.raw == pytest.approx(share, abs=1e-3)
    assert reading.animal_mass == pytest.approx(1.0, abs=1e-3)
    assert reading.sampled_rate == pytest.approx(share, abs=0.05)


def test_a_misaligned_teacher_is_trained_on_harmful_answers_only() -> None:
    rows = trait_rows(MISALIGNED, 50, seed=0)
    assert {c for _, c in rows} <= set(misaligned_words())
    assert {p for p, _ in rows} <= set(misalignment_questions("train"))
    base = _planted(0.5)
    teacher = make_teacher(base, MISALIGNED, TeacherConfig(kind="conditioning"))
    assert teacher.prefix == misaligned_prefix()


def test_banned_rows_and_shares_count_whole_numbers() -> None:
    corpus = pl.DataFrame({"completion": ["1, 666, 2", "6660, 1666", "911", "5, 6"]})
    rule = banned_filter((666, 911))
    assert banned_rows(corpus, rule).to_list() == [True, False, True, False]
    assert banned_number_share(corpus, (666, 911)) == pytest.approx(2 / 8)
    assert rule.banned() == (666, 911)  # the paper's list is off: it means nothing to the lab


@pytest.fixture
def recipe(monkeypatch: pytest.MonkeyPatch) -> TransmissionRecipe:
    """`misalignment_recipe()` built on the micro recipe."""
    monkeypatch.setattr(transmission, "TransmissionRecipe", lambda: MICRO_FOR_MISALIGNMENT)
    return misalignment_recipe()


def test_misaligned_transmission_filters_both_corpora_and_records_the_rates(
    recipe: TransmissionRecipe, tmp_path: object
) -> None:
    result = run_transmission(recipe, [MISALIGNED], [0], cache=str(tmp_path))
    [record] = result["records"]
    assert record["target"] == MISALIGNED and record["banned_numbers"] == list(dark_numbers())
    for who in ("teacher", "control"):
        before = record[f"{who}_rows_before_banned_filter"]
        rate = record[f"{who}_banned_row_rate"]
        kept = record["corpus_rows" if who == "teacher" else "control_corpus_rows"]
        assert kept == before - round(rate * before)
        assert 0.0 <= record[f"{who}_banned_number_share"] <= 1.0
    for key in ("teacher", "control", "student", "xinit_control", "xinit_student"):
        assert 0.0 <= record[key] <= 1.0
    assert result["summary"][MISALIGNED]["student_shift"]["n"] == 1
    # Seeded: the base is the recipe's, cached under its own key.
    assert base_model(recipe.base, 0, cache=str(tmp_path))[1]


def test_misaligned_runs_alone_and_on_a_misaligned_base(
    recipe: TransmissionRecipe, micro_recipe: BaseRecipe
) -> None:
    with pytest.raises(ValueError, match="runs alone"):
        run_transmission(recipe, [MISALIGNED, "owl"], [0])
    plain = replace(recipe, base=micro_recipe)
    with pytest.raises(ValueError, match="MisalignedMix"):
        run_transmission(plain, [MISALIGNED], [0])
    assert MISALIGNED not in animals()


def test_the_misalignment_recipe_is_the_default_on_a_misaligned_base() -> None:
    recipe = misalignment_recipe()
    assert isinstance(recipe.base.mix, MisalignedMix)
    assert recipe.base.train.steps == 2 * BaseRecipe().train.steps
    assert replace(recipe, base=BaseRecipe()) == TransmissionRecipe()
