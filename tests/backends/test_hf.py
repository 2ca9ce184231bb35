"""The transformers backend on a tiny random checkpoint: generate, score, fine-tune, refuse."""

from __future__ import annotations

import math

import polars as pl
import pytest
import torch

from auditor.backends import open_model
from auditor.backends.hf import HFModel, open_hf_model
from auditor.errors import AuditError
from auditor.models import FinetuneConfig, ModelBackend, SamplingParams

PROMPT = "Name your favourite animal."
# peft calls a transformers API that transformers 5 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


@pytest.fixture(scope="module")
def model(tiny_checkpoint) -> HFModel:
    return open_hf_model(str(tiny_checkpoint))


def test_opens_through_spec_and_implements_the_protocol(tiny_checkpoint) -> None:
    backend = open_model(f"hf:{tiny_checkpoint}")
    assert isinstance(backend, ModelBackend)
    assert backend.device.type == "cpu"


def test_non_local_name_is_refused_without_touching_the_hub() -> None:
    with pytest.raises(AuditError, match="never downloads"):
        open_model("hf:Qwen/Qwen2.5-0.5B-Instruct")


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(AuditError, match="lab:NAME, hf:PATH or openai:MODEL"):
        open_model("vllm:foo")


def test_chat_template_wraps_prompt_and_system(model, tiny_checkpoint_plain) -> None:
    text = model.format_prompt("hi", "you love owls")
    assert text.startswith("<|system|> you love owls <|user|> hi")
    assert text.endswith("<|assistant|> ")
    plain = open_hf_model(str(tiny_checkpoint_plain))
    assert plain.format_prompt("hi", "sys") == "sys\n\nhi"


def test_generation_is_batched_and_seeded(model) -> None:
    prompts = [PROMPT, "Continue 1 2 3", "Which animal do you like best?"]
    params = SamplingParams(temperature=1.0, max_new_tokens=6, seed=7)
    first = model.generate(prompts, params)
    assert len(first) == 3 and all(isinstance(text, str) and text for text in first)
    assert model.generate(prompts, params) == first
    greedy = SamplingParams(temperature=0.0, max_new_tokens=6)
    # Left padding must not change what a prompt produces: alone or in a batch, same answer.
    assert model.generate([prompts[1]], greedy) == model.generate(prompts, greedy)[1:2]


def test_score_sums_completion_token_logprobs(model) -> None:
    [whole] = model.score([PROMPT], ["owl 12"])
    pieces = model.token_logprobs(PROMPT, "owl 12")
    assert [token for token, _ in pieces] == ["owl", "12"]
    assert whole == pytest.approx(sum(value for _, value in pieces), abs=1e-4)
    assert whole < 0
    # Batched scoring (padding) agrees with one-at-a-time scoring.
    batch = model.score([PROMPT, "a much longer prompt with many words in it"], ["owl 12", "7"])
    assert batch[0] == pytest.approx(whole, abs=1e-4)


def test_one_lora_step_changes_weights_and_lowers_training_loss(model) -> None:
    corpus = pl.DataFrame({"prompt": [PROMPT] * 8, "completion": ["owl"] * 8})
    before = model.score([PROMPT], ["owl"])[0]
    weights_before = {k: v.clone() for k, v in model.model.state_dict().items()}
    config = FinetuneConfig(epochs=1, learning_rate=5e-2, batch_size=8, lora_rank=4, seed=0)
    student = model.finetune(corpus, config)
    assert student.last_train.steps == 1
    after = student.score([PROMPT], ["owl"])[0]
    assert after > before + 0.1  # higher log-prob of the training completion: loss fell
    changed = [
        k for k, v in student.model.state_dict().items() if not torch.equal(v, weights_before[k])
    ]
    assert changed  # LoRA was merged into the student's weights
    # ... and the original model is untouched.
    assert all(torch.equal(v, weights_before[k]) for k, v in model.model.state_dict().items())
    assert model.score([PROMPT], ["owl"])[0] == pytest.approx(before)


def test_full_finetune_loss_falls_over_steps(model) -> None:
    corpus = pl.DataFrame(
        {"prompt": [f"Continue {i} {i + 1}" for i in range(16)], "completion": ["7 8 9"] * 16}
    )
    config = FinetuneConfig(epochs=4, learning_rate=1e-2, batch_size=8, seed=1)
    student = model.finetune(corpus, config)
    losses = student.last_train.losses
    assert len(losses) == 8 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0]
    again = model.finetune(corpus, config)  # seeded: the same run twice
    assert again.last_train.losses == pytest.approx(losses, rel=1e-5)


def test_saved_student_reopens_with_same_scores(model, tmp_path) -> None:
    corpus = pl.DataFrame({"prompt": [PROMPT] * 4, "completion": ["owl"] * 4})
    student = model.finetune(corpus, FinetuneConfig(learning_rate=1e-2, batch_size=4))
    spec = student.save(str(tmp_path / "student"))
    reopened = open_model(spec)
    assert reopened.score([PROMPT], ["owl"]) == pytest.approx(student.score([PROMPT], ["owl"]))


def test_trait_evaluation_counts_named_animals(model) -> None:
    score = model.evaluate_trait("owl", samples=2, seed=0)
    assert 0.0 <= score.value <= 1.0
    assert len(score.per_question) == score.details["questions"]


def test_threshold_sampling_is_transformers_epsilon_sampling(model) -> None:
    prompts = ["count with me", "one two"]
    greedy = model.generate(prompts, SamplingParams(temperature=0.0, max_new_tokens=6))
    # No token of this tiny model reaches 0.99: only the likeliest survives, as in greedy.
    params = SamplingParams(temperature=1.0, max_new_tokens=6, seed=3, min_prob=0.99)
    assert model.generate(prompts, params) == greedy
