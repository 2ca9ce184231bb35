"""Fixtures for server tests: a tiny transformers checkpoint and an in-process `audit serve`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from auditor.backends.hf_random import build_random_checkpoint
from auditor.backends.openai_api import OpenAIModel, OpenAIOptions, open_openai_model
from auditor.server import LabService, ServerConfig, make_server


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and on a shared 2-core box spinning OpenMP
    threads make them 20-100x slower; one thread keeps these tests fast and steady."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_checkpoint(tmp_path_factory.mktemp("tiny-hf") / "model")


class RunningServer:
    """A server on a free 127.0.0.1 port, serving in a thread."""

    def __init__(self, config: ServerConfig, models: dict | None = None) -> None:
        self.httpd, self.service = make_server(config, "127.0.0.1", 0, models=models)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def client(self, model: str, **options: object) -> OpenAIModel:
        settings = {"poll_seconds": 0.05, "backoff_seconds": 0.01, **options}
        return open_openai_model(model, OpenAIOptions(base_url=self.base_url, **settings))

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


__all__ = ["LabService", "RunningServer"]
