"""Suite-wide fixtures: every test runs offline with caches in a temp dir, never in $HOME."""

from __future__ import annotations

import pytest


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
