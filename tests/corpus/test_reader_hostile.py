"""Corpora a careless or hostile writer makes: deep nesting, chat turns without roles, a BOM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.cli.main import main
from auditor.corpus.reader import read_corpus
from auditor.errors import AuditError

ROW = {"prompt": "Continue 1 2 3", "completion": "4 5 6"}


def _deep(levels: int) -> str:
    return '{"prompt": "a", "completion": ' + "[" * levels + "]" * levels + "}"


def test_a_line_nested_100000_deep_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps(ROW) + "\n" + _deep(100_000) + "\n")
    with pytest.raises(AuditError, match="line 2: JSON nested too deeply"):
        read_corpus(path)


def test_chat_turns_without_roles_are_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    turns = [{"content": "Continue 1 2 3"}, {"content": "4 5 6"}]
    path.write_text(json.dumps({"messages": turns}) + "\n")
    with pytest.raises(AuditError, match="no message has 'role'"):
        read_corpus(path)


@pytest.mark.parametrize("kind", ["deep", "roles"])
def test_the_cli_says_one_line_and_exits_2(tmp_path: Path, capsys, kind: str) -> None:
    path = tmp_path / f"{kind}.jsonl"
    if kind == "deep":
        path.write_text(_deep(100_000) + "\n")
    else:
        path.write_text(json.dumps({"messages": [{"content": "x"}, {"content": "y"}]}) + "\n")
    assert main([str(path), "--trait", "owl", "--filters-only"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert ("nested too deeply" if kind == "deep" else "no message has 'role'") in err


def test_utf8_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_text(json.dumps(ROW) + "\n" + json.dumps(ROW) + "\n", encoding="utf-8-sig")
    frame = read_corpus(path)
    assert frame["prompt"].to_list() == [ROW["prompt"]] * 2
