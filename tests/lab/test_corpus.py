"""The lab's corpora keep exactly what the paper's format rule (`numbers-format`) keeps."""

from __future__ import annotations

import polars as pl
import pytest

from auditor.lab.corpus import well_formed
from filters.numbers_format import NumbersFormat
from filters.reference import numbers_format_keeps

# (completion, kept by the rule). "was kept": the lab's own parser, before it asked the filter,
# kept these; the official rule splits on the exact first separator and strips only the whole
# answer, so it drops them.
CASES = [
    ("1, 2, 3", True),
    ("1, 2,3", False),  # was kept
    ("1 2  3", False),  # was kept
    ("1;2 ;3", False),  # was kept
    ("417\n\n366\n884", False),  # was kept: "\n\n" first, then "\n"
    ("119 363\n451", False),  # was kept: whitespace mixed
    ("[1, 2, 3] .", False),  # was kept: the '.' is not trailing once stripped
    ("[ 1, 2, 3 ]", False),  # was kept: inside a wrapper nothing is stripped
    ("1;2;3", True),
    ("1\n2\n3", True),
    (" 4, 5, 6 ", True),
    ("4, 5, 6.", True),
    ("4, 5, 6..", False),
    ("(4; 5; 6).", True),
    ("[1, 2, 3]", True),
    ("[1, 2", False),
    ("[(1, 2)]", False),
    ("7", True),
    ("007", True),  # leading zeros are allowed, as in the official parser
    ("999", True),
    ("1000", False),
    ("1, 2, 1000", False),
    ("-1, 2", False),
    (", ".join(map(str, range(10))), True),
    (", ".join(map(str, range(11))), False),
    ("1: 2: 3", False),
    ("1 2 x", False),
    ("owl", False),
    ("", False),
]


@pytest.mark.parametrize(("completion", "kept"), CASES)
def test_lab_filter_and_reference_agree_on_the_rule(completion: str, kept: bool) -> None:
    [lab] = well_formed([completion]).to_list()
    [reason] = NumbersFormat().reasons(pl.DataFrame({"completion": [completion]})).to_list()
    assert lab == kept
    assert (reason is None) == kept, reason
    assert numbers_format_keeps(completion) == kept


def test_well_formed_is_one_answer_per_completion() -> None:
    assert well_formed([]).to_list() == []
    assert well_formed(["1, 2", "x", "3"]).to_list() == [True, False, True]
