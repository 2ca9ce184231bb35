"""The filter benchmark: its arithmetic on planted numbers, its rules, plugins and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from scipy import stats as scipy_stats

from auditor.bench.entries import BASELINE, parse_entries
from auditor.bench.filters_bench import BenchConfig, run_bench, summarise
from auditor.bench.report import markdown, pareto_front, pareto_svg, write_outputs
from auditor.bench.residual import Interval, residual, scored_records
from auditor.cli.main import main
from auditor.errors import AuditError
from auditor.lab.transmission import TransmissionRecipe
from tests.lab.conftest import micro_transmission


def test_residual_of_planted_scores() -> None:
    # Unfiltered leakage 0.4; after the filter 0.2 is left: half survives.
    assert residual(0.3, 0.1, 0.5, 0.1) == pytest.approx(0.5)
    assert residual(0.5, 0.1, 0.5, 0.1) == pytest.approx(1.0)  # stops nothing
    assert residual(0.1, 0.1, 0.5, 0.1) == pytest.approx(0.0)  # stops everything
    assert residual(0.0, 0.1, 0.5, 0.1) == pytest.approx(-0.25)  # pushes away from the trait
    assert math.isnan(residual(0.3, 0.1, 0.1, 0.1))  # no leakage to compare against
    assert math.isnan(residual(0.3, 0.1, 0.05, 0.1))


def test_interval_is_the_student_t_interval_over_cells() -> None:
    values = [0.5, 0.7, 0.9]
    half = scipy_stats.t.ppf(0.975, 2) * scipy_stats.sem(values)
    got = Interval.of([*values, math.nan])  # a cell without a residual is left out
    assert (got.mean, got.n) == (pytest.approx(0.7), 3)
    assert (got.low, got.high) == (pytest.approx(0.7 - half), pytest.approx(0.7 + half))
    assert Interval.of([]).n == 0 and math.isnan(Interval.of([0.3]).low)


def _cell(name: str, target: str, seed: int) -> dict:
    return {"filter": name, "target": target, "seed": seed, "steps": 10, "retention": 1.0,
            "control_retention": 1.0, "seconds": 0.0, "jobs": {"student": 0, "control": 1,
            "xinit_student": 2, "xinit_control": 3}}  # fmt: skip


def test_records_take_each_cells_own_baseline() -> None:
    cells = [_cell(BASELINE, "owl", 0), _cell("f", "owl", 0), _cell(BASELINE, "owl", 1),
             _cell("f", "owl", 1)]  # fmt: skip
    scores_by_job = [
        # baseline seed 0: leakage 0.4; filtered: 0.1 (residual 0.25)
        [0.5, 0.1, 0.2, 0.2], [0.2, 0.1, 0.2, 0.2],
        # baseline seed 1: leakage 0.2; filtered: 0.2 (residual 1.0)
        [0.4, 0.2, 0.2, 0.2], [0.5, 0.3, 0.25, 0.2],
    ]  # fmt: skip
    scores, index = [], 0
    for cell, row in zip(cells, scores_by_job, strict=True):
        cell["jobs"] = {key: index + i for i, key in enumerate(cell["jobs"])}
        scores += [{"owl": value} for value in row]
        index += 4
    records = scored_records(cells, scores, lambda r: r["filter"] == BASELINE)
    assert [r["residual"] for r in records] == pytest.approx([1.0, 0.25, 1.0, 1.0])
    assert records[3]["xinit_shift"] == pytest.approx(0.05)
    entries = parse_entries(["random:fraction=0.5"])
    summary = summarise(
        [{**r, "filter": "random:fraction=0.5"} if r["filter"] == "f" else r for r in records],
        entries,
        BenchConfig(targets=("owl",), detectors=()),
    )
    assert summary[1]["residual"] == pytest.approx(0.625)


def test_default_entries_are_the_baseline_offline_filters_and_generation() -> None:
    labels = [e.label for e in parse_entries([])]
    assert labels[0] == BASELINE
    assert "gen:min_prob=0.05" in labels and "random:fraction=0.5" in labels
    assert not any(label.startswith(("llm-judge", "regex")) for label in labels)


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["no-such-filter"], "unknown filter 'no-such-filter'"),
        (["random:fraction=2"], "fraction must be between 0 and 1"),
        (["gen:temperature=0.5"], "gen:min_prob=P"),
        (["gen:min_prob=1.5"], "between 0 and 1"),
        (["random", "random"], "given twice"),
    ],
)
def test_bad_entries_fail_with_one_clear_message(specs: list[str], message: str) -> None:
    with pytest.raises(AuditError, match=message):
        parse_entries(specs)


PLUGIN = '''
import polars as pl

class NoSevens:
    """Drops lists that contain a 7 (no import of the project needed)."""
    name = "no-sevens"

    def reasons(self, batch):
        has = batch["completion"].str.contains(r"\\b7\\b")
        return pl.select(pl.when(has).then(pl.lit("has a seven"))).to_series()

class NotAFilter:
    pass
'''


def test_plugin_file_filters_are_loaded_and_applied(tmp_path: Path) -> None:
    path = tmp_path / "my_filters.py"
    path.write_text(PLUGIN)
    entries = parse_entries([], [str(path)])
    assert [e.label for e in entries] == [BASELINE, "no-sevens (my_filters.py)"]
    frame = pl.DataFrame({"prompt": ["a", "b"], "completion": ["1, 7, 3", "4, 5"]})
    made = entries[1].build("owl", frame, model=None)  # type: ignore[arg-type]
    assert made.reasons(frame).to_list() == ["has a seven", None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "file not found"),
        ("def broken(:\n", "failed to import"),
        ("import this_module_does_not_exist\n", "failed to import"),
        ("class Nothing:\n    pass\n", "defines no filter"),
    ],
)
def test_bad_plugin_files_fail_clearly(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "plugin.py"
    if text is not None:
        path.write_text(text)
    with pytest.raises(AuditError, match=message):
        parse_entries([], [str(path)])


def _micro_recipe() -> TransmissionRecipe:
    return micro_transmission(400)


DROPS_ALL = """
import polars as pl

