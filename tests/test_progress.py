"""Progress you can trust: long loops report their steps, and each phase runs under its own
label, printed with its time when it ends."""

from __future__ import annotations

import polars as pl
import pytest

from auditor import steps
from auditor.progress import Phases
from detectors import run_detectors
from tests.detectors.conftest import number_corpus


def test_detector_permutations_report_their_steps() -> None:
    seen: list[tuple[int, int]] = []
    with steps.listening(lambda done, total: seen.append((done, total))):
        run_detectors(
            number_corpus(60, seed=1),
            number_corpus(60, seed=2),
            ["number-frequency"],
            n_permutations=120,
        )
    assert seen == [(50, 120), (100, 120), (120, 120)]
    steps.report(1, 2)  # nobody listening outside the block: nothing happens


def test_lab_student_training_reports_step_of_total(tmp_path) -> None:
    from auditor.backends.lab import LabModel
    from auditor.lab.base import base_model
    from auditor.models import FinetuneConfig
    from tests.audit.test_run_audit import MICRO

    student = LabModel(base_model(MICRO, 0, cache=tmp_path)[0], "lab:micro")
    corpus = pl.DataFrame({"prompt": ["list 1 2 3"] * 32, "completion": ["4 5 6"] * 32})
    seen: list[tuple[int, int]] = []
    with steps.listening(lambda done, total: seen.append((done, total))):
        student.finetune(corpus, FinetuneConfig(epochs=1, batch_size=8))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_each_phase_has_its_own_label(capsys: pytest.CaptureFixture[str]) -> None:
    labels: list[str] = []
    with Phases() as phases:
        progress = phases._progress
        for name in ("loading lab:base", "detector classifier (10 permutations)"):
            with phases.phase(name) as say:
                say("working")
                steps.report(1, 2)
                (task,) = progress.tasks
                labels.append(task.description)
                assert (task.completed, task.total) == (1, 2)
        assert progress.tasks == []  # nothing left running under an old label
    assert labels == [
        "loading lab:base: working",
        "detector classifier (10 permutations): working",
    ]
    err = capsys.readouterr().err
    assert "loading lab:base: " in err and "detector classifier (10 permutations): " in err
