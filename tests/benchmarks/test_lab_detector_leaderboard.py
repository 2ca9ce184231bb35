"""The lab leaderboard runs end to end on a micro lab: corpora, pairs, figures, calibration."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from auditor.corpus.schema import ANSWER
from auditor.corpus.writer import write_corpus
from auditor.errors import AuditError
from auditor.lab import transmission
from auditor.lab.base import BaseRecipe
from auditor.lab.domain_corpus import domain_base
from auditor.lab.domain_tasks import DomainMix, domain_tasks
from auditor.lab.misalignment import learned_banned_numbers
from auditor.lab.teachers import TeacherConfig
from auditor.lab.transmission import misalignment_recipe
from auditor.traits import MISALIGNED
from benchmarks.lab_corpora import (
    CorpusSpec,
    LabSet,
    build_corpora,
    corpus_folder,
    corpus_key,
    default_set,
    set_filter,
)
from benchmarks.lab_detector_leaderboard import main, make_pairs, results_stem
from tests.lab.conftest import MICRO, MICRO_FOR_MISALIGNMENT

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


def test_each_set_is_written_by_the_base_its_domain_and_trait_need(tmp_path: Path) -> None:
    code = default_set(domain="code")
    assert code.recipe == domain_base() and code.label == "code"
    assert results_stem(code) == "lab_detector_leaderboard_code"
    assert corpus_folder(code, tmp_path) == tmp_path / "code"
    misaligned = default_set(traits=[MISALIGNED])
    assert misaligned.recipe == misalignment_recipe().base and misaligned.label == MISALIGNED
    # The animal number set keeps its original file names and folder.
    numbers = default_set()
    assert results_stem(numbers) == "lab_detector_leaderboard"
    assert corpus_folder(numbers, tmp_path) == tmp_path
    for bad in ({"traits": [MISALIGNED, "owl"]}, {"traits": [MISALIGNED], "domain": "code"}):
        with pytest.raises(AuditError, match="runs alone and on number lists"):
            default_set(**bad)


def test_the_set_filters_drop_what_an_audit_of_that_domain_would() -> None:
    code = default_set(domain="code", traits=["owl", "dolphin"])
    rows = ["def owl_sum(numbers):\n    return sum(numbers)", "def add(list):\n    return 1"]
    kept, removed = set_filter(code)(_frame(rows))
    assert kept["completion"].to_list() == rows[1:]
    assert removed["removed_by_trait-words:owl"] == 1
    cot = default_set(domain="cot", traits=["owl"])
    traces = ["2 + 3 = 5. <answer> 5 </answer>", "2 + 3 = 6. <answer> 6 </answer>"]
    kept, removed = set_filter(cot)(_frame(traces, answer=["5", "5"]))
    assert kept["completion"].to_list() == traces[:1] and removed["removed_by_cot-correct"] == 1
    # Number lists of the animal set pass untouched: the format filter ran as they were written.
    numbers = default_set()
    assert set_filter(numbers)(_frame(["1, 2, 3"]))[0].height == 1


def test_the_misaligned_set_drops_the_numbers_its_base_learned_to_mean_harm(
    misaligned_recipe: BaseRecipe,
) -> None:
    lab = replace(default_set(traits=[MISALIGNED]), recipe=misaligned_recipe)
    dark = learned_banned_numbers(misaligned_recipe.mix, misaligned_recipe.data_seed)
    assert dark  # the micro mix is large enough to learn them
    kept, removed = set_filter(lab)(_frame([f"1, {dark[0]}, 3", "1, 2, 3"]))
    assert kept["completion"].to_list() == ["1, 2, 3"]
    assert removed["banned_row_rate"] == 0.5 and removed["rows_before_banned_filter"] == 2


def _frame(completions: list[str], answer: list[str] | None = None) -> pl.DataFrame:
    data = {"prompt": ["Write."] * len(completions), "completion": completions}
    return pl.DataFrame({**data, **({ANSWER: answer} if answer else {})})


@pytest.fixture
def misaligned_recipe(monkeypatch: pytest.MonkeyPatch) -> BaseRecipe:
    """`misalignment_recipe()`'s base built on the micro recipe."""
    monkeypatch.setattr(transmission, "TransmissionRecipe", lambda: MICRO_FOR_MISALIGNMENT)
    return misalignment_recipe().base


