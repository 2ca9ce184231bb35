"""`regex`: user patterns, drop or keep, on the completion or the prompt."""

from __future__ import annotations

import polars as pl
import pytest

from filters.regex import RegexFilter

FRAME = pl.DataFrame(
    {
        "prompt": ["say numbers", "say words", "say numbers"],
        "completion": ["1, 2", "owl", "```3```"],
    }
)


def test_drop_mode_names_the_first_matching_pattern() -> None:
    filter_ = RegexFilter(patterns=("`", "[a-z]"))
    assert filter_.reasons(FRAME).to_list() == [None, "matched /[a-z]/", "matched /`/"]


def test_keep_mode_drops_rows_matching_no_pattern() -> None:
    filter_ = RegexFilter(pattern=r"^[0-9, ]+$", mode="keep")
    dropped = "matched no keep pattern"
    assert filter_.reasons(FRAME).to_list() == [None, dropped, dropped]


def test_single_pattern_may_hold_alternation_and_prompt_column_works() -> None:
    filter_ = RegexFilter(pattern="(?i)(words|owls)", column="prompt")
    assert filter_.reasons(FRAME).to_list() == [None, "matched /(?i)(words|owls)/", None]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"pattern": "(unclosed"},
        {"pattern": "a", "mode": "maybe"},
        {"pattern": "a", "column": "x"},
    ],
)
def test_bad_parameters_fail_at_construction(params: dict) -> None:
    with pytest.raises(ValueError):
        RegexFilter(**params)
