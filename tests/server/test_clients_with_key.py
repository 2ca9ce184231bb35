"""Clients from the package index against `audit serve` with a key: openai and langchain-openai."""

from __future__ import annotations

from pathlib import Path

import langchain_openai
import openai
import pytest

from auditor.server import ServerConfig
from tests.server.conftest import ConstantModel, RunningServer

KEY = "sk-serve-test"


@pytest.fixture
def server(tmp_path: Path):
    config = ServerConfig(state_dir=str(tmp_path / "state"))
    with RunningServer(config, {"teacher": ConstantModel("owl")}, api_key=KEY) as running:
        yield running


def test_the_openai_client_needs_the_key_and_then_works(server: RunningServer) -> None:
    refused = openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0, timeout=10)
    with pytest.raises(openai.AuthenticationError):
        refused.models.list()
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0, timeout=10)
    assert [m.id for m in client.models.list().data] == ["teacher"]
    reply = client.chat.completions.create(
        model="teacher",
        messages=[{"role": "user", "content": "Name your favourite animal."}],
        max_tokens=3,
        seed=1,
        logprobs=True,
    )
    assert reply.choices[0].message.content == "owl"
    assert reply.choices[0].logprobs.content[0].logprob == -1.0
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="hf:/etc", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.chat.completions.create(
            model="teacher", messages=[{"role": "user", "content": "x"}], max_tokens=10**6
        )


def test_langchain_openai_talks_to_the_server_with_the_key(server: RunningServer) -> None:
    chat = langchain_openai.ChatOpenAI(
        model="teacher",
        base_url=server.base_url,
        api_key=KEY,
        max_retries=0,
        timeout=10,
        max_tokens=3,
    )
    assert chat.invoke("Name your favourite animal.").content == "owl"
    wrong = langchain_openai.ChatOpenAI(
        model="teacher", base_url=server.base_url, api_key="wrong", max_retries=0, timeout=10
    )
    with pytest.raises(openai.AuthenticationError):
        wrong.invoke("hi")
