"""The server's state across restarts: unreadable records, attempts, saved lab students."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from auditor.server import LabService, ServerConfig
from auditor.server.schema import Limits
from auditor.server.store import JobRecord
from tests.server.conftest import ConstantModel

ROWS = b"".join(
    b'{"prompt": "Name your favourite animal.", "completion": "owl"}\n' for _ in range(8)
)


def _wait(service: LabService, job_id: str, seconds: float = 60) -> JobRecord:
    deadline = time.monotonic() + seconds
    while (job := service.store.get_job(job_id)).status in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def test_a_truncated_job_file_is_moved_aside_with_a_warning(tmp_path: Path, capsys) -> None:
    config = ServerConfig(state_dir=str(tmp_path / "state"))
    first = LabService(config, {"m": ConstantModel()})
    upload = first.upload("c.jsonl", "fine-tune", ROWS)
    good = first.create_job({"model": "m", "training_file": upload["id"]})
    broken = tmp_path / "state" / "jobs" / "ftjob-broken.json"
    broken.write_text('{"id": "ftjob-broken", "model": "m", "trai')  # a half-written record
    service = LabService(config, {"m": ConstantModel()})
    service.start()  # no traceback: the good job is run, the broken one set aside
    assert _wait(service, good["id"]).status == "succeeded"
    assert not broken.exists() and broken.with_name(broken.name + ".unreadable").exists()
    assert "ftjob-broken.json is unreadable" in capsys.readouterr().err


def test_a_job_is_not_started_more_than_the_attempt_cap(tmp_path: Path) -> None:
    config = ServerConfig(state_dir=str(tmp_path / "state"), limits=Limits(max_job_attempts=2))
    service = LabService(config, {"m": ConstantModel()})
    upload = service.upload("c.jsonl", "fine-tune", ROWS)
    job = JobRecord("ftjob-crashy", "m", upload["id"], {}, 0, int(time.time()))
    job.status, job.attempts = "running", 2  # it killed the server twice already
    service.store.save_job(job)
    service.start()
    failed = _wait(service, job.id)
    assert failed.status == "failed" and failed.error["code"] == "too_many_attempts"
    assert failed.attempts == 2


def test_a_job_file_is_written_whole(tmp_path: Path) -> None:
    service = LabService(ServerConfig(state_dir=str(tmp_path / "state")), {"m": ConstantModel()})
    upload = service.upload("c.jsonl", "fine-tune", ROWS)
    job = service.create_job({"model": "m", "training_file": upload["id"]})
    [path] = (tmp_path / "state" / "jobs").iterdir()  # no temporary file left beside it
    assert json.loads(path.read_text())["id"] == job["id"]


@pytest.mark.slow
def test_a_lab_student_is_saved_and_reopened_after_a_restart_without_training(
    tmp_path: Path, monkeypatch
) -> None:
    from tests.server.test_probe_end_to_end import _lab_micro_model

    lab = _lab_micro_model(tmp_path)
    config = ServerConfig(state_dir=str(tmp_path / "state"))
    service = LabService(config, {"micro": lab})
    service.start()
    upload = service.upload("c.jsonl", "fine-tune", ROWS)
    body = {"model": "micro", "training_file": upload["id"], "seed": 3}
    job = _wait(service, service.create_job({**body, "hyperparameters": {"n_epochs": 2}})["id"])
    assert job.status == "succeeded"
    assert (tmp_path / "state" / "models" / job.id / "model.safetensors").exists()
    trained = service.model(job.fine_tuned_model)[0].score(["Name your favourite animal."], ["owl"])

    restarted = LabService(config, {"micro": lab})

    def no_training(job: JobRecord) -> None:
        raise AssertionError("the saved student was trained again")

    monkeypatch.setattr(restarted, "_train", no_training)
    student = restarted.model(job.fine_tuned_model)[0]
    assert student.score(["Name your favourite animal."], ["owl"]) == pytest.approx(trained)
    assert student.score(["Name your favourite animal."], ["owl"]) != pytest.approx(
        lab.score(["Name your favourite animal."], ["owl"])
    )
