"""What the lab server does, independent of HTTP: models, completions, files, fine-tuning.

Model ids in requests are backend specs (`lab:base`, `hf:/path`) or aliases given at start-up,
or the `ft:...` ids of students this server fine-tuned. A fine-tuning job runs in one background
worker thread and really trains a student through the model interface; a finished student is
saved when its backend can save itself and otherwise re-trained on demand after a restart (the
recipe: base, file, seeded config). Jobs still `queued` or `running` when the server starts are
run again, so a killed server finishes its jobs once restarted.
"""

from __future__ import annotations

import io
import json
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from auditor.backends import open_model, parse_spec
from auditor.errors import AuditError
from auditor.models import (
    FinetuneConfig,
    ModelBackend,
    SamplingParams,
    SavableBackend,
    TokenScorer,
)
from auditor.server.store import JobRecord, Store, new_id

BASE_LR = FinetuneConfig().learning_rate  # what learning_rate_multiplier multiplies


class ApiError(Exception):
    """An error answered as an OpenAI-style error body with this HTTP status."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


@dataclass(frozen=True)
class ServerConfig:
    """Where state lives, which models to advertise, how students are fine-tuned."""

    state_dir: str
    models: dict[str, str] = field(default_factory=dict)  # alias -> spec
    device: str | None = None
    lora_rank: int | None = None
    default_epochs: int = 1
    default_batch_size: int = 32


def parse_training_file(content: bytes, file_id: str):
    """Rows of a chat or prompt/completion JSONL file as a DataFrame; ApiError when malformed."""
    import polars as pl

    prompts: list[str] = []
    completions: list[str] = []
    for number, line in enumerate(io.BytesIO(content), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if "messages" in row:
                messages = row["messages"]
                user = [m["content"] for m in messages if m["role"] == "user"]
                assistant = [m["content"] for m in messages if m["role"] == "assistant"]
                prompt, completion = user[-1], assistant[-1]
            else:
                prompt, completion = row["prompt"], row["completion"]
            if not isinstance(prompt, str) or not isinstance(completion, str):
                raise TypeError("prompt and completion must be strings")
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise ApiError(400, f"{file_id} line {number}: not a training example ({error})")
        prompts.append(prompt)
        completions.append(completion)
    if not prompts:
        raise ApiError(400, f"{file_id}: no training examples")
    return pl.DataFrame({"prompt": prompts, "completion": completions})


class LabService:
    """The server's state and operations; `start()` launches the fine-tuning worker."""

    def __init__(
        self, config: ServerConfig, models: Mapping[str, ModelBackend] | None = None
    ) -> None:
        """`models` serves already-open backends under the given ids (embedding, tests)."""
        self.config = config
        self.store = Store(config.state_dir)
        self._preloaded = dict(models or {})
        self._models: dict[str, ModelBackend] = dict(self._preloaded)
        self._model_locks: dict[str, threading.Lock] = {}
        self._registry_lock = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None

    # -- models ------------------------------------------------------------------------------
    def model_ids(self) -> list[str]:
        finished = [j.fine_tuned_model for j in self.store.list_jobs() if j.fine_tuned_model]
        return [*self._preloaded, *self.config.models, *finished]

    def _open(self, model_id: str) -> ModelBackend:
        for job in self.store.list_jobs():
            if job.fine_tuned_model == model_id:
                if job.result_spec:
                    return open_model(job.result_spec)
                return self._train(job)  # recipe replay: seeded, so the same student
        spec = self.config.models.get(model_id, model_id)
        try:
            scheme, _ = parse_spec(spec)
        except AuditError:
            raise ApiError(404, f"model {model_id!r} not found", "not_found_error") from None
        if scheme == "openai":
            raise ApiError(400, "this server serves lab: and hf: models only")
        try:
            return open_model(spec)
        except AuditError as error:
            raise ApiError(404, f"model {model_id!r}: {error}", "not_found_error") from None

    def model(self, model_id: str) -> tuple[ModelBackend, threading.Lock]:
        """The backend for `model_id` (opened once) and the lock that serialises its use."""
        if not isinstance(model_id, str) or not model_id:
            raise ApiError(400, "'model' is required")
        with self._registry_lock:
            if model_id not in self._model_locks:
                self._model_locks[model_id] = threading.Lock()
            lock = self._model_locks[model_id]
        with lock:
            if model_id not in self._models:
                self._models[model_id] = self._open(model_id)
        return self._models[model_id], lock

    # -- completions ---------------------------------------------------------------------------
    def chat_completion(self, body: dict) -> dict:
        model_id = body.get("model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "'messages' must be a non-empty list")
        system = "\n".join(m.get("content", "") for m in messages if m.get("role") == "system")
        turns = [m for m in messages if m.get("role") != "system"]
        if len(turns) != 1 or turns[0].get("role") != "user":
            raise ApiError(400, "audit serve answers one user message (plus optional system)")
        prompt = str(turns[0].get("content", ""))
        n = int(body.get("n") or 1)
        seed = body.get("seed")
        params = SamplingParams(
            temperature=float(body.get("temperature", 1.0)),
            top_p=float(body.get("top_p", 1.0)),
            max_new_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 64),
            seed=int(seed) if seed is not None else None,
            system_prompt=system or None,
            min_prob=float(body.get("min_prob", 0.0)),
        )
        backend, lock = self.model(model_id)
        with lock:
            texts = backend.generate([prompt] * n, params)
            logprobs = (
                [self._logprobs(backend, prompt, text, params.system_prompt) for text in texts]
                if body.get("logprobs")
                else [None] * n
            )
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": {"content": entries} if entries is not None else None,
            }
            for i, (text, entries) in enumerate(zip(texts, logprobs, strict=True))
        ]
        completion_tokens = sum(_count_tokens(text) for text in texts)
        return {
            "id": new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_id,
            "choices": choices,
            "usage": _usage(_count_tokens(system + " " + prompt), completion_tokens),
        }

    @staticmethod
    def _logprobs(
        backend: ModelBackend, prompt: str, text: str, system_prompt: str | None
    ) -> list[dict] | None:
        """Per-token logprobs; one chunk without a `TokenScorer`; None if not computable."""
        if isinstance(backend, TokenScorer):
            pairs = backend.token_logprobs(prompt, text, system_prompt)
        elif system_prompt is None:  # the whole completion as one chunk
            pairs = [(text, backend.score([prompt], [text])[0])]
        else:  # `score` cannot see a system prompt: no figure rather than a wrong one
            return None
        return [
            {"token": token, "logprob": value, "bytes": list(token.encode()), "top_logprobs": []}
            for token, value in pairs
        ]

    def completion(self, body: dict) -> dict:
        """Legacy completions: generation, or (echo + max_tokens 0) scoring of given text."""
        model_id = body.get("model")
        text = body.get("prompt")
        if not isinstance(text, str):
            raise ApiError(400, "'prompt' must be one string")
        backend, lock = self.model(model_id)
        if body.get("echo") and not body.get("max_tokens"):
            start = int(body.get("completion_start", 0))
            prompt, completion = text[:start], text[start:]
            with lock:
                if isinstance(backend, TokenScorer):
                    pairs = backend.token_logprobs(prompt, completion)
                else:
                    pairs = [(completion, backend.score([prompt], [completion])[0])]
            tokens = [prompt, *(token for token, _ in pairs)]
            values = [None, *(value for _, value in pairs)]
            offsets, position = [0], len(prompt)
            for token, _ in pairs:
                offsets.append(position)
                position += len(token)
            choice = {
                "index": 0,
                "text": text,
                "finish_reason": "length",
                "logprobs": {
                    "tokens": tokens,
                    "token_logprobs": values,
                    "text_offset": offsets,
                    "top_logprobs": None,
                },
            }
            usage = _usage(_count_tokens(text), 0)
        else:
            chat = self.chat_completion(
                {**body, "messages": [{"role": "user", "content": text}], "logprobs": False}
            )
            choice = {
                "index": 0,
                "text": chat["choices"][0]["message"]["content"],
                "finish_reason": "stop",
                "logprobs": None,
            }
            usage = chat["usage"]
        return {
            "id": new_id("cmpl"),
            "object": "text_completion",
            "created": int(time.time()),
            "model": model_id,
            "choices": [choice],
            "usage": usage,
        }

    # -- files ---------------------------------------------------------------------------------
    def upload(self, filename: str, purpose: str, content: bytes) -> dict:
        if purpose == "fine-tune":
            parse_training_file(content, filename)  # reject a bad file now, not mid-job
        return self.store.add_file(filename, purpose, content).to_api()

    # -- fine-tuning ---------------------------------------------------------------------------
    def create_job(self, body: dict) -> dict:
        model_id = body.get("model")
        file_id = body.get("training_file")
        if not isinstance(file_id, str) or self.store.get_file(file_id) is None:
            raise ApiError(400, f"training_file {file_id!r} not found")
        self.model(model_id)  # fail now on an unknown base model
        hyper = dict(body.get("hyperparameters") or {})
        job = JobRecord(
            id=new_id("ftjob"),
            model=model_id,
            training_file=file_id,
            hyperparameters=hyper,
            seed=int(body.get("seed") or 0),
            created_at=int(time.time()),
        )
        try:
            self.finetune_config(job)  # fail now on bad hyperparameters, not in the worker
        except (AuditError, ValueError, TypeError) as error:
            raise ApiError(400, f"bad hyperparameters: {error}") from None
        self.store.save_job(job)
        self.store.add_event(job.id, "job created")
        self._queue.put(job.id)
        return self.store.get_job(job.id).to_api()

    def get_job(self, job_id: str) -> dict:
        job = self.store.get_job(job_id)
        if job is None:
            raise ApiError(404, f"fine-tuning job {job_id!r} not found", "not_found_error")
        return job.to_api()

    def job_events(self, job_id: str) -> dict:
        job = self.store.get_job(job_id)
        if job is None:
            raise ApiError(404, f"fine-tuning job {job_id!r} not found", "not_found_error")
        return {"object": "list", "data": list(reversed(job.events)), "has_more": False}

    def finetune_config(self, job: JobRecord) -> FinetuneConfig:
        """The student config a job's OpenAI-style hyperparameters ask for."""
        hyper = job.hyperparameters

        def given(key: str, default: float) -> float:
            value = hyper.get(key, "auto")
            return default if value in (None, "auto") else float(value)

        return FinetuneConfig(
            epochs=float(given("n_epochs", self.config.default_epochs)),
            batch_size=int(given("batch_size", self.config.default_batch_size)),
            learning_rate=BASE_LR * given("learning_rate_multiplier", 1.0),
            seed=job.seed,
            lora_rank=self.config.lora_rank,
        )

    def _train(self, job: JobRecord) -> ModelBackend:
        base, lock = self.model(job.model)
        corpus = parse_training_file(self.store.file_content(job.training_file), job.training_file)
        with lock:
            return base.finetune(corpus, self.finetune_config(job))

    def run_job(self, job_id: str) -> None:
        """Run one job to the end and record the outcome (the worker calls this)."""
        job = self.store.get_job(job_id)
        if job is None or job.status not in ("queued", "running"):
            return
        job = self.store.update_job(job_id, status="running", attempts=job.attempts + 1)
        self.store.add_event(job_id, f"training started (attempt {job.attempts})")
        try:
            student = self._train(job)
        except (AuditError, ApiError, ValueError) as error:
            self.store.update_job(
                job_id,
                status="failed",
                finished_at=int(time.time()),
                error={"code": "training_failed", "message": str(error), "param": None},
            )
            self.store.add_event(job_id, f"training failed: {error}", "error")
            return
        model_id = f"ft:{job.model}:{job_id}"
        result_spec = None
        if isinstance(student, SavableBackend):
            result_spec = student.save(str(self.store.models_dir / job_id))
        with self._registry_lock:
            self._models[model_id] = student
        self.store.update_job(
            job_id,
            status="succeeded",
            fine_tuned_model=model_id,
            finished_at=int(time.time()),
            result_spec=result_spec,
            trained_tokens=_count_tokens(
                self.store.file_content(job.training_file).decode("utf-8", "replace")
            ),
        )
        self.store.add_event(job_id, f"training finished: {model_id}")

    def start(self) -> None:
        """Queue unfinished jobs from an earlier run and start the worker thread."""
        for job in self.store.list_jobs():
            if job.status in ("queued", "running"):
                self.store.add_event(job.id, "server restarted: job queued again")
                self._queue.put(job.id)
        self._worker = threading.Thread(target=self._work, name="finetune-worker", daemon=True)
        self._worker.start()

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            try:
                self.run_job(job_id)
            except Exception as error:  # a bug must fail the job, not kill the worker
                self.store.update_job(
                    job_id,
                    status="failed",
                    finished_at=int(time.time()),
                    error={"code": "internal_error", "message": repr(error), "param": None},
                )
            finally:
                self._queue.task_done()


def _count_tokens(text: str) -> int:
    """Whitespace tokens: an approximation for usage figures (the lab has no BPE)."""
    return len(text.split())


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


__all__ = ["ApiError", "LabService", "ServerConfig", "parse_training_file"]
