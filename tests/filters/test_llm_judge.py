"""The `llm-judge` filter against a real HTTP server on 127.0.0.1 with scripted answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditor.errors import AuditError
from filters.base import filter_params
from filters.judge.cache import JudgmentCache
from filters.llm_judge import REFERENCES_TRAIT, REFUSED, UNPARSEABLE, LLMJudge
from filters.pipeline import FilterPipeline
from filters.registry import create_filter
from tests.fakes.chat_server import (
    FakeChatServer,
    Scripted,
    closed_port,
    completion,
    error,
    raw,
    user_text,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CLEAN = completion("0", probs={"0": 0.998, "1": 0.002})
FLAGGED = completion("1", probs={"1": 0.97, "0": 0.03})


def rows(*completions: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"prompt": ["Write a function."] * len(completions), "completion": list(completions)}
    )


def make_judge(base_url: str, tmp_path: Any, **params: Any) -> LLMJudge:
    settings: dict[str, Any] = {
        "rubric": "code",
        "trait": "owl",
        "model": "judge-model",
        "base_url": base_url,
        "api_key": "test-key",
        "cache_dir": str(tmp_path / "judge-cache"),
        "backoff": 0.01,
        "max_backoff": 0.05,
        "max_retries": 3,
        "timeout": 2.0,
    }
    return LLMJudge(**{**settings, **params})


def by_keyword(body: dict[str, Any], index: int) -> Scripted:
    """Flag samples mentioning feathers; hesitate (P("0") = 0.9) on borderline ones."""
    text = user_text(body)
    if "feather" in text:
        return FLAGGED
    if "borderline" in text:
        return completion("0", probs={"0": 0.9, "1": 0.1})
    return CLEAN


def test_decides_from_logprobs_and_sends_a_deterministic_request(tmp_path: Any) -> None:
    with FakeChatServer(by_keyword) as server:
        judge = make_judge(server.base_url, tmp_path)
        reasons = judge.reasons(rows("def f(): return 1", "feather = 3", "x = 2  # borderline"))

    # The borderline row answered "0" but with P("0") = 0.9 < 0.99: dropped, as in the paper.
    assert reasons.to_list() == [None, REFERENCES_TRAIT, REFERENCES_TRAIT]
    # Requests run concurrently, so find the first row's request by its content.
    sent = next(r.body for r in server.requests if "def f(): return 1" in user_text(r.body))
    assert sent["model"] == "judge-model"
    assert sent["temperature"] == 0
    assert sent["logprobs"] is True and sent["top_logprobs"] == 5
    assert "owl" in user_text(sent)
    extra = judge.stats_extra()
    assert extra["decided_by"] == {"logprobs": 3, "text": 0}
    assert extra["usage"]["requests"] == 3
    assert extra["usage"]["prompt_tokens"] == 120
    assert extra["usage"]["cost_usd"] is None  # no price given: unknown, not zero


def test_parses_the_text_when_the_server_sends_no_logprobs(tmp_path: Any) -> None:
    answers = {"a = 1": "0", "b = 2": "1", "c = 3": " Answer: 0."}

    def respond(body: dict[str, Any], index: int) -> Scripted:
        return completion(next(a for c, a in answers.items() if c in user_text(body)))

    with FakeChatServer(respond) as server:
        judge = make_judge(server.base_url, tmp_path, logprobs=False)
        reasons = judge.reasons(rows(*answers))
    assert "logprobs" not in server.requests[0].body
    assert reasons.to_list() == [None, REFERENCES_TRAIT, None]
    assert judge.stats_extra()["decided_by"] == {"logprobs": 0, "text": 3}


def odd_answers(body: dict[str, Any], index: int) -> Scripted:
    text = user_text(body)
    if "row-1" in text:
        return completion("maybe")
    if "row-2" in text:
        return completion("I can't help with that.", probs={"I": 0.9, "0": 0.05})
    if "row-3" in text:
        return completion("", refusal="This request violates the policy.")
    return CLEAN


def test_unparseable_and_refused_judgments_are_counted_apart_and_dropped(tmp_path: Any) -> None:
    with FakeChatServer(odd_answers) as server:
        judge = make_judge(server.base_url, tmp_path)
        pipeline = FilterPipeline([judge])
        result = pipeline.apply(rows("row-1", "row-2", "row-3", "row-4"))

    assert result.kept.get_column("completion").to_list() == ["row-4"]
    stats = pipeline.stats[0]
    assert dict(stats.reasons) == {UNPARSEABLE: 1, REFUSED: 2}
    assert stats.extra["unparseable"] == 1
    assert stats.extra["refused"] == 2
    assert stats.extra["kept"] == 1


def test_unparseable_policy_is_applied_to_cached_replies(tmp_path: Any) -> None:
    batch = rows("row-1", "row-2", "row-4")
    with FakeChatServer(odd_answers) as server:
        make_judge(server.base_url, tmp_path).reasons(batch)
        keeping = make_judge(server.base_url, tmp_path, on_unparseable="keep")
        kept = keeping.reasons(batch)
        strict = make_judge(server.base_url, tmp_path, on_unparseable="error")
        with pytest.raises(AuditError, match=r"unparseable judgment.*'maybe'"):
            strict.reasons(batch)
        assert server.count == 3  # the other policies re-decided from the cache

    assert kept.to_list() == [None, None, None]
    assert keeping.stats_extra()["unparseable"] == 1
    assert keeping.stats_extra()["refused"] == 1


def test_retry_after_is_honoured(tmp_path: Any) -> None:
    def respond(body: dict[str, Any], index: int) -> Scripted:
        return error(429, {"Retry-After": "0.3"}) if index == 0 else CLEAN

    with FakeChatServer(respond) as server:
        judge = make_judge(server.base_url, tmp_path)
        assert judge.reasons(rows("a = 1")).to_list() == [None]

    first, second = server.requests
    # Our own backoff is at most 0.05 s here; only the header explains the wait.
    assert second.at - first.at >= 0.3
    assert judge.stats_extra()["retries"] == 1


@pytest.mark.parametrize(
    "failures",
    [
        pytest.param([error(500), error(502), error(503)], id="server-errors"),
        pytest.param([raw(b"<html>bad gateway</html>", "text/html")], id="non-json"),
        pytest.param([raw(b'{"id": "x", "object": "chat.completion"}')], id="no-choices"),
        pytest.param([completion("0", delay=1.5)], id="timeout"),
    ],
)
def test_transient_failures_are_retried(tmp_path: Any, failures: list[Scripted]) -> None:
    def respond(body: dict[str, Any], index: int) -> Scripted:
        return failures[index] if index < len(failures) else CLEAN

    with FakeChatServer(respond) as server:
        judge = make_judge(server.base_url, tmp_path, timeout=0.3)
        assert judge.reasons(rows("a = 1")).to_list() == [None]
        assert server.count == len(failures) + 1
    assert judge.stats_extra()["retries"] == len(failures)
    # A malformed 200 reply was answered and billed: it counts (a 5xx or a timeout does not).
    malformed = sum(1 for failure in failures if failure.status == 200 and not failure.delay)
    assert judge.stats_extra()["usage"]["requests"] == 1 + malformed


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        pytest.param(error(500), "HTTP 500", id="http-500"),
        pytest.param(raw(b"not json at all"), "invalid chat-completion response", id="garbage"),
    ],
)
def test_a_failing_server_ends_with_a_clear_error_after_its_retries(
    tmp_path: Any, reply: Scripted, message: str
) -> None:
    with FakeChatServer(lambda body, index: reply) as server:
        judge = make_judge(server.base_url, tmp_path, max_retries=2)
        with pytest.raises(AuditError) as caught:
            judge.reasons(rows("a = 1"))
        assert server.count == 3
    text = str(caught.value)
    assert server.base_url in text and message in text and "after 3 attempts" in text


def test_a_permanent_client_error_fails_without_retrying(tmp_path: Any) -> None:
    with FakeChatServer(lambda body, index: error(401)) as server:
        judge = make_judge(server.base_url, tmp_path)
        with pytest.raises(AuditError, match=r"HTTP 401.*API key"):
            judge.reasons(rows("a = 1"))
        assert server.count == 1


def test_an_unreachable_server_ends_with_a_clear_error(tmp_path: Any) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    judge = make_judge(url, tmp_path, max_retries=2)
    with pytest.raises(AuditError) as caught:
        judge.reasons(rows("a = 1"))
    text = str(caught.value)
    assert url in text and "cannot connect" in text and "after 3 attempts" in text


def test_a_killed_run_resumes_without_repeating_requests(tmp_path: Any) -> None:
    total, healthy_for = 20, 7
    batch = rows(*(f"value_{i} = {i}" for i in range(total)))

    def dies(body: dict[str, Any], index: int) -> Scripted:
        return CLEAN if index < healthy_for else error(500)

    with FakeChatServer(dies) as failing:
        judge = make_judge(failing.base_url, tmp_path, concurrency=4, max_retries=1)
        with pytest.raises(AuditError, match=f"{healthy_for} of {total} new judgment"):
            judge.reasons(batch)
    with JudgmentCache(tmp_path / "judge-cache") as cache:
        assert len(cache) == healthy_for
    answered = {user_text(r.body) for r in failing.requests[:healthy_for]}

    # The same server back up (its URL is part of the cache key).
    with FakeChatServer(by_keyword, port=_port(failing.base_url)) as healthy:
        resumed = make_judge(healthy.base_url, tmp_path, concurrency=4)
        assert resumed.reasons(batch).to_list() == [None] * total
        assert healthy.count == total - healthy_for
        assert answered.isdisjoint(user_text(r.body) for r in healthy.requests)
        assert resumed.stats_extra()["cache_hits"] == healthy_for

        again = make_judge(healthy.base_url, tmp_path)
        again.reasons(batch)
        assert healthy.count == total - healthy_for  # a third run asks nothing


def _port(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1].split("/")[0])


KILLABLE_RUN = """
import sys
import polars as pl
from filters.llm_judge import LLMJudge

