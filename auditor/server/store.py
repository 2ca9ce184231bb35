"""The lab server's durable state: uploaded files and fine-tuning jobs, one JSON file each.

A fine-tuning job must outlive the process that runs it: a server killed mid-job and started
again on the same state directory finds the job still marked running and runs it again to the
end (training is seeded, so the result is the same model). Every write goes through
`auditor.atomic` (a flushed temporary file renamed into place), so a kill or a power loss never
leaves half a record; a record that cannot be read all the same (a disk error, a hand edit) is
moved aside as `NAME.unreadable` with a warning instead of stopping the server.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from auditor.atomic import write_atomic
from auditor.errors import AuditError

R = TypeVar("R", "FileRecord", "JobRecord")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


@dataclass
class FileRecord:
    """An uploaded file, as `/v1/files` describes it."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int

    def to_api(self) -> dict:
        return {"object": "file", "status": "processed", **asdict(self)}


@dataclass
class JobRecord:
    """A fine-tuning job. `attempts` counts starts: more than one means it survived a restart."""

    id: str
    model: str
    training_file: str
    hyperparameters: dict
    seed: int
    created_at: int
    status: str = "queued"
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    error: dict | None = None
    attempts: int = 0
    trained_tokens: int | None = None
    result_spec: str | None = None  # how to reopen the fine-tuned model after a restart
    events: list[dict] = field(default_factory=list)

    def to_api(self) -> dict:
        body = {
            key: value
            for key, value in asdict(self).items()
            if key not in {"result_spec", "events", "attempts"}
        }
        return {"object": "fine_tuning.job", "organization_id": "audit-lab", **body}


class Store:
    """Files and jobs under one state directory; safe to use from the server's threads."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.files_dir = self.root / "files"
        self.jobs_dir = self.root / "jobs"
        self.models_dir = self.root / "models"
        for directory in (self.files_dir, self.jobs_dir, self.models_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    # files
    def add_file(self, filename: str, purpose: str, content: bytes) -> FileRecord:
        record = FileRecord(new_id("file"), filename, purpose, len(content), int(time.time()))
        write_atomic(self.files_dir / f"{record.id}.bin", content)
        write_atomic(self.files_dir / f"{record.id}.json", json.dumps(asdict(record)).encode())
        return record

    def get_file(self, file_id: str) -> FileRecord | None:
        path = self.files_dir / f"{Path(file_id).name}.json"
        return _read(path, FileRecord) if path.exists() else None

    def file_content(self, file_id: str) -> bytes:
        path = self.files_dir / f"{Path(file_id).name}.bin"
        if not path.exists():
            raise AuditError(f"no such file: {file_id}")
        return path.read_bytes()

    def list_files(self) -> list[FileRecord]:
        records = (_read(p, FileRecord) for p in sorted(self.files_dir.glob("*.json")))
        return [record for record in records if record is not None]

    def upload_bytes(self) -> int:
        """Bytes of all uploaded files (what the upload quota counts)."""
        return sum(record.bytes for record in self.list_files())

    # jobs
    def save_job(self, job: JobRecord) -> None:
        with self._lock:
            write_atomic(self.jobs_dir / f"{job.id}.json", json.dumps(asdict(job)).encode())

    def get_job(self, job_id: str) -> JobRecord | None:
        path = self.jobs_dir / f"{Path(job_id).name}.json"
        with self._lock:
            return _read(path, JobRecord) if path.exists() else None

    def list_jobs(self) -> list[JobRecord]:
        with self._lock:
            jobs = [_read(p, JobRecord) for p in self.jobs_dir.glob("*.json")]
        return sorted(filter(None, jobs), key=lambda job: (job.created_at, job.id))

    def update_job(self, job_id: str, **changes: object) -> JobRecord:
        """Apply `changes` to a job and persist it (read-modify-write under the lock)."""
        with self._lock:
            path = self.jobs_dir / f"{Path(job_id).name}.json"
            job = _read(path, JobRecord) if path.exists() else None
            if job is None:
                raise AuditError(f"fine-tuning job {job_id} has no readable record")
            for key, value in changes.items():
                setattr(job, key, value)
            write_atomic(path, json.dumps(asdict(job)).encode())
            return job

    def add_event(self, job_id: str, message: str, level: str = "info") -> None:
        job = self.get_job(job_id)
        if job is None:
            return
        event = {
            "object": "fine_tuning.job.event",
            "id": new_id("ftevent"),
            "created_at": int(time.time()),
            "level": level,
            "message": message,
        }
        self.update_job(job_id, events=[*job.events, event])


def _read(path: Path, kind: type[R]) -> R | None:
    """The record in `path`, or None after moving an unreadable one aside with a warning."""
    try:
        return kind(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as error:  # truncated, not JSON, wrong fields
        aside = path.with_name(path.name + ".unreadable")
        with contextlib.suppress(OSError):
            path.replace(aside)
        sys.stderr.write(
            f"audit serve: warning: {path} is unreadable ({type(error).__name__}: {error}); "
            f"moved aside to {aside.name}\n"
        )
        return None
