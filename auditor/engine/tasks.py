"""Independent jobs (probe students, lab corpora) fanned out as Ray tasks, results in order.

Each task asks for one CPU, and one GPU when the cluster has any, so a student trains on a
GPU wherever one is free. A worker process keeps what `init` set up (the lab's base models)
between the tasks it runs, as a process-pool worker does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from auditor.engine.cluster import ensure_ray


def _run_job(init: Callable[..., None], init_args: tuple[Any, ...], fn: Callable, job: Any) -> Any:
    init(*init_args)
    return fn(job)


def task_resources(ray: Any) -> dict[str, float]:
    """One CPU per task, plus one GPU when the cluster has GPUs."""
    gpus = ray.cluster_resources().get("GPU", 0)
    return {"num_cpus": 1, "num_gpus": 1 if gpus >= 1 else 0}


def fan_out(
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    init: Callable[..., None],
    init_args: tuple[Any, ...],
) -> Iterator[Any]:
    """`fn(job)` for every job as Ray tasks (after `init(*init_args)` on the worker), yielding
    the results in the jobs' order as each is ready."""
    ray = ensure_ray()
    remote = ray.remote(_run_job).options(**task_resources(ray))
    init_ref, args_ref, fn_ref = ray.put(init), ray.put(init_args), ray.put(fn)
    refs = [remote.remote(init_ref, args_ref, fn_ref, job) for job in jobs]
    try:
        for ref in refs:
            yield ray.get(ref)
    finally:
        for ref in refs:
            ray.cancel(ref)  # a caller that stops early (an error) leaves nothing running
