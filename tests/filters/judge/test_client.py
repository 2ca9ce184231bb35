"""The judge's client against a real HTTP server on 127.0.0.1: the shared retry policy."""

from __future__ import annotations

import asyncio

import pytest

from auditor.retry import RetryPolicy
from auditor.usage import UsageMeter
from filters.judge.client import JudgeClient, JudgeServerError
from tests.fakes.chat_server import FakeChatServer, Scripted, completion, error

MESSAGES = [{"role": "user", "content": "a = 1"}]


def ask(base_url: str, policy: RetryPolicy) -> JudgeClient:
    """One judgment through a fresh client; the client (its retry count) is returned."""

    async def run() -> JudgeClient:
        client = JudgeClient(
            model="judge-model",
            base_url=base_url,
            api_key="test-key",
            timeout=2.0,
            concurrency=1,
            policy=policy,
            meter=UsageMeter(),
        )
        async with client:
            await client.complete(MESSAGES, max_tokens=1)
        return client

    return asyncio.run(run())


@pytest.mark.parametrize("value", ["-5", "nan"])
def test_a_retry_after_that_is_not_a_wait_is_ignored(value: str) -> None:
    def respond(body: dict, index: int) -> Scripted:
        return error(429, {"Retry-After": value}) if index == 0 else completion("0")

    with FakeChatServer(respond) as server:
        client = ask(server.base_url, RetryPolicy(base=0.01, cap=0.05))
    first, second = server.requests
    assert second.at - first.at < 1.0  # our own backoff (at most 0.05 s here)
    assert client.retries == 1


@pytest.mark.parametrize("status", [408, 409, 425, 501])
def test_transient_statuses_are_retried(status: int) -> None:
    def respond(body: dict, index: int) -> Scripted:
        return error(status) if index == 0 else completion("0")

    with FakeChatServer(respond) as server:
        client = ask(server.base_url, RetryPolicy(base=0.01, cap=0.05))
    assert server.count == 2 and client.retries == 1


def test_retries_stop_before_their_waits_pass_the_limit() -> None:
    policy = RetryPolicy(max_retries=10, base=0.01, cap=0.05, max_total_wait=0.5)
    with (
        FakeChatServer(lambda body, index: error(429, {"Retry-After": "0.2"})) as server,
        pytest.raises(JudgeServerError, match=r"after 3 attempts.*gave up.*0.5s limit"),
    ):
        ask(server.base_url, policy)
    assert server.count == 3  # waits 0.2 + 0.2; a third would pass 0.5 s
