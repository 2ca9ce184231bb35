"""`audit demo` end to end on a micro lab recipe: a verdict, reports, and a warm second run that
reuses the corpora and the probe students' results from the lab cache, from another folder."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import detectors
from auditor.backends.lab import LabModel
from auditor.cli.main import main
from auditor.lab import demo, transmission
from auditor.lab.base import BaseRecipe
from auditor.lab.model import GPTConfig
from auditor.lab.probe import StudentConfig
from auditor.lab.tasks import PretrainMix
from auditor.lab.teachers import TeacherConfig
from auditor.lab.train import TrainConfig

MICRO = transmission.TransmissionRecipe(
    base=BaseRecipe(
        model=GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=96),
        mix=PretrainMix(n_examples=1000),
        train=TrainConfig(learning_rate=1e-2, batch_size=32, steps=150),
    ),
    teacher=TeacherConfig(steps=5, batch_size=16),
    student=StudentConfig(epochs=1, batch_size=16),
)


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The micro recipe everywhere, a fresh lab cache, and a count of every training run."""
    monkeypatch.setattr(transmission, "default_recipe", lambda: MICRO)
    monkeypatch.setenv("AUDIT_LAB_CACHE", str(tmp_path / "lab-cache"))
    calls: Counter[str] = Counter()
    finetune, make_teacher, run_detectors = (
        LabModel.finetune,
        demo.make_teacher,
        detectors.run_detectors,
    )

    def counting_finetune(self: LabModel, *args: object, **kwargs: object) -> LabModel:
        calls["student fine-tunes"] += 1
        return finetune(self, *args, **kwargs)

    def counting_teacher(*args: object, **kwargs: object) -> object:
        calls["teachers"] += 1
        return make_teacher(*args, **kwargs)

    def counting_detectors(*args: object, **kwargs: object) -> list[object]:
        calls["detector runs"] += 1
        return run_detectors(*args, **kwargs)

    monkeypatch.setattr(LabModel, "finetune", counting_finetune)
    monkeypatch.setattr(demo, "make_teacher", counting_teacher)
    monkeypatch.setattr(detectors, "run_detectors", counting_detectors)
    return calls


def test_a_warm_demo_reuses_corpora_and_probe_results(
    counted: Counter[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["demo", "--rows", "80", "--seeds", "2", "--permutations", "50", "--json"]
    first_code = main([*argv, "--out", str(tmp_path / "first")])
    first = json.loads(capsys.readouterr().out)
    # 2 seeds x (corpus, control) students; the five detectors that can run on the lab.
    assert counted == {"teachers": 1, "student fine-tunes": 4, "detector runs": 5}
    assert first["verdict"] in {"pass", "fail"} and first["probe"]["seeds"] == [0, 1]
    assert sorted(p.name for p in (tmp_path / "first" / "report").iterdir()) == [
        "report.html",
        "report.json",
        "report.md",
    ]
    # Another folder: what was computed is found in the lab cache, not beside the outputs.
    second_code = main([*argv, "--out", str(tmp_path / "second")])
    second = json.loads(capsys.readouterr().out)
    assert counted == {"teachers": 1, "student fine-tunes": 4, "detector runs": 5}  # no rerun
    assert second["probe"] == first["probe"]
    assert [d["p_value"] for d in second["detectors"]] == [d["p_value"] for d in first["detectors"]]
    assert second_code == first_code
    assert sum("read from the lab cache" in note for note in second["notes"]) == 2