base_url, cache_dir, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
judge = LLMJudge(rubric="code", trait="owl", model="judge-model", base_url=base_url,
                 api_key="k", cache_dir=cache_dir, concurrency=1, timeout=60)
judge.reasons(pl.DataFrame({"completion": [f"value_{i} = {i}" for i in range(total)]}))
"""


def test_a_process_killed_mid_run_resumes_without_repeating_requests(tmp_path: Any) -> None:
    total, answered = 12, 5
    batch = pl.DataFrame({"completion": [f"value_{i} = {i}" for i in range(total)]})

    def stalls(body: dict[str, Any], index: int) -> Scripted:
        return CLEAN if index < answered else completion("0", delay=60)

    cache_dir = str(tmp_path / "judge-cache")
    with FakeChatServer(stalls) as stalling:
        run = [sys.executable, "-c", KILLABLE_RUN, stalling.base_url, cache_dir, str(total)]
        process = subprocess.Popen(run, cwd=REPO_ROOT)
        deadline = time.monotonic() + 30
        while stalling.count <= answered and process.poll() is None:
            assert time.monotonic() < deadline, "the judge never reached the stalled request"
            time.sleep(0.02)
        assert process.poll() is None, "the judge process ended before it could be killed"
        process.kill()  # SIGKILL: no cleanup, no chance to flush anything
        process.wait()

    with FakeChatServer(by_keyword, port=_port(stalling.base_url)) as healthy:
        resumed = make_judge(healthy.base_url, tmp_path)
        assert resumed.reasons(batch).to_list() == [None] * total
        assert healthy.count == total - answered


def test_the_cache_key_covers_model_and_prompt_but_not_thresholds(tmp_path: Any) -> None:
    batch = rows("x = 2  # borderline", "y = 3")
    with FakeChatServer(by_keyword) as server:
        make_judge(server.base_url, tmp_path).reasons(batch)
        lenient = make_judge(server.base_url, tmp_path, keep_probability=0.8)
        assert lenient.reasons(batch).to_list() == [None, None]
        assert server.count == 2
        make_judge(server.base_url, tmp_path, model="other-model").reasons(batch)
        assert server.count == 4
        make_judge(server.base_url, tmp_path, trait="cat").reasons(batch)
        assert server.count == 6


def test_duplicate_rows_are_judged_once_and_progress_counts_rows(tmp_path: Any) -> None:
    progress: list[int] = []
    with FakeChatServer(by_keyword) as server:
        judge = make_judge(server.base_url, tmp_path)
        judge.on_judged = progress.append
        assert judge.reasons(rows("a = 1", "a = 1", "a = 1")).to_list() == [None] * 3
        assert server.count == 1
        judge.reasons(rows("a = 1", "b = 2"))
    assert judge.stats_extra()["duplicates"] == 2
    assert progress == [3, 1, 1]  # new judgments as they land, cached ones at once


def test_alignment_scores_keep_rows_at_or_above_the_threshold(tmp_path: Any) -> None:
    answers = {
        "case-high": completion("85"),
        "case-low": completion("40"),
        "case-mixed": completion("80", probs={"80": 0.5, "70": 0.5}),  # expected score 75
        "case-digits": completion("85", probs={"8": 0.6, "9": 0.4}),  # digit tokens: use the text
        "case-edge": completion("78"),
    }

    def respond(body: dict[str, Any], index: int) -> Scripted:
        return next(reply for key, reply in answers.items() if key in user_text(body))

    with FakeChatServer(respond) as server:
        judge = make_judge(server.base_url, tmp_path, rubric="alignment", trait="")
        reasons = judge.reasons(rows(*answers))
    low = "judge: alignment < 78"
    assert reasons.to_list() == [None, low, low, None, None]
    assert judge.stats_extra()["decided_by"] == {"logprobs": 1, "text": 4}


def test_runs_from_code_that_already_has_an_event_loop(tmp_path: Any) -> None:
    with FakeChatServer(by_keyword) as server:
        judge = make_judge(server.base_url, tmp_path)

        async def inside_a_loop() -> list[str | None]:
            return judge.reasons(rows("feather")).to_list()

        assert asyncio.run(inside_a_loop()) == [REFERENCES_TRAIT]


def test_settings_come_from_the_environment_and_the_key_is_never_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUDIT_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("AUDIT_JUDGE_MODEL", "env-judge")
    monkeypatch.setenv("AUDIT_API_KEY", "sk-secret")
    judge = create_filter("llm-judge:rubric=numbers,concurrency=2", trait="owl")
    params = filter_params(judge)
    assert params["model"] == "env-judge" and params["base_url"] == "http://127.0.0.1:1/v1"
    assert params["concurrency"] == 2 and params["trait"] == "owl"
    assert "sk-secret" not in repr(params) and "sk-secret" not in repr(judge)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("llm-judge:rubric=poetry,trait=owl", "unknown rubric 'poetry'.*alignment, code, cot"),
        ("llm-judge:rubric=code", "asks about a trait"),
        ("llm-judge:trait=owl,on_unparseable=ignore", "on_unparseable must be one of"),
        ("llm-judge:trait=owl,keep_probability=2", r"keep_probability must lie in \[0, 1\]"),
    ],
)
def test_bad_settings_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, spec: str, message: str
) -> None:
    monkeypatch.setenv("AUDIT_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("AUDIT_JUDGE_MODEL", "env-judge")
    with pytest.raises(AuditError, match=message):
        create_filter(spec)


def test_a_missing_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUDIT_JUDGE_MODEL", "AUDIT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUDIT_BASE_URL", "http://127.0.0.1:1/v1")
    with pytest.raises(AuditError, match=r"no judge model.*AUDIT_JUDGE_MODEL"):
        create_filter("llm-judge:trait=owl")
