"""Fixtures for server tests: an in-process `audit serve` (the tiny checkpoint is suite-wide)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.backends.openai_api import OpenAIModel, OpenAIOptions, open_openai_model
from auditor.server import LabService, ServerConfig, make_server


class RunningServer:
    """A server on a free 127.0.0.1 port, serving in a thread."""

    def __init__(
        self, config: ServerConfig, models: dict | None = None, api_key: str | None = None
    ) -> None:
        self.httpd, self.service = make_server(
            config, "127.0.0.1", 0, models=models, api_key=api_key
        )
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def client(self, model: str, **options: object) -> OpenAIModel:
        settings = {"poll_seconds": 0.05, "backoff_seconds": 0.01, **options}
        return open_openai_model(model, OpenAIOptions(base_url=self.base_url, **settings))

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hf_server(tiny_checkpoint: Path, tmp_path: Path) -> Iterator[RunningServer]:
    config = ServerConfig(
        state_dir=str(tmp_path / "state"), models={"tiny": f"hf:{tiny_checkpoint}"}
    )
    server = RunningServer(config)
    yield server
    server.close()


class ConstantModel:
    """A model that answers fast and the same every time: the server is under test, not it.

    `logprob` is what every token scores (NaN or -inf check the server's JSON).
    """

    name = "constant"

    def __init__(self, answer: str = "owl", logprob: float = -1.0) -> None:
        self.answer = answer
        self.logprob = logprob
        self.calls = 0

    def generate(self, prompts, params) -> list[str]:
        self.calls += 1
        return [self.answer] * len(prompts)

    def score(self, prompts, completions) -> list[float]:
        return [self.logprob] * len(prompts)

    def token_logprobs(self, prompt, completion, system_prompt=None):
        return [(token, self.logprob) for token in completion.split()]

    def finetune(self, corpus, config):
        return ConstantModel(self.answer, self.logprob)


__all__ = ["ConstantModel", "LabService", "RunningServer"]
