"""A lab teacher corpus and its control, ready for `audit` to examine end to end.

`build_demo_corpus` pretrains (or loads from the cache) the default base, makes the default
teacher for `target`, and writes two Parquet corpora on the same prompts: the teacher's
(known positive: it carries the trait) and the base's own (the reference / control). The
corpora are kept in the lab cache under their recipe's key, so a later run in any folder copies
them instead of making the teacher again.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from auditor import steps
from auditor.lab import transmission
from auditor.lab.base import base_model
from auditor.lab.cache import cache_dir, recipe_key
from auditor.lab.corpus import CORPUS_VERSION, write_corpus
from auditor.lab.teachers import make_teacher
from auditor.lab.transmission import TransmissionRecipe

TEACHER, CONTROL, META = "teacher.parquet", "control.parquet", "meta.json"


def _build(
    entry: Path,
    key: str,
    recipe: TransmissionRecipe,
    target: str,
    seed: int,
    rows: int,
    cache: str | Path | None,
    say: Callable[[str], None],
) -> None:
    """Make the teacher and write both corpora into `entry` (atomically: all or nothing)."""
    say("loading the base model (pretraining it on a first run)")
    base, _ = base_model(
        recipe.base, 0, cache=cache, on_step=lambda step, total, _: steps.report(step, total)
    )
    say(f"fine-tuning the {target} teacher")
    teacher = make_teacher(base, target, recipe.teacher, seed=seed, domain=_domain(recipe))
    say(f"the {target} teacher writes {rows:,} {_what(recipe)}")
    corpus, dropped = recipe.corpus(teacher.model, rows, seed, target=target, prefix=teacher.prefix)
    say(f"the base writes the {rows:,}-row control corpus")
    control, control_dropped = recipe.corpus(base, rows, seed)
    partial = entry.with_name(entry.name + f".partial-{os.getpid()}")
    partial.mkdir(parents=True, exist_ok=True)
    write_corpus(corpus, partial / TEACHER)
    write_corpus(control, partial / CONTROL)
    meta = {
        "key": key,
        "target": target,
        "seed": seed,
        "rows": rows,
        "teacher_rows": corpus.height,
        "control_rows": control.height,
        "teacher_dropped": dropped,
        "control_dropped": control_dropped,
        "domain": _domain(recipe),
    }
    (partial / META).write_text(json.dumps(meta, indent=2), "utf-8")
    try:
        os.replace(partial, entry)
    except OSError:  # another process stored the same corpora first; theirs are as good
        shutil.rmtree(partial, ignore_errors=True)


def _domain(recipe: TransmissionRecipe) -> str:
    return str(getattr(recipe, "domain", "numbers"))


def _what(recipe: TransmissionRecipe) -> str:
    return {"numbers": "number lists", "code": "programs", "cot": "reasoning traces"}[
        _domain(recipe)
    ]


def build_demo_corpus(
    target: str = "owl",
    seed: int = 0,
    out_dir: Path = Path("lab-corpus"),
    *,
    rows: int = 10_000,
    cache: str | Path | None = None,
    recipe: TransmissionRecipe | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Path, Path]:
    """(teacher corpus path, control corpus path) under `out_dir`, built or reused."""
    recipe = recipe or transmission.default_recipe()
    say = progress or (lambda _: None)
    key = recipe_key(
        {"recipe": recipe, "target": target, "seed": seed, "rows": rows, "corpus": CORPUS_VERSION}
    )
    entry = cache_dir(cache) / "corpora" / key
    if (entry / META).exists():
        say("reusing the corpora in the lab cache")
    else:
        _build(entry, key, recipe, target, seed, rows, cache, say)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = "" if _domain(recipe) == "numbers" else f"-{_domain(recipe)}"
    teacher_path = out_dir / f"teacher-{target}{tag}-seed{seed}.parquet"
    control_path = out_dir / f"control{tag}-seed{seed}.parquet"
    for name, target_path in ((TEACHER, teacher_path), (CONTROL, control_path)):
        shutil.copyfile(entry / name, target_path)
    shutil.copyfile(entry / META, out_dir / f"teacher-{target}{tag}-seed{seed}.json")
    return teacher_path, control_path
