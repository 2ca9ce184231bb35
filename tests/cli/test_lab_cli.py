"""`audit lab ...` through the real command path, on micro recipes: the files each writes."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import auditor.lab.demo
import auditor.lab.digits
import auditor.lab.transmission
from auditor.cli.main import main
from auditor.corpus import read_run_metadata
from auditor.lab.digits import DigitsConfig, run_digits
from auditor.lab.transmission import TransmissionRecipe
from tests.lab.conftest import micro_transmission

MICRO_DIGITS = DigitsConfig(hidden=32, aux=5, teacher_epochs=10, student_steps=30)


@pytest.fixture
def micro_lab(monkeypatch: pytest.MonkeyPatch) -> TransmissionRecipe:
    """The commands' default recipes replaced by micro ones (seconds, not minutes)."""
    recipe = micro_transmission(40)
    monkeypatch.setattr(auditor.lab.transmission, "TransmissionRecipe", lambda: recipe)
    monkeypatch.setattr(auditor.lab.demo, "TransmissionRecipe", lambda: recipe)
    monkeypatch.setattr(auditor.lab.digits, "DigitsConfig", lambda: MICRO_DIGITS)
    return recipe


def lab(*argv: str, cache: Path) -> int:
    return main(["lab", *argv, "--cache", str(cache)])


def test_transmission_writes_its_table_as_json_and_markdown(
    micro_lab: TransmissionRecipe, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code = lab(
        "transmission", "--targets", "owl", "--seeds", "1", "--rows", "30", "--no-soft",
        "--out", str(out), cache=tmp_path / "cache",
    )  # fmt: skip
    assert code == 0
    result = json.loads((out / "transmission.json").read_text())
    assert result["recipe"]["corpus_rows"] == 30 and result["recipe"]["soft_labels"] is False
    [record] = result["records"]
    assert (record["target"], record["seed"]) == ("owl", 0)
    assert "soft_student" not in record  # --no-soft
    assert all(0.0 <= record[key] <= 1.0 for key in ("teacher", "control", "student"))
    table = (out / "transmission.md").read_text()
    assert f"| owl | 0 | {record['teacher']:.4f} | {record['control']:.4f} |" in table
    assert sorted(p.name for p in out.iterdir()) == ["transmission.json", "transmission.md"]


def test_digits_writes_one_record_per_seed_and_their_means(
    micro_lab: TransmissionRecipe, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert lab("digits", "--seeds", "2", "--out", str(out), cache=tmp_path / "cache") == 0
    result = json.loads((out / "digits.json").read_text())
    records = result["records"]
    assert [r["seed"] for r in records] == [0, 1]
    assert records[0] == json.loads(json.dumps(run_digits(0, MICRO_DIGITS)))  # seeded: the same
    mean = sum(r["teacher_accuracy"] for r in records) / 2
    assert result["summary"]["mean_teacher_accuracy"] == pytest.approx(mean)
    assert "| 1 |" in (out / "digits.md").read_text()


def test_corpus_writes_a_teacher_and_a_control_corpus_then_reuses_them(
    micro_lab: TransmissionRecipe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ("corpus", "--target", "owl", "--rows", "30", "--out", str(out))
    assert lab(*argv, cache=tmp_path / "cache") == 0
    teacher, control = out / "teacher-owl-seed0.parquet", out / "control-seed0.parquet"
    printed = "".join(capsys.readouterr().out.split())  # rich wraps long paths
    assert f"teachercorpus:{teacher}" in printed and f"controlcorpus:{control}" in printed
    teacher_rows, control_rows = pl.read_parquet(teacher), pl.read_parquet(control)
    assert 0 < teacher_rows.height <= 30 and 0 < control_rows.height <= 30
    assert {"prompt", "completion"} <= set(teacher_rows.columns)
    assert read_run_metadata(teacher)["tool_version"]
    assert lab(*argv, cache=tmp_path / "cache") == 0
    assert "reusing the corpora in the lab cache" in capsys.readouterr().err
    assert pl.read_parquet(teacher).equals(teacher_rows)


def test_base_trains_both_inits_once_then_loads_them(
    micro_lab: TransmissionRecipe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    assert lab("base", cache=cache) == 0
    first = capsys.readouterr().out
    assert "base init 0: trained" in first and "base init 1: trained" in first
    assert lab("base", cache=cache) == 0
    second = capsys.readouterr().out
    assert "base init 0: cached" in second and "base init 1: cached" in second


def test_an_unknown_target_is_a_usage_error_before_any_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = lab("transmission", "--targets", "unicorn", "--out", str(out), cache=tmp_path / "c")
    assert code == 2
    assert "unknown target animal(s) unicorn" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "c").exists()
