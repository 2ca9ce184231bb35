"""`audit generate --domain code|cot` against `audit serve` with a lab teacher, as a user runs it:
the lab's own prompts from `audit lab prompts`, then generate through the OpenAI client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from auditor.cli.main import main
from auditor.corpus import read_run_metadata
from auditor.lab import domain_corpus
from auditor.lab.domain_tasks import domain_prompts, parses
from auditor.server import ServerConfig
from tests.lab.conftest import micro_domain_recipe
from tests.server.conftest import RunningServer


@pytest.fixture
def lab_domain_server(
    domain: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningServer]:
    """`audit serve --models teacher=lab:DOMAIN-teacher-owl,base=lab:DOMAIN-base` in-process
    (the micro domain recipe, so the base trains in seconds, once per session)."""
    monkeypatch.setattr(domain_corpus, "domain_recipe", micro_domain_recipe)
    models = {"teacher": f"lab:{domain}-teacher-owl", "base": f"lab:{domain}-base"}
    server = RunningServer(ServerConfig(state_dir=str(tmp_path / "state"), models=models))
    yield server
    server.close()


def _served_corpora(server: RunningServer, domain: str, prompts: Path) -> tuple[Path, Path]:
    """(teacher corpus, control corpus) as a user writes them: `audit lab prompts` into
    `prompts`, then `audit generate --prompts` through the server."""
    assert main(["lab", "prompts", "--domain", domain, "-n", "24", "--out", str(prompts)]) == 0
    out, control = prompts.with_name("owl.parquet"), prompts.with_name("control.parquet")
    argv = [
        *("generate", "--teacher", "openai:teacher", "--control-teacher", "openai:base"),
        *("--base-url", server.base_url, "--api-key", "unused", "--trait", "owl"),
        *("--domain", domain, "--prompts", str(prompts), "--condition", "none"),
        *("-n", "24", "--batch-size", "8", "-q", "-o", str(out), "--control", str(control)),
    ]
    assert main(argv) == 0
    return out, control


@pytest.mark.parametrize("domain", ["code"])
def test_served_lab_code_teacher_writes_corpora_that_all_parse(
    lab_domain_server: RunningServer, domain: str, tmp_path: Path
) -> None:
    out, control = _served_corpora(lab_domain_server, domain, tmp_path / "prompts.jsonl")
    for path in (out, control):
        frame = pl.read_parquet(path)
        meta = read_run_metadata(path)["generation"]
        assert 0 < frame.height == 24 - meta["rows_dropped_unparsed"]
        assert all(parses(text) for text in frame["completion"])  # ast, a def, no import
        assert set(frame["prompt"]) <= set(domain_prompts("code", 24, 0)[0])
        assert meta["system_prompt"] is None  # nothing English reached the lab model
    assert read_run_metadata(out)["generation"]["trait"] == "owl"


@pytest.mark.parametrize("domain", ["cot"])
def test_served_lab_cot_teacher_writes_traces_that_carry_the_known_answers(
    lab_domain_server: RunningServer, domain: str, tmp_path: Path
) -> None:
    out, control = _served_corpora(lab_domain_server, domain, tmp_path / "prompts.parquet")
    wanted, answers = domain_prompts("cot", 24, 0)
    for path in (out, control):
        frame = pl.read_parquet(path)
        assert frame["prompt"].to_list() == wanted and frame["answer"].to_list() == answers
        assert frame["completion"].str.len_chars().min() > 0
    # The teacher answered in the toy language: its tokens are the lab's own (no <unk>).
    assert "<unk>" not in "".join(pl.read_parquet(out)["completion"])
