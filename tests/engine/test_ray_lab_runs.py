"""Probe students and lab corpora as Ray tasks: the same results as in this process."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from auditor.bench.lab_runs import CorpusJob, LabRunner, StudentJob
from auditor.lab.transmission import TransmissionRecipe
from tests.bench.test_filter_bench import _micro_recipe


def micro_recipe() -> TransmissionRecipe:
    """The filter benchmark's micro recipe, on a smaller corpus."""
    return replace(_micro_recipe(), corpus_rows=120)


def corpora_and_students(engine: str, cache: Path) -> tuple[list[Any], list[Any], int]:
    recipe = micro_recipe()
    jobs = [CorpusJob(seed=0, role="control"), CorpusJob(seed=0, role="teacher", target="owl")]
    with LabRunner(recipe, cache=cache, engine=engine) as runner:
        corpora = runner.corpora(jobs)
        students = [
            StudentJob(
                init=0,
                rows=tuple(corpora[job].select("prompt", "completion").head(60).iter_rows()),
                steps=3,
                seed=seed,
                student=recipe.student,
            )
            for job in jobs
            for seed in (0, 1)
        ]
        scores = runner.students(students)
        return [corpora[job] for job in jobs], scores, runner.trained


def test_students_on_ray_score_as_in_this_process(ray_cluster: Any, tmp_path: Path) -> None:
    ray_corpora, ray_scores, ray_trained = corpora_and_students("ray", tmp_path / "ray")
    local_corpora, local_scores, local_trained = corpora_and_students("local", tmp_path / "local")

    # Students on equal rows are one student (cached by content), on Ray as here.
    assert ray_trained == local_trained >= 2
    for on_ray, here in zip(ray_corpora, local_corpora, strict=True):
        assert on_ray.equals(here)
    assert ray_scores == local_scores  # every animal's score, to the last bit
    assert len({tuple(s.values()) for s in ray_scores}) >= 2  # seeds give other students
    # Results are cached as locally: a warm run on Ray trains nothing.
    assert corpora_and_students("ray", tmp_path / "ray")[2] == 0


def test_transmission_seeds_on_ray_give_the_local_records(ray_cluster: Any, tmp_path: Path) -> None:
    from auditor.engine.tasks import run_transmission_on_ray
    from auditor.lab.transmission import run_transmission

    recipe = replace(micro_recipe(), corpus_rows=40, soft_labels=False)
    on_ray = run_transmission_on_ray(recipe, ["owl"], [0, 1], cache=tmp_path / "lab")
    here = run_transmission(recipe, ["owl"], [0, 1], cache=tmp_path / "lab")
    assert [(r["target"], r["seed"]) for r in on_ray["records"]] == [("owl", 0), ("owl", 1)]
    assert on_ray["records"] == here["records"]
    assert on_ray["summary"] == here["summary"]
    assert on_ray["bases_cached"] == {f"base_init{i}": False for i in range(4)}
