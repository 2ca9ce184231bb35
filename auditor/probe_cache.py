"""Probe-student results kept on disk, keyed by everything that produced them.

Training probe students is the slow part of an audit. When the student's weights are named
exactly by a key (`Reproducible`, e.g. a lab model: the hash of its recipe), the result is a
function of that key, the two corpora's content, the trait and the training settings, so it is
stored under the hash of those and a second audit of the same corpora, from any folder, reads
it back instead of training again. Stored in the lab cache (`AUDIT_LAB_CACHE`) under `probes/`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields
from pathlib import Path

import polars as pl

from auditor.corpus import tool_version
from auditor.models import Reproducible
from auditor.probing import ProbeConfig, ProbeResult


def corpus_digest(frame: pl.DataFrame) -> str:
    """A hash of the corpus's prompts and completions, in order."""
    digest = hashlib.sha256()
    for prompt, completion in frame.select("prompt", "completion").iter_rows():
        digest.update(f"{len(prompt)}:{prompt}{len(completion)}:{completion}".encode())
    return digest.hexdigest()


def probe_key(
    student: object,
    corpus: pl.DataFrame,
    control: pl.DataFrame,
    trait: str,
    config: ProbeConfig,
) -> str | None:
    """The cache key of a probe, or None when the student's weights have no name."""
    recipe = student.recipe_key() if isinstance(student, Reproducible) else None
    if recipe is None:
        return None
    payload = {
        "student": recipe,
        "corpus": corpus_digest(corpus),
        "control": corpus_digest(control),
        "trait": trait,
        "config": asdict(config),
        "tool": tool_version(),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _path(key: str) -> Path:
    from auditor.lab.cache import cache_dir

    return cache_dir() / "probes" / f"{key}.json"


def load(key: str) -> ProbeResult | None:
    """The stored result for `key`, or None (absent or unreadable: it is computed again)."""
    try:
        record = json.loads(_path(key).read_text("utf-8"))
        values = {f.name: record[f.name] for f in fields(ProbeResult)}
    except (OSError, ValueError, KeyError):
        return None
    for name in ("corpus", "control", "students", "seeds"):
        values[name] = tuple(values[name])
    return ProbeResult(**values)


def store(key: str, result: ProbeResult) -> None:
    from auditor.lab.report import write_json

    write_json(_path(key), result.to_dict())
