"""One judge concurrency limit across a Ray cluster: a semaphore actor every worker asks.

Each worker's `LLMJudge` keeps its own client, retries, cache writes and usage meter; only the
permit to have a request in flight comes from the one `PermitPool` actor, so `concurrency=8`
means eight requests in flight across the cluster, not eight per worker. A permit is a lease:
one held by a worker that dies comes back after `lease_s` (the longest a request can hold one:
every attempt's timeout and every backoff), so a killed worker slows the run, never hangs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections import Counter
from typing import Any

import ray

from auditor.retry import RETRY_AFTER_CEILING, RetryPolicy
from filters.judge.client import JudgeClient
from filters.llm_judge import LLMJudge

NAMESPACE = "subliminal-audit"


@ray.remote(num_cpus=0, max_concurrency=10_000)
class PermitPool:
    """A counting semaphore with leases. It also records the most permits ever out at once
    and the most workers ever holding or waiting for one at once: two or more with the peak
    at the limit means the limit held across workers (a limit per worker would have let
    each of them have that many out)."""

    def __init__(self, limit: int, lease_s: float) -> None:
        self.limit = limit
        self.lease_s = lease_s
        self.leases: dict[int, tuple[float, str]] = {}  # token -> (deadline, worker)
        self.waiting: Counter[str] = Counter()
        self.peak = 0
        self.peak_workers = 0
        self.reclaimed = 0
        self._tokens = itertools.count()
        self._changed = asyncio.Condition()

    async def acquire(self, worker: str) -> int:
        async with self._changed:
            self.waiting[worker] += 1
            self._note_workers()
            while len(self.leases) >= self.limit:
                self._reclaim()
                if len(self.leases) < self.limit:
                    break
                soonest = min(deadline for deadline, _ in self.leases.values()) - time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=max(0.01, soonest))
            self.waiting[worker] -= 1
            token = next(self._tokens)
            self.leases[token] = (time.monotonic() + self.lease_s, worker)
            self.peak = max(self.peak, len(self.leases))
            return token

    async def release(self, token: int) -> None:
        async with self._changed:
            self.leases.pop(token, None)
            self._changed.notify()

    def _note_workers(self) -> None:
        active = {worker for worker, count in self.waiting.items() if count > 0}
        active.update(worker for _, worker in self.leases.values())
        self.peak_workers = max(self.peak_workers, len(active))

    def _reclaim(self) -> None:
        now = time.monotonic()
        for token in [t for t, (deadline, _) in self.leases.items() if deadline <= now]:
            del self.leases[token]
            self.reclaimed += 1

    def report(self) -> dict[str, int]:
        return {
            "limit": self.limit,
            "peak": self.peak,
            "peak_workers": self.peak_workers,
            "reclaimed": self.reclaimed,
        }


class _Permit:
    """`async with permit:` holds one of the pool's permits (what `asyncio.Semaphore` gives)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._worker = ray.get_runtime_context().get_worker_id()
        self._held: list[int] = []

    async def __aenter__(self) -> None:
        self._held.append(await self._pool.acquire.remote(self._worker))

    async def __aexit__(self, *exc: object) -> None:
        await self._pool.release.remote(self._held.pop())


class ClusterLimitedClient(JudgeClient):
    """A judge client whose concurrency limit is the cluster-wide `PermitPool` named `pool`."""

    def __init__(self, *, pool: str, **settings: Any) -> None:
        super().__init__(**settings)
        self._semaphore = _Permit(ray.get_actor(pool, namespace=NAMESPACE))  # type: ignore[assignment]


def lease_seconds(judge: LLMJudge) -> float:
    """The longest one request can hold a permit: every attempt's timeout, and every wait
    between attempts (a server's Retry-After may ask for more than the backoff cap)."""
    policy = RetryPolicy(judge.max_retries, judge.backoff, judge.max_backoff)
    waits = min(policy.max_total_wait, judge.max_retries * max(policy.cap, RETRY_AFTER_CEILING))
    return (judge.max_retries + 1) * judge.timeout + waits + 1.0


def share_limit(judge: LLMJudge, pool_name: str) -> Any:
    """Start the permit pool for `judge` (its `concurrency` becomes the cluster's limit) and
    point the judge's client at it; returns the pool's handle (kill it when the run ends)."""
    pool = PermitPool.options(name=pool_name, namespace=NAMESPACE).remote(  # type: ignore[attr-defined]
        judge.concurrency, lease_seconds(judge)
    )
    ray.get(pool.report.remote())  # started before any worker looks it up
    judge.client_factory = functools.partial(ClusterLimitedClient, pool=pool_name)
    return pool
