"""What the lab server does, independent of HTTP: models, completions, files, fine-tuning.

The server answers for the models it advertised and nothing else: the aliases given at start-up
(`--models teacher=lab:teacher-owl`), backends handed in by the embedding code, and the `ft:...`
ids of students it fine-tuned. Any other id is "not found", and no request ever names a path or
a spec for the server to open. Requests are checked against `schema` (types, ranges, the
server's `Limits`) before a model is opened or locked. Opened models are kept in a small
least-recently-used cache.

A fine-tuning job runs in one background worker thread and really trains a student through the
model interface; a finished student is saved (an hf checkpoint, or the lab model's weights as
safetensors) and reopened after a restart. Jobs still `queued` or `running` when the server
starts are run again, up to `Limits.max_job_attempts` starts each, so a killed server finishes
its jobs once restarted.
"""

from __future__ import annotations

import contextlib
import math
import queue
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from auditor.backends import BackendOptions, open_model, parse_spec
from auditor.errors import AuditError
from auditor.models import (
    FinetuneConfig,
    ModelBackend,
    ReentrantBackend,
    SamplingParams,
    SavableBackend,
    TokenScorer,
    TopTokenScorer,
)
from auditor.server.errors import ApiError, not_found
from auditor.server.schema import (
    ChatRequest,
    CompletionRequest,
    Hyperparameters,
    JobRequest,
    Limits,
    parse_body,
)
from auditor.server.store import JobRecord, Store, new_id
from auditor.server.training import (
    LAB_WEIGHTS,
    load_lab_student,
    parse_training_file,
    save_lab_student,
)

BASE_LR = FinetuneConfig().learning_rate  # what learning_rate_multiplier multiplies
LOGPROB_FLOOR = -9999.0  # what OpenAI answers for an impossible token; JSON has no -Infinity


@dataclass(frozen=True)
class ServerConfig:
    """Where state lives, which models to advertise, how students are fine-tuned."""

    state_dir: str
    models: dict[str, str] = field(default_factory=dict)  # alias -> spec
    device: str | None = None
    lora_rank: int | None = None
    default_epochs: int = 1
    default_batch_size: int = 32
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        for alias, spec in self.models.items():
            scheme, _ = parse_spec(spec)  # AuditError on a bad spec: refused at start
            if scheme == "openai":
                raise AuditError(f"--models {alias}={spec}: audit serve serves lab: and hf: only")


