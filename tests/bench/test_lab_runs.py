"""The benchmark's worker pool: cached results, and no orphans when the benchmark is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

START_POOL = """
import os, sys, time
from dataclasses import replace
from auditor.bench.lab_runs import LabRunner
from auditor.lab.transmission import TransmissionRecipe
from tests.lab.conftest import MICRO

recipe = replace(TransmissionRecipe(), base=MICRO, corpus_rows=50)
with LabRunner(recipe, cache=sys.argv[1], workers=2) as runner:
    runner._pool.submit(os.getpid).result()  # the first worker is up and initialised
    print(" ".join(str(p) for p in runner._pool._processes), flush=True)
    time.sleep(120)
"""


@pytest.mark.slow
def test_workers_exit_when_the_benchmark_is_killed(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", START_POOL, str(tmp_path)], stdout=subprocess.PIPE, text=True,
        env=env, cwd=REPO,
    )  # fmt: skip
    try:
        workers = [int(p) for p in process.stdout.readline().split()]  # type: ignore[union-attr]
        assert workers
        os.kill(process.pid, signal.SIGKILL)  # no chance to shut the pool down
        process.wait(timeout=10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.5)
        assert not any(_alive(p) for p in workers), "a worker outlived its benchmark"
    finally:
        process.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"
