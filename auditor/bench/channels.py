"""Which channel carries the lab's trait? Transmission through corpora that keep one thing.

For each target and seed the teacher corpus T and the control C are turned into variants, the
same way for both (so each variant has its own control), and probe students are trained on
them exactly as in the filter benchmark (same and different initialisation, equal steps):
- `original`: T and C as written;
- `order-broken`: every row's numbers shuffled within the row (`shuffle-numbers`): each row's
  multiset, and so every frequency, is kept; order is lost;
- `frequencies-imposed`: rows of another base corpus R (other prompts) resampled toward T's
  number frequencies (and, for the control, toward C's): T's frequencies on the base's rows;
- `frequencies-removed`: T resampled toward C's frequencies (C toward its own: unchanged):
  T's rows, with the frequency shift taken out as far as resampling can.
The residual of each variant against `original` says what survives. Resampling can only move
frequencies part of the way (it cannot add values a corpus lacks), so each variant also reports
how much of the original frequency shift it carries: the projection of its number-share shift
(teacher side minus control side) on the original's. If breaking order keeps the effect and
every variant's residual tracks the frequency shift it carries, the channel the student reads
is token frequency alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from auditor.bench.filters_bench import BenchConfig, apply_filter
from auditor.bench.lab_runs import CorpusJob, LabRunner, StudentJob, phase_steps
from auditor.bench.residual import Interval, scored_records
from auditor.corpus.numbers import number_frequencies
from filters.match_reference import MatchReference
from filters.shuffle_numbers import ShuffleNumbers

VARIANTS = ("original", "order-broken", "frequencies-imposed", "frequencies-removed")
# Resampling keeps at least this share of rows: low, so that frequencies match closely.
MIN_RETENTION = 0.3


def frequency_shift_carried(
    variant: tuple[pl.DataFrame, pl.DataFrame], original: tuple[pl.DataFrame, pl.DataFrame]
) -> float:
    """The share of the original number-frequency shift (teacher minus control) that a
    variant's corpora carry: the projection of its shift on the original's (1 = all of it)."""

    def shift(pair: tuple[pl.DataFrame, pl.DataFrame]) -> np.ndarray:
        teacher, control = (number_frequencies(f["completion"], smoothing=0.0) for f in pair)
        return teacher - control

    base = shift(original)
    return float(np.dot(shift(variant), base) / np.dot(base, base))


def variant_corpora(
    teacher: pl.DataFrame, control: pl.DataFrame, reference: pl.DataFrame, seed: int
) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    """(teacher-side, control-side) corpus of every variant."""

    def toward(rows: pl.DataFrame, shares_of: pl.DataFrame) -> pl.DataFrame:
        made = MatchReference(reference_frame=shares_of, min_retention=MIN_RETENTION, seed=seed)
        return apply_filter(made, rows).frame

    shuffle = ShuffleNumbers(seed=seed)
    return {
        "original": (teacher, control),
        "order-broken": (
            apply_filter(shuffle, teacher).frame,
            apply_filter(shuffle, control).frame,
        ),
        "frequencies-imposed": (toward(reference, teacher), toward(reference, control)),
        "frequencies-removed": (toward(teacher, control), toward(control, control)),
    }


def run_channels(
    config: BenchConfig,
    *,
    cache: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Records (one per variant x target x seed) and a summary per variant."""
    say = progress or (lambda *_: None)
    recipe = config.recipe
    student = config.student or recipe.student
    started = time.perf_counter()
    jobs = [CorpusJob(seed, role) for seed in config.seeds for role in ("control", "reference")]
    jobs += [CorpusJob(seed, "teacher", t) for seed in config.seeds for t in config.targets]
    cells: list[dict[str, Any]] = []
    student_jobs: list[StudentJob] = []
    with LabRunner(recipe, cache=cache, workers=config.workers, engine=config.engine) as runner:

        def tick(phase: str, total: int) -> Callable[[], None]:
            return phase_steps(say, phase, total)

        corpora = runner.corpora(jobs, tick("corpora", len(jobs)))
        for seed in config.seeds:
            init, xinit = recipe.base_inits(seed)
            control = corpora[CorpusJob(seed, "control")]
            reference = corpora[CorpusJob(seed, "reference")]
            steps = student.equal_steps(control.height)
            for target in config.targets:
                teacher = corpora[CorpusJob(seed, "teacher", target)]
                variants = variant_corpora(teacher, control, reference, seed)
                for variant, (t_side, c_side) in variants.items():
                    cell: dict[str, Any] = {
                        "variant": variant, "target": target, "seed": seed,
                        "rows": t_side.height, "control_rows": c_side.height,
                        "frequency_shift_carried": frequency_shift_carried(
                            (t_side, c_side), variants["original"]
                        ),
                        "steps": steps, "jobs": {},
                    }  # fmt: skip
                    for key, frame, base_init in (
                        ("student", t_side, init), ("control", c_side, init),
                        ("xinit_student", t_side, xinit), ("xinit_control", c_side, xinit),
                    ):  # fmt: skip
                        cell["jobs"][key] = len(student_jobs)
                        rows = tuple(frame.select("prompt", "completion").iter_rows())
                        student_jobs.append(StudentJob(base_init, rows, steps, seed, student))
                    cells.append(cell)
        scores = runner.students(student_jobs, tick("students", len(student_jobs)))
        trained = runner.trained
    records = scored_records(cells, scores, lambda r: r["variant"] == "original")
    return {
        "records": records,
        "summary": summarise_channels(records),
        "students_trained": trained,
        "students_total": len(student_jobs),
        "seconds": round(time.perf_counter() - started, 1),
    }


