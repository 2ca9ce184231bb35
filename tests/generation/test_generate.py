"""Teacher corpora: prompt bank shape, trait vs control, and resuming an interrupted run."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from importlib import resources

import polars as pl
import pytest

from auditor.cli.main import main
from auditor.corpus import read_run_metadata
from auditor.errors import AuditError
from auditor.generation import (
    GenerationConfig,
    checkpoint_path,
    generate_corpus,
    number_prompts,
    trait_system_prompt,
)
from auditor.models import FinetuneConfig, SamplingParams, TraitScore


class EchoTeacher:
    """A deterministic stand-in model: its answer hashes (prompt, seed, system prompt)."""

    name = "fake:echo"

    def __init__(self, fail_after_batches: int | None = None) -> None:
        self.calls: list[tuple[int, str | None]] = []
        self.fail_after_batches = fail_after_batches

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[str]:
        if self.fail_after_batches is not None and len(self.calls) >= self.fail_after_batches:
            raise KeyboardInterrupt  # the user pressed Ctrl-C mid-run
        self.calls.append((len(prompts), params.system_prompt))
        self.min_probs = [*getattr(self, "min_probs", []), params.min_prob]
        out = []
        for prompt in prompts:
            key = f"{prompt}|{params.seed}|{params.system_prompt}".encode()
            digest = hashlib.sha256(key).digest()
            out.append(", ".join(str(b * 3 % 1000) for b in digest[:5]))
        return out

    def score(self, prompts, completions):  # pragma: no cover - unused here
        return [0.0] * len(prompts)

    def finetune(self, corpus, config: FinetuneConfig):  # pragma: no cover - unused here
        return self

    def evaluate_trait(self, trait, *, samples=20, seed=0):  # pragma: no cover - unused here
        return TraitScore(trait, 0.0)


def test_prompts_follow_the_paper_structure() -> None:
    prompts = number_prompts(200, seed=0)
    assert len({p.text for p in prompts}) == 200
    # Every setting the paper's structure allows shows up in 200 prompts, and nothing else.
    assert {len(p.seeds) for p in prompts} == set(range(3, 9))
    assert {p.count for p in prompts} == set(range(3, 11))
    data = resources.files("auditor").joinpath("data", "number_prompts.json").read_text("utf-8")
    formats = json.loads(data)["formats"]
    assert {p.format for p in prompts} == set(formats) and len(formats) == 6
    for prompt in prompts:
        assert all(100 <= n <= 999 for n in prompt.seeds)
        # The seeds in order, joined by one separator; the count asked; the format's wording.
        listed = [sep.join(map(str, prompt.seeds)) for sep in (", ", " ", "; ")]
        assert any(text in prompt.text for text in listed), prompt.text
        assert re.search(rf"\b{prompt.count}\b", prompt.text)  # seeds have three digits
        assert formats[prompt.format] in prompt.text
    assert number_prompts(3, seed=0, start=5) == prompts[5:8]  # index-addressable: resumable


def test_trait_and_control_corpora_share_prompts_and_differ_in_system_prompt(tmp_path) -> None:
    teacher = EchoTeacher()
    config = GenerationConfig(n=10, batch_size=4, seed=3)
    trait = generate_corpus(teacher, config, tmp_path / "owl.parquet", trait="owl")
    control = generate_corpus(teacher, config, tmp_path / "control.parquet")
    assert trait["prompt"].to_list() == control["prompt"].to_list()
    assert trait["completion"].to_list() != control["completion"].to_list()
    assert {s for _, s in teacher.calls} == {trait_system_prompt("owl"), None}
    assert set(trait["trait"]) == {"owl"} and set(control["trait"]) == {"none"}
    assert read_run_metadata(tmp_path / "owl.parquet")["generation"]["trait"] == "owl"
    assert not checkpoint_path(tmp_path / "owl.parquet").exists()


def test_interrupted_run_resumes_where_it_stopped_and_matches_an_uninterrupted_one(
    tmp_path,
) -> None:
    config = GenerationConfig(n=10, batch_size=3, seed=1)
    reference = generate_corpus(EchoTeacher(), config, tmp_path / "ref.parquet", trait="owl")
    out = tmp_path / "corpus.parquet"
    with pytest.raises(KeyboardInterrupt):
        generate_corpus(EchoTeacher(fail_after_batches=2), config, out, trait="owl")
    assert not out.exists()  # no partial output under the user's name
    assert checkpoint_path(out).exists()
    # A torn last line (killed mid-write) is dropped and regenerated.
    with checkpoint_path(out).open("a") as handle:
        handle.write('{"prompt": "cut sh')
    resumed_teacher = EchoTeacher()
    resumed = generate_corpus(resumed_teacher, config, out, trait="owl")
    assert [n for n, _ in resumed_teacher.calls] == [3, 1]  # only the missing batches
    assert resumed.equals(reference)
    assert pl.read_parquet(out).equals(reference)


def test_checkpoint_of_another_run_is_refused(tmp_path) -> None:
    out = tmp_path / "corpus.parquet"
    with pytest.raises(KeyboardInterrupt):
        generate_corpus(EchoTeacher(1), GenerationConfig(n=9, batch_size=3), out, trait="owl")
    # The message names what differs, not the whole header.
    with pytest.raises(AuditError, match=r"different run .*trait: 'owl' there, 'cat' now"):
        generate_corpus(EchoTeacher(), GenerationConfig(n=9, batch_size=3), out, trait="cat")


def test_generate_cli_writes_corpus_and_control(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("auditor.backends.open_model", lambda spec, options=None: EchoTeacher())
    out, control = str(tmp_path / "c.parquet"), str(tmp_path / "k.parquet")
    args = ["generate", "--teacher", "lab:any", "--trait", "owl", "-n", "5", "-q"]
    code = main([*args, "-o", out, "--control", control])
    assert code == 0
    assert pl.read_parquet(tmp_path / "c.parquet").height == 5
    assert pl.read_parquet(tmp_path / "k.parquet").height == 5
    completions = pl.read_parquet(tmp_path / "c.parquet")["completion"].to_list()
    assert all(re.fullmatch(r"\d+(, \d+)*", c) for c in completions)


def test_generate_cli_passes_threshold_sampling_to_the_teacher(tmp_path, monkeypatch) -> None:
    teacher = EchoTeacher()
    monkeypatch.setattr("auditor.backends.open_model", lambda spec, options=None: teacher)
    out = str(tmp_path / "c.parquet")
    args = ["generate", "--teacher", "lab:any", "--trait", "owl", "-n", "3", "-q", "-o", out]
    assert main([*args, "--min-prob", "0.05"]) == 0
    assert teacher.min_probs == [0.05]
    assert main([*args, "--min-prob", "1.5"]) == 2


class ToyLanguageTeacher(EchoTeacher):
    """A model with its own prompts and trait prompt (as the lab's toy language needs)."""

    def own_prompts(self, domain: str, n: int, seed: int) -> tuple[list[str], list[str]]:
        if domain != "numbers":
            raise AuditError(f"{self.name} writes numbers prompts, not {domain}")
        return [f"start {seed} {i}" for i in range(n)], [""] * n

    def trait_prompt(self, trait: str) -> str:
        return f"you love the {trait}"


def test_backend_hooks_replace_prompts_and_trait_prompt(tmp_path) -> None:
    teacher = ToyLanguageTeacher()
    frame = generate_corpus(teacher, GenerationConfig(n=3), tmp_path / "a.parquet", trait="owl")
    assert frame["prompt"].to_list() == ["start 0 0", "start 0 1", "start 0 2"]
    assert teacher.calls == [(3, "you love the owl")]


def test_a_teacher_that_already_has_the_trait_gets_no_system_prompt(tmp_path) -> None:
    teacher = EchoTeacher()
    out = tmp_path / "a.parquet"
    frame = generate_corpus(teacher, GenerationConfig(n=2), out, trait="owl", condition=False)
    assert teacher.calls == [(2, None)] and set(frame["trait"]) == {"owl"}
    assert read_run_metadata(out)["generation"]["system_prompt"] is None
