"""Ask an OpenAI-compatible chat server, with our own retries and a concurrency limit.

The openai client's built-in retries are switched off (`max_retries=0`) so that every attempt is
visible here: we count retries for the report, honour `Retry-After` (seconds or an HTTP date)
and the `retry-after-ms` extension, back off exponentially with jitter otherwise, and give up
with one clear error naming the server, the last failure and the number of attempts.
Errors that no retry can fix (bad key, unknown model, bad request) fail at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn

import openai

from auditor.usage import UsageMeter
from filters.judge.verdict import MalformedReply, Reply, parse_reply

RETRY_AFTER_CEILING = 300.0
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
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


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a response asks for, from `retry-after-ms` or `Retry-After` (seconds or date)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = lowered.get(header)
        if raw is None:
            continue
        try:
            seconds = float(raw) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds):
            return max(seconds, 0.0)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


@dataclass
class RetryPolicy:
    """How hard to try: attempts = max_retries + 1; waits grow from `base` up to `cap` seconds."""

    max_retries: int = 5
    base: float = 1.0
    cap: float = 60.0

    def delay(self, retry: int, asked: float | None, rng: random.Random) -> float:
        """Wait before retry number `retry` (0-based); a server's Retry-After is a lower bound.

        Retry-After is honoured beyond `cap` (the server knows its limits better than our
        backoff does), up to `RETRY_AFTER_CEILING` so a confused server cannot stall a run.
        """
        backoff = min(self.cap, self.base * 2**retry) * rng.uniform(0.5, 1.0)
        if asked is None:
            return backoff
        return max(min(asked, RETRY_AFTER_CEILING), backoff)


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
        self.url = str(self._client.base_url).rstrip("/") + "/chat/completions"
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
            while True:
                if self.failure is not None:
                    raise JudgeStopped
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
                    if error.status_code not in RETRYABLE_STATUS:
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
                else:
                    self.meter.record(self.model, reply.prompt_tokens, reply.completion_tokens)
                    return reply
                if attempts > self.policy.max_retries:
                    self._fail(JudgeServerError(self.url, problem, attempts))
                self.retries += 1
                await self._pause(self.policy.delay(attempts - 1, asked, self._rng))

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
