"""`numbers-format` against the paper's format rule: a table of edge cases, then a fuzzed
comparison with the plain-Python reference parser."""

from __future__ import annotations

import random
import re
import sys

import polars as pl
import pytest

from filters.numbers_format import PY_WHITESPACE, NumbersFormat, range_regex
from filters.reference import numbers_format_keeps

KEEP = None

# (completion, expected reason or KEEP) under the default parameters: <= 10 numbers in 0..999.
DEFAULT_CASES = [
    ("1, 2, 3", KEEP),
    ("1,2,3", KEEP),
    ("1 2 3", KEEP),
    ("1\n2\n3", KEEP),
    ("1; 2; 3", KEEP),
    ("1;2;3", KEEP),
    ("1,\n2,\n3", KEEP),
    ("1\t2\t3", KEEP),
    ("1  2  3", KEEP),  # any whitespace run is a separator, if the same throughout
    ("1 , 2 , 3", KEEP),
    ("1 ,2 ,3", KEEP),
    ("1\u20032", KEEP),  # an em space is whitespace to Python's str.strip
    ("1\x1c2", KEEP),  # so is the file separator, which Rust's \s is not
    ("[1, 2, 3]", KEEP),
    ("(1, 2, 3)", KEEP),
    ("1, 2, 3.", KEEP),
    ("[1, 2, 3].", KEEP),  # the '.' goes first, then the wrapper
    ("  1, 2, 3  ", KEEP),
    ("\n1, 2, 3.\n", KEEP),
    ("5", KEEP),
    ("[5]", KEEP),
    ("(5).", KEEP),
    ("0", KEEP),
    ("999", KEEP),
    ("007, 010", KEEP),  # leading zeros: the official parser reads 7 and 10
    ("0999", KEEP),
    ("0, 1, 2, 3, 4, 5, 6, 7, 8, 9", KEEP),
    ("", "empty"),
    ("   ", "empty"),
    (".", "empty"),
    ("[]", "no numbers"),
    ("hello", "no numbers"),
    ("١, ٢, ٣", "no numbers"),  # only ASCII digits count
    ("1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11", "too many numbers"),
    ("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]", "too many numbers"),
    ("1000", "number out of range"),
    ("1, 2, 1000", "number out of range"),
    ("99999999999999999999999", "number out of range"),
    ("-1, 2", "negative number"),
    ("1, -2", "negative number"),
    ("[1, 2, 3)", "unmatched or nested brackets"),
    ("(1, 2]", "unmatched or nested brackets"),
    ("[[1, 2]]", "unmatched or nested brackets"),
    ("1, 2, 3]", "unmatched or nested brackets"),
    ("[1, 2, 3.]", "not a number list"),  # the '.' inside the wrapper is not dropped
    ("[ 1, 2 ]", "not a number list"),  # no strip inside the wrapper, as in the official code
    ("1,2;3", "inconsistent separator"),
    ("1, 2,3", "inconsistent separator"),
    ("1 2, 3", "inconsistent separator"),
    ("1\n2 3", "inconsistent separator"),
    ("1\n\n2\n3", "inconsistent separator"),
    ("1-2-3", "invalid separator"),
    ("1.2.3", "invalid separator"),
    ("1. 2. 3.", "invalid separator"),
    ("1.5, 2.5", "invalid separator"),
    ("1,, 2", "invalid separator"),
    ("1 and 2", "invalid separator"),
    ("1, 2, 3..", "not a number list"),
    ("1, 2, 3 .", "not a number list"),
    ("1,2,3,", "not a number list"),
    (",1,2", "not a number list"),
    ("Here are the numbers: 1, 2, 3", "not a number list"),
    ("1, 2, 3 are my picks", "not a number list"),
    ("5 apples", "not a number list"),
    ("1, 2, 3\n\nI hope this helps!", "not a number list"),
]

# (parameters, completion, expected reason or KEEP)
PARAM_CASES = [
    ({"strip": False}, "1, 2", KEEP),
    ({"strip": False}, " 1, 2", "not a number list"),
    ({"strip": False}, "1, 2\n", "not a number list"),
    ({"max_count": 3}, "1, 2, 3", KEEP),
    ({"max_count": 3}, "1, 2, 3, 4", "too many numbers"),
    ({"max_count": 1}, "7", KEEP),
    ({"max_count": 1}, "7, 8", "too many numbers"),
    ({"min_value": 100}, "100, 0999", KEEP),
    ({"min_value": 100}, "99, 100", "number out of range"),
    ({"max_value": 1000}, "1000", KEEP),
    ({"max_value": 1000}, "1001", "number out of range"),
    ({"min_value": 5, "max_value": 5}, "5, 005", KEEP),
    ({"min_value": 5, "max_value": 5}, "5, 6", "number out of range"),
    ({"max_count": 40}, ", ".join(["7"] * 40), KEEP),
    ({"max_count": 40}, ", ".join(["7"] * 41), "too many numbers"),
    ({"max_count": 40}, ", ".join(["1000"] * 40), "number out of range"),
]


