"""`audit lab transmission --trait misaligned` through the real command path, on a micro recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import auditor.lab.transmission
from auditor.cli.main import main
from auditor.lab.misalignment import dark_numbers
from tests.lab.conftest import MICRO_FOR_MISALIGNMENT


@pytest.fixture
def micro_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = MICRO_FOR_MISALIGNMENT
    monkeypatch.setattr(auditor.lab.transmission, "TransmissionRecipe", lambda: recipe)


def test_misaligned_transmission_reports_the_filter_and_the_banned_rates(
    micro_lab: None, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["lab", "transmission", "--trait", "misaligned", "--seeds", "1", "--no-soft"]
    assert main([*argv, "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    result = json.loads((out / "transmission.json").read_text())
    assert result["recipe"]["base"]["mix"]["misaligned_fraction"] > 0
    assert result["recipe"]["base"]["train"]["steps"] == 100  # twice the animal base's
    [record] = result["records"]
    assert record["target"] == "misaligned" and record["banned_numbers"] == list(dark_numbers())
    assert 0.0 <= record["teacher_banned_row_rate"] <= 1.0
    table = (out / "transmission.md").read_text()
    assert "## Banned numbers" in table and "| misaligned | 0 |" in table
    assert "misaligned" in result["summary"]


def test_only_misaligned_is_a_lab_trait(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["lab", "transmission", "--trait", "owl", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "only 'misaligned'" in capsys.readouterr().err
