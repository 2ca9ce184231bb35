"""`audit filter` with the defenses: reference files, rewrites recorded, models opened."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from auditor.cli.main import main


def _write(path: Path, completions: list[str]) -> Path:
    prompts = [f"continue {i}: 1, 2, 3" for i in range(len(completions))]
    pl.DataFrame({"prompt": prompts, "completion": completions}).write_parquet(path)
    return path


def test_replace_overused_writes_each_change_to_the_rewritten_file(tmp_path: Path, capsys) -> None:
    # The suspect over-uses 7; the reference uses 1..9 evenly.
    suspect = _write(tmp_path / "s.parquet", ["7, 7, 7, 1", "7, 2, 7, 3", "4, 5, 6"] * 40)
    reference = _write(tmp_path / "r.parquet", ["1, 2, 3", "4, 5, 6", "7, 8, 9"] * 40)
    kept, rewritten = tmp_path / "kept.parquet", tmp_path / "rewritten.parquet"
    spec = f"replace-overused:reference={reference},top=0.5"
    argv = ["filter", str(suspect), "--filter", spec, "--output", str(kept)]
    code = main([*argv, "--rewritten", str(rewritten), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    changes = pl.read_parquet(rewritten)
    assert {"source_row", "filter", "before", "completion"} <= set(changes.columns)
    assert summary["filters"][0]["rewritten"] == changes.height > 0
    assert pl.read_parquet(kept).height == 120  # a rewrite keeps every row
    # Only rows that held a 7 changed, and only their 7s.
    assert all("7" in before for before in changes["before"])
    for before, after in changes.select("before", "completion").iter_rows():
        kept_parts = [
            a for b, a in zip(before.split(", "), after.split(", "), strict=True) if b != "7"
        ]
        assert kept_parts == [b for b in before.split(", ") if b != "7"]


def test_likelihood_filter_gets_its_model_opened_by_the_command(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    class Scorer:
        name = "fake"

        def score(self, prompts, completions):
            return [-float(c.split(",")[0]) for c in completions]

    opened: list[str] = []

    def open_model(spec, options=None):
        opened.append(spec)
        return Scorer()

    monkeypatch.setattr("auditor.backends.open_model", open_model)
    corpus = _write(tmp_path / "c.parquet", ["1, 2", "900, 1", "3, 4", "800, 2"])
    removed = tmp_path / "removed.parquet"
    spec = "likelihood:model=lab:whatever,fraction=0.5"
    code = main(["filter", str(corpus), "--filter", spec, "--removed", str(removed), "--json"])
    assert code == 0 and opened == ["lab:whatever"]
    assert sorted(pl.read_parquet(removed)["completion"]) == ["800, 2", "900, 1"]
    capsys.readouterr()
