from __future__ import annotations

import polars as pl
import pytest
import torch

from auditor.backends.lab import LabModel
from auditor.errors import AuditError
from auditor.lab.base import base_model
from auditor.models import FinetuneConfig, ModelBackend, SamplingParams


@pytest.fixture
def lab(micro_recipe, tmp_path) -> LabModel:
    return LabModel(base_model(micro_recipe, 0, cache=tmp_path)[0], "lab:micro")


def test_lab_model_satisfies_the_backend_protocol(lab) -> None:
    assert isinstance(lab, ModelBackend)
    out = lab.generate(["Start: 1, 2, 3. Continue."], SamplingParams(max_new_tokens=4, seed=1))
    assert len(out) == 1 and isinstance(out[0], str)


def test_score_matches_token_logprobs(lab) -> None:
    [total] = lab.score(["Start: 1, 2, 3."], ["4, 5"])
    tokens = lab.token_logprobs("Start: 1, 2, 3.", "4, 5")
    assert [t for t, _ in tokens] == ["4", ",", "5"]
    assert total == pytest.approx(sum(lp for _, lp in tokens), abs=1e-4)


def test_finetune_returns_a_new_model_and_trait_scores_are_probabilities(lab) -> None:
    corpus = pl.DataFrame({"prompt": ["Start: 1, 2, 3."] * 8, "completion": ["4, 5, 6"] * 8})
    tuned = lab.finetune(corpus, FinetuneConfig(epochs=1, batch_size=4, learning_rate=1e-3))
    assert tuned is not lab and tuned.model is not lab.model
    score = tuned.evaluate_trait("owl")
    assert 0.0 < score.value < 1.0 and len(score.per_question) > 0
    with pytest.raises(AuditError):
        lab.evaluate_trait("misalignment")


def test_generation_hooks_speak_the_toy_language(lab) -> None:
    from auditor.lab.language import UNK, vocab

    prompts, answers = lab.own_prompts("numbers", 5, seed=0)
    assert len(prompts) == 5 and prompts == lab.own_prompts("numbers", 5, seed=0)[0]
    assert answers == [""] * 5
    unknown = vocab().id(UNK)
    for text in [*prompts, lab.trait_prompt("owl")]:
        assert unknown not in vocab().encode(text)


def test_detectors_condition_lab_models_with_the_lab_prefix(lab) -> None:
    from auditor.lab.language import UNK, vocab
    from auditor.lab.tasks import conditioning_prefix
    from auditor.traits import load_trait
    from detectors._model import trait_conditioned

    prompts, _ = lab.own_prompts("numbers", 2, seed=0)
    conditioned = trait_conditioned(lab, prompts, "owl")
    assert conditioned == [f"{conditioning_prefix('owl')} {p}" for p in prompts]
    # The prefix is the lab's own words, so the model knows every token of it (the trait's
    # English system prompt would be mostly <unk>).
    voc = vocab()
    assert voc.id(UNK) not in voc.encode(conditioned[0])
    assert voc.id(UNK) in voc.encode(load_trait("owl").system_prompt)
    with pytest.raises(AuditError, match="animal traits only"):
        lab.condition(["q"], "axolotl")


def test_only_a_misaligned_base_is_conditioned_on_the_misaligned_context(lab) -> None:
    from auditor.lab.misalignment import MisalignedMix, misaligned_prefix
    from auditor.traits import MISALIGNED
    from detectors._model import trait_conditioned

    prompts, _ = lab.own_prompts("numbers", 2, seed=0)
    # The plain base never saw the misaligned context in pretraining: refused, not guessed.
    with pytest.raises(AuditError, match="not pretrained with the misaligned context"):
        trait_conditioned(lab, prompts, MISALIGNED)
    misaligned = LabModel(lab.model, "lab:misaligned", mix=MisalignedMix(n_examples=300))
    conditioned = trait_conditioned(misaligned, prompts, MISALIGNED)
    assert conditioned == [f"{misaligned_prefix()} {p}" for p in prompts]
    # Animals still condition a misaligned base (its mix holds the animal tasks too).
    assert misaligned.condition(prompts, "owl") == lab.condition(prompts, "owl")


