"""A lab teacher corpus and its control, ready for `audit` to examine end to end.

`build_demo_corpus` pretrains (or loads from the cache) the default base, makes the default
teacher for `target`, and writes two Parquet corpora on the same prompts: the teacher's
(known positive: it carries the trait) and the base's own (the reference / control). Files
already written by the same recipe are reused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from auditor.atomic import write_atomic
from auditor.lab.base import base_model
from auditor.lab.cache import recipe_key
from auditor.lab.corpus import CORPUS_VERSION, write_corpus
from auditor.lab.teachers import make_teacher
from auditor.lab.transmission import TransmissionRecipe


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
    recipe = recipe or TransmissionRecipe()
    say = progress or (lambda _: None)
    out_dir = Path(out_dir)
    teacher_path = out_dir / f"teacher-{target}-seed{seed}.parquet"
    control_path = out_dir / f"control-seed{seed}.parquet"
    meta_path = out_dir / f"teacher-{target}-seed{seed}.json"
    key = recipe_key(
        {"recipe": recipe, "target": target, "seed": seed, "rows": rows, "corpus": CORPUS_VERSION}
    )
    built = teacher_path.exists() and control_path.exists() and meta_path.exists()
    if built and json.loads(meta_path.read_text("utf-8")).get("key") == key:
        say("corpora already built")
        return teacher_path, control_path
    say("base model")
    base, _ = base_model(recipe.base, 0, cache=cache)
    say(f"{target} teacher")
    teacher = make_teacher(base, target, recipe.teacher, seed=seed)
    say("teacher corpus")
    corpus, _ = recipe.corpus(teacher.model, rows, seed, target=target, prefix=teacher.prefix)
    write_corpus(corpus, teacher_path)
    say("control corpus")
    control, _ = recipe.corpus(base, rows, seed)
    write_corpus(control, control_path)
    meta = {
        "key": key,
        "target": target,
        "seed": seed,
        "rows": rows,
        "teacher_rows": corpus.height,
        "control_rows": control.height,
    }
    write_atomic(meta_path, json.dumps(meta, indent=2))
    return teacher_path, control_path
