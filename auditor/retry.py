"""When to retry a request to a model server, and how long to wait: one policy for every client.

The judge (`filters/judge/client.py`) and the OpenAI backend (`auditor/backends/openai_api.py`)
both switch the openai client's own retries off so that every attempt is theirs to count; both
ask this module which failures are transient, what a `Retry-After` header means, and how long
to back off. A request gives up after `max_retries` retries, or sooner when the next wait would
take its waits past `max_total_wait` seconds, so no server can stall a run for ever.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

# Transient by nature: request timeout, lock conflict, too early, rate limit (plus every 5xx).
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
RETRY_AFTER_CEILING = 300.0  # seconds; a longer Retry-After is read as this


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP status is worth asking again for (the server may answer next time)."""
    return status in RETRYABLE_STATUS or 500 <= status < 600


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a response asks for, from `retry-after-ms` or `Retry-After` (seconds or date).

    A value that is not a finite number of seconds at least 0 (`-5`, `nan`, `soon`) is ignored;
    a date in the past means "now" (0); anything above `RETRY_AFTER_CEILING` is read as it.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = lowered.get(header)
        if raw is None:
            continue
        try:
            seconds = float(raw) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return min(seconds, RETRY_AFTER_CEILING)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    wait = when.timestamp() - (time.time() if now is None else now)
    return min(max(wait, 0.0), RETRY_AFTER_CEILING)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: up to `max_retries` retries, waits growing from `base` up to `cap`
    seconds (with jitter), and all the waits of one request adding up to at most
    `max_total_wait` seconds."""

    max_retries: int = 5
    base: float = 1.0
    cap: float = 60.0
    max_total_wait: float = 900.0

    def delay(self, retry: int, asked: float | None, rng: random.Random) -> float:
        """Wait before retry number `retry` (0-based); a server's Retry-After is a lower bound.

        Retry-After is honoured beyond `cap` (the server knows its limits better than our
        backoff does), up to `RETRY_AFTER_CEILING` so a confused server cannot stall a run.
        """
        backoff = min(self.cap, self.base * 2**retry) * rng.uniform(0.5, 1.0)
        if asked is None:
            return backoff
        return max(min(asked, RETRY_AFTER_CEILING), backoff)

    def start(self, rng: random.Random | None = None) -> Retries:
        """The retry state of one request."""
        return Retries(self, rng or random.Random())


@dataclass
class Retries:
    """One request's retries so far: asks the policy for each wait, says when to give up."""

    policy: RetryPolicy
    rng: random.Random
    retries: int = 0
    waited: float = 0.0
    # Set when the limit on waiting (not the number of retries) ended the request.
    stop_reason: str = field(default="", init=False)

    def next_wait(self, asked: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if self.retries >= self.policy.max_retries:
            return None
        wait = self.policy.delay(self.retries, asked, self.rng)
        if self.waited + wait > self.policy.max_total_wait:
            self.stop_reason = (
                f"the next wait ({wait:.3g}s) would pass the {self.policy.max_total_wait:g}s "
                f"limit on waiting ({self.waited:.3g}s waited)"
            )
            return None
        self.retries += 1
        self.waited += wait
        return wait
