"""CLI conventions: --version, defaults and environment variables in --help, described
subcommands, and one variable per flag whatever the command."""

from __future__ import annotations

import re

import pytest

from auditor.cli.main import main
from auditor.corpus import tool_version


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"subliminal-audit {tool_version()}"


def test_help_shows_defaults_variables_and_exit_codes(capsys) -> None:
    text = help_text(capsys)
    assert "row permutations per p-value [default 1000; env AUDIT_PERMUTATIONS]" in text
    assert "[default 0.01; env AUDIT_ALPHA]" in text
    assert "3 inconclusive" in text
    detect = help_text(capsys, "detect")
    assert "[default 1000; env AUDIT_PERMUTATIONS]" in detect  # the same defaults
    assert "[default 0.01; env AUDIT_ALPHA]" in detect


def test_every_lab_subcommand_is_described_and_the_cache_variable_matches(capsys) -> None:
    overview = help_text(capsys, "lab")
    for command in ("transmission", "digits", "corpus", "base"):
        assert re.search(rf"{command} [a-z]", overview), command
        assert main(["lab", command, "--help"]) == 0
        usage, description, *_ = capsys.readouterr().out.split("\n\n")
        assert usage.startswith("usage:") and not description.startswith("options:"), command
        assert len(description.split()) > 10, command
        assert "env AUDIT_LAB_CACHE" in help_text(capsys, "lab", command)
