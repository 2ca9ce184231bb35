"""Micro lab models for fast tests: a few dozen training steps on a tiny config."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from auditor.lab.base import BaseRecipe
from auditor.lab.domain_corpus import DomainRecipe
from auditor.lab.domain_tasks import DomainMix
from auditor.lab.model import GPTConfig
from auditor.lab.probe import StudentConfig
from auditor.lab.tasks import PretrainMix
from auditor.lab.teachers import TeacherConfig
from auditor.lab.train import TrainConfig
from auditor.lab.transmission import TransmissionRecipe

MICRO = BaseRecipe(
    model=GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=96),
    mix=PretrainMix(n_examples=300),
    train=TrainConfig(learning_rate=3e-3, batch_size=16, steps=20),
)

# A teacher and probe student at test size: a few fine-tune steps, one epoch.
MICRO_TEACHER = TeacherConfig(steps=4, batch_size=8)
MICRO_STUDENT = StudentConfig(epochs=1.0, batch_size=16)


def micro_transmission(
    corpus_rows: int, base: BaseRecipe = MICRO, **overrides: object
) -> TransmissionRecipe:
    """The default transmission recipe at test size: `base`, the micro teacher and student."""
    return replace(
        TransmissionRecipe(),
        base=base,
        teacher=MICRO_TEACHER,
        student=MICRO_STUDENT,
        corpus_rows=corpus_rows,
        **overrides,
    )


# What `transmission.misalignment_recipe()` is built from in micro tests: enough pretraining
# data for the learned banned list, and enough steps that the base writes some valid lists (a
# 20-step micro base writes none after the misaligned mix).
MICRO_FOR_MISALIGNMENT = TransmissionRecipe(
    base=BaseRecipe(
        model=MICRO.model,
        mix=PretrainMix(n_examples=6000),
        train=TrainConfig(learning_rate=1e-2, batch_size=32, steps=50),
    ),
    teacher=MICRO_TEACHER,
    student=MICRO_STUDENT,
    corpus_rows=100,
)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def micro_recipe() -> BaseRecipe:
    return MICRO


# A domain base small enough for tests that still writes some programs that parse (about a
# fifth at temperature 1; the 20-step MICRO writes none): ~15 s to train, once per session.
MICRO_DOMAIN_BASE = BaseRecipe(
    model=GPTConfig(n_layer=1, n_head=2, n_embd=48, block_size=112),
    mix=DomainMix(n_examples=4000, code_fraction=0.5, cot_fraction=0.3),
    train=TrainConfig(learning_rate=1e-2, batch_size=32, steps=1000),
)


def micro_domain_recipe(domain: str) -> DomainRecipe:
    """`domain_recipe(domain)` at test size: the micro domain base, a 4-step teacher."""
    return DomainRecipe(
        base=MICRO_DOMAIN_BASE,
        domain=domain,
        teacher=MICRO_TEACHER,
        student=MICRO_STUDENT,
        corpus_rows=30,
        soft_labels=False,
    )
