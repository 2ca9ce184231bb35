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


def _no_setup() -> None:
    pass


def _one_seed(job: tuple[Any, tuple[str, ...], int, Any, int]) -> dict[str, Any]:
    import torch

    from auditor.lab.transmission import run_transmission

    recipe, targets, seed, cache, threads = job
    torch.set_num_threads(threads)  # as in the caller's process: the same arithmetic
    return run_transmission(recipe, targets, [seed], cache=cache)


def run_transmission_on_ray(
    recipe: Any,
    targets: Sequence[str],
    seeds: Sequence[int],
    *,
    cache: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`auditor.lab.transmission.run_transmission` with its seeds as Ray tasks: the same
    records (each seed is seeded on its own), summarised over all of them.

    The base models are trained (or loaded) here first, so the tasks read them from the lab
    cache instead of racing to train the same one; on a cluster of several machines the lab
    cache (`AUDIT_LAB_CACHE`) must be a directory every node sees.
    """
    import torch

    from auditor.lab.base import base_model
    from auditor.lab.transmission import summarise

    say = progress or (lambda _: None)
    cached: dict[str, bool] = {}
    for seed in seeds:
        for init in recipe.base_inits(seed):
            if f"base_init{init}" not in cached:
                say(f"base model (init {init})")
                _, cached[f"base_init{init}"] = base_model(recipe.base, init, cache=cache)
    jobs = [(recipe, tuple(targets), seed, cache, torch.get_num_threads()) for seed in seeds]
    parts = []
    for seed, part in zip(seeds, fan_out(_one_seed, jobs, _no_setup, ()), strict=True):
        say(f"seed {seed}: done on Ray")
        parts.append(part)
    records = [record for part in parts for record in part["records"]]
    return {
        "records": records,
        "summary": summarise(records),
        "timings": {key: value for part in parts for key, value in part["timings"].items()},
        "bases_cached": cached,
    }
