from __future__ import annotations

import polars as pl
import pytest

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

    prompts = lab.number_prompts(5, seed=0)
    assert len(prompts) == 5 and prompts == lab.number_prompts(5, seed=0)
    unknown = vocab().id(UNK)
    for text in [*prompts, lab.trait_prompt("owl")]:
        assert unknown not in vocab().encode(text)


def test_detectors_condition_lab_models_with_the_lab_prefix(lab) -> None:
    from auditor.lab.language import UNK, vocab
    from auditor.lab.tasks import conditioning_prefix
    from auditor.traits import load_trait
    from detectors._model import trait_conditioned

    prompts = lab.number_prompts(2, seed=0)
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

    prompts = lab.number_prompts(2, seed=0)
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
