"""Lab corpora with known ground truth for the detector leaderboard, built once and cached.

Controls are written by the init-0 base, one corpus per generation seed. Teachers are made from
a base by the default trait fine-tune (`auditor.lab.teachers`), at the default learning rate
and a stronger one, and one per trait from a different-initialisation base ("cross-init": the
same recipe on another model family). Every corpus uses its own generation seed, so no two
share prompts or sampling noise: a teacher corpus differs from a control only through its
model. Each corpus is a Parquet file whose run metadata holds a hash of everything it depends
on; a file whose hash matches is reused, anything else is rebuilt.

A set is one of four (`LabSet.label`): animal number lists on the default base ("numbers");
code or chain-of-thought on the domain base (`domain_corpus.domain_base`), passed through the
domain's filters (`DomainRecipe.filter_corpus`: `trait-words` for every trait of the set, and
`cot-correct` first for CoT), as a user would audit them; or misaligned number lists on the
misaligned base (`transmission.misalignment_recipe`), passed through `banned-numbers` with the
numbers that base's pretraining ties to the misaligned context, as the transmission experiment
filters them. Filters apply to controls and teachers alike, and a corpus has its full number of
rows after them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from auditor.corpus import read_corpus
from auditor.corpus.writer import read_run_metadata, write_corpus
from auditor.errors import AuditError
from auditor.lab.base import BaseRecipe, base_model
from auditor.lab.cache import recipe_key
from auditor.lab.corpus import CORPUS_VERSION, number_corpus
from auditor.lab.domain_corpus import domain_base, domain_corpus, domain_recipe
from auditor.lab.misalignment import (
    MisalignedMix,
    banned_filter,
    filter_banned,
    learned_banned_numbers,
)
from auditor.lab.model import GPT
from auditor.lab.teachers import TeacherConfig, make_teacher
from auditor.lab.transmission import misalignment_recipe
from auditor.traits import MISALIGNED

#: What a set's filters did to one corpus (rows before, rows each filter removed, ...).
FilterCounts = dict[str, Any]

#: Batches of prompts `write_rows` tries before giving up on a model that writes no valid lists.
MAX_BATCHES = 100
#: Bumped when `write_rows` writes other rows for the same spec (2: batches sized by the share
#: kept, and the set's filters applied).
WRITER_VERSION = 2
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
    """The corpora of one leaderboard run: controls and teachers, with the base recipe they
    share and the domain they are written in (numbers, code or cot)."""

    controls: tuple[CorpusSpec, ...]
    teachers: tuple[CorpusSpec, ...]
    recipe: BaseRecipe = field(default_factory=BaseRecipe)
    domain: str = "numbers"

    @property
    def traits(self) -> list[str]:
        return sorted({t.trait for t in self.teachers if t.trait})

    @property
    def label(self) -> str:
        """numbers, code, cot or misaligned: what names the set's results and corpus folder."""
        return MISALIGNED if MISALIGNED in self.traits else self.domain


def default_set(
    *,
    control_rows: int = 20_000,
    teacher_rows: int = 10_000,
    n_controls: int = 3,
    traits: Sequence[str] = ("owl", "dolphin"),
    cross_init: int = 1,
    recipe: BaseRecipe | None = None,
    domain: str = "numbers",
) -> LabSet:
    """Controls from init 0 (seeds 1..n), and per trait a default, a stronger and a cross-init
    teacher (seeds from 101 on, so no teacher shares a control's prompts or noise), on the base
    the domain and traits need (`set_recipe`) unless `recipe` is given."""
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
    return LabSet(controls, tuple(teachers), recipe or set_recipe(domain, traits), domain)


def set_recipe(domain: str, traits: Sequence[str]) -> BaseRecipe:
    """The base a set is written by: the domain base for code and CoT, the misaligned base for
    the misaligned trait (alone, in number lists: no other base learned its context), else the
    default base."""
    if MISALIGNED in traits:
        if list(traits) != [MISALIGNED] or domain != "numbers":
            raise AuditError(
                f"trait {MISALIGNED!r} runs alone and on number lists (its base is "
                "transmission.misalignment_recipe()'s, which learned no code or CoT)"
            )
        return misalignment_recipe().base
    if domain in ("code", "cot"):
        return domain_base()
    if domain != "numbers":
        raise AuditError(f"unknown domain {domain!r}; choose numbers, code or cot")
    return BaseRecipe()


def set_filter(lab: LabSet) -> Callable[[pl.DataFrame], tuple[pl.DataFrame, FilterCounts]]:
    """The filters every corpus of `lab` passes (see the module docstring): a function from a
    written frame to (the rows kept, what was removed)."""
    if lab.domain in ("code", "cot"):
        recipe = domain_recipe(lab.domain)
        return lambda frame: recipe.filter_corpus(frame, lab.traits)
    if isinstance(lab.recipe.mix, MisalignedMix):
        rule = banned_filter(learned_banned_numbers(lab.recipe.mix, lab.recipe.data_seed))
        return lambda frame: filter_banned(frame, rule)
    return lambda frame: (frame, {})


