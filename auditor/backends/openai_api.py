"""OpenAI-compatible APIs (OpenAI, vLLM, Ollama, `audit serve`) behind the model interface.

Hosted teachers and students are reached with the openai client at a configurable base URL.
Generation uses chat completions (many requests in parallel threads, seeded per request where
the server honours seeds). Scoring given text needs echoed prompt log-probabilities, which only
the legacy `/v1/completions` endpoint offers (vLLM and `audit serve` do; OpenAI's hosted chat
models do not): where it is missing, `score` fails with a clear error instead of guessing.
Fine-tuning (upload, job, polling, a resumable state file) is `openai_finetune`'s. Every
request counts its tokens in a shared `UsageMeter`.

Retries are ours, not the client's (`max_retries=0`), by the project's one policy
(`auditor.retry`): rate limits, 5xx, 408/409/425, timeouts and dropped connections are retried
with backoff that honours `Retry-After`; anything else is a user-facing `AuditError`.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from auditor.backends.openai_finetune import run_finetune_job
from auditor.errors import AuditError
from auditor.models import FinetuneConfig, HasUsageMeter, SamplingParams, TraitScore
from auditor.retry import RetryPolicy, is_retryable_status, retry_after_seconds
from auditor.usage import Budget, Pricing, UsageMeter

T = TypeVar("T")
NO_SCORING_HINT = (
    "; this server cannot score given text, which needs /v1/completions with echo and "
    "logprobs (vLLM and `audit serve` have it; OpenAI's hosted chat models do not)"
)


@dataclass(frozen=True)
class OpenAIOptions:
    """Where the server is and how patiently to talk to it.

    `state_dir` keeps fine-tuning job ids so an interrupted run resumes polling; `questions`
    is a JSON file of trait questions (`{"questions": [...]}`) when the model speaks a
    different language than ours (e.g. a lab model behind `audit serve`).
    """

    base_url: str | None = None
    api_key: str | None = None
    concurrency: int = 8
    max_retries: int = 6
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    max_wait_seconds: float = 900.0  # all the retry waits of one request, at most
    poll_seconds: float = 1.0  # first poll interval; grows 1.5x per poll up to the max
    poll_max_seconds: float = 60.0
    job_timeout_seconds: float = 24 * 3600
    request_timeout_seconds: float = 600.0
    state_dir: str | None = None
    questions: str | None = None
    prices: dict[str, Pricing] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)  # the run's caps, enforced by the meter

    @classmethod
    def from_env(cls, **overrides: object) -> OpenAIOptions:
        """Options from overrides, else `AUDIT_BASE_URL`, `AUDIT_API_KEY`/`OPENAI_API_KEY`,
        `AUDIT_STATE_DIR`, `AUDIT_POLL_SECONDS` and the budget's variables (`Budget.from_env`)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        given.setdefault("budget", Budget.from_env())
        given.setdefault("base_url", os.environ.get("AUDIT_BASE_URL") or None)
        given.setdefault(
            "api_key", os.environ.get("AUDIT_API_KEY") or os.environ.get("OPENAI_API_KEY")
        )
        if os.environ.get("AUDIT_STATE_DIR"):
            given.setdefault("state_dir", os.environ["AUDIT_STATE_DIR"])
        if os.environ.get("AUDIT_POLL_SECONDS"):
            given.setdefault("poll_seconds", float(os.environ["AUDIT_POLL_SECONDS"]))
        return cls(**given)  # type: ignore[arg-type]


def open_openai_model(
    model: str | None, options: OpenAIOptions | None = None, meter: UsageMeter | None = None
) -> OpenAIModel:
    """A model on an OpenAI-compatible server; `model` None reads `AUDIT_MODEL`."""
    import openai

    options = options or OpenAIOptions.from_env()
    model = model or os.environ.get("AUDIT_MODEL")
    if not model:
        raise AuditError("no model named: pass openai:MODEL or set AUDIT_MODEL")
    api_key = options.api_key
    if not api_key:
        if options.base_url is None:
            raise AuditError(
                "openai: no API key: set AUDIT_API_KEY or OPENAI_API_KEY (or --api-key)"
            )
        api_key = "unused"  # local servers (vLLM, audit serve) accept any key
    client = openai.OpenAI(
        base_url=options.base_url,
        api_key=api_key,
        max_retries=0,
        timeout=options.request_timeout_seconds,
    )
    meter = meter or UsageMeter(prices=options.prices, budget=options.budget)
    return OpenAIModel(client, model, options, meter)


