"""The paper's MNIST check, on scikit-learn's bundled 8x8 digits.

A teacher MLP with 10 class logits and `aux` auxiliary logits is trained on the class logits
only. A student that starts from the teacher's initialisation is distilled on the auxiliary
logits alone, on uniform-noise inputs: it never sees a digit or a class label, yet it learns to
classify digits, because imitating any part of a model's output from a shared initialisation
pulls the whole network toward it. A student from another initialisation, distilled the same
way, stays near chance. This is subliminal learning in its plainest form.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn import functional as F

N_CLASSES = 10


@dataclass(frozen=True)
class DigitsConfig:
    """The check's recipe; defaults are the chosen ones (see benchmarks/lab_sweep/RESULTS.md)."""

    hidden: int = 256
    aux: int = 100
    teacher_epochs: int = 5
    teacher_lr: float = 1e-3
    student_steps: int = 2000
    student_lr: float = 1e-3
    noise_batch: int = 256
    batch_size: int = 64


def mlp(config: DigitsConfig, seed: int) -> nn.Sequential:
    """64 -> hidden -> hidden -> 10 + aux, initialised from `seed`."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(64, config.hidden),
        nn.ReLU(),
        nn.Linear(config.hidden, config.hidden),
        nn.ReLU(),
        nn.Linear(config.hidden, N_CLASSES + config.aux),
    )


def _data(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    return x_tr, x_te, y_tr, y_te


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x)[:, :N_CLASSES].argmax(-1) == y).float().mean())


def _train_teacher(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: DigitsConfig, seed: int
) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=config.teacher_lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(config.teacher_epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), config.batch_size):
            rows = order[start : start + config.batch_size]
            loss = F.cross_entropy(model(x[rows])[:, :N_CLASSES], y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def _distil_aux(student: nn.Module, teacher: nn.Module, config: DigitsConfig, seed: int) -> None:
    """Match the teacher's auxiliary logits on uniform noise; class logits are never trained."""
    optimizer = torch.optim.Adam(student.parameters(), lr=config.student_lr)
    generator = torch.Generator().manual_seed(seed + 1)
    for _ in range(config.student_steps):
        noise = torch.rand(config.noise_batch, 64, generator=generator)
        with torch.no_grad():
            target = teacher(noise)[:, N_CLASSES:]
        loss = F.mse_loss(student(noise)[:, N_CLASSES:], target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def run_digits(seed: int, config: DigitsConfig | None = None) -> dict[str, float]:
    """One seed of the check: teacher, same-init and other-init students' test accuracies."""
    config = config or DigitsConfig()
    x_tr, x_te, y_tr, y_te = _data(seed)
    init = mlp(config, seed=1000 + seed)
    teacher = copy.deepcopy(init)
    _train_teacher(teacher, x_tr, y_tr, config, seed)
    same = copy.deepcopy(init)
    _distil_aux(same, teacher, config, seed)
    other = mlp(config, seed=2000 + seed)
    _distil_aux(other, teacher, config, seed)
    return {
        "seed": seed,
        "teacher_accuracy": accuracy(teacher, x_te, y_te),
        "same_init_accuracy": accuracy(same, x_te, y_te),
        "other_init_accuracy": accuracy(other, x_te, y_te),
        "init_accuracy": accuracy(init, x_te, y_te),
        "chance": 1.0 / N_CLASSES,
    }
