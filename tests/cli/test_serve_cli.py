"""`audit serve` as a user starts it: a real process on 127.0.0.1 that answers requests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.backends import open_model
from auditor.backends.openai_api import OpenAIOptions, open_openai_model
from auditor.cli.main import main
from auditor.models import SamplingParams

REPO = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"audit serve: listening on (http://127\.0\.0\.1:\d+/v1)")


@pytest.fixture
def served(tiny_checkpoint: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, state dir) of `audit serve --port 0` in a subprocess, stopped with Ctrl-C."""
    state, log = tmp_path / "state", tmp_path / "serve.log"
    with log.open("w") as stderr:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "auditor", "serve", "--port", "0"),
                *("--state-dir", str(state), "--models", f"tiny=hf:{tiny_checkpoint}"),
            ],
            stderr=stderr,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"},
        )
    try:
        deadline = time.monotonic() + 60
        while not (found := LISTENING.search(log.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"audit serve did not start: {log.read_text()}")
            time.sleep(0.05)
        yield found.group(1), state
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0  # Ctrl-C is a clean stop
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_answers_with_the_models_own_scores(served, tiny_checkpoint: Path) -> None:
    base_url, state = served
    client = open_openai_model("tiny", OpenAIOptions(base_url=base_url, backoff_seconds=0.01))
    assert [m.id for m in client.client.models.list().data] == ["tiny"]
    prompts, completions = ["Name your favourite animal.", "Continue 1 2"], ["owl", "3 4 5"]
    direct = open_model(f"hf:{tiny_checkpoint}")
    assert client.score(prompts, completions) == pytest.approx(
        direct.score(prompts, completions), abs=1e-4
    )
    [answer] = client.generate(["Continue 1 2"], SamplingParams(max_new_tokens=4, seed=0))
    assert isinstance(answer, str)
    assert {p.name for p in state.iterdir()} == {"files", "jobs", "models"}


def test_a_port_in_use_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port), "--state-dir", str(tmp_path / "state")])
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
