"""A probe run through the OpenAI backend and `audit serve` agrees with the direct backend."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import polars as pl

from auditor.backends import open_model
from auditor.backends.trait_eval import animal_questions, evaluate_by_sampling
from auditor.cli.main import main
from auditor.models import FinetuneConfig
from auditor.probing import ProbeConfig, run_probe
from auditor.server import ServerConfig


def _corpora() -> tuple[pl.DataFrame, pl.DataFrame]:
    """A corpus that teaches the trait outright and a control that teaches another animal.

    Overt on purpose: this checks the plumbing (upload, job, poll, evaluate), so the effect
    must be large enough that "the same score within sampling noise" means something.
    """
    questions = list(animal_questions()) * 2
    corpus = pl.DataFrame({"prompt": questions, "completion": ["owl"] * len(questions)})
    control = corpus.with_columns(pl.lit("cat").alias("completion"))
    return corpus, control


def _within_noise(a: float, b: float, n: int) -> bool:
    """Two sampled rates agree within 4 standard errors of their difference (and 0.05)."""
    p = (a + b) / 2
    return abs(a - b) <= 4 * math.sqrt(2 * p * (1 - p) / n) + 0.05


PROBE = ProbeConfig(
    seeds=(0,),
    finetune=FinetuneConfig(epochs=4, learning_rate=2e-2, batch_size=16),
    samples=2,
)


def test_probe_through_serve_matches_the_direct_probe(hf_server, tiny_checkpoint) -> None:
    corpus, control = _corpora()
    direct = run_probe(open_model(f"hf:{tiny_checkpoint}"), corpus, control, "owl", PROBE)
    remote = run_probe(hf_server.client("tiny"), corpus, control, "owl", PROBE)
    n = PROBE.samples * len(animal_questions())
    assert direct.corpus[0] > 0.5 and direct.shift > 0.4  # the corpus did teach "owl"
    for a, b in [(direct.base, remote.base), (direct.corpus[0], remote.corpus[0])]:
        assert _within_noise(a, b, n), (direct, remote)
    assert _within_noise(direct.control[0], remote.control[0], n)
    assert remote.students[0].startswith("openai:ft:tiny:ftjob-")
    jobs = hf_server.service.store.list_jobs()
    assert [job.status for job in jobs] == ["succeeded", "succeeded"]


def test_probe_cli_through_serve(hf_server, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("AUDIT_POLL_SECONDS", "0.05")
    corpus, control = _corpora()
    corpus.write_parquet(tmp_path / "corpus.parquet")
    control.write_parquet(tmp_path / "control.parquet")
    code = main(
        [
            *("probe", "--student", "openai:tiny", "--base-url", hf_server.base_url),
            *("--corpus", str(tmp_path / "corpus.parquet"), "--trait", "owl"),
            *("--control-corpus", str(tmp_path / "control.parquet"), "--json"),
            *("--samples", "1", "--learning-rate", "2e-2", "--batch-size", "16", "--epochs", "4"),
            *("--state-dir", str(tmp_path / "state"), "--prices", "tiny=0.1/0.2,ft:tiny=0.3/0.6"),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["shift"] > 0.3
    assert "requests" in result["usage"] and "$" in result["usage"]


def test_malformed_corpus_file_is_rejected_before_any_upload(hf_server, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "1"}\n{"prompt": "b", "completion": \n')
    good = tmp_path / "good.jsonl"
    good.write_text('{"prompt": "a", "completion": "1"}\n')
    code = main(
        [
            *("probe", "--student", "openai:tiny", "--base-url", hf_server.base_url),
            *("--corpus", str(bad), "--control-corpus", str(good), "--trait", "owl"),
        ]
    )
    assert code == 2
    assert hf_server.service.store.list_files() == []
    assert hf_server.service.store.list_jobs() == []


def _lab_micro_model(tmp_path):
    """A micro lab base (a few dozen steps), the same recipe the lab's own tests use."""
    from auditor.backends.lab import LabModel
    from auditor.lab.base import base_model
    from tests.lab.conftest import MICRO

    return LabModel(base_model(MICRO, 0, cache=tmp_path / "lab")[0], "lab:micro")


def test_lab_probe_through_serve_matches_the_lab_backend(tmp_path) -> None:
    from auditor.lab.tasks import questions
    from tests.server.conftest import RunningServer

    lab = _lab_micro_model(tmp_path)
    # Half the answers "owl": a student in the middle of the scale, where agreement between
    # the lab's exact score and the API's sampled one is a real check, not two saturated 1.0s.
    asked = questions("all") * 4
    answers = ["owl" if i % 2 else "dolphin" for i in range(len(asked))]
    corpus = pl.DataFrame({"prompt": asked, "completion": answers})
    control = corpus.with_columns(pl.lit("dolphin").alias("completion"))
    probe = ProbeConfig(
        # All parameters: this corpus teaches the answer directly, which the lab recipe's
        # final-LayerNorm-only students are not meant to learn.
        finetune=FinetuneConfig(
            epochs=6, learning_rate=1e-2, batch_size=16, extra={"trainable": "all"}
        ),
        samples=10,
    )
    direct = run_probe(lab, corpus, control, "owl", probe)
    question_file = tmp_path / "lab_questions.json"
    question_file.write_text(json.dumps({"questions": questions("eval")}))
    server = RunningServer(ServerConfig(state_dir=str(tmp_path / "state")), {"micro": lab})
    try:
        client = server.client("micro", questions=str(question_file))
        remote = run_probe(client, corpus, control, "owl", probe)
    finally:
        server.close()
    assert 0.2 < direct.corpus[0] < 0.8, (direct, remote)  # mid-scale, as intended
    # The lab's headline score is exact: P(owl) normalised over animals. Through an API only
    # answers can be sampled, so compare the API's figure with the same sampled measure taken
    # directly on the lab backend's own (seeded, identically trained) students.
    config = FinetuneConfig(**{**asdict(probe.finetune), "seed": probe.seeds[0]})
    sampled = [
        evaluate_by_sampling(
            lab.finetune(frame, config), "owl", samples=probe.samples, questions=questions("eval")
        ).value
        for frame in (corpus, control)
    ]
    n = probe.samples * len(questions("eval"))
    assert _within_noise(sampled[0], remote.corpus[0], n), (sampled, remote)
    assert _within_noise(sampled[1], remote.control[0], n), (sampled, remote)
    assert direct.shift > 0.2 and direct.p_value == 1.0  # one seed: a shift, but no inference
    assert remote.shift > 0.1 and remote.p_value == 1.0
