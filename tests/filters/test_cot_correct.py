"""`cot-correct`: a trace's last <answer> against the known answer, numbers by value."""

from __future__ import annotations

import polars as pl
import pytest

from auditor.errors import AuditError
from filters.cot_correct import MISSING, NO_KNOWN, WRONG, CotCorrect
from filters.registry import create_filter

CASES = [
    ("2 + 3 = 5, so <answer>5</answer>", "5", None),
    ("<answer>1,000</answer>", "1000", None),
    ("<answer>1000.0</answer>", "1,000", None),
    ("<answer>$1000</answer>", "1000", None),
    ("<answer> 42. </answer>", "42", None),
    ("<ANSWER>-3</ANSWER>", "-3", None),
    ("<answer>0.5</answer>", ".5", None),
    ("first <answer>3</answer>, corrected: <answer>4</answer>", "4", None),  # the last counts
    ("first <answer>4</answer>, corrected: <answer>3</answer>", "4", WRONG),
    ("<answer>999</answer>", "1000", WRONG),
    ("<answer>five</answer>", "5", WRONG),
    ("<answer>Paris</answer>", "paris", None),  # not numbers: text, case-folded
    ("the answer is 1000", "1000", MISSING),
    ("<answer></answer>", "5", MISSING),
    ("<answer>5", "5", MISSING),  # never closed
    ("<answer>5</answer>", None, NO_KNOWN),
    ("<answer>5</answer>", "", NO_KNOWN),
]


@pytest.mark.parametrize(("completion", "answer", "expected"), CASES)
def test_final_answer_is_checked_against_the_known_one(completion, answer, expected) -> None:
    batch = pl.DataFrame(
        {"prompt": ["q"], "completion": [completion], "answer": [answer]},
        schema={"prompt": pl.String, "completion": pl.String, "answer": pl.String},
    )
    assert CotCorrect().reasons(batch).to_list() == [expected]


def test_integer_answer_columns_compare_by_value() -> None:
    batch = pl.DataFrame({"completion": ["<answer>1,200</answer>", "<answer>7</answer>"]})
    batch = batch.with_columns(answer=pl.Series([1200, 8]))
    assert create_filter("cot-correct").reasons(batch).to_list() == [None, WRONG]


def test_a_corpus_without_answers_is_refused_by_name() -> None:
    with pytest.raises(AuditError, match="no 'answer' column"):
        CotCorrect().reasons(pl.DataFrame({"completion": ["<answer>1</answer>"]}))
