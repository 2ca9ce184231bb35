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
