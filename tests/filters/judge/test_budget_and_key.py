"""The judge's run caps (cost, requests, time), its cache key per server, and hidden secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from auditor.errors import AuditError
from filters.base import filter_params
from filters.judge.cache import request_key
from tests.fakes.chat_server import FakeChatServer, Scripted, raw
from tests.filters.test_llm_judge import CLEAN, make_judge, rows

MESSAGES = [{"role": "user", "content": "a = 1"}]
PARAMS = {"temperature": 0, "max_tokens": 1}


def _priced(prompt_tokens: int) -> Scripted:
    body = json.loads(CLEAN.body)
    body["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": 0}
    return Scripted(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


def test_two_servers_with_one_model_name_do_not_share_verdicts() -> None:
    one = request_key("judge", MESSAGES, PARAMS, "http://127.0.0.1:8001/v1")
    other = request_key("judge", MESSAGES, PARAMS, "http://127.0.0.1:8002/v1")
    assert one != other
    # The key names the server, not the credentials used to reach it.
    assert request_key("judge", MESSAGES, PARAMS, "http://u:pw@127.0.0.1:8001/v1/") == (
        request_key("judge", MESSAGES, PARAMS, "http://other:secret@127.0.0.1:8001/v1")
    )


def test_max_requests_stops_the_judge_and_counts_malformed_replies(tmp_path: Any) -> None:
    def respond(body: dict[str, Any], index: int) -> Scripted:
        return raw(b"{}") if index == 0 else CLEAN  # a paid reply that is not a judgment

    with FakeChatServer(respond) as server:
        judge = make_judge(server.base_url, tmp_path, max_requests=3, concurrency=1)
        with pytest.raises(AuditError, match="3-request limit"):
            judge.reasons(rows(*(f"v{i} = {i}" for i in range(5))))
    assert server.count == 3  # the malformed reply counted as one of the three
    assert judge.stats_extra()["usage"]["requests"] == 3


def test_max_cost_stops_before_the_next_request(tmp_path: Any) -> None:
    with FakeChatServer(lambda body, index: _priced(1000)) as server:
        judge = make_judge(
            server.base_url, tmp_path, max_cost=0.025, prices="judge-model=0.01/0.01", concurrency=1
        )
        with pytest.raises(AuditError, match=r"\$0.0300 spent, the \$0.025 limit"):
            judge.reasons(rows(*(f"v{i} = {i}" for i in range(10))))
    assert server.count == 3  # 1 cent each: the third passes the cap, no fourth is sent


def test_max_cost_without_a_price_is_refused(tmp_path: Any) -> None:
    with FakeChatServer(lambda body, index: CLEAN) as server:
        judge = make_judge(server.base_url, tmp_path, max_cost=1.0)
        with pytest.raises(AuditError, match="--max-cost needs a price"):
            judge.reasons(rows("a = 1"))
    assert server.count == 0


def test_the_deadline_stops_the_judge(tmp_path: Any) -> None:
    slow = Scripted(CLEAN.status, CLEAN.body, CLEAN.headers, delay=0.3)
    with FakeChatServer(lambda body, index: slow) as server:
        judge = make_judge(server.base_url, tmp_path, deadline=0.5, concurrency=1, timeout=5)
        with pytest.raises(AuditError, match=r"0\.5s deadline"):
            judge.reasons(rows(*(f"v{i} = {i}" for i in range(20))))
    assert 1 <= server.count <= 3


def test_credentials_in_the_base_url_are_never_written(tmp_path: Any) -> None:
    url = "http://alice:hunter2@127.0.0.1:9/v1?api_key=sk-secret&region=eu"
    judge = make_judge(url, tmp_path)
    params = json.dumps(filter_params(judge))
    assert "hunter2" not in params and "sk-secret" not in params and "alice" not in params
    assert "127.0.0.1:9/v1" in params and "region=eu" in params
    assert "hunter2" not in judge.stats_extra().get("cache", "")
