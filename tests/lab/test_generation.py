from __future__ import annotations

import torch

from auditor.lab.base import base_model
from auditor.lab.corpus import COLUMNS, number_corpus, write_corpus
from auditor.lab.sampling import generate
from auditor.lab.tasks import number_prompts
from filters.reference import numbers_format_keeps


def test_generation_is_seeded_and_independent_of_batching(micro_recipe, tmp_path) -> None:
    model, _ = base_model(micro_recipe, 0, cache=tmp_path)
    prompts = number_prompts(12, seed=1)
    whole = generate(model, prompts, seed=5, max_new_tokens=8)
    # Noise is keyed by (seed, row, step, token), so internal batch size cannot matter.
    assert generate(model, prompts, seed=5, max_new_tokens=8, batch_size=2) == whole
    assert generate(model, prompts, seed=6, max_new_tokens=8) != whole


def test_corpus_rows_are_valid_number_lists_with_provenance(micro_recipe, tmp_path) -> None:
    model, _ = base_model(micro_recipe, 0, cache=tmp_path)
    frame, dropped = number_corpus(
        model, 40, seed=0, teacher="lab:base", trait=None, temperature=0.0
    )
    assert tuple(frame.columns) == COLUMNS
    # Exactly the completions the paper's rule keeps (its plain-Python statement), in order.
    completions = generate(model, number_prompts(40, seed=0), temperature=0.0, seed=0)
    valid = [c for c in completions if numbers_format_keeps(c)]
    assert frame["completion"].to_list() == valid
    assert dropped == 40 - len(valid)
    path = write_corpus(frame, tmp_path / "c.parquet")
    assert path.exists() and not (tmp_path / "c.parquet.partial").exists()


def test_same_model_same_seed_writes_identical_corpora(micro_recipe, tmp_path) -> None:
    # Common random numbers: a teacher equal to its base writes exactly the control corpus.
    model, _ = base_model(micro_recipe, 0, cache=tmp_path)
    twin = type(model)(model.config)
    twin.load_state_dict(model.state_dict())
    a = generate(model, number_prompts(10, seed=2), seed=3, max_new_tokens=6)
    b = generate(twin, number_prompts(10, seed=2), seed=3, max_new_tokens=6)
    assert a == b
    assert torch.equal(model.wte.weight, twin.wte.weight)


def test_threshold_sampling_never_draws_a_token_below_the_threshold(micro_recipe, tmp_path) -> None:
    model, _ = base_model(micro_recipe, 0, cache=tmp_path)
    prompts = number_prompts(12, seed=4)
    greedy = generate(model, prompts, temperature=0.0, max_new_tokens=8)
    # Above 0.5 at most one token can qualify, and the likeliest always stays: greedy decoding.
    assert generate(model, prompts, seed=5, max_new_tokens=8, min_prob=0.51) == greedy
    sampled = generate(model, prompts, seed=5, max_new_tokens=8)
    assert generate(model, prompts, seed=5, max_new_tokens=8, min_prob=1e-9) == sampled