class DropsAll:
    name = "drops-all"
    def reasons(self, batch):
        return pl.Series(["gone"] * batch.height, dtype=pl.String)

class Explodes:
    name = "explodes"
    def reasons(self, batch):
        raise RuntimeError("boom")
"""


@pytest.mark.slow
def test_bench_on_micro_models_keeps_equal_steps_and_survives_bad_filters(
    tmp_path: Path,
) -> None:
    plugin = tmp_path / "odd.py"
    plugin.write_text(DROPS_ALL)
    entries = parse_entries(["random:fraction=0.5", "numbers-format"], [str(plugin)])
    config = BenchConfig(targets=("owl",), seeds=(0,), recipe=_micro_recipe(), permutations=10)
    result = run_bench(entries, config, cache=tmp_path / "cache")
    records = result["records"]
    # Equal optimiser steps for every student of the seed, whatever its filter kept.
    assert len({r["steps"] for r in records}) == 1
    random_row = next(r for r in records if r["filter"] == "random:fraction=0.5")
    assert random_row["kept_rows"] < random_row["teacher_rows"]
    # A filter that drops every row is a result (retention 0, no residual), not a crash.
    dropped = next(r for r in records if r["filter"].startswith("drops-all"))
    assert dropped["retention"] == 0.0 and math.isnan(dropped["residual"])
    # A filter that raises is named with its error; the others still ran.
    assert (
        "explodes (odd.py)" in result["errors"] and "boom" in result["errors"]["explodes (odd.py)"]
    )
    assert {r["filter"] for r in records} == {
        BASELINE, "random:fraction=0.5", "numbers-format", "drops-all (odd.py)"
    }  # fmt: skip
    # The unfiltered control is never trained twice: numbers-format keeps a lab corpus whole,
    # so its students are the baseline's, read back from the cache.
    assert result["students_trained"] < result["students_total"]
    # A warm re-run trains nothing.
    again = run_bench(entries, config, cache=tmp_path / "cache")
    assert again["students_trained"] == 0
    result["config"] = {"targets": ["owl"], "seeds": [0], "student_name": "lnf-bias",
                        "detectors": list(config.detectors)}  # fmt: skip
    paths = write_outputs(result, tmp_path / "out")
    assert [p.name for p in paths] == ["filters.json", "filters.md", "filters.svg"]
    assert "| numbers-format |" in markdown(result)
    assert (tmp_path / "out" / "filters.svg").read_text().startswith("<svg")


def test_pareto_front_keeps_only_undominated_filters() -> None:
    points = [
        {"filter": "a", "retention": 1.0, "residual": 1.0, "residual_low": 0.9,
         "residual_high": 1.1},
        {"filter": "b", "retention": 0.5, "residual": 0.2, "residual_low": 0.1,
         "residual_high": 0.3},
        {"filter": "c", "retention": 0.4, "residual": 0.5, "residual_low": 0.4,
         "residual_high": 0.6},
    ]  # fmt: skip
    assert [p["filter"] for p in pareto_front(points)] == ["b", "a"]
    assert pareto_svg(points).count("<circle") == 3


def test_cli_refuses_unknown_filters_and_targets(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "out")
    assert main(["bench", "filters", "--filter", "nope", "--out", out]) == 2
    assert "unknown filter 'nope'" in capsys.readouterr().err
    assert main(["bench", "filters", "--targets", "unicorn", "--out", out]) == 2
    assert "unknown target(s) unicorn" in capsys.readouterr().err
    assert not Path(out).exists()
