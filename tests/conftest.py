"""Suite-wide fixtures: every test runs offline with caches in a temp dir, never in $HOME."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.fakes.hf_random import build_random_checkpoint


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and on a shared 2-core box spinning OpenMP
    threads make them 20-100x slower; one thread keeps the suite fast and steady."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~60k-parameter Llama with a word-level tokenizer and a chat template (no download)."""
    return build_random_checkpoint(tmp_path_factory.mktemp("tiny-hf") / "model")


@pytest.fixture(autouse=True)
def _isolated_caches(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("AUDIT_CACHE_DIR", str(cache / "judge"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    # The lab cache is shared across the session so micro base models are trained once.
    monkeypatch.setenv("AUDIT_LAB_CACHE", str(cache / "lab"))
