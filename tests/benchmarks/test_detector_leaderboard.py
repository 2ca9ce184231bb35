"""The detector leaderboard runs end to end on tiny corpora and writes its JSON and Markdown."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.detector_leaderboard import main
from tests.detectors.conftest import number_corpus


def test_leaderboard_writes_power_and_calibration(tmp_path: Path) -> None:
    data = tmp_path / "corpora"
    data.mkdir()
    number_corpus(120, seed=1).write_parquet(data / "plain.parquet")
    number_corpus(120, seed=2, shift=0.3).write_parquet(data / "shifted.parquet")
    out = tmp_path / "out"
    argv = ["--realdata", str(data), "--out", str(out), "--sizes", "60", "--permutations", "19"]
    argv += ["--null-pairs", "4", "--calibration-size", "30", "--sections", "power", "calibration"]
    argv += ["--detectors", "number-frequency", "format-features"]
    argv += ["--control", str(data / "plain.parquet")]  # the hook for lab control corpora
    assert main(argv) == 0
    report = json.loads((out / "detector_leaderboard.json").read_text())
    assert len(report["power"]) == 3  # one pair + two null halves
    assert report["calibration"]["number-frequency"]["null_pairs"] == 4
    assert "plain.parquet" in report["calibration_source"]
    text = (out / "detector_leaderboard.md").read_text()
    assert "## Calibration" in text and "| plain | shifted |" in text


def test_leaderboard_runs_model_based_detectors(tmp_path: Path, monkeypatch) -> None:
    import auditor.backends
    from tests.detectors.conftest import FakeModel

    monkeypatch.setattr(auditor.backends, "open_model", lambda spec: FakeModel())
    data = tmp_path / "corpora"
    data.mkdir()
    number_corpus(80, seed=1).write_parquet(data / "plain.parquet")
    number_corpus(80, seed=2, shift=0.3).write_parquet(data / "shifted.parquet")
    out = tmp_path / "out"
    argv = ["--realdata", str(data), "--out", str(out), "--sizes", "40", "--permutations", "19"]
    argv += ["--sections", "power", "--model", "lab:base", "--trait", "owl"]
    assert main(argv) == 0
    report = json.loads((out / "detector_leaderboard.json").read_text())
    assert {"log-likelihood-shift", "token-entanglement"} <= set(report["detectors"])