class MalformedReply(Exception):
    """A 200 answer that is not the completion asked for."""


def _chat_texts(response, wanted: int) -> list[str]:
    """The texts of a chat completion's choices (at most `wanted`); `MalformedReply` if none."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedReply("the server returned no choices")
    texts = []
    for choice in choices[:wanted]:
        message = getattr(choice, "message", None)
        content = getattr(message, "content", None)
        if not hasattr(message, "content") or not isinstance(content, str | None):
            raise MalformedReply("a choice has no text content")
        texts.append((content or "").strip())
    return texts


def _echoed_logprobs(response):
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list):
        raise MalformedReply("the server returned no choices")
    return choices[0].logprobs if choices else None


class OpenAIModel(HasUsageMeter):
    """One model id on one server; implements `ModelBackend`."""

    def __init__(
        self,
        client,
        model: str,
        options: OpenAIOptions,
        meter: UsageMeter,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.name = f"openai:{model}"
        self.options = options
        self.meter = meter
        self._sleep = sleep  # injectable so fault tests don't wait out real backoffs
        self._rng = rng or random.Random()  # backoff jitter; seeded where tests need it
        self._policy = RetryPolicy(
            max_retries=options.max_retries,
            base=options.backoff_seconds,
            cap=options.backoff_max_seconds,
            max_total_wait=options.max_wait_seconds,
        )

    # -- requests with retries ---------------------------------------------------------------
    def _call(self, what: str, request: Callable[[], T], hint: str = "") -> T:
        """Run `request`, retrying rate limits, server errors and dropped connections.

        `hint` is appended to the error for a refused (4xx) request: what the user can do.
        """
        import openai

        retries = self._policy.start(self._rng)
        while True:
            asked: float | None = None
            self.meter.check(self.model)  # BudgetExceeded (an AuditError) once the budget is spent
            try:
                return request()
            except openai.AuthenticationError:
                raise AuditError(f"{self.name}: the server rejected the API key") from None
            except openai.PermissionDeniedError as error:
                raise AuditError(f"{self.name}: permission denied: {error.message}") from None
            except openai.APIStatusError as error:
                if not is_retryable_status(error.status_code):
                    raise AuditError(
                        f"{self.name}: {what} failed ({error.status_code}): {error.message}{hint}"
                    ) from None
                last: Exception = error
                asked = retry_after_seconds(error.response.headers)
            except (openai.APIConnectionError, openai.APITimeoutError) as error:
                last = error
            except (MalformedReply, ValueError, openai.APIResponseValidationError) as error:
                # Not the reply asked for (not JSON, no choices), but answered and billed: it
                # counts against the budget, and is asked again.
                self.meter.record(self.model, 0, 0)
                last = error
            wait = retries.next_wait(asked)
            if wait is None:
                gave_up = f"; gave up: {retries.stop_reason}" if retries.stop_reason else ""
                raise AuditError(
                    f"{self.name}: {what} failed after {retries.retries + 1} attempts "
                    f"(last: {type(last).__name__}: {last}){gave_up}"
                )
            self._sleep(wait)

    def _record(self, usage) -> None:
        if usage is None:
            return
        counts = [
            getattr(usage, "prompt_tokens", 0) or 0,
            getattr(usage, "completion_tokens", 0) or 0,
        ]
        if not all(isinstance(n, int) and n >= 0 for n in counts):
            counts = [0, 0]  # nonsense usage: still a paid request, its tokens unknown
        self.meter.record(self.model, *counts)

    def _map(self, fn: Callable[[int], T], count: int) -> list[T]:
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.concurrency))
        try:
            return list(pool.map(fn, range(count)))
        finally:  # on Ctrl-C or an error, drop queued requests instead of sending them all
            pool.shutdown(wait=False, cancel_futures=True)

    # -- generation and scoring ----------------------------------------------------------------
    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[str]:
        """One chat completion per prompt, in parallel requests.

        Repeated prompts (trait evaluation samples each question many times) go as one request
        with `n` choices, so the prompt is sent and billed once; a server that returns fewer
        choices than asked is asked again for the rest. The request for a prompt first seen at
        position i uses seed `params.seed + i`.
        """
        groups: dict[str, list[int]] = {}
        for index, prompt in enumerate(prompts):
            groups.setdefault(prompt, []).append(index)
        items = list(groups.items())
        out: list[str] = [""] * len(prompts)

        def one(g: int) -> None:
            prompt, indices = items[g]
            messages = [{"role": "user", "content": prompt}]
            if params.system_prompt:
                messages.insert(0, {"role": "system", "content": params.system_prompt})
            texts: list[str] = []
            while len(texts) < len(indices):
                first = indices[len(texts)]
                extra: dict = {"seed": params.seed + first} if params.seed is not None else {}
                if params.min_prob > 0:
                    extra["extra_body"] = {"min_prob": params.min_prob}
                wanted = len(indices) - len(texts)
                if wanted > 1:
                    extra["n"] = wanted

                def ask(extra: dict = extra, wanted: int = wanted) -> tuple[list[str], object]:
                    response = self.client.chat.completions.create(
                        model=self.model,
                        messages=messages,
                        temperature=params.temperature,
                        top_p=params.top_p,
                        max_tokens=params.max_new_tokens,
                        **extra,
                    )
                    return _chat_texts(response, wanted), getattr(response, "usage", None)

                answered, usage = self._call("chat completion", ask)
                self._record(usage)
                texts += answered
            for index, text in zip(indices, texts, strict=True):
                out[index] = text

        self._map(one, len(items))
        return out

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        """Summed log-probability of each completion, from echoed `/v1/completions` logprobs."""
        if len(prompts) != len(completions):
            raise AuditError(f"{len(prompts)} prompts but {len(completions)} completions")

        def one(i: int) -> float:
            prompt, completion = prompts[i], completions[i]

            def ask() -> tuple[object, object]:
                response = self.client.completions.create(
                    model=self.model,
                    prompt=prompt + completion,
                    echo=True,
                    logprobs=0,
                    max_tokens=0,
                    # `audit serve` extension: where the completion starts, so the prompt is
                    # formatted as a chat turn; other servers ignore it.
                    extra_body={"completion_start": len(prompt)},
                )
                return _echoed_logprobs(response), getattr(response, "usage", None)

            logprobs, usage = self._call(
                "scoring (echoed completion logprobs)", ask, hint=NO_SCORING_HINT
            )
            self._record(usage)
            if logprobs is None or not logprobs.token_logprobs:
                raise AuditError(f"{self.name}: no echoed logprobs returned{NO_SCORING_HINT}")
            return float(
                sum(
                    value
                    for value, offset in zip(
                        logprobs.token_logprobs, logprobs.text_offset, strict=True
                    )
                    if value is not None and offset >= len(prompt)
                )
            )

        return self._map(one, len(prompts))

    def evaluate_trait(self, trait: str, *, samples: int = 20, seed: int = 0) -> TraitScore:
        """Sampled favourite-animal answers that name `trait` (see `trait_eval`)."""
        from auditor.backends.trait_eval import evaluate_by_sampling, load_questions

        questions = load_questions(self.options.questions) if self.options.questions else None
        return evaluate_by_sampling(self, trait, samples=samples, seed=seed, questions=questions)

    # -- fine-tuning ---------------------------------------------------------------------------
    def finetune(self, corpus, config: FinetuneConfig) -> OpenAIModel:
        """Fine-tune through the server's fine-tuning API; resumes a saved job when present."""
        return self.sibling(run_finetune_job(self, corpus, config))

    def sibling(
        self, model: str | None = None, options: OpenAIOptions | None = None
    ) -> OpenAIModel:
        """Another model id (or other options) on the same server, sharing client and meter."""
        return OpenAIModel(
            self.client,
            model or self.model,
            options or self.options,
            self.meter,
            self._sleep,
            self._rng,
        )
