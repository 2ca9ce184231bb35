"""Micro lab models for fast tests: a few dozen training steps on a tiny config."""

from __future__ import annotations

import pytest
import torch

from auditor.lab.base import BaseRecipe
from auditor.lab.model import GPTConfig
from auditor.lab.tasks import PretrainMix
from auditor.lab.train import TrainConfig

MICRO = BaseRecipe(
    model=GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=96),
    mix=PretrainMix(n_examples=300),
    train=TrainConfig(learning_rate=3e-3, batch_size=16, steps=20),
)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def micro_recipe() -> BaseRecipe:
    return MICRO
