"""One small local Ray for the engine tests: 2 CPUs, a small object store, started once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


def _warm_up() -> int:
    import time

    import auditor.engine.ray_filtering  # noqa: F401
    import filters.llm_judge  # noqa: F401

    time.sleep(0.5)  # long enough that the two calls land on two workers
    return os.getpid()


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
    )
    # Start both workers now, with the project imported, so a test's first blocks do not wait
    # for a process to start (workers inherit PYTHONPATH and OMP_NUM_THREADS from here).
    warm = ray.remote(_warm_up)
    assert len(set(ray.get([warm.remote() for _ in range(2)]))) == 2
    yield ray
    ray.shutdown()