class LabService:
    """The server's state and operations; `start()` launches the fine-tuning worker."""

    def __init__(
        self, config: ServerConfig, models: Mapping[str, ModelBackend] | None = None
    ) -> None:
        """`models` serves already-open backends under the given ids (embedding, tests)."""
        self.config = config
        self.limits = config.limits
        self.store = Store(config.state_dir)
        self._preloaded = dict(models or {})
        self._loaded: OrderedDict[str, ModelBackend] = OrderedDict()  # LRU, at most max_loaded
        self._locks: dict[str, threading.Lock] = {}
        self._registry_lock = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None
        # What `load_all` is doing while it runs (None once every model is open): the server
        # answers requests meanwhile with 503 and Retry-After rather than leaving them hanging.
        self.loading: str | None = None

    # -- models ------------------------------------------------------------------------------
    def model_ids(self) -> list[str]:
        finished = [j.fine_tuned_model for j in self.store.list_jobs() if j.fine_tuned_model]
        return list(dict.fromkeys([*self._preloaded, *self.config.models, *finished]))

    def _job_for(self, model_id: str) -> JobRecord | None:
        if not model_id.startswith("ft:"):
            return None
        job = self.store.get_job(model_id.rsplit(":", 1)[-1])
        return job if job is not None and job.fine_tuned_model == model_id else None

    def _open(self, model_id: str) -> ModelBackend:
        job = self._job_for(model_id)
        if job is not None:
            if job.result_spec:
                return open_model(job.result_spec, BackendOptions(device=self.config.device))
            weights = self.store.models_dir / job.id / LAB_WEIGHTS
            if weights.exists():
                return load_lab_student(self.model(job.model)[0], weights)
            return self._train(job)  # recipe replay: seeded, so the same student
        try:
            return open_model(
                self.config.models[model_id], BackendOptions(device=self.config.device)
            )
        except AuditError as error:
            raise ApiError(503, f"model {model_id!r} cannot be opened: {error}", "server_error")

    def _lock(self, model_id: str) -> threading.Lock:
        with self._registry_lock:
            return self._locks.setdefault(model_id, threading.Lock())

    def using(self, model_id: str) -> tuple[ModelBackend, contextlib.AbstractContextManager]:
        """The backend and what to hold while using it: its lock, or nothing for a reentrant
        backend, whose requests interleave instead of waiting for each other."""
        backend, lock = self.model(model_id)
        if isinstance(backend, ReentrantBackend) and backend.reentrant:
            return backend, contextlib.nullcontext()
        return backend, lock

    def model(self, model_id: str) -> tuple[ModelBackend, threading.Lock]:
        """The backend for an advertised `model_id` and the lock that serialises its use.

        Anything else is one plain "not found": the answer says nothing about the file system.
        """
        if model_id in self._preloaded:
            return self._preloaded[model_id], self._lock(model_id)
        if model_id not in self.config.models and self._job_for(model_id) is None:
            raise not_found(f"model {model_id[:100]!r}")
        lock = self._lock(model_id)
        with self._registry_lock:
            backend = self._loaded.get(model_id)
            if backend is not None:
                self._loaded.move_to_end(model_id)
                return backend, lock
        with lock:
            with self._registry_lock:
                backend = self._loaded.get(model_id)
            if backend is None:
                backend = self._open(model_id)
            self._remember(model_id, backend)
        return backend, lock

    def _remember(self, model_id: str, backend: ModelBackend) -> None:
        with self._registry_lock:
            self._loaded[model_id] = backend
            self._loaded.move_to_end(model_id)
            while len(self._loaded) > max(1, self.limits.max_loaded_models):
                self._loaded.popitem(last=False)  # in-flight users keep their reference

    def loaded_ids(self) -> list[str]:
        with self._registry_lock:
            return list(self._loaded)

    def load_all(self, report: Callable[[str], None] | None = None) -> None:
        """Open every advertised alias now (a cold lab cache trains here, not in a request)."""
        aliases = list(self.config.models)[: max(1, self.limits.max_loaded_models)]
        try:
            for number, alias in enumerate(aliases, start=1):
                self.loading = f"loading model {number}/{len(aliases)}: {alias}"
                if report:
                    report(f"{self.loading} ({self.config.models[alias]})")
                started = time.monotonic()
                try:
                    self.model(alias)
                except ApiError as error:
                    raise AuditError(error.message) from None
                if report:
                    report(f"loaded {alias} in {time.monotonic() - started:.1f}s")
        finally:
            self.loading = None

    # -- completions ---------------------------------------------------------------------------
    def chat_completion(self, body: object) -> dict:
        request = parse_body(ChatRequest, body)
        self.limits.check_chat(request)
        system = "\n".join(m.content for m in request.messages if m.role in ("system", "developer"))
        turns = [m for m in request.messages if m.role not in ("system", "developer")]
        if len(turns) != 1 or turns[0].role != "user":
            raise ApiError(
                400, "audit serve answers one user message (plus optional system)", param="messages"
            )
        prompt = turns[0].content
        params = SamplingParams(
            temperature=request.temperature,
            top_p=request.top_p,
            max_new_tokens=request.wanted_tokens or min(64, self.limits.max_tokens),
            seed=request.seed,
            system_prompt=system or None,
            min_prob=request.min_prob,
        )
        backend, hold = self.using(request.model)
        top = request.top_logprobs or 0
        with hold:
            texts = backend.generate([prompt] * request.n, params)
            logprobs = (
                [self._logprobs(backend, prompt, t, params.system_prompt, top) for t in texts]
                if request.logprobs
                else [None] * request.n
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
            "model": request.model,
            "choices": choices,
            "usage": _usage(_count_tokens(system + " " + prompt), completion_tokens),
        }

    @staticmethod
    def _logprobs(
        backend: ModelBackend, prompt: str, text: str, system_prompt: str | None, top: int = 0
    ) -> list[dict] | None:
        """Per-token logprobs (and the `top` likeliest alternatives where the backend can say);
        one chunk without a `TokenScorer`; None if not computable."""
        if isinstance(backend, TokenScorer):
            pairs = backend.token_logprobs(prompt, text, system_prompt)
        elif system_prompt is None:  # the whole completion as one chunk
            pairs = [(text, backend.score([prompt], [text])[0])]
        else:  # `score` cannot see a system prompt: no figure rather than a wrong one
            return None
        alternatives: list[list[tuple[str, float]]] = [[] for _ in pairs]
        if top and isinstance(backend, TopTokenScorer) and isinstance(backend, TokenScorer):
            alternatives = backend.top_token_logprobs(prompt, text, top, system_prompt)
        return [
            {
                **_token_entry(token, value),
                "top_logprobs": [_token_entry(alt, alt_value) for alt, alt_value in others],
            }
            for (token, value), others in zip(pairs, alternatives, strict=True)
        ]

    def completion(self, body: object) -> dict:
        """Legacy completions: generation, or (echo + max_tokens 0) scoring of given text."""
        request = parse_body(CompletionRequest, body)
        self.limits.check_completion(request)
        text = request.prompt
        if request.echo and not request.max_tokens:
            backend, hold = self.using(request.model)
            prompt, completion = text[: request.completion_start], text[request.completion_start :]
            with hold:
                if isinstance(backend, TokenScorer):
                    pairs = backend.token_logprobs(prompt, completion)
                else:
                    pairs = [(completion, backend.score([prompt], [completion])[0])]
            tokens = [prompt, *(token for token, _ in pairs)]
            values = [None, *(finite_logprob(value) for _, value in pairs)]
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
            chat_body = {
                "model": request.model,
                "messages": [{"role": "user", "content": text}],
                "temperature": request.temperature,
                "top_p": request.top_p,
                "seed": request.seed,
                "max_tokens": request.max_tokens,
            }
            chat = self.chat_completion(chat_body)
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
            "model": request.model,
            "choices": [choice],
            "usage": usage,
        }

    # -- files ---------------------------------------------------------------------------------
    def check_upload_size(self, size: int) -> None:
        """Refuse a file of `size` bytes: over the per-file limit, or past the quota."""
        if size > self.limits.max_upload_bytes:
            raise ApiError(
                413, f"a file may have at most {self.limits.max_upload_bytes} bytes", param="file"
            )
        if self.store.upload_bytes() + size > self.limits.upload_quota_bytes:
            raise ApiError(
                413,
                f"the upload quota ({self.limits.upload_quota_bytes} bytes) is used up",
                param="file",
            )

    def upload(self, filename: str, purpose: str, content: bytes) -> dict:
        if purpose != "fine-tune":
            raise ApiError(400, "field 'purpose': only 'fine-tune' is accepted", param="purpose")
        self.check_upload_size(len(content))
        parse_training_file(content, filename)  # reject a bad file now, not mid-job
        return self.store.add_file(filename[:255], purpose, content).to_api()

    # -- fine-tuning ---------------------------------------------------------------------------
    def create_job(self, body: object) -> dict:
        request = parse_body(JobRequest, body)
        if self.store.get_file(request.training_file) is None:
            raise ApiError(
                400, f"training_file {request.training_file!r} not found", param="training_file"
            )
        self.model(request.model)  # fail now on an unknown base model
        job = JobRecord(
            id=new_id("ftjob"),
            model=request.model,
            training_file=request.training_file,
            hyperparameters=request.hyperparameters.model_dump(exclude_none=True),
            seed=request.seed or 0,
            created_at=int(time.time()),
        )
        try:
            self.finetune_config(job)  # fail now on bad hyperparameters, not in the worker
        except (AuditError, ValueError, TypeError) as error:
            raise ApiError(400, f"bad hyperparameters: {error}", param="hyperparameters") from None
        self.store.save_job(job)
        self.store.add_event(job.id, "job created")
        self._queue.put(job.id)
        return self.store.get_job(job.id).to_api()

    def get_job(self, job_id: str) -> dict:
        job = self.store.get_job(job_id)
        if job is None:
            raise not_found(f"fine-tuning job {job_id[:100]!r}")
        return job.to_api()

    def job_events(self, job_id: str) -> dict:
        job = self.store.get_job(job_id)
        if job is None:
            raise not_found(f"fine-tuning job {job_id[:100]!r}")
        return {"object": "list", "data": list(reversed(job.events)), "has_more": False}

    def finetune_config(self, job: JobRecord) -> FinetuneConfig:
        """The student config a job's OpenAI-style hyperparameters ask for."""
        hyper = Hyperparameters.model_validate(job.hyperparameters)

        def given(value: float | str | None, default: float) -> float:
            return default if value in (None, "auto") else float(value)

        return FinetuneConfig(
            epochs=given(hyper.n_epochs, self.config.default_epochs),
            batch_size=int(given(hyper.batch_size, self.config.default_batch_size)),
            learning_rate=BASE_LR * given(hyper.learning_rate_multiplier, 1.0),
            seed=job.seed,
            lora_rank=self.config.lora_rank,
        )

    def _train(self, job: JobRecord) -> ModelBackend:
        base, lock = self.model(job.model)
        corpus = parse_training_file(self.store.file_content(job.training_file), job.training_file)
        with lock:
            return base.finetune(corpus, self.finetune_config(job))

    def _fail(self, job_id: str, code: str, message: str) -> None:
        self.store.update_job(
            job_id,
            status="failed",
            finished_at=int(time.time()),
            error={"code": code, "message": message, "param": None},
        )
        self.store.add_event(job_id, f"training failed: {message}", "error")

    def run_job(self, job_id: str) -> None:
        """Run one job to the end and record the outcome (the worker calls this)."""
        job = self.store.get_job(job_id)
        if job is None or job.status not in ("queued", "running"):
            return
        if job.attempts >= self.limits.max_job_attempts:
            self._fail(job_id, "too_many_attempts", f"gave up after {job.attempts} attempts")
            return
        job = self.store.update_job(job_id, status="running", attempts=job.attempts + 1)
        self.store.add_event(job_id, f"training started (attempt {job.attempts})")
        try:
            student = self._train(job)
        except (AuditError, ApiError, ValueError) as error:
            self._fail(job_id, "training_failed", str(error))
            return
        model_id = f"ft:{job.model}:{job_id}"
        result_spec = None
        if isinstance(student, SavableBackend):
            result_spec = student.save(str(self.store.models_dir / job_id))
        else:
            save_lab_student(student, self.store.models_dir / job_id)
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
        self._remember(model_id, student)
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
                sys.stderr.write(f"audit serve: job {job_id} failed: {error!r}\n")
                # When the job file itself is the problem there is nothing to record in.
                with contextlib.suppress(Exception):
                    self._fail(job_id, "internal_error", repr(error))
            finally:
                self._queue.task_done()


def _token_entry(token: str, value: float) -> dict:
    return {"token": token, "logprob": finite_logprob(value), "bytes": list(token.encode())}


def finite_logprob(value: float) -> float:
    return float(value) if math.isfinite(value) else LOGPROB_FLOOR


def _count_tokens(text: str) -> int:
    """Whitespace tokens: an approximation for usage figures (the lab has no BPE)."""
    return len(text.split())


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


__all__ = ["ApiError", "LabService", "ServerConfig"]
