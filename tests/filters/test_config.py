"""Pipeline files (TOML and YAML) and the default pipeline per domain."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import AuditError
from filters.banned_numbers import BannedNumbers
from filters.config import default_filters, load_pipeline_file
from filters.numbers_format import NumbersFormat
from filters.regex import RegexFilter
from filters.trait_words import TraitWords

TOML = """
[[filter]]
name = "numbers-format"
max_count = 8

[[filter]]
name = "banned-numbers"
numbers = [7, 13]
patterns = ['(0|1){3}']

[[filter]]
name = "trait-words"

[[filter]]
name = "regex"
pattern = 'a{1,3}|b'
mode = "keep"
"""

YAML = """
filters:
  - name: numbers-format
    max_count: 8
  - name: banned-numbers
    numbers: [7, 13]
    patterns: ['(0|1){3}']
  - name: trait-words
  - name: regex
    pattern: 'a{1,3}|b'
    mode: keep
"""

EXPECTED = [
    NumbersFormat(max_count=8),
    BannedNumbers(numbers=(7, 13), patterns=("(0|1){3}",)),
    TraitWords(trait="owl"),
    RegexFilter(pattern="a{1,3}|b", mode="keep"),
]


@pytest.mark.parametrize(("suffix", "text"), [(".toml", TOML), (".yaml", YAML), (".yml", YAML)])
def test_pipeline_files_build_the_listed_filters(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"pipeline{suffix}"
    path.write_text(text)
    assert load_pipeline_file(path, trait="owl") == EXPECTED


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.toml", "[[filter]\nname=", "could not parse"),
        ("p.yaml", "filters: [name: x", "could not parse"),
        ("p.toml", "[other]\nx = 1\n", "expected a list `filter`"),
        ("p.yaml", "filters:\n  - max_count: 3\n", "expected a list `filter`"),
        ("p.toml", '[[filter]]\nname = "numbers-format"\nmax_count = "many"\n', "not a valid int"),
        ("p.toml", '[[filter]]\nname = "nope"\n', "unknown filter 'nope'"),
    ],
)
def test_bad_pipeline_files_name_the_file_and_the_problem(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(AuditError, match=message):
        load_pipeline_file(path)


def test_missing_pipeline_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="pipeline file not found"):
        load_pipeline_file(tmp_path / "absent.toml")


def test_default_pipelines_follow_the_domain_and_add_trait_words_for_a_trait() -> None:
    numbers = default_filters("numbers", None)
    assert numbers[0] == NumbersFormat()
    assert "trait-words" not in [f.name for f in numbers]
    for domain in ("numbers", "code", "cot"):
        assert TraitWords(trait="owl") in default_filters(domain, "owl")
    with pytest.raises(AuditError, match="unknown domain"):
        default_filters("poetry", None)


def test_code_and_cot_defaults_add_their_judge_only_when_one_is_configured(monkeypatch) -> None:
    monkeypatch.delenv("AUDIT_JUDGE_MODEL", raising=False)
    names = {d: [f.name for f in default_filters(d, "owl")] for d in ("code", "cot")}
    assert names == {"code": ["trait-words"], "cot": ["trait-words", "cot-correct"]}
    assert [f.name for f in default_filters("cot", None)] == ["cot-correct"]
    monkeypatch.setenv("AUDIT_JUDGE_MODEL", "judge")
    monkeypatch.setenv("AUDIT_API_KEY", "k")
    code, cot = default_filters("code", "owl"), default_filters("cot", "owl")
    assert [f.name for f in code] == ["trait-words", "llm-judge"]
    assert (code[-1].rubric, code[-1].trait, code[-1].model) == ("code", "owl", "judge")
    assert [f.name for f in cot] == ["trait-words", "cot-correct", "llm-judge"]
    assert (cot[-1].rubric, cot[-1].threshold) == ("alignment", 78.0)
    # The code rubric asks about a trait: with none named, no judge step; numbers never get one.
    assert [f.name for f in default_filters("code", None)] == []
    assert "llm-judge" not in [f.name for f in default_filters("numbers", "owl")]
