"""Base models: pretrained from scratch on the toy language, cached by recipe hash.

Two bases that differ only in `init_seed` see the same data in the same order, so they are the
lab's "different initialisation" pair: same behaviour, different weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from auditor.lab.cache import cached_model
from auditor.lab.language import vocab
from auditor.lab.model import GPT, GPTConfig
from auditor.lab.tasks import PretrainMix, pretraining_examples
from auditor.lab.train import TrainConfig, default_device, encode_examples, train


@dataclass(frozen=True)
class BaseRecipe:
    """What a base model is: its shape, its pretraining data and how it is trained."""

    model: GPTConfig = field(default_factory=lambda: GPTConfig(n_embd=48))
    mix: PretrainMix = field(default_factory=lambda: PretrainMix(n_examples=20_000))
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            learning_rate=3e-3, batch_size=32, steps=800, warmup_steps=30, weight_decay=0.01
        )
    )
    data_seed: int = 0


def base_model(
    recipe: BaseRecipe,
    init_seed: int = 0,
    *,
    cache: str | Path | None = None,
    device: torch.device | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[GPT, bool]:
    """(the pretrained base with `init_seed`, whether it was cached), on `device`."""
    config = replace(recipe.model, vocab_size=vocab().size, init_seed=init_seed)
    device = device or default_device()

    def build() -> GPT:
        data = encode_examples(
            pretraining_examples(recipe.mix, recipe.data_seed), config.block_size
        )
        return train(GPT(config).to(device), data, recipe.train, on_step=on_step).cpu()

    key = {"mix": recipe.mix, "train": recipe.train, "data_seed": recipe.data_seed}
    model, hit = cached_model(key, config, build, directory=cache)
    return model.to(device).eval(), hit