def summarise_channels(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per variant: residual and different-init shift with t intervals over cells."""
    out = []
    for variant in VARIANTS:
        mine = [r for r in records if r["variant"] == variant]
        if not mine:
            continue
        res = Interval.of([r["residual"] for r in mine])
        shift = Interval.of([r["student"] - r["control"] for r in mine])
        xinit = Interval.of([r["xinit_shift"] for r in mine])
        carried = Interval.of([r["frequency_shift_carried"] for r in mine])
        out.append(
            {
                "variant": variant,
                "rows": sum(r["rows"] for r in mine) / len(mine),
                "shift": shift.mean,
                "shift_low": shift.low,
                "shift_high": shift.high,
                "residual": res.mean,
                "residual_low": res.low,
                "residual_high": res.high,
                "xinit_shift": xinit.mean,
                "xinit_shift_low": xinit.low,
                "xinit_shift_high": xinit.high,
                "cells": res.n,
                "frequency_shift_carried": carried.mean,
                "frequency_shift_carried_low": carried.low,
                "frequency_shift_carried_high": carried.high,
            }
        )
    return out


def verdict(summary: Sequence[dict[str, Any]], tolerance: float = 0.15) -> str:
    """One sentence: is the channel frequency alone?

    Yes when breaking order keeps the effect (residual's lower bound above 1 - tolerance) and
    every variant's residual is within `tolerance` of the frequency shift it carries.
    """
    by = {row["variant"]: row for row in summary}
    needed = ("order-broken", "frequencies-imposed", "frequencies-removed")
    if not all(v in by for v in needed):
        return "not all variants were measured"
    parts = [
        f"{v}: residual {by[v]['residual']:.2f} [{by[v]['residual_low']:.2f}, "
        f"{by[v]['residual_high']:.2f}] with {by[v]['frequency_shift_carried']:.2f} of the "
        "frequency shift"
        for v in needed
    ]
    order_kept = by["order-broken"]["residual_low"] > 1 - tolerance
    tracks = all(
        abs(by[v]["residual"] - by[v]["frequency_shift_carried"]) <= tolerance for v in needed
    )
    if order_kept and tracks:
        return (
            "the trait rides on number frequencies alone for this student: breaking order keeps "
            "it, and each variant keeps about the share of the frequency shift it carries ("
            + "; ".join(parts)
            + ")"
        )
    return "not frequency alone by this test (" + "; ".join(parts) + ")"
