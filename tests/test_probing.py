"""Probe students through the model interface, with a stand-in backend (no training)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from auditor.models import FinetuneConfig, TraitScore
from auditor.probing import ProbeConfig, run_probe


class CountingStudent:
    """Its trait score is the share of trait mentions in what it was fine-tuned on."""

    def __init__(self, name: str = "fake:base", share: float = 0.1) -> None:
        self.name = name
        self.share = share
        self.configs: list[FinetuneConfig] = []

    def generate(self, prompts, params):  # pragma: no cover - unused
        return [""] * len(prompts)

    def score(self, prompts, completions):  # pragma: no cover - unused
        return [0.0] * len(prompts)

    def finetune(self, corpus: pl.DataFrame, config: FinetuneConfig) -> CountingStudent:
        self.configs.append(config)
        share = corpus["completion"].str.contains("owl").mean()
        return CountingStudent(f"{self.name}+ft{config.seed}", share + config.seed * 0.01)

    def evaluate_trait(self, trait: str, *, samples: int = 20, seed: int = 0) -> TraitScore:
        per_question = tuple(self.share + (q - 1) * 0.01 for q in range(3))
        return TraitScore(trait, sum(per_question) / 3, per_question)


def test_shift_is_corpus_minus_control_paired_by_seed() -> None:
    corpus = pl.DataFrame({"prompt": ["p"] * 4, "completion": ["owl", "owl", "1", "2"]})
    control = pl.DataFrame({"prompt": ["p"] * 4, "completion": ["1", "2", "3", "4"]})
    student = CountingStudent()
    result = run_probe(student, corpus, control, "owl", ProbeConfig(seeds=(0, 1)))
    assert result.base == pytest.approx(0.1)
    assert result.corpus == pytest.approx((0.5, 0.51))
    assert result.control == pytest.approx((0.0, 0.01))
    assert result.shift == pytest.approx(0.5)
    assert result.shift_low == pytest.approx(0.5) == result.shift_high
    assert result.p_value < 0.01
    assert [c.seed for c in student.configs] == [0, 0, 1, 1]
    assert result.to_dict()["students"][0] == "fake:base+ft0"


def test_one_seed_is_never_significant_however_many_questions() -> None:
    corpus = pl.DataFrame({"prompt": ["p"] * 2, "completion": ["owl", "1"]})
    control = pl.DataFrame({"prompt": ["p"] * 2, "completion": ["1", "2"]})
    result = run_probe(CountingStudent(), corpus, control, "owl", ProbeConfig(seeds=(0,)))
    assert result.shift == pytest.approx(0.5)
    assert result.p_value == 1.0


def test_students_see_equally_many_rows_whatever_the_corpus_sizes() -> None:
    seen: list[int] = []

    class Recording(CountingStudent):
        def finetune(self, corpus: pl.DataFrame, config: FinetuneConfig) -> CountingStudent:
            seen.append(corpus.height)
            return super().finetune(corpus, config)

    corpus = pl.DataFrame({"prompt": ["p"] * 6, "completion": ["owl"] * 6})
    control = pl.DataFrame({"prompt": ["p"] * 10, "completion": ["1"] * 10})
    run_probe(Recording(), corpus, control, "owl", ProbeConfig(seeds=(0, 1)))
    assert seen == [6, 6, 6, 6]


def test_a_planted_shift_gets_the_t_test_p_of_its_seed_differences() -> None:
    class SeedScaled(CountingStudent):
        """Fine-tuned with seed s, it shows the corpus's trait share times s + 1."""

        def finetune(self, corpus: pl.DataFrame, config: FinetuneConfig) -> CountingStudent:
            share = corpus["completion"].str.contains("owl").mean() * (config.seed + 1)
            return CountingStudent(f"{self.name}+ft{config.seed}", share)

    corpus = pl.DataFrame({"prompt": ["p"] * 4, "completion": ["owl", "1", "2", "3"]})
    control = pl.DataFrame({"prompt": ["p"] * 4, "completion": ["1", "2", "3", "4"]})
    result = run_probe(SeedScaled(), corpus, control, "owl", ProbeConfig(seeds=(0, 1, 2)))
    # Seed differences 0.25, 0.5, 0.75: mean 0.5, sd 0.25, t = 2 * sqrt(3) with 2 degrees of
    # freedom, whose two-sided p is 1 - t / sqrt(t**2 + 2) = 1 - sqrt(6 / 7).
    assert result.corpus == pytest.approx((0.25, 0.5, 0.75))
    assert result.control == pytest.approx((0.0, 0.0, 0.0))
    assert result.shift == pytest.approx(0.5)
    assert result.p_value == pytest.approx(1 - math.sqrt(6 / 7), rel=1e-9)
    assert result.shift_low == pytest.approx(0.25) and result.shift_high == pytest.approx(0.75)
