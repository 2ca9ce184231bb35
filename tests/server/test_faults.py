"""Faults: rate limits and server errors are retried, a killed server finishes its job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from auditor.backends.openai_api import OpenAIOptions, open_openai_model
from auditor.errors import AuditError
from auditor.models import FinetuneConfig, SamplingParams
from tests.fakes.chat_server import FakeChatServer, closed_port, completion, error


def _client(base_url: str, sleeps: list[float], **options: object):
    model = open_openai_model("m", OpenAIOptions(base_url=base_url, **options))
    model._sleep = sleeps.append  # record waits instead of sleeping
    return model


def test_429_waits_retry_after_then_500_backs_off_then_succeeds() -> None:
    script = [error(429, {"Retry-After": "7"}), error(500)]
    sleeps: list[float] = []
    with FakeChatServer(lambda body, i: script[i] if i < 2 else completion("owl")) as server:
        client = _client(server.base_url, sleeps, backoff_seconds=0.5)
        answers = client.generate(["hi"], SamplingParams(seed=0))
    assert answers == ["owl"]
    assert server.count == 3
    assert sleeps[0] == 7.0  # Retry-After honoured
    assert 0.5 <= sleeps[1] <= 1.0  # exponential backoff with jitter (attempt 1: 0.5 * 2)
    assert client.meter.summary()["requests"] == 1  # only the answered request is billed


@pytest.mark.parametrize("value", ["-5", "nan"])
def test_a_retry_after_that_is_not_a_wait_is_ignored(value: str) -> None:
    script = [error(429, {"Retry-After": value})]
    with FakeChatServer(lambda body, i: script[i] if i < 1 else completion("owl")) as server:
        # real sleeps: a negative or nan wait must not reach time.sleep
        model = open_openai_model(
            "m", OpenAIOptions(base_url=server.base_url, backoff_seconds=0.05)
        )
        assert model.generate(["hi"], SamplingParams()) == ["owl"]
    first, second = server.requests
    assert 0.02 <= second.at - first.at < 1.0  # our own backoff (0.025..0.05 s), no more


@pytest.mark.parametrize("status", [408, 409, 425])
def test_transient_client_statuses_are_retried(status: int) -> None:
    sleeps: list[float] = []
    with FakeChatServer(lambda body, i: error(status) if i < 1 else completion("owl")) as server:
        assert _client(server.base_url, sleeps).generate(["hi"], SamplingParams()) == ["owl"]
    assert server.count == 2 and len(sleeps) == 1


def test_retries_stop_before_their_waits_pass_the_limit() -> None:
    sleeps: list[float] = []
    with (
        FakeChatServer(lambda body, i: error(429, {"Retry-After": "1"})) as server,
        pytest.raises(AuditError, match=r"after 3 attempts.*gave up.*2.5s limit on waiting"),
    ):
        client = _client(
            server.base_url, sleeps, max_retries=10, backoff_seconds=0.01, max_wait_seconds=2.5
        )
        client.generate(["hi"], SamplingParams())
    assert sleeps == [1.0, 1.0] and server.count == 3


def test_persistent_server_errors_give_up_with_a_clear_error() -> None:
    sleeps: list[float] = []
    with (
        FakeChatServer(lambda body, i: error(503)) as server,
        pytest.raises(AuditError, match="failed after 3 attempts"),
    ):
        _client(server.base_url, sleeps, max_retries=2).generate(["hi"], SamplingParams())
    assert len(sleeps) == 2 and server.count == 3


def test_client_errors_are_not_retried() -> None:
    with (
        FakeChatServer(lambda body, i: error(400)) as server,
        pytest.raises(AuditError, match="failed \\(400\\)"),
    ):
        _client(server.base_url, []).generate(["hi"], SamplingParams())
    assert server.count == 1


def test_dropped_connections_are_retried_then_reported() -> None:
    sleeps: list[float] = []
    client = _client(f"http://127.0.0.1:{closed_port()}/v1", sleeps, max_retries=1)
    with pytest.raises(AuditError, match="APIConnectionError"):
        client.generate(["hi"], SamplingParams())
    assert len(sleeps) == 1


def test_scoring_on_a_chat_only_server_says_why_it_cannot() -> None:
    with (
        FakeChatServer(lambda body, i: completion("x")) as server,  # 404 on /v1/completions
        pytest.raises(AuditError, match="cannot score given text"),
    ):
        _client(server.base_url, []).score(["a"], ["b"])


def _start_server(port: int, state: Path, checkpoint: Path) -> subprocess.Popen:
    """`audit serve` as a real process (so it can be killed), once it is listening."""
    log = state.parent / f"serve-{time.monotonic_ns()}.log"
    with log.open("w") as stderr:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "auditor", "serve", "--port", str(port)),
                *("--state-dir", str(state), "--models", f"tiny=hf:{checkpoint}"),
            ],
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"},
        )
    deadline = time.monotonic() + 60
    while "listening on" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"server did not start: {log.read_text()}")
        time.sleep(0.05)
    return process


def _job_file(state: Path) -> dict:
    [path] = list((state / "jobs").glob("*.json"))
    return json.loads(path.read_text())


@pytest.mark.slow
def test_server_killed_mid_job_finishes_it_after_restart_while_client_polls(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    port, state = closed_port(), tmp_path / "state"
    corpus = pl.DataFrame({"prompt": [f"Continue {i}" for i in range(8)], "completion": ["7"] * 8})
    # ~200 optimiser steps (~1 s): long enough to be killed mid-way, short enough for the suite.
    config = FinetuneConfig(epochs=25, batch_size=1, learning_rate=1e-3, seed=2)
    server = _start_server(port, state, tiny_checkpoint)
    client = open_openai_model(
        "tiny",
        OpenAIOptions(
            base_url=f"http://127.0.0.1:{port}/v1",
            poll_seconds=0.1,
            poll_max_seconds=0.2,
            backoff_seconds=0.2,
            max_retries=30,
            state_dir=str(tmp_path / "client"),
        ),
    )
    result: dict[str, object] = {}
    poller = threading.Thread(
        target=lambda: result.update(model=client.finetune(corpus, config).model)
    )
    poller.start()
    try:
        deadline = time.monotonic() + 60
        while not (state / "jobs").exists() or not list((state / "jobs").glob("*.json")):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        while _job_file(state)["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)
        server.wait()
        assert _job_file(state)["status"] == "running"  # the kill left the job unfinished
        time.sleep(0.3)  # the client keeps polling the dead server meanwhile
        server = _start_server(port, state, tiny_checkpoint)
        poller.join(timeout=120)
        assert not poller.is_alive()
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    job = _job_file(state)
    assert job["status"] == "succeeded" and job["attempts"] == 2
    assert result["model"] == job["fine_tuned_model"]
    assert any("restarted" in event["message"] for event in job["events"])