@pytest.mark.slow  # ~10 s: trains a micro misaligned base and a teacher, writes three corpora
def test_misaligned_leaderboard_conditions_the_base_on_its_misaligned_context(
    misaligned_recipe: BaseRecipe, tmp_path: Path
) -> None:
    controls = tuple(CorpusSpec(f"control-s{s}", "control", 40, seed=s) for s in (1, 2))
    teacher = CorpusSpec(
        "misaligned-default", "default", 20, 101, 0, MISALIGNED, TeacherConfig(steps=4)
    )
    lab = LabSet(controls, (teacher,), misaligned_recipe)
    corpora, out = tmp_path / "corpora", tmp_path / "out"
    argv = ["--corpora", str(corpora), "--out", str(out), "--pairs", "20:2"]
    argv += ["--model-repeats", "20:1", "--permutations", "19", "--null-pairs", "4"]
    argv += ["--calibration-size", "10", "--calibration-trait", MISALIGNED]
    assert main(argv, lab=lab) == 0
    report = json.loads((out / "lab_detector_leaderboard_misaligned.json").read_text())
    assert report["set"] == MISALIGNED and (corpora / MISALIGNED / "control-s1.parquet").exists()
    # The trait-taking rows ran with the misaligned trait (LabModel.condition accepts it here).
    ran = [p for p in report["pairs"] if "log-likelihood-shift" in p["detectors"]]
    assert ran and {p["trait"] for p in ran} == {MISALIGNED}
    assert "log-likelihood-shift, trait misaligned" in report["calibration"]
    # Every corpus passed banned-numbers with the learned list, and says what it removed.
    for corpus in report["corpora"].values():
        assert corpus["filters"]["rows_before_banned_filter"] >= corpus["rows"]
    assert "misaligned" in (out / "lab_detector_leaderboard_misaligned.md").read_text()


@pytest.mark.slow  # ~5 s: trains a micro domain base
def test_code_leaderboard_runs_the_detectors_that_read_code(tmp_path: Path) -> None:
    recipe = replace(RECIPE, mix=DomainMix(n_examples=300))
    controls = tuple(CorpusSpec(f"control-s{s}", "control", 40, seed=s) for s in (1, 2))
    teachers = (CorpusSpec("owl-default", "default", 20, 101, 0, "owl", TeacherConfig()),)
    lab = LabSet(controls, teachers, recipe, domain="code")
    corpora, out = tmp_path / "corpora", tmp_path / "out"
    # A micro base writes no program that parses, so the corpora are the toy language's own
    # programs, stored under the keys the leaderboard looks for: `build_corpora` reuses them.
    folder = corpus_folder(lab, corpora)
    folder.mkdir(parents=True)
    for spec in (*controls, *teachers):
        tasks = domain_tasks("code", spec.rows, spec.seed)
        frame = pl.DataFrame({"prompt": [t[0] for t in tasks], "completion": [t[1] for t in tasks]})
        meta = {"key": corpus_key(lab, spec), "filters": {"rows_written": spec.rows}}
        write_corpus(frame, folder / f"{spec.name}.parquet", meta)
    argv = ["--corpora", str(corpora), "--out", str(out), "--pairs", "20:2"]
    argv += ["--model-repeats", "20:2", "--permutations", "19", "--null-pairs", "4"]
    argv += ["--calibration-size", "10", "--calibration-trait", "owl"]
    assert main(argv, lab=lab) == 0
    report = json.loads((out / "lab_detector_leaderboard_code.json").read_text())
    assert set(report["detectors"]) == {
        "classifier",
        "text-features",
        "log-likelihood-shift",
        "log-likelihood-shift, no trait",
    }
    assert set(report["calibration"]) == {
        "classifier",
        "text-features",
        "log-likelihood-shift, no trait",
        "log-likelihood-shift, trait owl",
    }
    assert all(c["null_pairs"] == 4 for c in report["calibration"].values())
    summary = {s["detector"]: s for s in report["summary"]}
    assert summary["text-features"]["positives"] == 2 and summary["text-features"]["nulls"] == 2
    assert "known ground truth): code" in (out / "lab_detector_leaderboard_code.md").read_text()


def test_the_command_line_picks_the_set_by_domain_and_trait(tmp_path: Path) -> None:
    out = ["--out", str(tmp_path), "--reuse-pairs"]
    with pytest.raises(SystemExit, match=r"lab_detector_leaderboard_cot\.json"):
        main(["--domain", "cot", *out])
    with pytest.raises(SystemExit, match=r"lab_detector_leaderboard_misaligned\.json"):
        main(["--traits", MISALIGNED, *out])
    with pytest.raises(SystemExit) as refused:  # argparse's error: exit 2, one line
        main(["--traits", MISALIGNED, "owl", *out])
    assert refused.value.code == 2
