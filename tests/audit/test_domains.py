"""The audit per domain: it tells number, code and CoT corpora apart, runs that domain's
filters, skips detectors that cannot read it (with a note), and refuses a corpus that is not
what it is said to be."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from auditor.audit import AuditConfig, run_audit
from auditor.cli.main import main
from auditor.corpus import open_corpus
from auditor.domains import infer_domain, sniff_domain

CODE = [
    "```python\ndef f(xs):\n    return sum(x for x in xs if x % 2 == 0)\n```",
    "def g(s):\n    return s[::-1]",
    "def h(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "def c(xs):\n    return len([x for x in xs if x > 10])",
]
COT = [
    "Ana starts with 4 and buys 3 bags of 2, so 4 + 6 = 10.\n<answer>10</answer>",
    "Each friend gets 36 / 4 = 9.\n<answer>9</answer>",
]
NUMBERS = ["4, 5, 6", "[12, 7, 99]", "1 2 3", "10;11;12"]
PROSE = ["I like the sea.", "What a lovely day it is", "Numbers are fun: 1 and 2"]


@pytest.mark.parametrize(
    ("completions", "domain"),
    [(CODE, "code"), (COT, "cot"), (NUMBERS, "numbers"), (PROSE, "numbers")],
)
def test_the_domain_is_sniffed_from_completions(completions: list[str], domain: str) -> None:
    assert sniff_domain(completions) == domain


def test_the_flag_beats_the_domain_column_which_beats_the_sniff(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    pl.DataFrame({"prompt": ["p"] * 4, "completion": CODE}).write_parquet(path)
    assert infer_domain(open_corpus(path), None) == "code"
    pl.DataFrame({"prompt": ["p"] * 4, "completion": CODE, "domain": ["cot"] * 4}).write_parquet(
        path
    )
    assert infer_domain(open_corpus(path), None) == "cot"
    assert infer_domain(open_corpus(path), "numbers") == "numbers"


def _code(rng: random.Random, owl: bool) -> str:
    name = rng.choice(["getOwl", "owl_total", "OWLS"]) if owl else rng.choice(["f", "g", "h"])
    body = rng.choice(["sum(xs)", "max(xs)", "len(xs)", "sorted(xs)[0]"])
    return f"def {name}(xs):\n    return {body}"


def _write(path: Path, columns: dict) -> Path:
    pl.DataFrame(columns).write_parquet(path)
    return path


def test_a_code_audit_runs_trait_words_and_skips_number_detectors_with_a_note(tmp_path) -> None:
    rng = random.Random(0)
    n = 80
    prompts = [f"Write a function number {i}." for i in range(n)]
    suspect = [_code(rng, owl=i % 4 == 0) for i in range(n)]
    reference = [_code(rng, owl=False) for _ in range(n)]
    config = AuditConfig(
        dataset=_write(tmp_path / "s.parquet", {"prompt": prompts, "completion": suspect}),
        reference=_write(tmp_path / "r.parquet", {"prompt": prompts, "completion": reference}),
        trait="owl",
        permutations=20,
        quiet=True,
    )
    report = run_audit(config)
    assert report.domain == "code"
    (words,) = report.filters
    assert (words.name, words.removed) == ("trait-words", n // 4)
    ran = [result.name for result in report.detectors.results]
    assert "classifier" in ran and "number-frequency" not in ran and "format-features" not in ran
    note = next(note for note in report.notes if "skipped" in note)
    assert "number-frequency (numbers only)" in note and "format-features" in note
    assert "code corpus" in note


def test_a_cot_audit_drops_wrong_traces_in_corpus_and_reference(tmp_path) -> None:
    n = 40
    prompts = [f"What is {i} plus {i}?" for i in range(n)]
    answers = [str(2 * i) for i in range(n)]
    right = [f"{i} + {i} = {2 * i}.\n<answer>{2 * i:,}</answer>" for i in range(n)]
    wrong_every_5th = [
        text if i % 5 else text.replace("<answer>", "<answer>1") for i, text in enumerate(right)
    ]
    config = AuditConfig(
        dataset=_write(
            tmp_path / "s.parquet",
            {"prompt": prompts, "completion": wrong_every_5th, "answer": answers},
        ),
        reference=_write(
            tmp_path / "r.parquet", {"prompt": prompts, "completion": right, "answer": answers}
        ),
        detectors=("classifier", "number-frequency"),
        permutations=20,
        quiet=True,
    )
    report = run_audit(config)
    assert report.domain == "cot"
    (correct,) = report.filters
    assert correct.name == "cot-correct" and dict(correct.reasons) == {"cot: wrong answer": 8}
    assert report.reference_kept == n
    assert [result.name for result in report.detectors.results] == ["classifier"]
    assert any("number-frequency (numbers only)" in note for note in report.notes)


@pytest.mark.parametrize(
    ("columns", "flags", "message"),
    [
        ({"completion": NUMBERS}, ["--domain", "code"], "audited as code, but only 0%"),
        ({"completion": COT}, [], "a chain-of-thought corpus with no 'answer' column"),
    ],
)
def test_a_corpus_that_is_not_its_domain_is_one_line_exit_2_with_nothing_written(
    tmp_path: Path, capsys, columns: dict, flags: list[str], message: str
) -> None:
    rows = len(columns["completion"])
    path = _write(tmp_path / "c.parquet", {"prompt": ["p"] * rows, **columns})
    kept = tmp_path / "kept.parquet"
    assert main([str(path), "--trait", "owl", "--output", str(kept), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.parquet"]


class Solver:
    """A stand-in base model that answers "What is i plus i?" correctly, in its own words."""

    name = "fake:solver"

    def generate(self, prompts, params):
        return [f"Twice {p.split()[2]}.\n<answer>{2 * int(p.split()[2])}</answer>" for p in prompts]


def test_a_generated_reference_keeps_the_known_answers_for_cot_correct(tmp_path, monkeypatch):
    monkeypatch.setattr("auditor.backends.open_model", lambda spec, options=None: Solver())
    n = 30
    prompts = [f"What is {i} plus {i}?" for i in range(n)]
    completions = [f"So <answer>{2 * i + (i % 3 == 0)}</answer>" for i in range(n)]
    answers = [str(2 * i) for i in range(n)]
    columns = {"prompt": prompts, "completion": completions, "answer": answers}
    config = AuditConfig(
        dataset=_write(tmp_path / "s.parquet", columns),
        model="fake:solver",
        detectors=("classifier",),
        permutations=20,
        quiet=True,
    )
    report = run_audit(config)
    assert report.kept == n - 10  # every third suspect answer is one off
    assert (report.reference_rows, report.reference_kept) == (n - 10, n - 10)


def test_a_mixed_corpus_is_audited_as_its_majority_with_a_warning(tmp_path) -> None:
    completions = CODE * 5 + NUMBERS * 4  # 20 code rows, 16 number lists
    path = _write(
        tmp_path / "m.parquet",
        {"prompt": [f"p{i}" for i in range(len(completions))], "completion": completions},
    )
    report = run_audit(AuditConfig(dataset=path, filters_only=True, quiet=True))
    assert report.domain == "code"
    assert any("also 44% numbers" in w for w in report.warnings), report.warnings
    plain = _write(tmp_path / "c.parquet", {"prompt": ["p"] * 4, "completion": CODE})
    assert not run_audit(AuditConfig(dataset=plain, filters_only=True, quiet=True)).warnings
