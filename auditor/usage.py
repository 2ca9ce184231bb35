"""Token and cost accounting shared by every caller of a hosted model.

The OpenAI-compatible backend and the LLM-judge filter both spend the user's money; one meter
type lets an audit report what a run cost in tokens, requests and (when the user gives a price
table) dollars. Prices are never guessed: a model without a `Pricing` entry is counted in tokens
and reported with cost `None`. A meter is safe to share between threads and asyncio tasks
(recording takes a lock for a few additions and never awaits).

A meter also enforces the run's `Budget` (`--max-cost`, `--max-requests`, `--deadline`):
callers ask `check` before every request, including retries, and `record` every reply the
server billed, malformed ones included, so the caps count what was really spent.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from auditor.errors import AuditError


@dataclass(frozen=True)
class Pricing:
    """Price of one model in dollars per 1,000 tokens."""

    prompt_per_1k: float
    completion_per_1k: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollars for this many tokens."""
        return (
            prompt_tokens * self.prompt_per_1k + completion_tokens * self.completion_per_1k
        ) / 1000


@dataclass
class _ModelTotals:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0


class BudgetExceeded(AuditError):
    """A request not sent because the run's budget (cost, requests or time) is spent."""


@dataclass(frozen=True)
class Budget:
    """Caps on one run's use of hosted models; None means no cap.

    `deadline_seconds` counts from the meter's creation (the start of the run).
    """

    max_cost: float | None = None  # dollars
    max_requests: int | None = None
    deadline_seconds: float | None = None

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value is not None and not (math.isfinite(value) and value > 0):
                raise AuditError(f"--{name.replace('_', '-')} must be a positive number")

    @classmethod
    def from_env(cls, **overrides: float | int | None) -> Budget:
        """Caps from overrides, else `AUDIT_MAX_COST`, `AUDIT_MAX_REQUESTS`, `AUDIT_DEADLINE`."""
        values: dict[str, float | int | None] = {}
        for name, variable, kind in (
            ("max_cost", "AUDIT_MAX_COST", float),
            ("max_requests", "AUDIT_MAX_REQUESTS", int),
            ("deadline_seconds", "AUDIT_DEADLINE", float),
        ):
            value = overrides.get(name)
            raw = os.environ.get(variable, "").strip()
            if value is None and raw:
                try:
                    value = kind(raw)
                except ValueError:
                    raise AuditError(f"{variable}={raw!r}: expected a number") from None
            values[name] = value
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class UsageMeter:
    """Counts tokens and requests per model; prices them from `prices` (model -> Pricing)."""

    prices: Mapping[str, Pricing] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)
    _totals: dict[str, _ModelTotals] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _started: float = field(default_factory=time.monotonic, init=False, repr=False)

    def check(self, model: str) -> None:
        """Raise `BudgetExceeded` when one more request to `model` would break the budget."""
        budget = self.budget
        if budget.deadline_seconds is not None:
            elapsed = time.monotonic() - self._started
            if elapsed >= budget.deadline_seconds:
                raise BudgetExceeded(
                    f"the run's {budget.deadline_seconds:g}s deadline (--deadline) has passed"
                )
        if budget.max_requests is not None and self.requests >= budget.max_requests:
            raise BudgetExceeded(
                f"the {budget.max_requests}-request limit (--max-requests) is reached"
            )
        if budget.max_cost is not None:
            if self.price_for(model) is None:
                raise BudgetExceeded(
                    f"--max-cost needs a price for {model!r} (--prices MODEL=PROMPT/COMPLETION)"
                )
            spent = self.cost()
            if spent is not None and spent >= budget.max_cost:
                raise BudgetExceeded(
                    f"${spent:.4f} spent, the ${budget.max_cost:g} limit (--max-cost) is reached"
                )

    def price_for(self, model: str) -> Pricing | None:
        """The price of `model`: its own entry, else the longest entry it starts with, else `*`.

        Prefixes let one entry price a family (`ft:gpt-4.1-nano` covers every fine-tune of it).
        """
        if model in self.prices:
            return self.prices[model]
        prefixes = [key for key in self.prices if key != "*" and model.startswith(key)]
        if prefixes:
            return self.prices[max(prefixes, key=len)]
        return self.prices.get("*")

    def record(self, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        """Count one request to `model` that used this many tokens."""
        with self._lock:
            totals = self._totals.setdefault(model, _ModelTotals())
            totals.prompt_tokens += int(prompt_tokens)
            totals.completion_tokens += int(completion_tokens)
            totals.requests += 1

    @property
    def prompt_tokens(self) -> int:
        with self._lock:
            return sum(t.prompt_tokens for t in self._totals.values())

    @property
    def completion_tokens(self) -> int:
        with self._lock:
            return sum(t.completion_tokens for t in self._totals.values())

    @property
    def requests(self) -> int:
        with self._lock:
            return sum(t.requests for t in self._totals.values())

    def cost(self) -> float | None:
        """Total dollars, or None when some model used has no price (cost unknown, not zero)."""
        return self.summary()["cost_usd"]

    def summary(self) -> dict:
        """Totals and a per-model breakdown, JSON-ready; `cost_usd` is None when any is unpriced."""
        with self._lock:
            snapshot = {name: _ModelTotals(**vars(t)) for name, t in self._totals.items()}
        per_model: dict[str, dict] = {}
        total_cost: float | None = 0.0
        for name, totals in sorted(snapshot.items()):
            pricing = self.price_for(name)
            cost = pricing.cost(totals.prompt_tokens, totals.completion_tokens) if pricing else None
            if cost is None:
                total_cost = None
            elif total_cost is not None:
                total_cost += cost
            per_model[name] = {**vars(totals), "cost_usd": cost}
        return {
            "requests": sum(t.requests for t in snapshot.values()),
            "prompt_tokens": sum(t.prompt_tokens for t in snapshot.values()),
            "completion_tokens": sum(t.completion_tokens for t in snapshot.values()),
            "cost_usd": total_cost,
            "models": per_model,
        }

    def merge(self, other: UsageMeter) -> None:
        """Add another meter's counts to this one (e.g. a worker's meter into the run's)."""
        for name, totals in other.summary()["models"].items():
            with self._lock:
                mine = self._totals.setdefault(name, _ModelTotals())
                mine.prompt_tokens += totals["prompt_tokens"]
                mine.completion_tokens += totals["completion_tokens"]
                mine.requests += totals["requests"]


def parse_prices(spec: str) -> dict[str, Pricing]:
    """Parse a price table `MODEL=PROMPT/COMPLETION[,MODEL=...]` (dollars per 1k tokens).

    Example: `gpt-4.1-nano=0.0001/0.0004`. Lets a price table come from a flag or env variable.
    """
    from auditor.errors import AuditError

    prices: dict[str, Pricing] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        model, _, rates = item.partition("=")
        prompt, _, completion = rates.partition("/")
        try:
            prices[model.strip()] = Pricing(float(prompt), float(completion))
        except ValueError:
            raise AuditError(
                f"bad price {item!r}: expected MODEL=PROMPT_PER_1K/COMPLETION_PER_1K"
            ) from None
        if not model.strip():
            raise AuditError(f"bad price {item!r}: model name is empty")
    return prices
