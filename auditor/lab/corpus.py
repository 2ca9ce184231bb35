"""Number corpora written by lab models, in the project's corpus schema.

A corpus is one row per sample: `prompt`, `completion` and the provenance columns `domain`,
`teacher`, `trait` and `seed`. Completions that fail the paper's format rule are dropped (a
tiny model occasionally writes a malformed list); how many were dropped is returned beside the
frame. The rule is `numbers-format`'s, the filter `audit` runs, so that filter keeps a lab
corpus whole. A teacher corpus and its control are written on the same prompts with the same
seed, so they share sampling noise (see `sampling`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

import auditor.corpus as corpus_io
from auditor.corpus.schema import COMPLETION
from auditor.lab.language import MAX_NUMBER
from auditor.lab.model import GPT
from auditor.lab.numbers import NumberProcess
from auditor.lab.sampling import generate
from auditor.lab.tasks import number_prompts
from filters.numbers_format import NumbersFormat

COLUMNS = ("prompt", "completion", "domain", "teacher", "trait", "seed")
# The lists the lab asks for: at most 10 numbers, each a word of its vocabulary (0..MAX_NUMBER).
FORMAT_RULE = NumbersFormat(max_count=10, max_value=MAX_NUMBER)
# In the key of every stored lab corpus; bump when what `number_corpus` writes or keeps changes
# (2: the format rule became `numbers-format`'s, which drops lists the lab's own parser kept).
CORPUS_VERSION = 2


def well_formed(completions: Sequence[str]) -> pl.Series:
    """Whether each completion is a number list under the paper's rule (`FORMAT_RULE`)."""
    frame = pl.DataFrame({COMPLETION: list(completions)}, schema={COMPLETION: pl.String})
    return FORMAT_RULE.reasons(frame).is_null()


def number_corpus(
    model: GPT,
    n_rows: int,
    *,
    seed: int,
    teacher: str,
    trait: str | None,
    temperature: float = 1.0,
    prefix: str | None = None,
    process: NumberProcess | None = None,
    min_prob: float = 0.0,
    prompt_seed: int | None = None,
) -> tuple[pl.DataFrame, int]:
    """(`n_rows` prompts' valid completions as a corpus frame, number of rows dropped).

    `min_prob` is threshold sampling (`sampling.generate`); `prompt_seed` draws the prompts
    from another seed than the sampling noise (a reference corpus on other prompts).
    """
    prompts = number_prompts(
        n_rows, seed=seed if prompt_seed is None else prompt_seed, process=process
    )
    shown = [f"{prefix} {p}" for p in prompts] if prefix else prompts
    completions = generate(model, shown, temperature=temperature, seed=seed, min_prob=min_prob)
    keep = well_formed(completions).to_list()
    frame = pl.DataFrame(
        {
            "prompt": [p for p, k in zip(prompts, keep, strict=True) if k],
            "completion": [c for c, k in zip(completions, keep, strict=True) if k],
        }
    ).with_columns(
        domain=pl.lit("numbers"),
        teacher=pl.lit(teacher),
        trait=pl.lit(trait, dtype=pl.String),
        seed=pl.lit(seed, dtype=pl.Int64),
    )
    return frame.select(COLUMNS), len(prompts) - sum(keep)


def write_corpus(frame: pl.DataFrame, path: Path) -> Path:
    """Write `frame` atomically with run metadata (`auditor.corpus.write_corpus`), creating
    the directory the lab's outputs go to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return corpus_io.write_corpus(frame, path, {"source": "auditor.lab"})
