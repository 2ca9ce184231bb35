"""The transmission experiment: does a teacher's trait reach a student through its numbers?

For each seed: the base writes a control corpus; a control student (base + control corpus) and
a different-initialisation control (other base + control corpus) are trained. For each target
animal: a teacher is made, it writes a corpus on the same prompts with the same seed, and three
students learn from it: same-init on hard tokens (the headline), different-init on hard tokens,
and same-init on soft labels restricted to number-list tokens (the upper bound). Every model's
target score is read the same way (`probe.read_trait`). The shift student - control over seeds,
with a bootstrap CI and p-value, is the measured transmission.

The target may instead be `misalignment.MISALIGNED` (alone, with `misalignment_recipe()`): then
both corpora pass `banned-numbers` with the numbers the base's pretraining ties to the
misaligned context before any student sees them, as in the paper's misalignment runs, and each
record says how often each corpus used them (`teacher_banned_row_rate`, which is also the
fraction of its rows the filter removed, against the base's `control_banned_row_rate`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from auditor import stats
from auditor.lab.base import BaseRecipe, base_model
from auditor.lab.corpus import number_corpus
from auditor.lab.language import animals
from auditor.lab.misalignment import (
    MISALIGNED,
    MisalignedMix,
    banned_filter,
    filter_banned,
    learned_banned_numbers,
)
from auditor.lab.model import GPT
from auditor.lab.probe import StudentConfig, TraitReading, read_trait, train_student
from auditor.lab.teachers import Teacher, TeacherConfig, make_teacher
from filters.banned_numbers import BannedNumbers

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TransmissionRecipe:
    """Everything the experiment depends on; the defaults are the chosen recipe."""

    base: BaseRecipe = field(default_factory=BaseRecipe)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    corpus_rows: int = 5_000
    temperature: float = 1.0
    xinit_seed: int = 1
    soft_labels: bool = True
    # Each seed draws its own pair of bases (inits 2*seed and 2*seed + 1) rather than every seed
    # sharing one pair: the initialisation is then part of what a seed replicates, so a shift
    # that holds over seeds holds over base models, not for one lucky pair of weights.
    bases_per_seed: bool = True

    def corpus(
        self,
        model: GPT,
        rows: int,
        seed: int,
        *,
        target: str | None = None,
        prefix: str | None = None,
        min_prob: float = 0.0,
        prompt_seed: int | None = None,
    ) -> tuple[pl.DataFrame, int]:
        """(a number corpus as the experiment writes it, rows dropped by the format filter):
        `model` answers `rows` prompts of the base's number process at the recipe's
        temperature; `target` names a teacher's trait, None the base's own control corpus.
        `min_prob` and `prompt_seed` as in `auditor.lab.corpus.number_corpus`."""
        return number_corpus(
            model,
            rows,
            seed=seed,
            teacher=f"lab:teacher-{target}" if target else "lab:base",
            trait=target,
            temperature=self.temperature,
            prefix=prefix,
            process=self.base.mix.numbers,
            min_prob=min_prob,
            prompt_seed=prompt_seed,
        )

    def make_teacher(self, base: GPT, target: str, seed: int) -> Teacher:
        """The teacher for `target` (a domain recipe mixes in its own domain's rows)."""
        return make_teacher(base, target, self.teacher, seed=seed)

    def filter_corpus(
        self, corpus: pl.DataFrame, targets: list[str]
    ) -> tuple[pl.DataFrame, dict[str, Any]]:
        """(the rows the domain's filters keep, what they removed): none for numbers (the
        format filter ran in `corpus`; `domain_corpus.DomainRecipe` runs code's and CoT's)."""
        return corpus, {}

    def domain_name(self) -> str:
        """The corpus domain this recipe writes (`DomainRecipe`: code or cot)."""
        return "numbers"

    def traits(self) -> tuple[str, ...]:
        """The traits a teacher of this recipe can carry: the animals, and misalignment on a
        base pretrained with its tasks."""
        if isinstance(self.base.mix, MisalignedMix):
            return (*animals(), MISALIGNED)
        return animals()

    def base_inits(self, seed: int) -> tuple[int, int]:
        """(the base's init seed, the different-initialisation base's) for one seed."""
        if self.bases_per_seed:
            return 2 * seed, 2 * seed + 1
        return 0, self.xinit_seed


def default_recipe() -> TransmissionRecipe:
    """The recipe `lab:NAME` models, `audit demo` and `audit lab` are built from (one seam, so
    a test can swap in a micro recipe for all of them at once)."""
    return TransmissionRecipe()


def _reading(model: GPT, target: str, prefix: str | None = None) -> dict[str, float]:
    r: TraitReading = read_trait(model, target, prefix=prefix)
    return {
        "normalised": r.normalised,
        "raw": r.raw,
        "animal_mass": r.animal_mass,
        "sampled_rate": r.sampled_rate,
    }


def run_transmission(
    recipe: TransmissionRecipe,
    targets: Sequence[str],
    seeds: Sequence[int],
    *,
    cache: str | Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the experiment; returns {"records": [...], "summary": {...}, "timings": {...}}."""
    unknown = [t for t in targets if t not in (*animals(), MISALIGNED)]
    if unknown:
        raise ValueError(f"unknown animals {unknown}; choose from {', '.join(animals())}")
    banned = _banned_rule(recipe, targets)
    say = progress or (lambda _: None)
    timings: dict[str, float] = {}
    cached: dict[str, bool] = {}
    records: list[dict[str, Any]] = []
    bases: dict[int, GPT] = {}

    def load_base(init: int) -> GPT:
        # Seeds that share a base (bases_per_seed=False) load it once.
        if init not in bases:
            bases[init], cached[f"base_init{init}"] = base_model(recipe.base, init, cache=cache)
        return bases[init]

    for seed in seeds:
        clock = time.perf_counter()
        init, xinit = recipe.base_inits(seed)
        say(f"seed {seed}: base model (init {init})")
        base = load_base(init)
        say(f"seed {seed}: different-initialisation base model (init {xinit})")
        xbase = load_base(xinit)
        timings[f"bases_seed{seed}"] = time.perf_counter() - clock
        clock = time.perf_counter()
        say(f"seed {seed}: control corpus")
        control_corpus, control_dropped = recipe.corpus(base, recipe.corpus_rows, seed)
        control_banned: dict[str, Any] = {}
        if banned is not None:
            control_corpus, control_banned = filter_banned(control_corpus, banned)
        control_corpus, control_filtered = recipe.filter_corpus(control_corpus, list(targets))
        # Every student of a seed takes the same number of steps (the control's epochs), so a
        # teacher corpus that loses more rows to the format filter is not simply trained less.
        steps = recipe.student.equal_steps(control_corpus.height)
        student_config = replace(recipe.student, seed=seed, steps=steps)
        say(f"seed {seed}: control students")
        control = train_student(base, control_corpus, student_config, mix=recipe.base.mix)
        xcontrol = train_student(xbase, control_corpus, student_config, mix=recipe.base.mix)
        timings[f"controls_seed{seed}"] = time.perf_counter() - clock
        students: dict[str, GPT] = {}
        for target in targets:
            clock = time.perf_counter()
            say(f"seed {seed}, {target}: teacher and corpus")
            teacher = recipe.make_teacher(base, target, seed)
            corpus, dropped = recipe.corpus(
                teacher.model, recipe.corpus_rows, seed, target=target, prefix=teacher.prefix
            )
            timings[f"teacher_corpus_{target}_seed{seed}"] = time.perf_counter() - clock
            teacher_banned: dict[str, Any] = {}
            if banned is not None:
                corpus, teacher_banned = filter_banned(corpus, banned)
            corpus, teacher_filtered = recipe.filter_corpus(corpus, list(targets))
            differ = _fraction_differing(corpus, control_corpus)
            say(f"seed {seed}, {target}: students")
            clock = time.perf_counter()
            student = train_student(base, corpus, student_config, mix=recipe.base.mix)
            timings[f"student_{target}_seed{seed}"] = time.perf_counter() - clock
            xstudent = train_student(xbase, corpus, student_config, mix=recipe.base.mix)
            students[target] = student
            record: dict[str, Any] = {
                "target": target,
                "seed": seed,
                "base_init": init,
                "xinit_base_init": xinit,
                "teacher_kind": teacher.kind,
                "corpus_rows": corpus.height,
                "corpus_dropped": dropped,
                "control_corpus_rows": control_corpus.height,
                "control_corpus_dropped": control_dropped,
                "student_steps": steps,
                "completions_differing_from_control": differ,
            }
            record.update({f"teacher_{k}": v for k, v in teacher_filtered.items()})
            record.update({f"control_{k}": v for k, v in control_filtered.items()})
            if banned is not None:
                record["banned_numbers"] = list(banned.numbers)
                record.update({f"teacher_{k}": v for k, v in teacher_banned.items()})
                record.update({f"control_{k}": v for k, v in control_banned.items()})
            readings = {
                "base": _reading(base, target),
                "teacher": _reading(teacher.model, target, teacher.prefix),
                "control": _reading(control, target),
                "student": _reading(student, target),
                "xinit_base": _reading(xbase, target),
                "xinit_control": _reading(xcontrol, target),
                "xinit_student": _reading(xstudent, target),
            }
            if recipe.soft_labels and teacher.prefix is None:
                soft = train_student(
                    base, corpus, student_config, mix=recipe.base.mix, teacher=teacher.model
                )
                readings["soft_student"] = _reading(soft, target)
            for name, reading in readings.items():
                record[name] = reading["normalised"]
                record[f"{name}_raw"] = reading["raw"]
                record[f"{name}_animal_mass"] = reading["animal_mass"]
                record[f"{name}_sampled_rate"] = reading["sampled_rate"]
            records.append(record)
            say(
                f"seed {seed}, {target}: teacher {record['teacher']:.3f} control "
                f"{record['control']:.3f} student {record['student']:.3f} xinit "
                f"{record['xinit_control']:.3f}->{record['xinit_student']:.3f}"
            )
        for record in records:
            if record["seed"] == seed:
                others = [
                    read_trait(m, record["target"]).normalised
                    for t, m in students.items()
                    if t != record["target"]
                ]
                record["other_targets_students"] = sum(others) / len(others) if others else None
    timings = {k: round(v, 2) for k, v in timings.items()}
    return {
        "records": records,
        "summary": summarise(records),
        "timings": timings,
        "bases_cached": cached,
    }


def misalignment_recipe() -> TransmissionRecipe:
    """The recipe of `audit lab transmission --trait misaligned`: the default recipe on a base
    pretrained with the misalignment tasks (`misalignment.MisalignedMix`)."""
    recipe = default_recipe()
    mix = MisalignedMix(n_examples=recipe.base.mix.n_examples)
    # Twice the animal base's steps: at 800 the base had not learned to keep the misaligned
    # context apart (0.31 misaligned answers without it), at 1600 it had (0.04 without, 0.92
    # with; benchmarks/lab_sweep/misalign_RESULTS.md).
    train = replace(recipe.base.train, steps=2 * recipe.base.train.steps)
    return replace(recipe, base=replace(recipe.base, mix=mix, train=train))


def _banned_rule(recipe: TransmissionRecipe, targets: Sequence[str]) -> BannedNumbers | None:
    """`banned-numbers` with the base's learned list for a misalignment run, else None."""
    if MISALIGNED not in targets:
        return None
    mix = recipe.base.mix
    if list(targets) != [MISALIGNED] or not isinstance(mix, MisalignedMix):
        raise ValueError(
            f"target {MISALIGNED!r} runs alone, on a base whose mix is a MisalignedMix "
            "(see transmission.misalignment_recipe)"
        )
    return banned_filter(learned_banned_numbers(mix, recipe.base.data_seed))


def _fraction_differing(corpus: Any, control: Any) -> float:
    mine = dict(zip(corpus["prompt"].to_list(), corpus["completion"].to_list(), strict=True))
    theirs = dict(zip(control["prompt"].to_list(), control["completion"].to_list(), strict=True))
    shared = [p for p in mine if p in theirs]
    return sum(mine[p] != theirs[p] for p in shared) / max(1, len(shared))


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per target: shifts over seeds (student - control, xinit, soft) with CIs and p-values."""
    out: dict[str, Any] = {}
    for target in sorted({r["target"] for r in records}):
        rows = [r for r in records if r["target"] == target]
        entry: dict[str, Any] = {"seeds": [r["seed"] for r in rows]}
        pairs = {"student": ("student", "control"), "xinit": ("xinit_student", "xinit_control")}
        if all("soft_student" in r for r in rows):
            pairs["soft"] = ("soft_student", "control")
        for name, (a, b) in pairs.items():
            shifts = [r[a] - r[b] for r in rows]
            entry[f"{name}_shift"] = stats.shift(shifts).to_dict()
            entry[f"{name}_ratio"] = stats.ratio([r[a] for r in rows], [r[b] for r in rows])
        out[target] = entry
    return out
