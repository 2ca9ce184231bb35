"""`audit lab corpus|transmission|prompts --domain code|cot`, and `audit generate` with lab domain
models, through the real command path (micro recipes)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import auditor.lab.domain_corpus
import auditor.lab.transmission
from auditor.backends.lab import LabModel
from auditor.cli.main import main
from auditor.lab.domain_tasks import domain_prompts, parses
from auditor.lab.model import GPT, GPTConfig
from tests.lab.conftest import micro_domain_recipe, micro_transmission


@pytest.fixture
def micro_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = micro_transmission(30)
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


@pytest.fixture
def micro_domains(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auditor.lab.domain_corpus, "domain_recipe", micro_domain_recipe)


@pytest.mark.parametrize("domain", ["numbers", "code", "cot"])
def test_lab_prompts_writes_the_prompts_a_lab_model_of_the_domain_writes(
    domain: str, tmp_path: Path
) -> None:
    out = tmp_path / "prompts.jsonl"
    argv = ["lab", "prompts", "--domain", domain, "-n", "5", "--seed", "2", "-o", str(out)]
    assert main(argv) == 0
    frame = pl.read_ndjson(out)
    model = LabModel(GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16)), "lab:x", domain=domain)
    prompts, answers = model.own_prompts(domain, 5, seed=2)
    assert frame["prompt"].to_list() == prompts
    assert frame.columns == (["prompt", "answer"] if domain == "cot" else ["prompt"])
    if domain == "cot":
        assert frame["answer"].to_list() == answers


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--domain", "code", "-n", "3", "-o", "{tmp}/p.csv"], "write .jsonl or .parquet"),
        (["--domain", "prose", "-n", "3", "-o", "{tmp}/p.jsonl"], "--domain 'prose'"),
        (["--domain", "code", "-n", "0", "-o", "{tmp}/p.jsonl"], "--rows must be between 1"),
        # A typo'd size is refused before any prompt is built (it was an out-of-memory kill).
        (["--domain", "code", "-n", "99999999999", "-o", "{tmp}/p.jsonl"], "between 1 and"),
        (["-n", "3", "-o", "{tmp}/missing/p.jsonl"], "does not exist"),
        (["-n", "3", "-o", "{tmp}"], "a directory is in the way"),
    ],
)
def test_lab_prompts_bad_input_is_one_line_exit_2_and_writes_nothing(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(["lab", "prompts", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_path_the_file_system_refuses_is_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["lab", "prompts", "-n", "3", "-o", "/proc/prompts.jsonl"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: cannot use"), err


def test_a_lab_domain_teacher_is_not_given_a_trait_prefix_it_never_learned(
    micro_domains: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "--teacher", "lab:code-teacher-owl", "--trait", "owl", "--domain", "code"]
    assert main([*argv, "-n", "4", "-q", "-o", str(tmp_path / "c.parquet")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pass --condition none" in err, err
    assert list(tmp_path.iterdir()) == []


def test_generate_with_a_lab_code_teacher_writes_its_own_prompts_and_parsing_code(
    micro_domains: None, tmp_path: Path
) -> None:
    out, control = tmp_path / "owl.parquet", tmp_path / "control.parquet"
    argv = ["generate", "--teacher", "lab:code-teacher-owl", "--control-teacher", "lab:code-base"]
    argv += ["--trait", "owl", "--domain", "code", "--condition", "none", "-n", "24", "-q"]
    assert main([*argv, "-o", str(out), "--control", str(control)]) == 0
    wanted = set(domain_prompts("code", 24, 0)[0])  # what `audit lab prompts` writes
    for path in (out, control):
        frame = pl.read_parquet(path)
        assert frame.height > 0 and all(parses(c) for c in frame["completion"])
        assert set(frame["prompt"]) <= wanted
    assert set(pl.read_parquet(out)["teacher"]) == {"lab:code-teacher-owl"}


def test_a_lab_numbers_teacher_asked_for_code_names_the_code_teacher(
    micro_lab: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.parquet"
    argv = ["generate", "--teacher", "lab:teacher-owl", "--trait", "owl", "--domain", "code"]
    assert main([*argv, "-n", "2", "-q", "-o", str(out), "--control", str(tmp_path / "k")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "use lab:code-teacher-owl" in err, err
    assert list(tmp_path.iterdir()) == []
