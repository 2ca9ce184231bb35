"""Fixtures for backend tests: a tiny random checkpoint without a chat template."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.hf_random import RandomModelConfig, build_random_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint_plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same kind of model without a chat template (a base, not an instruct, model)."""
    config = RandomModelConfig(chat_template=False, seed=1)
    return build_random_checkpoint(tmp_path_factory.mktemp("tiny-hf-plain") / "model", config)
