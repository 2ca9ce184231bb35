"""Ask an OpenAI-compatible chat server, with our own retries and a concurrency limit.

The openai client's built-in retries are switched off (`max_retries=0`) so that every attempt is
visible here: we count retries for the report and follow `auditor.retry` (which statuses are
transient, `Retry-After`, backoff with jitter, a limit on total waiting), then give up with one
clear error naming the server, the last failure and the number of attempts.
Errors that no retry can fix (bad key, unknown model, bad request) fail at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from types import TracebackType
from typing import Any, NoReturn

import openai

from auditor.credentials import strip_credentials
from auditor.retry import RetryPolicy, is_retryable_status, retry_after_seconds
from auditor.usage import BudgetExceeded, UsageMeter
from filters.judge.verdict import MalformedReply, Reply, parse_reply, usage_of

_HINTS = {
    400: "the server rejected the request; if it does not support log-probabilities, "
    "pass logprobs=false",
    401: "check the API key (AUDIT_API_KEY or OPENAI_API_KEY)",
    403: "the API key may lack access to this model",
    404: "check the base URL (it usually ends in /v1) and the model name",
}


def request_params(max_tokens: int, logprobs: bool) -> dict[str, Any]:
    """Sampling parameters sent with every request (they are part of the cache key)."""
    params: dict[str, Any] = {"temperature": 0, "max_tokens": max_tokens}
    if logprobs:
        params.update(logprobs=True, top_logprobs=5)
    return params


class JudgeStopped(Exception):
    """A request not made (or not retried) because another one already failed for good."""


class JudgeServerError(Exception):
    """The judge server could not answer: after all retries, or at once for a permanent error."""

    def __init__(self, url: str, problem: str, attempts: int) -> None:
        super().__init__(f"after {attempts} attempt{'s' if attempts != 1 else ''}: {problem}")
        self.url = url
        self.problem = problem
        self.attempts = attempts


class JudgeClient:
    """An async chat client for one model: retries, Retry-After, a concurrency limit, usage."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str,
        timeout: float,
        concurrency: int,
        policy: RetryPolicy,
        meter: UsageMeter,
        logprobs: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self.model = model
        self.policy = policy
        self.meter = meter
        self.logprobs = logprobs
        self.timeout = timeout
        self.retries = 0
        self.failure: JudgeServerError | None = None
        self._client = openai.AsyncOpenAI(
            base_url=base_url or None, api_key=api_key, timeout=timeout, max_retries=0
        )
        # Named in errors and reports: never with the credentials a base URL may carry.
        self.url = strip_credentials(str(self._client.base_url).rstrip("/") + "/chat/completions")
        self._semaphore = asyncio.Semaphore(max(1, concurrency))
        self._stopped = asyncio.Event()
        self._rng = rng or random.Random()

    async def complete(self, messages: list[dict[str, str]], max_tokens: int) -> Reply:
        """One judgment; raises `JudgeServerError` when the server cannot give it.

        After the first permanent failure the client stops: queued requests and pending retries
        raise `JudgeStopped` instead of spending more time on a server that is down.
        """
        async with self._semaphore:
            attempts = 0
            retries = self.policy.start(self._rng)
            while True:
                if self.failure is not None:
                    raise JudgeStopped
                try:
                    self.meter.check(self.model)
                except BudgetExceeded as error:
                    self._fail(JudgeServerError(self.url, f"stopped: {error}", attempts))
                attempts += 1
                asked: float | None = None
                try:
                    raw = await self._client.chat.completions.with_raw_response.create(
                        model=self.model,
                        messages=messages,
                        **request_params(max_tokens, self.logprobs),
                    )
                    reply = parse_reply(raw.http_response.content)
                except openai.APIStatusError as error:
                    problem = f"HTTP {error.status_code}: {_body(error.response)}"
                    if not is_retryable_status(error.status_code):
                        hint = _HINTS.get(error.status_code)
                        problem += f"; {hint}" if hint else ""
                        self._fail(JudgeServerError(self.url, problem, attempts))
                    asked = retry_after_seconds(error.response.headers)
                except openai.APITimeoutError:
                    problem = f"no reply within the {self.timeout:g}s timeout"
                except openai.APIConnectionError as error:
                    cause = error.__cause__ or error
                    problem = f"cannot connect ({type(cause).__name__}: {cause})"
                except MalformedReply as error:
                    problem = f"invalid chat-completion response, {error}"
                    # Answered, so billed: it counts against the budget like any reply.
                    self.meter.record(self.model, *usage_of(raw.http_response.content))
                else:
                    self.meter.record(self.model, reply.prompt_tokens, reply.completion_tokens)
                    return reply
                wait = retries.next_wait(asked)
                if wait is None:
                    if retries.stop_reason:
                        problem += f"; gave up: {retries.stop_reason}"
                    self._fail(JudgeServerError(self.url, problem, attempts))
                self.retries += 1
                await self._pause(wait)

    def _fail(self, failure: JudgeServerError) -> NoReturn:
        self.failure = failure
        self._stopped.set()
        raise failure

    async def _pause(self, seconds: float) -> None:
        """Wait before a retry, waking early when another request has failed for good."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    async def close(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> JudgeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def _body(response: Any, limit: int = 200) -> str:
    try:
        text = " ".join(response.text.split())
    except Exception:  # a body that cannot be decoded is still worth a status line
        return "(unreadable body)"
    return (text[:limit] + "...") if len(text) > limit else (text or "(empty body)")
