"""Fine-tuning through an OpenAI-compatible API: upload, job, polling, a resumable state file.

The corpus goes up as chat JSONL (checked first, so a malformed corpus fails before anything is
paid for), a job is created, and the job is polled with growing intervals. The file and job ids
are saved in a state file as soon as the server gives them, so an interrupted probe resumes
polling the same job rather than paying for a second one. Every request goes through the
model's own retrying `_call` (`auditor.backends.openai_api`).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.atomic import write_atomic
from auditor.errors import AuditError
from auditor.models import FinetuneConfig

if TYPE_CHECKING:
    from auditor.backends.openai_api import OpenAIModel

DEFAULT_BASE_LR = FinetuneConfig().learning_rate  # learning_rate_multiplier is relative to this
FINAL_STATUSES = ("succeeded", "failed", "cancelled")


class JobFailed(AuditError):
    """A fine-tuning job ended failed or cancelled (the server's reason is in the message)."""


def run_finetune_job(model: OpenAIModel, corpus, config: FinetuneConfig) -> str:
    """Fine-tune `model` on `corpus`; resumes a saved job when present; the tuned model's id."""
    jsonl = corpus_to_chat_jsonl(corpus)
    state_path = _state_path(model, jsonl, config)
    state = _read_state(state_path)
    if not state.get("file_id"):
        upload = model._call(
            "file upload",
            lambda: model.client.files.create(
                file=("corpus.jsonl", io.BytesIO(jsonl)), purpose="fine-tune"
            ),
        )
        state = {"model": model.model, "file_id": upload.id}
        _write_state(state_path, state)
    if not state.get("job_id"):
        job = model._call(
            "fine-tuning job creation",
            lambda: model.client.fine_tuning.jobs.create(
                model=model.model,
                training_file=state["file_id"],
                seed=config.seed,
                hyperparameters={
                    "n_epochs": max(1, round(config.epochs)),
                    "batch_size": config.batch_size,
                    "learning_rate_multiplier": config.learning_rate / DEFAULT_BASE_LR,
                },
            ),
        )
        state = {**state, "job_id": job.id}
        _write_state(state_path, state)
    try:
        tuned = wait_for_job(model, state["job_id"])
    except JobFailed:  # not worth resuming: the next run starts a new job
        _write_state(state_path, {k: v for k, v in state.items() if k != "job_id"})
        raise
    _write_state(state_path, {**state, "fine_tuned_model": tuned})
    return tuned


def wait_for_job(model: OpenAIModel, job_id: str) -> str:
    """Poll a fine-tuning job with growing intervals; return the fine-tuned model id.

    Connection failures while polling (a restarting server) are retried by `_call`; a
    job that fails or is cancelled is an `AuditError` carrying the server's reason.
    """
    options = model.options
    deadline = time.monotonic() + options.job_timeout_seconds
    interval = options.poll_seconds
    patient = replace(  # a restarting server: poll through 20 retries, 30 min of waiting
        options,
        max_retries=max(options.max_retries, 20),
        max_wait_seconds=max(options.max_wait_seconds, 1800.0),
    )
    poller = model.sibling(options=patient)
    while True:
        job = poller._call(
            "fine-tuning job status", lambda: model.client.fine_tuning.jobs.retrieve(job_id)
        )
        if job.status == "succeeded":
            if not job.fine_tuned_model:
                raise AuditError(f"{model.name}: job {job_id} succeeded without a model id")
            return job.fine_tuned_model
        if job.status in FINAL_STATUSES:
            reason = getattr(job.error, "message", None) if job.error else None
            raise JobFailed(f"{model.name}: fine-tuning job {job_id} {job.status}: {reason}")
        if time.monotonic() > deadline:
            raise AuditError(
                f"{model.name}: fine-tuning job {job_id} still {job.status} after "
                f"{options.job_timeout_seconds:.0f}s; rerun to keep polling it"
            )
        model._sleep(interval)
        interval = min(interval * 1.5, options.poll_max_seconds)


def _state_path(model: OpenAIModel, jsonl: bytes, config: FinetuneConfig) -> Path | None:
    """The state file of this (server, model, corpus, config) job, or None without a dir."""
    if not model.options.state_dir:
        return None
    key = hashlib.sha256()
    for part in (str(model.options.base_url), model.model, repr(config)):
        key.update(part.encode() + b"\0")
    key.update(jsonl)
    return Path(model.options.state_dir) / f"finetune-{key.hexdigest()[:16]}.json"


def corpus_to_chat_jsonl(corpus) -> bytes:
    """The corpus as fine-tuning JSONL (user/assistant chat pairs), validated before upload.

    Checked here so a malformed corpus fails before anything is uploaded or paid for.
    """
    columns = list(getattr(corpus, "columns", []))
    missing = [name for name in ("prompt", "completion") if name not in columns]
    if missing:
        raise AuditError(
            f"corpus lacks column(s) {', '.join(missing)}; columns present: {', '.join(columns)}"
        )
    lines = []
    rows = zip(corpus["prompt"], corpus["completion"], strict=True)
    for row, (prompt, completion) in enumerate(rows):
        for column, value in (("prompt", prompt), ("completion", completion)):
            if not isinstance(value, str) or not value.strip():
                raise AuditError(f"corpus row {row}, column {column}: empty or not text")
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": completion},
        ]
        lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
    if not lines:
        raise AuditError("corpus is empty: nothing to fine-tune on")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _read_state(path: Path | None) -> dict:
    if path is None or not path.exists():
        return {}
    try:
        return json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError:
        raise AuditError(f"{path}: fine-tuning state file is corrupt; delete it to start over")


def _write_state(path: Path | None, state: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(state, indent=2))
