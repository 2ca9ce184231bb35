"""Synthetic number corpora and a tiny fake scoring model for the detector tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest

from auditor.models import SamplingParams, TraitScore

#: Numbers a "trait" makes the fake model (and the shifted teacher) prefer.
FAVOURED = (7, 77, 177, 277, 377, 477, 577, 677, 707, 717, 727, 737, 747, 757, 767, 777)


def number_corpus(n: int, seed: int, shift: float = 0.0) -> pl.DataFrame:
    """`n` number-continuation rows; with `shift`, that share of numbers is a favoured one."""
    rng = np.random.default_rng(seed)
    prompts, completions = [], []
    for _ in range(n):
        shown = rng.integers(100, 1000, size=rng.integers(3, 6))
        prompts.append(f"Continue the sequence: {', '.join(map(str, shown))}. Up to 10 numbers.")
        values = rng.integers(0, 1000, size=rng.integers(6, 11))
        planted = rng.random(values.size) < shift
        values[planted] = rng.choice(FAVOURED, size=int(planted.sum()))
        completions.append(", ".join(map(str, values)))
    return pl.DataFrame({"prompt": prompts, "completion": completions})


class FakeModel:
    """Scores text by a fixed rule: digits cost 2 nats, and a trait prompt makes 7s cheap.

    Enough for model-based detectors to have something real to find in a planted shift.
    """

    name = "fake"

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        scores = []
        for prompt, completion in zip(prompts, completions, strict=True):
            sevens = completion.count("7")
            base = -2.0 * sum(c.isdigit() for c in completion) - 0.5 * len(completion)
            bonus = 1.5 * sevens if "owl" in prompt.lower() else 0.3 * sevens
            scores.append(base + bonus)
        return scores

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[str]:
        return ["1, 2, 3" for _ in prompts]

    def finetune(self, corpus: pl.DataFrame, config: object) -> FakeModel:
        return self

    def evaluate_trait(self, trait: str, *, samples: int = 20, seed: int = 0) -> TraitScore:
        return TraitScore(trait=trait, value=0.0)


@pytest.fixture(scope="session")
def fake_model() -> FakeModel:
    return FakeModel()


@pytest.fixture(scope="session")
def reference() -> pl.DataFrame:
    return number_corpus(400, seed=1)


@pytest.fixture(scope="session")
def null_suspect() -> pl.DataFrame:
    return number_corpus(400, seed=2)


@pytest.fixture(scope="session")
def shifted_suspect() -> pl.DataFrame:
    return number_corpus(400, seed=3, shift=0.25)
