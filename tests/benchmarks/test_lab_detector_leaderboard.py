"""The lab leaderboard runs end to end on a micro lab: corpora, pairs, figures, calibration."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from auditor.lab.teachers import TeacherConfig
from benchmarks.lab_corpora import CorpusSpec, LabSet, build_corpora
from benchmarks.lab_detector_leaderboard import main, make_pairs
from tests.lab.conftest import MICRO

# The micro base trained a little harder: at 20 steps only ~2% of its lists are well formed.
RECIPE = replace(MICRO, train=replace(MICRO.train, steps=40, learning_rate=1e-2))


def micro_lab() -> LabSet:
    controls = tuple(CorpusSpec(f"control-s{s}", "control", 40, seed=s) for s in (1, 2))
    teacher = TeacherConfig(steps=4, batch_size=16)
    teachers = (
        CorpusSpec("owl-default", "default", 20, 101, 0, "owl", teacher),
        CorpusSpec("owl-cross-init1", "cross-init", 20, 102, 1, "owl", teacher),
    )
    return LabSet(controls, teachers, RECIPE)


def test_pairs_are_balanced_and_null_halves_come_from_one_corpus() -> None:
    pairs = make_pairs(micro_lab(), size=20, repeats=2, seed=0)
    positives = [p for p in pairs if p.positive]
    assert len(positives) == 4 and len(pairs) == 8
    assert {p.kind for p in pairs} == {"default", "cross-init", "control-vs-control", "halves"}
    assert all(p.reference == p.suspect for p in pairs if p.kind == "halves")
    assert len({p.seed for p in pairs}) == len(pairs)


@pytest.mark.slow  # ~5-8 s: trains two micro bases and writes four micro corpora
def test_lab_leaderboard_writes_figures_and_calibration(tmp_path: Path) -> None:
    corpora, out = tmp_path / "corpora", tmp_path / "out"
    argv = ["--corpora", str(corpora), "--out", str(out), "--pairs", "20:2"]
    argv += ["--model-repeats", "20:1", "--permutations", "19", "--null-pairs", "4"]
    argv += ["--calibration-size", "10"]
    assert main(argv, lab=micro_lab()) == 0
    report = json.loads((out / "lab_detector_leaderboard.json").read_text())
    assert len(report["pairs"]) == 8
    summary = {s["detector"]: s for s in report["summary"]}
    assert set(summary) == set(report["detectors"])
    assert summary["number-frequency"]["positives"] == 4
    # Model-based entries run on the first --model-repeats rounds only.
    assert summary["token-entanglement"]["positives"] == 2
    for s in summary.values():
        assert 0.0 <= s["auroc"] <= 1.0 and s["null_fpr_at_alpha"]["n"] == s["nulls"]
    assert report["calibration"]["number-frequency"]["null_pairs"] == 4
    assert report["calibration"]["log-likelihood-shift, no trait"]["null_pairs"] == 4
    assert report["calibration_skipped"] == ["token-entanglement"]
    text = (out / "lab_detector_leaderboard.md").read_text()
    assert "## N = 20 rows per side" in text and "## Calibration" in text
    # A second run reuses the corpora it wrote rather than regenerating them.
    written = {p: p.stat().st_mtime_ns for p in corpora.glob("*.parquet")}
    assert len(written) == 4
    build_corpora(micro_lab(), corpora, log=lambda _: None)
    assert {p: p.stat().st_mtime_ns for p in corpora.glob("*.parquet")} == written


@pytest.mark.slow  # reuses the micro corpora and bases of the test above when run after it
def test_calibration_alone_keeps_the_pairs_and_adds_the_conditioned_forms(tmp_path: Path) -> None:
    corpora, out = tmp_path / "corpora", tmp_path / "out"
    common = ["--corpora", str(corpora), "--out", str(out), "--permutations", "19"]
    common += ["--null-pairs", "4", "--calibration-size", "10"]
    assert main([*common, "--pairs", "20:1", "--model-repeats", "20:1"], lab=micro_lab()) == 0
    first = json.loads((out / "lab_detector_leaderboard.json").read_text())
    calibrate = ["--calibrate", "number-frequency", "log-likelihood-shift", "token-entanglement"]
    argv = [*common, "--reuse-pairs", *calibrate, "--calibration-trait", "owl"]
    assert main(argv, lab=micro_lab()) == 0
    second = json.loads((out / "lab_detector_leaderboard.json").read_text())
    assert second["pairs"] == first["pairs"] and second["command"] == first["command"]
    assert "--reuse-pairs" in second["calibration_command"]
    redone = {
        "number-frequency",
        "log-likelihood-shift, no trait",
        "log-likelihood-shift, trait owl",
        "token-entanglement, trait owl",
    }
    # The first run's calibrations that were not redone are kept, each with its own command.
    assert set(second["calibration"]) == redone | {"classifier", "format-features"}
    for label, calibration in second["calibration"].items():
        run = second if label in redone else first
        assert calibration["command"] == run.get("calibration_command", run["command"])
    assert second["calibration_skipped"] == []
    text = (out / "lab_detector_leaderboard.md").read_text()
    assert "Calibration added by" in text and "token-entanglement, trait owl" in text


def test_reusing_pairs_needs_earlier_results(tmp_path: Path) -> None:
    argv = ["--corpora", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--reuse-pairs"]
    with pytest.raises(SystemExit, match="no earlier results"):
        main(argv, lab=micro_lab())