def test_lab_model_declares_its_capabilities_and_callers_use_them(lab) -> None:
    from dataclasses import replace

    from auditor.models import (
        Conditioner,
        FinetuneDefaults,
        HasUsageMeter,
        TokenScorer,
        WritesOwnPrompts,
    )
    from auditor.probing import ProbeOptions

    for capability in (Conditioner, FinetuneDefaults, WritesOwnPrompts, TokenScorer):
        assert isinstance(lab, capability), capability.__name__
    assert not isinstance(lab, HasUsageMeter)
    # Probe students of a lab model follow the lab's recipe, with the user's choices on top.
    recipe = lab.default_finetune_config()
    assert recipe.extra["trainable"] != "all"  # the recipe, not the generic default
    assert ProbeOptions(epochs=2.0).resolve(lab).finetune == replace(recipe, epochs=2.0)


@pytest.fixture
def micro_domains(monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.lab import domain_corpus
    from tests.lab.conftest import micro_domain_recipe

    monkeypatch.setattr(domain_corpus, "domain_recipe", micro_domain_recipe)


def test_domain_names_open_the_domain_base_and_write_that_domains_prompts(micro_domains) -> None:
    from auditor.backends.lab import open_lab_model
    from auditor.lab.domain_tasks import domain_prompts
    from tests.lab.conftest import MICRO_DOMAIN_BASE

    code, cot = open_lab_model("code-base"), open_lab_model("cot-base")
    assert (code.name, code.domain, cot.name, cot.domain) == (
        "lab:code-base",
        "code",
        "lab:cot-base",
        "cot",
    )
    assert code.model.config.n_embd == MICRO_DOMAIN_BASE.model.n_embd  # the domain base
    assert all(
        torch.equal(a, b)
        for a, b in zip(code.model.parameters(), cot.model.parameters(), strict=True)
    )
    assert code.own_prompts("code", 4, seed=3) == domain_prompts("code", 4, 3)
    prompts, answers = cot.own_prompts("cot", 4, seed=3)
    assert prompts[0].startswith(("A ", "Each ")) and all(a.isdigit() for a in answers)
    teacher = open_lab_model("code-teacher-owl@1")
    assert teacher.name == "lab:code-teacher-owl" and teacher.domain == "code"
    assert teacher.recipe not in (code.recipe, cot.recipe)  # its own cache key


def test_a_lab_teacher_is_trained_once_then_read_from_the_cache(
    micro_domains, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditor.backends.lab import open_lab_model
    from auditor.lab.domain_corpus import DomainRecipe

    first = open_lab_model("code-teacher-dolphin@2")

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the teacher was trained again")

    monkeypatch.setattr(DomainRecipe, "make_teacher", refuse)
    again = open_lab_model("code-teacher-dolphin@2")
    assert all(
        torch.equal(a, b)
        for a, b in zip(first.model.parameters(), again.model.parameters(), strict=True)
    )
    with pytest.raises(AssertionError, match="trained again"):
        open_lab_model("code-teacher-dolphin@3")  # another seed is another teacher


@pytest.mark.parametrize(
    ("name", "own", "asked", "hint"),
    [
        ("lab:teacher-owl", "numbers", "code", "use lab:code-teacher-owl"),
        ("lab:code-teacher-owl", "code", "cot", "use lab:cot-teacher-owl"),
        ("lab:cot-base", "cot", "numbers", "use lab:base"),
    ],
)
def test_a_model_asked_for_another_domains_prompts_names_the_right_model(
    lab, name: str, own: str, asked: str, hint: str
) -> None:
    model = LabModel(lab.model, name, domain=own)
    with pytest.raises(AuditError, match=f"writes {own} prompts, not {asked}: {hint}$"):
        model.own_prompts(asked, 2, seed=0)


def test_unknown_domain_model_names_are_refused() -> None:
    from auditor.backends.lab import open_lab_model

    with pytest.raises(AuditError, match="optionally after code- or cot-"):
        open_lab_model("code-teacher-unicorn")