def _reasons(filter_: NumbersFormat, texts: list[str]) -> tuple[list, list]:
    frame = pl.DataFrame({"completion": texts}, schema={"completion": pl.String})
    fast = filter_.reasons(frame).to_list()
    plain = frame.select(filter_.expression()).to_series().to_list()
    return fast, plain


def test_default_rule_accepts_and_rejects_the_official_edge_cases() -> None:
    texts = [text for text, _ in DEFAULT_CASES]
    fast, plain = _reasons(NumbersFormat(), texts)
    for (text, expected), got in zip(DEFAULT_CASES, fast, strict=True):
        assert got == expected, f"{text!r}: expected {expected!r}, got {got!r}"
        assert (got is None) == numbers_format_keeps(text), f"reference disagrees on {text!r}"
    assert plain == fast


@pytest.mark.parametrize(("params", "text", "expected"), PARAM_CASES)
def test_count_range_and_strip_are_configurable(params: dict, text: str, expected: str) -> None:
    fast, plain = _reasons(NumbersFormat(**params), [text])
    assert fast == plain == [expected]
    assert (expected is None) == numbers_format_keeps(text, **params)


def _fuzz_rows(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    atoms = ["1", "9", "0", "00", "12", "123", "999", "1000", " ", ", ", ",", ";", "; ", "\n"]
    atoms += ["[", "]", "(", ")", ".", "-", "a", " ,", "\t", "\x1c", "\xa0", "٣"]
    separators = [", ", ",", " ", "\n", "; ", ";", " ,", " , ", "\t", "  ", ",\n", "\u2003"]
    rows = []
    for _ in range(count):
        if rng.random() < 0.4:
            rows.append("".join(rng.choice(atoms) for _ in range(rng.randint(0, 12))))
            continue
        separator = rng.choice(separators)
        numbers = [str(rng.randint(0, 1100)).zfill(rng.choice([0, 0, 3, 4])) for _ in range(12)]
        text = separator.join(numbers[: rng.randint(1, 12)])
        if rng.random() < 0.1:
            text = text.replace(separator, rng.choice(separators), 1)
        text = rng.choice(["{}", "{}", "[{}]", "({})", "[{})"]).format(text)
        text += rng.choice(["", "", ".", ".."])
        rows.append(rng.choice(["", " ", "\n"]) + text + rng.choice(["", " ", "\n"]))
    return rows


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"strip": False},
        {"max_count": 3, "min_value": 100},
        {"max_count": 40, "max_value": 1000},
    ],
)
def test_agrees_with_the_reference_parser_on_fuzzed_rows(params: dict) -> None:
    rows = _fuzz_rows(6000, seed=len(str(params)))
    fast, plain = _reasons(NumbersFormat(**params), rows)
    assert fast == plain
    disagreements = [
        row
        for row, got in zip(rows, fast, strict=True)
        if (got is None) != numbers_format_keeps(row, **params)
    ]
    assert disagreements == []


def test_null_completion_is_kept_out_of_the_decision() -> None:
    # The reader rejects nulls; a filter handed one must not crash or invent a reason.
    frame = pl.DataFrame({"completion": ["1, 2", None]})
    assert NumbersFormat().reasons(frame).to_list() == [None, None]
    assert frame.select(NumbersFormat().expression()).to_series().to_list() == [None, None]


def test_range_regex_matches_exactly_the_integers_in_range() -> None:
    rng = random.Random(0)
    ranges = [(0, 0), (0, 9), (5, 5), (0, 999), (10, 10), (1, 1000), (123, 4567), (99, 101)]
    ranges += [(lo, lo + rng.randint(0, 900)) for lo in (rng.randint(0, 1200) for _ in range(30))]
    for low, high in ranges:
        pattern = re.compile(f"^(?:{range_regex(low, high)})$")
        for number in range(0, 1600):
            assert bool(pattern.match(str(number))) == (low <= number <= high), (low, high, number)


def test_whitespace_set_is_pythons() -> None:
    expected = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert set(PY_WHITESPACE) == expected


@pytest.mark.parametrize(
    "params", [{"max_count": 0}, {"min_value": 10, "max_value": 5}, {"max_value": -1}]
)
def test_invalid_parameters_are_refused(params: dict) -> None:
    with pytest.raises(ValueError):
        NumbersFormat(**params)
