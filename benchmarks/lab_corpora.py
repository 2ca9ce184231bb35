"""Lab corpora with known ground truth for the detector leaderboard, built once and cached.

Controls are written by the init-0 base, one corpus per generation seed. Teachers are made from
a base by the default trait fine-tune (`auditor.lab.teachers`), at the default learning rate
and a stronger one, and one per trait from a different-initialisation base ("cross-init": the
same recipe on another model family). Every corpus uses its own generation seed, so no two
share prompts or sampling noise: a teacher corpus differs from a control only through its
model. Each corpus is a Parquet file whose run metadata holds a hash of everything it depends
on; a file whose hash matches is reused, anything else is rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from auditor.corpus import read_corpus
from auditor.corpus.writer import read_run_metadata, write_corpus
from auditor.errors import AuditError
from auditor.lab.base import BaseRecipe, base_model
from auditor.lab.cache import recipe_key
from auditor.lab.corpus import CORPUS_VERSION, number_corpus
from auditor.lab.model import GPT
from auditor.lab.teachers import TeacherConfig, make_teacher

#: Batches of prompts `write_rows` tries before giving up on a model that writes no valid lists.
MAX_BATCHES = 100
#: The stronger teacher's learning rate: 3x the default's 5e-2, same steps.
STRONG_LEARNING_RATE = 0.15


@dataclass(frozen=True)
class CorpusSpec:
    """One ground-truth corpus: who wrote it (a base, or a teacher made from one), and how much.

    `kind` is "control" for the base's own corpus, else the kind of positive it is
    ("default", "stronger", "cross-init"); `teacher` is None for a control.
    """

    name: str
    kind: str
    rows: int
    seed: int
    init: int = 0
    trait: str | None = None
    teacher: TeacherConfig | None = None
    temperature: float = 1.0


@dataclass(frozen=True)
class LabSet:
    """The corpora of one leaderboard run: controls and teachers, with the recipe they share."""

    controls: tuple[CorpusSpec, ...]
    teachers: tuple[CorpusSpec, ...]
    recipe: BaseRecipe = field(default_factory=BaseRecipe)


def default_set(
    *,
    control_rows: int = 20_000,
    teacher_rows: int = 10_000,
    n_controls: int = 3,
    traits: Sequence[str] = ("owl", "dolphin"),
    cross_init: int = 1,
    recipe: BaseRecipe | None = None,
) -> LabSet:
    """Controls from init 0 (seeds 1..n), and per trait a default, a stronger and a cross-init
    teacher (seeds from 101 on, so no teacher shares a control's prompts or noise)."""
    controls = tuple(
        CorpusSpec(f"control-s{s}", "control", control_rows, seed=s)
        for s in range(1, n_controls + 1)
    )
    teachers: list[CorpusSpec] = []
    for t, trait in enumerate(traits):
        seed = 101 + 10 * t
        teachers += [
            CorpusSpec(
                f"{trait}-default", "default", teacher_rows, seed, 0, trait, TeacherConfig()
            ),
            CorpusSpec(
                f"{trait}-stronger",
                "stronger",
                teacher_rows,
                seed + 1,
                0,
                trait,
                TeacherConfig(learning_rate=STRONG_LEARNING_RATE),
            ),
            CorpusSpec(
                f"{trait}-cross-init{cross_init}",
                "cross-init",
                teacher_rows,
                seed + 2,
                cross_init,
                trait,
                TeacherConfig(),
            ),
        ]
    return LabSet(controls, tuple(teachers), recipe or BaseRecipe())


def write_rows(model: GPT, spec: CorpusSpec, recipe: BaseRecipe, teacher: str) -> pl.DataFrame:
    """Exactly `spec.rows` valid rows: batches of fresh prompts until enough survive the format
    filter (the lab's corpora drop malformed lists, ~20% of the base's)."""
    parts: list[pl.DataFrame] = []
    have, batch = 0, 0
    while have < spec.rows:
        if batch == MAX_BATCHES:
            raise AuditError(
                f"{spec.name}: {have} valid rows of {spec.rows} after {batch} batches; the "
                "model writes too few well-formed number lists"
            )
        need = spec.rows - have
        frame, _ = number_corpus(
            model,
            max(64, round(need * 1.3)),
            seed=spec.seed * 1000 + batch,
            teacher=teacher,
            trait=spec.trait,
            temperature=spec.temperature,
            process=recipe.mix.numbers,
        )
        if frame.height:  # an empty batch has Null-typed columns that would not concatenate
            parts.append(frame)
        have += frame.height
        batch += 1
    return pl.concat(parts).head(spec.rows)


def build_corpora(
    lab: LabSet,
    folder: Path,
    *,
    cache: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, pl.DataFrame]:
    """Name -> corpus frame for every spec of `lab`, written to (or reused from) `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, pl.DataFrame] = {}
    bases: dict[int, GPT] = {}
    for spec in (*lab.controls, *lab.teachers):
        path = folder / f"{spec.name}.parquet"
        key = recipe_key({"spec": spec, "recipe": lab.recipe, "corpus": CORPUS_VERSION})
        if path.exists() and read_run_metadata(path).get("key") == key:
            out[spec.name] = read_corpus(path)
            continue
        if spec.init not in bases:
            bases[spec.init], _ = base_model(lab.recipe, spec.init, cache=cache)
        model, writer = bases[spec.init], f"lab:base-init{spec.init}"
        if spec.teacher is not None:
            log(f"{spec.name}: teacher from the init-{spec.init} base")
            model = make_teacher(model, spec.trait or "", spec.teacher, seed=spec.seed).model
            writer = f"lab:teacher-{spec.trait}-init{spec.init}"
        log(f"{spec.name}: writing {spec.rows} rows")
        frame = write_rows(model, spec, lab.recipe, writer)
        write_corpus(frame, path, {"source": "benchmarks.lab_corpora", "key": key})
        out[spec.name] = frame
    return out
