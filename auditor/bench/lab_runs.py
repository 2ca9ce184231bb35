"""The lab work the filter benchmark needs: corpora and probe students, cached and in parallel.

Everything here is a pure function of a `TransmissionRecipe` and a small job description, so
jobs can run in worker processes (one torch thread each: on a small machine two tiny models
side by side beat one model on two threads) and their results can be cached on disk:
- corpora (control, reference, teacher) by recipe, seed, role, target and sampling settings;
- student results (every animal's normalised score) by the corpus's content, the base's
  initialisation and the student's settings. Two filters that keep the same rows share one
  student, and a warm re-run trains nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import polars as pl

from auditor.atomic import write_atomic
from auditor.corpus import write_corpus
from auditor.engine import engine_name
from auditor.lab.cache import cache_dir, recipe_key
from auditor.lab.corpus import CORPUS_VERSION
from auditor.lab.language import animals
from auditor.lab.model import GPT
from auditor.lab.probe import StudentConfig, animal_distribution, read_trait, train_student
from auditor.lab.transmission import TransmissionRecipe

ROLES = ("control", "reference", "teacher")
# The reference corpus is written by the same base on other prompts: a defense that compares
# against it never sees the control corpus its students are measured against.
REFERENCE_PROMPT_OFFSET = 7_919


@dataclass(frozen=True)
class CorpusJob:
    """One lab corpus: the base's control or reference, or a teacher's, for one seed."""

    seed: int
    role: str
    target: str | None = None
    min_prob: float = 0.0


@dataclass(frozen=True)
class StudentJob:
    """One probe student: base `init` fine-tuned on `rows` for exactly `steps` steps."""

    init: int
    rows: tuple[tuple[str, str], ...]
    steps: int
    seed: int
    student: StudentConfig


def phase_steps(say: Callable[[str, int, int], None], phase: str, total: int) -> Callable[[], None]:
    """A callback that reports (phase, done, total) each time one of `total` jobs finishes."""
    done = [0]

    def step() -> None:
        done[0] += 1
        say(phase, done[0], total)

    return step


def content_hash(frame: pl.DataFrame) -> str:
    """A digest of a corpus's prompts and completions, in order."""
    digest = hashlib.sha256()
    for prompt, completion in frame.select("prompt", "completion").iter_rows():
        digest.update(prompt.encode())
        digest.update(b"\x1f")
        digest.update(completion.encode())
        digest.update(b"\x1e")
    return digest.hexdigest()[:24]


class LabRunner:
    """Runs corpus and student jobs for one recipe, through the disk cache and a pool."""

    def __init__(
        self,
        recipe: TransmissionRecipe,
        *,
        cache: str | Path | None = None,
        workers: int = 1,
        engine: str = "local",
    ) -> None:
        self.recipe = recipe
        self.cache = cache_dir(cache)
        self.workers = max(1, workers)
        # local: this process, or a process pool for workers > 1; ray: Ray tasks on a cluster
        # (`auditor.engine.tasks`), where `workers` does not apply.
        self.engine = engine_name(engine)
        identity: dict[str, Any] = {
            "base": recipe.base, "teacher": recipe.teacher, "rows": recipe.corpus_rows,
            "temperature": recipe.temperature, "corpus_version": CORPUS_VERSION,
        }  # fmt: skip
        if recipe.domain_name() != "numbers":
            # Code and CoT share one base: the domain tells their corpora apart (numbers
            # recipes keep the key they always had, so their cache stays valid).
            identity["domain"] = recipe.domain_name()
        self.recipe_id = recipe_key(identity)
        self.trained = 0  # students actually trained (not read from the cache) by this runner
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LabRunner:
        if self.workers > 1 and self.engine == "local":
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=get_context("spawn"),
                initializer=partial(_init_worker, parent=os.getpid()),
                initargs=(self.recipe, str(self.cache)),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    # -- corpora ---------------------------------------------------------------------------
    def _corpus_path(self, job: CorpusJob) -> Path:
        key = recipe_key({"recipe": self.recipe_id, **asdict(job)})
        return self.cache / "bench" / "corpora" / f"{key}.parquet"

    def corpora(
        self, jobs: Sequence[CorpusJob], on_done: Callable[[], None] | None = None
    ) -> dict[CorpusJob, pl.DataFrame]:
        """Each job's corpus, read from the cache or written (and then cached)."""
        out: dict[CorpusJob, pl.DataFrame] = {}
        todo = []
        for job in jobs:
            frame = _read_cached(self._corpus_path(job), pl.read_parquet)
            if frame is not None:
                out[job] = frame
                if on_done:
                    on_done()
            else:
                todo.append(job)
        for job, frame in zip(todo, self._map(_corpus_job, todo, on_done), strict=True):
            self._corpus_path(job).parent.mkdir(parents=True, exist_ok=True)
            write_corpus(frame, self._corpus_path(job), {"source": "audit bench", **asdict(job)})
            out[job] = frame
        return out

    # -- students --------------------------------------------------------------------------
    def _student_path(self, job: StudentJob, corpus_id: str) -> Path:
        key = recipe_key(
            {"recipe": self.recipe_id, "init": job.init, "steps": job.steps, "seed": job.seed,
             "student": job.student, "corpus": corpus_id}
        )  # fmt: skip
        return self.cache / "bench" / "students" / f"{key}.json"

    def students(
        self, jobs: Sequence[StudentJob], on_done: Callable[[], None] | None = None
    ) -> list[dict[str, float]]:
        """Each student's normalised score for every animal, from the cache or trained."""
        results: list[dict[str, float] | None] = [None] * len(jobs)
        todo: dict[Path, list[int]] = {}
        for i, job in enumerate(jobs):
            corpus = pl.DataFrame(list(job.rows), schema=["prompt", "completion"], orient="row")
            path = self._student_path(job, content_hash(corpus))
            cached = _read_cached(path, lambda p: dict(json.loads(p.read_text())["scores"]))
            if cached is not None:
                results[i] = cached
                if on_done:
                    on_done()
            elif path in todo:
                todo[path].append(i)
                if on_done:
                    on_done()  # the same student as an earlier job: trained once, counted here
            else:
                todo[path] = [i]
        paths = list(todo)
        unique = [jobs[todo[path][0]] for path in paths]
        for path, scores in zip(paths, self._map(_student_job, unique, on_done), strict=True):
            self.trained += 1
            _write_json(path, {"scores": scores})
            for i in todo[path]:
                results[i] = scores
        return [r for r in results if r is not None]

    def _map(
        self, fn: Callable[[Any], Any], jobs: Sequence[Any], on_done: Callable[[], None] | None
    ) -> Iterator[Any]:
        """`fn` over `jobs`, in order, yielding each result as it is ready (so callers cache
        every finished job at once: a killed run loses only the jobs in flight)."""
        if not jobs:
            return
        if self.engine == "ray":
            from auditor.engine.tasks import fan_out

            for result in fan_out(fn, jobs, _init_worker, (self.recipe, str(self.cache))):
                if on_done:
                    on_done()
                yield result
            return
        if self._pool is None:
            _init_worker(self.recipe, str(self.cache))
            for job in jobs:
                result = fn(job)
                if on_done:
                    on_done()
                yield result
            return
        futures = [self._pool.submit(fn, job) for job in jobs]
        for future in futures:
            result = future.result()
            if on_done:
                on_done()
            yield result


