"""Rubric files and the judgment cache, on their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import AuditError
from filters.judge.cache import JudgmentCache, request_key
from filters.judge.rubric import builtin_rubrics, load_rubric
from filters.judge.verdict import Reply


def test_every_builtin_rubric_loads_and_keeps_braces_in_samples_literal() -> None:
    assert builtin_rubrics() == ["alignment", "code", "cot", "numbers"]
    for name in builtin_rubrics():
        rubric = load_rubric(name)
        messages = rubric.messages("owl", "Task {0}", "def f(): return {'a': 1}")
        assert "def f(): return {'a': 1}" in messages[1]["content"]
    assert load_rubric("code").kind == "binary" and load_rubric("alignment").kind == "score"


def test_a_user_rubric_is_read_from_a_toml_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('kind = "binary"\nsystem = "Judge."\nuser = "Is {completion} about {trait}?"\n')
    rubric = load_rubric(str(path))
    assert rubric.name == "mine" and rubric.needs_trait
    assert rubric.messages("owl", "", "x")[1]["content"] == "Is x about owl?"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('kind = "binary"\nsystem = "s"\n', "needs string field"),
        ('kind = "vote"\nsystem = "s"\nuser = "u"\n', "kind must be one of"),
        ('kind = "binary"\nsystem = "s"\nuser = "{sample}"\n', "bad placeholder"),
        ("kind = ", "could not read the rubric"),
    ],
)
def test_a_broken_rubric_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(AuditError, match=message):
        load_rubric(str(path))


def test_cached_judgments_survive_reopening(tmp_path: Path) -> None:
    key = request_key("m", [{"role": "user", "content": "q"}], {"temperature": 0})
    answer = Reply("0", "stop", None, ((("0", -0.01),),), 10, 1)
    with JudgmentCache(tmp_path) as cache:
        cache.put(key, "m", answer)
    with JudgmentCache(tmp_path) as cache:
        assert cache.get_many([key, "missing"]) == {key: answer}
        assert len(cache) == 1
    assert key != request_key("m2", [{"role": "user", "content": "q"}], {"temperature": 0})


def test_an_unreadable_cache_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "judgments.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(AuditError, match=r"judgments\.sqlite"):
        JudgmentCache(tmp_path)
