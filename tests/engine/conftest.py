"""One small local Ray for the engine tests: 2 CPUs, a small object store, started once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="the ray extra is part of the dev setup")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(
        num_cpus=2,
        object_store_memory=400 * 2**20,
        include_dashboard=False,
        log_to_driver=False,
        # Workers import the code under test from this checkout, as the driver does.
        runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}},
    )
    yield ray
    ray.shutdown()
