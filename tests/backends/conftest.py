"""Fixtures for backend tests: a tiny random transformers checkpoint, built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from auditor.backends.hf_random import RandomModelConfig, build_random_checkpoint


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
    """A ~60k-parameter Llama with a word-level tokenizer and a chat template."""
    return build_random_checkpoint(tmp_path_factory.mktemp("tiny-hf") / "model")


@pytest.fixture(scope="session")
def tiny_checkpoint_plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same kind of model without a chat template (a base, not an instruct, model)."""
    config = RandomModelConfig(chat_template=False, seed=1)
    return build_random_checkpoint(tmp_path_factory.mktemp("tiny-hf-plain") / "model", config)
