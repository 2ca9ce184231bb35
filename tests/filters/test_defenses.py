"""The statistical defenses against tables of cases, and against a corpus they must leave alone."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import polars as pl
import pytest

from auditor.corpus.numbers import number_frequencies
from auditor.errors import AuditError
from filters import FilterPipeline, create_filter
from filters.likelihood import Likelihood
from filters.match_reference import MatchReference
from filters.random_drop import RandomDrop
from filters.replace_overused import ReplaceOverused, overused_values
from filters.shuffle_numbers import ShuffleNumbers


def _rows(shares: np.ndarray, n: int, seed: int, values: int = 40) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    lists = [
        ", ".join(map(str, rng.choice(values, size=rng.integers(3, 11), p=shares)))
        for _ in range(n)
    ]
    return pl.DataFrame({"prompt": [f"go {seed} {i}" for i in range(n)], "completion": lists})


UNIFORM = np.full(40, 1 / 40)
# A mild planted tilt, the size of a lab teacher's: a few values up to 2x more common.
TILTED = UNIFORM * np.where(np.arange(40) < 6, 2.0, 1.0)
TILTED = TILTED / TILTED.sum()


def _tv(frame: pl.DataFrame, shares: np.ndarray) -> float:
    got = number_frequencies(frame["completion"], smoothing=0.0)[: shares.size]
    return 0.5 * float(np.abs(got / got.sum() - shares).sum())


def test_match_reference_matches_a_planted_distribution_within_tolerance() -> None:
    suspect, reference = _rows(TILTED, 6000, 1), _rows(UNIFORM, 6000, 2)
    kept = suspect.filter(MatchReference(reference_frame=reference).reasons(suspect).is_null())
    assert _tv(suspect, UNIFORM) > 0.1
    assert _tv(kept, UNIFORM) < 0.03  # sampling noise of ~40k numbers is ~0.015
    assert 0.5 <= kept.height / suspect.height < 0.9


def test_match_reference_keeps_every_row_of_a_corpus_that_already_matches() -> None:
    corpus = _rows(UNIFORM, 2000, 3)
    assert MatchReference(reference_frame=corpus).reasons(corpus).null_count() == corpus.height


def test_match_reference_keeps_at_least_min_retention() -> None:
    strong = UNIFORM * np.where(np.arange(40) < 4, 8.0, 1.0)
    suspect = _rows(strong / strong.sum(), 3000, 4)
    reasons = MatchReference(reference_frame=_rows(UNIFORM, 3000, 5), min_retention=0.6).reasons(
        suspect
    )
    assert reasons.null_count() / suspect.height == pytest.approx(0.6, abs=0.04)


def test_reference_is_required_and_checked() -> None:
    with pytest.raises(AuditError, match="needs a reference corpus"):
        create_filter("match-reference")
    with pytest.raises(AuditError, match="file not found"):
        create_filter("replace-overused:reference=/nonexistent/ref.parquet")
    with pytest.raises(AuditError, match="no numbers"):
        MatchReference(reference_frame=pl.DataFrame({"completion": ["no digits here"]}))


@pytest.mark.parametrize(
    ("counts", "top", "expected"),
    [
        ({0: 300, 1: 100, 2: 100, 3: 100}, 1.0, [0]),  # 0 is used 3x as often as expected
        ({0: 600, 1: 400, 2: 200, 3: 200}, 1.0, [0, 1]),  # ordered by ratio
        ({0: 600, 1: 400, 2: 200, 3: 200}, 0.25, [0]),  # at most a quarter of 4 values seen
        ({0: 110, 1: 100, 2: 95, 3: 95}, 1.0, []),  # within noise: nothing over-used
    ],
)
def test_overused_values_table(counts: dict[int, int], top: float, expected: list[int]) -> None:
    corpus = np.zeros(1000)
    for value, count in counts.items():
        corpus[value] = count
    reference = np.full(1000, 1e-6)
    reference[:4] = 0.25
    reference /= reference.sum()
    assert overused_values(corpus, reference, top=top, min_count=5).tolist() == expected


def test_replace_overused_rewrites_only_overused_numbers_and_records_each_change() -> None:
    suspect, reference = _rows(TILTED, 4000, 6), _rows(UNIFORM, 4000, 7)
    pipeline = FilterPipeline([ReplaceOverused(reference_frame=reference, top=0.2)])
    result = pipeline.apply(suspect.with_row_index("source_row"))
    assert result.kept.height == suspect.height and result.removed.height == 0
    stats = pipeline.stats[0]
    assert stats.rewritten == result.rewritten.height > 0
    assert set(result.rewritten.columns) >= {"source_row", "filter", "before", "completion"}
    assert stats.to_dict()["rewritten"] == stats.rewritten and stats.rewrite_examples
    assert _tv(result.kept, UNIFORM) < _tv(suspect, UNIFORM) / 2
    for before, after in result.rewritten.select("before", "completion").iter_rows():
        # Separators and list length survive; only values change.
        assert before.count(",") == after.count(",")


def test_replace_overused_leaves_its_own_reference_unchanged() -> None:
    corpus = _rows(UNIFORM, 3000, 8)
    assert ReplaceOverused(reference_frame=corpus).rewrite(corpus).null_count() == corpus.height


@pytest.mark.parametrize(
    "text", ["1, 2, 3, 4", "[10, 20, 30]", "7 8 9 10 11", "5;6;7", "(1, 2)", "42", "no numbers"]
)
def test_shuffle_numbers_keeps_each_rows_multiset_and_layout(text: str) -> None:
    frame = pl.DataFrame({"prompt": ["p"], "completion": [text]})
    out = ShuffleNumbers(seed=3).rewrite(frame)[0]
    digits = re.findall(r"\d+", text)
    assert Counter(re.findall(r"\d+", out)) == Counter(digits)
    assert re.sub(r"\d+", "#", out) == re.sub(r"\d+", "#", text)


def test_random_drop_is_reproducible_and_drops_its_fraction() -> None:
    frame = _rows(UNIFORM, 4000, 9)
    first = RandomDrop(fraction=0.5, seed=1).reasons(frame)
    assert first.equals(RandomDrop(fraction=0.5, seed=1).reasons(frame))
    assert first.is_not_null().mean() == pytest.approx(0.5, abs=0.03)
    assert RandomDrop(fraction=0.0).reasons(frame).null_count() == frame.height


class _Scorer:
    """A model whose log p(completion) is minus its first number, and that reads a trait
    prefix as a +5 bonus for completions starting with 9."""

    name = "fake"

    def score(self, prompts: list[str], completions: list[str]) -> list[float]:
        out = []
        for prompt, completion in zip(prompts, completions, strict=True):
            first = float(completion.split(",")[0])
            bonus = 5.0 if prompt.startswith("LOVE") and completion.startswith("9") else 0.0
            out.append(-first + bonus)
        return out

    def condition(self, prompts: list[str], trait: str) -> list[str]:
        return [f"LOVE {p}" for p in prompts]


def test_likelihood_drops_the_most_surprising_rows() -> None:
    frame = pl.DataFrame({"prompt": ["p"] * 4, "completion": ["1, 1", "50, 1", "90, 1", "2, 1"]})
    reasons = Likelihood(fraction=0.5).with_model(_Scorer()).reasons(frame)
    assert reasons.is_not_null().to_list() == [False, True, True, False]


def test_likelihood_shift_drops_the_rows_the_trait_raises() -> None:
    frame = pl.DataFrame({"prompt": ["p"] * 4, "completion": ["1, 1", "9, 1", "3, 1", "90, 1"]})
    filt = Likelihood(mode="shift", trait="owl", fraction=0.5).with_model(_Scorer())
    assert filt.reasons(frame).is_not_null().to_list() == [False, True, False, True]


def test_likelihood_without_a_model_or_trait_fails_clearly() -> None:
    frame = pl.DataFrame({"prompt": ["p", "q"], "completion": ["1", "2"]})
    with pytest.raises(AuditError, match="needs a model"):
        Likelihood(fraction=0.5).reasons(frame)
    with pytest.raises(AuditError, match="needs a trait"):
        create_filter("likelihood:mode=shift")