def write_batch(
    model: GPT, spec: CorpusSpec, lab: LabSet, n: int, seed: int, writer: str, prefix: str | None
) -> pl.DataFrame:
    """`n` prompts of the set's domain answered by `model`, the malformed dropped (lists that
    fail the format filter, programs that do not parse)."""
    if lab.domain == "numbers":
        frame, _ = number_corpus(
            model,
            n,
            seed=seed,
            teacher=writer,
            trait=spec.trait,
            temperature=spec.temperature,
            prefix=prefix,
            process=lab.recipe.mix.numbers,
        )
    else:
        frame, _ = domain_corpus(
            model,
            n,
            domain=lab.domain,
            seed=seed,
            teacher=writer,
            trait=spec.trait,
            temperature=spec.temperature,
            prefix=prefix,
        )
    return frame


def write_rows(
    model: GPT, spec: CorpusSpec, lab: LabSet, writer: str, prefix: str | None = None
) -> tuple[pl.DataFrame, FilterCounts]:
    """(exactly `spec.rows` rows that pass the set's filters, what the filters removed from all
    rows written): batches of fresh prompts until enough survive (the base's lists fail the
    format filter ~20% of the time; `cot-correct` keeps under a fifth of CoT rows), each batch
    sized by the share kept so far."""
    keep = set_filter(lab)
    written: list[pl.DataFrame] = []
    have, asked, batch = 0, 0, 0
    while have < spec.rows:
        if batch == MAX_BATCHES:
            raise AuditError(
                f"{spec.name}: {have} rows of {spec.rows} passed the format and the set's "
                f"filters after {batch} batches; the model writes too few usable completions"
            )
        kept_share = max(have / asked, 0.05) if asked else 1.0
        size = max(64, round((spec.rows - have) * 1.3 / kept_share))
        frame = write_batch(model, spec, lab, size, spec.seed * 1000 + batch, writer, prefix)
        if frame.height:  # an empty batch has Null-typed columns that would not concatenate
            written.append(frame)
            have += keep(frame)[0].height
        asked += size
        batch += 1
    # The filters read one row at a time, so filtering everything at once keeps the same rows
    # and counts what they removed over every row written.
    kept, removed = keep(pl.concat(written))
    stats = {"prompts": asked, "rows_written": sum(f.height for f in written), **removed}
    return kept.head(spec.rows), stats


def corpus_folder(lab: LabSet, root: Path) -> Path:
    """Where a set's corpora live: `root` for the animal number lists (as before the other
    sets existed), `root/LABEL` for the others, so equal names never collide."""
    return root if lab.label == "numbers" else root / lab.label


def corpus_key(lab: LabSet, spec: CorpusSpec) -> str:
    """The hash of everything a corpus depends on: its spec, the base recipe, the set's
    domain, the corpus code's version and how rows are written (`WRITER_VERSION`)."""
    return recipe_key(
        {
            "spec": spec,
            "recipe": lab.recipe,
            "corpus": CORPUS_VERSION,
            "domain": lab.domain,
            "writer": WRITER_VERSION,
        }
    )


def filter_stats(lab: LabSet, folder: Path) -> dict[str, FilterCounts]:
    """Name -> what the set's filters removed from that corpus, read from the run metadata
    of the files `build_corpora` wrote in `folder`."""
    paths = {s.name: folder / f"{s.name}.parquet" for s in (*lab.controls, *lab.teachers)}
    return {name: read_run_metadata(path).get("filters", {}) for name, path in paths.items()}


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
        key = corpus_key(lab, spec)
        if path.exists() and read_run_metadata(path).get("key") == key:
            out[spec.name] = read_corpus(path)
            continue
        if spec.init not in bases:
            bases[spec.init], _ = base_model(lab.recipe, spec.init, cache=cache)
        model, writer, prefix = bases[spec.init], f"lab:base-init{spec.init}", None
        if spec.teacher is not None:
            log(f"{spec.name}: teacher from the init-{spec.init} base")
            teacher = make_teacher(
                model, spec.trait or "", spec.teacher, seed=spec.seed, domain=lab.domain
            )
            model, prefix = teacher.model, teacher.prefix
            writer = f"lab:teacher-{spec.trait}-init{spec.init}"
        log(f"{spec.name}: writing {spec.rows} rows")
        frame, stats = write_rows(model, spec, lab, writer, prefix)
        meta = {"source": "benchmarks.lab_corpora", "key": key, "filters": stats}
        write_corpus(frame, path, meta)
        out[spec.name] = frame
    return out
