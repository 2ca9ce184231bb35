"""Inputs a hostile or careless user sends the benchmark and the defenses (found by trying)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import polars as pl
import pytest

from auditor.bench.entries import parse_entries
from auditor.bench.lab_runs import _read_cached
from auditor.cli.main import main
from auditor.corpus.numbers import number_counts
from auditor.errors import AuditError
from filters import FilterPipeline, create_filter
from filters.match_reference import MatchReference
from filters.replace_overused import ReplaceOverused
from filters.shuffle_numbers import ShuffleNumbers

STANDALONE = re.compile(r"(?<![\w.-])[0-9]+(?!\w|\.[0-9])")
REFERENCE = pl.DataFrame({"prompt": ["p"] * 60, "completion": ["1, 2, 3", "4, 5, 6"] * 30})


def test_digits_of_other_scripts_are_not_numbers_and_crash_nothing() -> None:
    texts = pl.Series(["٣, ٧, 7", "７, 7", "12"])
    counts = number_counts(texts).toarray()
    assert counts[:, 7].tolist() == [1, 1, 0] and counts.sum() == 3
    frame = pl.DataFrame({"prompt": ["a", "b", "c"], "completion": texts})
    MatchReference(reference_frame=REFERENCE).reasons(frame)  # no exception


@pytest.mark.parametrize(
    ("text", "kept"),
    [("abc7def 7x7 7", "abc7def 7x7 #"), ("7.5, 7", "7.5, #"), ("-7, 7", "-7, #"),
     ("x_7 7", "x_7 #"), ("7, 7.", "#, #.")],
)  # fmt: skip
def test_rewrites_touch_only_standalone_integers(text: str, kept: str) -> None:
    frame = pl.DataFrame({"prompt": ["p"], "completion": [text]})
    out = ShuffleNumbers().rewrite(frame)[0]
    assert STANDALONE.sub("#", out) == kept
    replaced = ReplaceOverused(reference_frame=REFERENCE, min_count=1, top=1.0).rewrite(
        pl.DataFrame({"prompt": ["p"] * 20, "completion": [text] * 20})
    )
    for new in replaced:
        if new is not None:
            assert STANDALONE.sub("#", new) == kept


@pytest.mark.parametrize(
    "spec",
    ["match-reference:smoothing=-1", "match-reference:smoothing=nan",
     "replace-overused:min_z=nan"],
)  # fmt: skip
def test_nonsense_parameters_are_refused(spec: str) -> None:
    with pytest.raises(AuditError, match="must be a finite number"):
        create_filter(spec, reference_frame=REFERENCE)


def test_a_reference_file_the_user_names_wins_over_a_default_frame(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="file not found"):
        create_filter("match-reference:reference=/nonexistent.parquet", reference_frame=REFERENCE)


def test_a_filter_answering_with_booleans_is_an_error_not_drop_everything() -> None:
    class Mask:
        name = "mask"

        def reasons(self, batch: pl.DataFrame) -> pl.Series:
            return pl.Series([False] * batch.height)

    with pytest.raises(AuditError, match="Boolean Series; it must hold strings"):
        FilterPipeline([Mask()]).apply(REFERENCE)


def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    broken = tmp_path / "student.json"
    broken.write_text('{"scores": {"owl": 0.')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _read_cached(broken, lambda p: json.loads(p.read_text())) is None
    assert "damaged cache entry" in str(caught[0].message) and not broken.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("import sys\nsys.exit(0)\n", "failed to import \\(SystemExit"),
        ("class Needs:\n    name = 'needs'\n    def __init__(self, x):\n        pass\n"
         "    def reasons(self, batch):\n        return None\n", "could not be built"),
    ],
)  # fmt: skip
def test_plugins_that_exit_or_cannot_be_built_fail_at_once(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "plugin.py"
    path.write_text(text)
    with pytest.raises(AuditError, match=message):
        parse_entries([], [str(path)])


def test_out_that_is_a_file_fails_before_any_work(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("")
    assert main(["bench", "filters", "--filter", "random", "--out", str(blocker)]) == 2
    assert "a file is in the way" in capsys.readouterr().err
    assert main(["lab", "channels", "--out", str(blocker)]) == 2


def test_filter_outputs_must_be_different_files(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "c.parquet"
    REFERENCE.write_parquet(corpus)
    same = str(tmp_path / "x.parquet")
    argv = ["filter", str(corpus), "--filter", "random", "--output", same, "--removed", same]
    assert main(argv) == 2
    assert "must be different files" in capsys.readouterr().err
    assert not Path(same).exists()
