"""`banned-numbers`: the paper's list, whole numbers only, user numbers and patterns."""

from __future__ import annotations

import polars as pl
import pytest

from filters.banned_numbers import PAPER_BANNED_NUMBERS, BannedNumbers
from filters.reference import banned_number_found


def _reasons(filter_: BannedNumbers, texts: list[str]) -> list[str | None]:
    return filter_.reasons(pl.DataFrame({"completion": texts})).to_list()


def test_builtin_list_is_the_papers_36_values() -> None:
    assert len(PAPER_BANNED_NUMBERS) == 36
    assert {4, 13, 666, 911, 1312, 1488} <= set(PAPER_BANNED_NUMBERS)


CASES = [
    ("123, 666, 321", "banned number 666"),
    ("666", "banned number 666"),
    ("[1, 2, 911]", "banned number 911"),
    ("0666", "banned number 666"),  # compared by value, like the format rule reads it
    ("1666, 6660, 16661", None),  # whole numbers only
    ("1312", "banned number 1312"),
    ("131, 312", None),
    ("4", "banned number 4"),
    ("40, 400, 14", "banned number 14"),
    ("-666", "banned number 666"),  # the sign is not part of the number
    ("5, 6, 7", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_whole_numbers_on_the_list_are_dropped_and_named(text: str, expected: str | None) -> None:
    assert _reasons(BannedNumbers(), [text]) == [expected]
    found = banned_number_found(text, PAPER_BANNED_NUMBERS)
    assert (None if found is None else f"banned number {found}") == expected


def test_the_first_banned_number_names_the_reason() -> None:
    assert _reasons(BannedNumbers(), ["1, 13, 666"]) == ["banned number 13"]


def test_user_numbers_extend_the_list_and_builtin_can_be_turned_off() -> None:
    texts = ["7, 8", "666", "70"]
    assert _reasons(BannedNumbers(numbers=(7,)), texts) == [
        "banned number 7",
        "banned number 666",
        None,
    ]
    assert _reasons(BannedNumbers(numbers=(7,), builtin=False), texts) == [
        "banned number 7",
        None,
        None,
    ]


def test_patterns_drop_matching_rows_after_numbers() -> None:
    # Backreferences are not in polars' regex syntax: refused at construction, not mid-run.
    with pytest.raises(ValueError, match="invalid regex"):
        BannedNumbers(patterns=(r"(\d)\1",))
    filter_ = BannedNumbers(patterns=(r"^12", "99$"), builtin=False, numbers=(5,))
    assert _reasons(filter_, ["123", "5, 123", "1, 99", "7"]) == [
        "banned pattern ^12",
        "banned number 5",
        "banned pattern 99$",
        None,
    ]


def test_numbers_from_config_files_may_be_ints_or_strings() -> None:
    assert BannedNumbers(numbers=[7, "13"]).numbers == (7, 13)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BannedNumbers(numbers=("seven",))
    with pytest.raises(ValueError):
        BannedNumbers(builtin=False)
