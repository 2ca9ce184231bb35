"""`audit lab corpus|transmission --domain code|cot` through the real command path (micro)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

import auditor.lab.domain_corpus
import auditor.lab.transmission
from auditor.cli.main import main
from auditor.lab.domain_tasks import parses
from auditor.lab.probe import StudentConfig
from auditor.lab.teachers import TeacherConfig
from auditor.lab.transmission import TransmissionRecipe
from tests.lab.conftest import MICRO


@pytest.fixture
def micro_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = replace(
        TransmissionRecipe(),
        base=MICRO,
        teacher=TeacherConfig(steps=4, batch_size=8),
        student=StudentConfig(epochs=1.0, batch_size=16),
        corpus_rows=30,
    )
    monkeypatch.setattr(auditor.lab.transmission, "TransmissionRecipe", lambda: recipe)


def test_corpus_domain_cot_writes_a_teacher_corpus_and_its_control_with_answers(
    micro_lab: None, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["lab", "corpus", "--domain", "cot", "--target", "owl", "--rows", "20"]
    assert main([*argv, "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    teacher = pl.read_parquet(out / "teacher-owl-cot-seed0.parquet")
    control = pl.read_parquet(out / "control-cot-seed0.parquet")
    for frame in (teacher, control):
        assert frame.height == 20 and "answer" in frame.columns
        assert set(frame["domain"].to_list()) == {"cot"}
    assert teacher["prompt"].to_list() == control["prompt"].to_list()
    meta = json.loads((out / "teacher-owl-cot-seed0.json").read_text())
    assert meta["domain"] == "cot"


def test_corpus_domain_code_keeps_only_programs_that_parse(micro_lab: None, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["lab", "corpus", "--domain", "code", "--rows", "20", "--out", str(out)]
    assert main([*argv, "--cache", str(tmp_path / "cache")]) == 0
    for name in ("teacher-owl-code-seed0.parquet", "control-code-seed0.parquet"):
        frame = pl.read_parquet(out / name)
        assert all(parses(c) for c in frame["completion"].to_list())
    meta = json.loads((out / "teacher-owl-code-seed0.json").read_text())
    assert meta["teacher_rows"] + meta["teacher_dropped"] == 20


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["corpus", "--domain", "poetry"], "--domain 'poetry'"),
        (["transmission", "--domain", "prose"], "--domain 'prose'"),
        (["transmission", "--domain", "code", "--trait", "misaligned"], "number lists only"),
    ],
)
def test_bad_domains_are_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lab", *argv, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
