"""`run_audit` end to end with a real (micro) lab model: a generated reference, model-based
detectors and probe students, all through the model interface."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
import torch

import auditor.backends as backends
from auditor.audit import AuditConfig, run_audit, vocabulary_warnings
from auditor.backends.lab import LabModel
from auditor.errors import AuditError
from auditor.lab.base import BaseRecipe, base_model
from auditor.lab.model import GPTConfig
from auditor.lab.tasks import PretrainMix, number_prompts
from auditor.lab.train import TrainConfig
from auditor.models import SamplingParams
from auditor.probing import ProbeOptions
from auditor.report import report_dict, to_html

MICRO = BaseRecipe(
    model=GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=96),
    mix=PretrainMix(n_examples=300),
    train=TrainConfig(learning_rate=3e-3, batch_size=16, steps=20),
)


@pytest.fixture
def micro(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabModel:
    torch.set_num_threads(1)
    model = LabModel(base_model(MICRO, 0, cache=tmp_path / "lab")[0], "lab:micro")
    monkeypatch.setattr(backends, "open_model", lambda spec, options=None: model)
    return model


def corpus_from(model: LabModel, path: Path, rows: int = 60) -> Path:
    prompts = number_prompts(rows, seed=3)
    completions = model.generate(prompts, SamplingParams(seed=3, max_new_tokens=24))
    pl.DataFrame({"prompt": prompts, "completion": completions}).write_parquet(path)
    return path


def test_reference_is_generated_and_probe_students_are_reported(micro: LabModel, tmp_path) -> None:
    dataset = corpus_from(micro, tmp_path / "suspect.parquet")
    probe = ProbeOptions(seeds=2, epochs=1, batch_size=8)
    config = AuditConfig(
        dataset=dataset,
        trait="owl",
        filter_specs=("trait-words",),  # a micro model's lists are not always well formed
        detectors=("number-frequency", "log-likelihood-shift"),
        permutations=50,
        model="lab:micro",
        student="lab:micro",
        probe=probe,
        quiet=True,
    )
    report = run_audit(config)
    assert report.reference == "lab:micro, on the corpus's own prompts"
    assert report.detectors is not None
    results = report.detectors.results
    assert [r.name for r in results] == ["number-frequency", "log-likelihood-shift"]
    assert all(0 < r.p_value <= 1 and r.threshold == 0.01 / 2 for r in results)
    probe = report.probe
    assert probe is not None and probe.seeds == (0, 1)
    assert len(probe.corpus) == len(probe.control) == 2
    assert probe.shift_low <= probe.shift <= probe.shift_high
    assert 0.0 <= probe.p_value <= 1.0
    assert report_dict(report)["probe"]["seeds"] == [0, 1]


def test_a_probe_without_any_control_corpus_is_refused(tmp_path: Path) -> None:
    pl.DataFrame({"prompt": ["p"], "completion": ["1, 2"]}).write_parquet(tmp_path / "c.parquet")
    with pytest.raises(AuditError, match="need a control corpus"):
        run_audit(AuditConfig(dataset=tmp_path / "c.parquet", trait="owl", student="lab:base"))
    with pytest.raises(AuditError, match="give --trait"):
        run_audit(AuditConfig(dataset=tmp_path / "c.parquet", student="lab:base"))


def test_html_report_draws_number_frequencies_nulls_and_probe_scores(
    micro: LabModel, tmp_path: Path
) -> None:
    dataset = corpus_from(micro, tmp_path / "suspect.parquet")
    config = AuditConfig(
        dataset=dataset,
        trait="owl",
        filter_specs=("trait-words",),
        detectors=("number-frequency", "log-likelihood-shift"),
        permutations=50,
        model="lab:micro",
        student="lab:micro",
        probe=ProbeOptions(seeds=2, epochs=1, batch_size=8),
        quiet=True,
    )
    page = to_html(run_audit(config))
    plots = re.findall(r"<figure class='plot' data-plot='([a-z-]+)'><svg", page)
    assert plots == ["number-frequency", "null", "null", "probe"]
    assert page.count("observed ") == 2  # each detector's statistic marked on its null
    assert "seed 0" in page and "seed 1" in page
    assert "<script" not in page  # inline and light: no code, no embedded data


def test_a_lab_model_warns_on_a_corpus_in_another_language(micro: LabModel, tmp_path) -> None:
    english = pl.DataFrame(
        {
            "prompt": ["Here is a sequence of numbers: 12, 40, 7. Continue it with ten more."] * 5,
            "completion": ["55, 61, 70, 81"] * 5,
        }
    )
    own = pl.DataFrame({"prompt": number_prompts(50, seed=3), "completion": ["12, 40, 7"] * 50})
    # "Here", "sequence", "ten", ... are not lab words: 1 in 19 tokens is unknown.
    assert micro.unknown_token_fraction(english["prompt"].to_list()) == 1 / 19
    assert vocabulary_warnings(micro, "lab:micro", own) == []
    (warning,) = vocabulary_warnings(micro, "lab:micro", english)
    assert warning.startswith("lab:micro does not match this corpus: ")
    assert "of its tokens are unknown to the model" in warning
