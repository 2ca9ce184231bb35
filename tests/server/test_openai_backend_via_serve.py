"""The OpenAI backend against `audit serve`: the same answers as the model opened directly."""

from __future__ import annotations

import json
import threading

import polars as pl
import pytest

from auditor.backends import open_model
from auditor.errors import AuditError
from auditor.models import FinetuneConfig, SamplingParams
from auditor.server import ApiError

PROMPT = "Name your favourite animal."


def test_models_are_listed_and_generation_is_seeded(hf_server) -> None:
    client = hf_server.client("tiny")
    ids = [m.id for m in client.client.models.list().data]
    assert ids == ["tiny"]
    params = SamplingParams(temperature=1.0, max_new_tokens=5, seed=3)
    first = client.generate([PROMPT, "Continue 1 2 3"], params)
    assert len(first) == 2 and all(first)
    assert client.generate([PROMPT, "Continue 1 2 3"], params) == first
    assert client.meter.summary()["requests"] == 4


def test_scoring_through_echo_matches_the_direct_model(hf_server, tiny_checkpoint) -> None:
    direct = open_model(f"hf:{tiny_checkpoint}")
    client = hf_server.client("tiny")
    prompts, completions = [PROMPT, "Continue 1 2"], ["owl", "3 4 5"]
    assert client.score(prompts, completions) == pytest.approx(
        direct.score(prompts, completions), abs=1e-4
    )


def test_chat_logprobs_are_those_of_the_answer_under_the_system_prompt(
    hf_server, tiny_checkpoint
) -> None:
    response = hf_server.client("tiny").client.chat.completions.create(
        model="tiny",
        messages=[
            {"role": "system", "content": "you love owls"},
            {"role": "user", "content": PROMPT},
        ],
        max_tokens=4,
        seed=1,
        logprobs=True,
    )
    answer = response.choices[0].message.content
    served = [(e.token, e.logprob) for e in response.choices[0].logprobs.content]
    direct = open_model(f"hf:{tiny_checkpoint}").token_logprobs(PROMPT, answer, "you love owls")
    assert [t for t, _ in served] == [t for t, _ in direct]
    assert [v for _, v in served] == pytest.approx([v for _, v in direct], abs=1e-4)


def test_finetune_job_trains_the_same_student_as_the_direct_backend(
    hf_server, tiny_checkpoint, tmp_path
) -> None:
    corpus = pl.DataFrame({"prompt": [PROMPT] * 8, "completion": ["owl"] * 8})
    config = FinetuneConfig(epochs=2, learning_rate=1e-2, batch_size=4, seed=5)
    client = hf_server.client("tiny", state_dir=str(tmp_path / "client-state"))
    remote = client.finetune(corpus, config)
    assert remote.model.startswith("ft:tiny:ftjob-")
    local = open_model(f"hf:{tiny_checkpoint}").finetune(corpus, config)
    # Seeded training on the same rows: the served student is the directly trained one.
    assert remote.score([PROMPT], ["owl"]) == pytest.approx(
        local.score([PROMPT], ["owl"]), abs=1e-3
    )
    # Rerunning the probe resumes from the saved job: no second upload, no second job.
    again = client.finetune(corpus, config)
    assert again.model == remote.model
    assert len(hf_server.service.store.list_jobs()) == 1
    assert len(hf_server.service.store.list_files()) == 1
    state = json.loads(next((tmp_path / "client-state").glob("finetune-*.json")).read_text())
    assert state["fine_tuned_model"] == remote.model


def test_malformed_corpus_is_rejected_before_any_upload(hf_server) -> None:
    client = hf_server.client("tiny")
    bad = pl.DataFrame({"prompt": [PROMPT, PROMPT], "completion": ["owl", None]})
    with pytest.raises(AuditError, match="row 1, column completion"):
        client.finetune(bad, FinetuneConfig())
    with pytest.raises(AuditError, match="lacks column"):
        client.finetune(pl.DataFrame({"question": [PROMPT]}), FinetuneConfig())
    assert hf_server.service.store.list_files() == []


def test_unknown_model_is_a_clear_error(hf_server) -> None:
    with pytest.raises(AuditError, match="not found"):
        hf_server.client("nope").generate([PROMPT], SamplingParams(max_new_tokens=2))


def test_interrupted_probe_resumes_polling_the_same_job(hf_server, tmp_path, monkeypatch) -> None:
    # Hold the training worker at a gate so the job is still queued when the client polls.
    service, gate = hf_server.service, threading.Event()
    run_job = service.run_job
    monkeypatch.setattr(service, "run_job", lambda job_id: (gate.wait(30), run_job(job_id)))
    corpus = pl.DataFrame({"prompt": [PROMPT] * 4, "completion": ["owl"] * 4})
    config = FinetuneConfig(learning_rate=1e-2, batch_size=4)
    client = hf_server.client("tiny", state_dir=str(tmp_path / "client-state"))

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt  # Ctrl-C while waiting for the job

    client._sleep = interrupt
    with pytest.raises(KeyboardInterrupt):
        client.finetune(corpus, config)
    [job] = service.store.list_jobs()
    assert job.status == "queued"
    gate.set()
    resumed = hf_server.client("tiny", state_dir=str(tmp_path / "client-state"))
    student = resumed.finetune(corpus, config)
    assert [j.id for j in service.store.list_jobs()] == [job.id]  # polled it, made no new one
    assert len(service.store.list_files()) == 1
    assert student.model in {m.id for m in resumed.client.models.list().data}
    assert resumed.client.models.retrieve(student.model).id == student.model


def test_bad_hyperparameters_are_refused_before_a_job_exists(hf_server) -> None:
    body = {"model": "tiny", "training_file": "file-x", "hyperparameters": {"batch_size": 0}}
    with pytest.raises(AuditError, match="batch_size >= 1"):
        FinetuneConfig(batch_size=0)
    service = hf_server.service
    upload = service.upload("c.jsonl", "fine-tune", b'{"prompt": "a", "completion": "b"}\n')
    with pytest.raises(ApiError, match=r"field 'hyperparameters\.batch_size'"):
        service.create_job({**body, "training_file": upload["id"]})
    assert service.store.list_jobs() == []


def test_failed_job_is_reported_and_not_resumed(hf_server, tmp_path, monkeypatch) -> None:
    def broken_training(job):
        raise AuditError("out of memory")

    monkeypatch.setattr(hf_server.service, "_train", broken_training)
    corpus = pl.DataFrame({"prompt": [PROMPT] * 4, "completion": ["owl"] * 4})
    client = hf_server.client("tiny", state_dir=str(tmp_path / "client-state"))
    with pytest.raises(AuditError, match="failed: out of memory"):
        client.finetune(corpus, FinetuneConfig())
    state = json.loads(next((tmp_path / "client-state").glob("finetune-*.json")).read_text())
    assert "job_id" not in state and state["file_id"]  # a rerun reuses the upload, new job
    with pytest.raises(AuditError, match="failed: out of memory"):
        client.finetune(corpus, FinetuneConfig())
    assert len(hf_server.service.store.list_jobs()) == 2
    assert len(hf_server.service.store.list_files()) == 1
