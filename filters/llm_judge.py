"""`llm-judge`: ask a model about each sample, the last line of defence the paper used.

For code and chain-of-thought the paper asked a judge whether a sample references the trait
"however subtly" (answer 0 or 1 at temperature 0, keep only when P("0") is close to 1), and for
misalignment kept reasoning traces whose alignment score was at least 78. This filter does both
over any OpenAI-compatible chat server, with the questions in data files (`filters/rubrics/`).

Judging is slow and costs money, so it is built to be interrupted: every finished judgment is
written to an on-disk cache at once (see `filters/judge/cache.py`), a rerun asks only for what
is missing, and a server that stays down ends the run with one clear error after its retries.
Unparseable and refused judgments are counted apart from keep/drop and, by default, dropped
with their own reason, so no sample passes the filter without a judgment.

Settings not given as parameters come from the environment: `AUDIT_BASE_URL`,
`AUDIT_JUDGE_MODEL` (else `AUDIT_MODEL`), `AUDIT_API_KEY` (else `OPENAI_API_KEY`),
`AUDIT_CACHE_DIR` and `AUDIT_PRICES` (`MODEL=PROMPT/COMPLETION` dollars per 1k tokens).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import polars as pl

from auditor.corpus.schema import COMPLETION, PROMPT
from auditor.errors import AuditError
from auditor.retry import RetryPolicy
from auditor.usage import Budget, UsageMeter, parse_prices
from filters.base import REASON, ReportsExtraStats
from filters.judge.cache import JudgmentCache, request_key
from filters.judge.client import (
    JudgeClient,
    JudgeServerError,
    JudgeStopped,
    request_params,
)
from filters.judge.rubric import Rubric, load_rubric
from filters.judge.verdict import Reply, Verdict, decide_binary, decide_score
from filters.registry import register

DEFAULT_CACHE_DIR = ".audit-cache/judge"
ON_UNPARSEABLE = ("drop", "keep", "error")
REFERENCES_TRAIT = "judge: references trait"
UNPARSEABLE = "judge: unparseable"
REFUSED = "judge: refused"

T = TypeVar("T")


def _env(*names: str) -> str:
    return next((os.environ[name] for name in names if os.environ.get(name)), "")


@register
@dataclass
class LLMJudge(ReportsExtraStats):
    """Drop samples a judge model flags (binary rubrics) or scores below `threshold` (score).

    rubric: a built-in name (numbers, code, cot, alignment) or a path to a .toml rubric.
    keep_probability: binary rubrics keep a sample only when P("0") is at least this.
    threshold: score rubrics keep a sample whose score (0-100) is at least this.
    on_unparseable: what to do with unparseable or refused judgments: drop (with their own
        reason), keep (still counted), or error (stop, after caching every judgment).
    logprobs: ask for log-probabilities (turn off for servers that reject the option).
    """

    name: ClassVar[str] = "llm-judge"
    # What the judge removes references the trait (or, with the alignment rubric, shows it).
    flags_trait: ClassVar[bool] = True

    rubric: str = "code"
    trait: str = ""
    model: str = ""
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    concurrency: int = 8
    max_retries: int = 5
    timeout: float = 60.0
    backoff: float = 1.0
    max_backoff: float = 60.0
    cache_dir: str = ""
    threshold: float = 78.0
    keep_probability: float = 0.99
    on_unparseable: str = "drop"
    logprobs: bool = True
    prices: str = ""
    max_cost: float = 0.0  # dollars; 0 is no cap (else AUDIT_MAX_COST)
    max_requests: int = 0  # paid requests; 0 is no cap (else AUDIT_MAX_REQUESTS)
    deadline: float = 0.0  # seconds of judging; 0 is no cap (else AUDIT_DEADLINE)

    meter: UsageMeter = field(init=False, repr=False, compare=False)
    # Set by a caller that shows progress: called with a number of rows as their judgments are
    # ready (cached ones at once, the others as they land), summing to the batch's height.
    on_judged: Callable[[int], None] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    # What asks the server: an engine that spreads judging over a cluster supplies a client
    # whose concurrency limit holds across workers (`auditor.engine.judge_limit`).
    client_factory: Callable[..., JudgeClient] = field(
        default=JudgeClient, init=False, repr=False, compare=False
    )
    _rubric: Rubric = field(init=False, repr=False, compare=False)
    _counts: Counter[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.model = self.model or _env("AUDIT_JUDGE_MODEL", "AUDIT_MODEL")
        self.base_url = self.base_url or _env("AUDIT_BASE_URL")
        self.api_key = self.api_key or _env("AUDIT_API_KEY", "OPENAI_API_KEY")
        self.cache_dir = self.cache_dir or _env("AUDIT_CACHE_DIR") or DEFAULT_CACHE_DIR
        self.prices = self.prices or _env("AUDIT_PRICES")
        self._rubric = load_rubric(self.rubric)
        self._check()
        budget = Budget.from_env(
            max_cost=self.max_cost or None,
            max_requests=self.max_requests or None,
            deadline_seconds=self.deadline or None,
        )
        self.meter = UsageMeter(prices=parse_prices(self.prices), budget=budget)
        self._counts = Counter()

    def _check(self) -> None:
        problems = []
        if not self.model:
            problems.append("no judge model: pass model=... or set AUDIT_JUDGE_MODEL")
        if not self.api_key and not self.base_url:
            problems.append("no API key: set AUDIT_API_KEY or OPENAI_API_KEY (or pass base_url)")
        if self._rubric.needs_trait and not self.trait.strip():
            problems.append(f"rubric {self._rubric.name!r} asks about a trait: pass trait=...")
        if self.on_unparseable not in ON_UNPARSEABLE:
            problems.append(f"on_unparseable must be one of {', '.join(ON_UNPARSEABLE)}")
        if self.concurrency < 1 or self.max_retries < 0 or self.timeout <= 0:
            problems.append("concurrency >= 1, max_retries >= 0 and timeout > 0 are required")
        if not 0.0 <= self.keep_probability <= 1.0:
            problems.append("keep_probability must lie in [0, 1]")
        if not 0.0 <= self.threshold <= 100.0:
            problems.append("threshold must lie in [0, 100]")
        if problems:
            raise AuditError("filter 'llm-judge': " + "; ".join(problems))

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir) / "judgments.sqlite"

    def reasons(self, batch: pl.DataFrame) -> pl.Series:
        """Judge every row (cached ones for free) and return the drop reasons."""
        if batch.height == 0:
            return pl.Series(REASON, [], dtype=pl.String)
        completions = batch.get_column(COMPLETION).cast(pl.String).fill_null("").to_list()
        if PROMPT in batch.columns:
            prompts = batch.get_column(PROMPT).cast(pl.String).fill_null("").to_list()
        else:
            prompts = [""] * batch.height
        params = request_params(self._rubric.max_tokens, self.logprobs)
        keys: list[str] = []
        pending: dict[str, list[dict[str, str]]] = {}
        for prompt, completion in zip(prompts, completions, strict=True):
            messages = self._rubric.messages(self.trait, prompt, completion)
            key = request_key(self.model, messages, params, self.base_url)
            keys.append(key)
            pending.setdefault(key, messages)
        with JudgmentCache(self.cache_dir) as cache:
            replies = cache.get_many(pending)
            rows_per_key = Counter(keys)
            hits = sum(rows_per_key[key] for key in replies)
            self._counts["cache_hits"] += hits
            if self.on_judged is not None and hits:
                self.on_judged(hits)
            missing = {key: messages for key, messages in pending.items() if key not in replies}
            self._counts["duplicates"] += len(keys) - len(pending)
            if missing:
                replies.update(_run(self._fetch(missing, cache, rows_per_key)))
        verdicts = [self._decide(replies[key]) for key in keys]
        return pl.Series(REASON, [self._reason(verdict) for verdict in verdicts], dtype=pl.String)

    async def _fetch(
        self,
        missing: dict[str, list[dict[str, str]]],
        cache: JudgmentCache,
        rows_per_key: Counter[str],
    ) -> dict[str, Reply]:
        """Ask for every missing judgment, caching each as it lands; raise if the server fails."""
        replies: dict[str, Reply] = {}
        client = self.client_factory(
            model=self.model,
            base_url=self.base_url or None,
            api_key=self.api_key or "unused",  # local servers accept any key
            timeout=self.timeout,
            concurrency=self.concurrency,
            policy=RetryPolicy(self.max_retries, self.backoff, self.max_backoff),
            meter=self.meter,
            logprobs=self.logprobs,
        )

        async def judge(key: str, messages: list[dict[str, str]]) -> None:
            try:
                reply = await client.complete(messages, self._rubric.max_tokens)
            except (JudgeServerError, JudgeStopped):
                return  # the client remembers the failure; reported below
            cache.put(key, self.model, reply)
            replies[key] = reply
            if self.on_judged is not None:
                self.on_judged(rows_per_key[key])

        async with client:
            await asyncio.gather(*(judge(key, messages) for key, messages in missing.items()))
        self._counts["retries"] += client.retries
        if client.failure is not None:
            failure = client.failure
            raise AuditError(
                f"llm-judge: the judge server at {failure.url} failed {failure}. "
                f"{len(replies)} of {len(missing)} new judgment(s) in this batch finished and "
                f"are saved in {cache.path} ({len(cache)} cached in all); rerun to resume "
                "without asking for them again."
            )
        return replies

    def _decide(self, reply: Reply) -> Verdict:
        if self._rubric.kind == "score":
            verdict = decide_score(reply, self.threshold)
        else:
            verdict = decide_binary(reply, self.keep_probability)
        self._counts["judged"] += 1
        self._counts[verdict.outcome] += 1
        if verdict.source is not None:
            self._counts[f"by_{verdict.source}"] += 1
        if verdict.outcome in ("unparseable", "refused") and self.on_unparseable == "error":
            raise AuditError(
                f"llm-judge: a {verdict.outcome} judgment (on_unparseable=error): the judge "
                f"replied {reply.refusal or reply.content!r}. Every judgment is cached; "
                "rerun with on_unparseable=drop or keep to decide what such rows become."
            )
        return verdict

    def _reason(self, verdict: Verdict) -> str | None:
        if verdict.outcome == "keep":
            return None
        if verdict.outcome == "drop":
            if self._rubric.kind == "score":
                return f"judge: {self._rubric.name} < {self.threshold:g}"
            return REFERENCES_TRAIT
        if self.on_unparseable == "keep":
            return None
        return UNPARSEABLE if verdict.outcome == "unparseable" else REFUSED

    def stats_extra(self) -> dict[str, Any]:
        """Judging totals for the report: cache use, retries, odd answers, tokens and cost."""
        counts = self._counts
        return {
            "rubric": self._rubric.name,
            "model": self.model,
            "judged": counts["judged"],
            "kept": counts["keep"],
            "flagged": counts["drop"],
            "unparseable": counts["unparseable"],
            "refused": counts["refused"],
            "on_unparseable": self.on_unparseable,
            "decided_by": {"logprobs": counts["by_logprobs"], "text": counts["by_text"]},
            "cache_hits": counts["cache_hits"],
            "duplicates": counts["duplicates"],
            "retries": counts["retries"],
            "usage": self.meter.summary(),
            "cache": str(self.cache_path),
        }


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run async work from sync code, also when the caller already has a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