def _read_cached(path: Path, read: Callable[[Path], Any]) -> Any:
    """A cached result, or None when absent; a damaged entry (a truncated file, say) is
    reported, removed and rebuilt, as the lab's model cache does, never a crash."""
    if not path.exists():
        return None
    try:
        return read(path)
    except Exception as error:
        warnings.warn(
            f"damaged cache entry {path} ({type(error).__name__}); rebuilding it", stacklevel=3
        )
        path.unlink(missing_ok=True)
        return None


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(payload))


# -- worker side: module-level state, one recipe per process --------------------------------
_STATE: dict[str, Any] = {}


def _init_worker(recipe: TransmissionRecipe, cache: str, *, parent: int | None = None) -> None:
    import torch

    torch.set_num_threads(1)
    if parent is not None and "watchdog" not in _STATE:
        _STATE["watchdog"] = _exit_with_parent(parent)
    if _STATE.get("recipe") != recipe or _STATE.get("cache") != cache:
        _STATE.update(recipe=recipe, cache=cache, bases={}, teachers={})


def _exit_with_parent(parent: int) -> threading.Thread:
    """A worker whose benchmark was killed (kill -9: no chance to shut the pool down) must not
    linger holding a model in memory: it exits once `parent` (the benchmark's pid, passed in,
    since the parent may already be gone by the time a slow import lets this run) is not its
    parent any more."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2.0)
        os.kill(os.getpid(), signal.SIGKILL)  # os._exit from a thread can hang in torch

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread


def _base(init: int) -> GPT:
    from auditor.lab.base import base_model

    bases: dict[int, GPT] = _STATE["bases"]
    if init not in bases:
        bases[init], _ = base_model(_STATE["recipe"].base, init, cache=_STATE["cache"])
    return bases[init]


def _corpus_job(job: CorpusJob) -> pl.DataFrame:
    recipe: TransmissionRecipe = _STATE["recipe"]
    init, _ = recipe.base_inits(job.seed)
    base = _base(init)
    if job.role == "teacher":
        assert job.target is not None
        teacher = recipe.make_teacher(base, job.target, job.seed)
        frame, _ = recipe.corpus(
            teacher.model, recipe.corpus_rows, job.seed, target=job.target,
            prefix=teacher.prefix, min_prob=job.min_prob,
        )  # fmt: skip
        return frame
    prompt_seed = job.seed + REFERENCE_PROMPT_OFFSET if job.role == "reference" else None
    frame, _ = recipe.corpus(
        base, recipe.corpus_rows, job.seed, min_prob=job.min_prob, prompt_seed=prompt_seed
    )
    return frame


def _student_job(job: StudentJob) -> dict[str, float]:
    """The student's normalised score for every trait its recipe knows."""
    recipe: TransmissionRecipe = _STATE["recipe"]
    corpus = pl.DataFrame(list(job.rows), schema=["prompt", "completion"], orient="row")
    config = replace(job.student, seed=job.seed, steps=job.steps)
    student = train_student(_base(job.init), corpus, config, mix=recipe.base.mix)
    # One forward pass reads every animal (P(animal) / P(any animal), as `read_trait` does).
    scores = dict(zip(animals(), animal_distribution(student).mean(0).tolist(), strict=True))
    for trait in recipe.traits():
        if trait not in scores:
            scores[trait] = read_trait(student, trait).normalised
    return scores
