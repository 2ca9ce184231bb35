"""The separability check's own statistics: features mean what they say, tests find a plant."""

from __future__ import annotations

import polars as pl
import pytest

from benchmarks.realdata_separability import (
    RELATIVE_FEATURES,
    prompt_relative,
    relative_features,
    sparse_numbers,
)
from detectors._permutation import p_value
from tests.detectors.conftest import number_corpus


def test_relative_features_describe_the_answer_against_its_prompt() -> None:
    frame = pl.DataFrame(
        {
            "prompt": ["Continue: 100, 200, 300.", "Continue: 5, 9."],
            "completion": ["100, 200, 300, 400", "903 902"],
        }
    )
    rows = [dict(zip(RELATIVE_FEATURES, r, strict=True)) for r in relative_features(frame)]
    copy, far = rows
    assert copy["copied_share"] == 0.75 and copy["within_5_of_same_position"] == 1.0
    assert copy["continues_prompt_step"] == 0.0 and copy["ascending"] == 1.0
    assert copy["length_minus_prompt_length"] == 1
    assert far["far_from_prompt_share"] == 1.0 and far["descending"] == 1.0
    assert far["first_minus_last_prompt"] == 903 - 9


def copying_prompts(frame: pl.DataFrame, share: float) -> pl.DataFrame:
    """`share` of the rows answer by first repeating their prompt's numbers."""
    shown = pl.col("prompt").str.extract_all(r"\d+").list.join(", ")
    copy = pl.int_range(pl.len()) < int(share * frame.height)
    return frame.with_columns(
        completion=pl.when(copy)
        .then(shown + ", " + pl.col("completion"))
        .otherwise(pl.col("completion"))
    )


@pytest.mark.parametrize(
    ("statistic", "plant"),
    [
        (sparse_numbers, lambda: number_corpus(400, seed=3, shift=0.3)),
        (prompt_relative, lambda: copying_prompts(number_corpus(400, seed=3), 0.3)),
    ],
)
def test_statistics_find_a_planted_shift_and_not_a_null(statistic, plant) -> None:
    reference = number_corpus(400, seed=1)
    null = statistic(reference, number_corpus(400, seed=2), 99, 0)
    planted = statistic(reference, plant(), 99, 0)
    assert p_value(*null) > 0.05
    assert p_value(*planted) <= 0.02
