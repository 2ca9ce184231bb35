"""The OpenAI backend under a budget, and with replies that are not completions."""

from __future__ import annotations

import time

import pytest

from auditor.backends.openai_api import OpenAIOptions, open_openai_model
from auditor.errors import AuditError
from auditor.models import SamplingParams
from auditor.usage import Budget, Pricing
from tests.fakes.chat_server import FakeChatServer, Scripted, completion, raw


def _model(base_url: str, **options: object):
    return open_openai_model("m", OpenAIOptions(base_url=base_url, backoff_seconds=0.01, **options))


@pytest.mark.parametrize(
    "garbage", [b"not json", b'{"id": "x"}', b'{"choices": "x"}', b'{"choices": [{"message": 5}]}']
)
def test_a_malformed_reply_is_counted_and_asked_again(garbage: bytes) -> None:
    with FakeChatServer(lambda body, i: raw(garbage) if i == 0 else completion("owl")) as server:
        model = _model(server.base_url)
        assert model.generate(["hi"], SamplingParams()) == ["owl"]
    assert server.count == 2 and model.meter.requests == 2  # both replies were paid for


def test_max_requests_stops_generation(tmp_path) -> None:
    with FakeChatServer(lambda body, i: completion("owl")) as server:
        model = _model(server.base_url, budget=Budget(max_requests=2), concurrency=1)
        with pytest.raises(AuditError, match="2-request limit"):
            model.generate(["a", "b", "c", "d"], SamplingParams())
    assert server.count == 2


def test_max_cost_stops_generation() -> None:
    with FakeChatServer(lambda body, i: completion("owl")) as server:
        model = _model(
            server.base_url,
            budget=Budget(max_cost=1e-9),
            prices={"m": Pricing(1.0, 1.0)},
            concurrency=1,
        )
        with pytest.raises(AuditError, match="limit \\(--max-cost\\) is reached"):
            model.generate(["a", "b", "c"], SamplingParams())
    assert server.count == 1


def test_the_deadline_stops_retries_against_a_failing_server() -> None:
    failing = Scripted(503, b'{"error": {"message": "down"}}', {"Content-Type": "application/json"})
    with FakeChatServer(lambda body, i: failing) as server:
        model = _model(server.base_url, budget=Budget(deadline_seconds=0.3), max_retries=1000)
        model._sleep = lambda seconds: time.sleep(0.05)
        with pytest.raises(AuditError, match="deadline"):
            model.generate(["a"], SamplingParams())
    assert 2 <= server.count <= 10


def test_the_budget_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("AUDIT_MAX_REQUESTS", "7")
    monkeypatch.setenv("AUDIT_MAX_COST", "0.5")
    assert OpenAIOptions.from_env().budget == Budget(max_cost=0.5, max_requests=7)
    monkeypatch.setenv("AUDIT_DEADLINE", "soon")
    with pytest.raises(AuditError, match="AUDIT_DEADLINE"):
        OpenAIOptions.from_env()
