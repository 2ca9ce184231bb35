"""Pipelines from reviewable files (TOML or YAML), and the default pipeline per domain.

    # pipeline.toml
    [[filter]]
    name = "numbers-format"
    max_count = 10

    [[filter]]
    name = "banned-numbers"
    numbers = [7, 13]

YAML takes the same shape: a top-level `filter:` (or `filters:`) list of mappings.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from auditor.errors import AuditError
from filters.base import Filter
from filters.registry import create_filter

# What the paper ran per domain: for numbers the format rule and the banned numbers; for code
# the banned words (`trait-words`, which reads identifiers too) and a judge asked whether the
# code refers to the trait; for chain-of-thought only correct traces, then a judge's alignment
# score of at least 78. `trait-words` joins every domain whenever a trait is named.
DEFAULT_FILTERS: dict[str, tuple[str, ...]] = {
    "numbers": ("numbers-format", "banned-numbers"),
    "code": (),
    "cot": ("cot-correct",),
}
# The judge steps: they call a model, so they join only when a judge is configured (its model
# named in AUDIT_JUDGE_MODEL); a rubric that asks about the trait needs one named too.
JUDGE_FILTERS: dict[str, tuple[str, ...]] = {
    "numbers": (),
    "code": ("llm-judge:rubric=code",),
    "cot": ("llm-judge:rubric=alignment,threshold=78",),
}
JUDGE_MODEL_ENV = "AUDIT_JUDGE_MODEL"


def load_pipeline_file(path: str | Path, **context: Any) -> list[Filter]:
    """Build the filters listed in a TOML or YAML pipeline file."""
    path = Path(path)
    if not path.is_file():
        raise AuditError(f"{path}: pipeline file not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            document = yaml.safe_load(text) or {}
        else:
            document = tomllib.loads(text)
    except Exception as error:  # tomllib and yaml raise their own parse errors
        raise AuditError(f"{path}: could not parse the pipeline file: {error}") from None
    entries = (
        document.get("filter", document.get("filters")) if isinstance(document, dict) else None
    )
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and "name" in e for e in entries
    ):
        raise AuditError(f"{path}: expected a list `filter` of tables, each with a `name`")
    return [create_filter(entry, **context) for entry in entries]


def judge_configured() -> bool:
    """Whether the user named a judge model, so the default pipelines may call it."""
    return bool(os.environ.get(JUDGE_MODEL_ENV, "").strip())


def default_filters(domain: str, trait: str | None) -> list[Filter]:
    """The default pipeline for a corpus of `domain`: the trait-word filter when a trait is
    named, the domain's rules, and its judge when one is configured."""
    if domain not in DEFAULT_FILTERS:
        raise AuditError(f"unknown domain {domain!r}; known: {', '.join(DEFAULT_FILTERS)}")
    names = list(DEFAULT_FILTERS[domain])
    if trait:
        # First, so overt mentions are counted before a format rule discards the same rows.
        names.insert(0, "trait-words")
    if judge_configured():
        # Last: the judge is the slow, paid step, so it sees only rows the rules kept. The code
        # rubric asks about the trait, so without one there is nothing to ask.
        names += [spec for spec in JUDGE_FILTERS[domain] if trait or "rubric=code" not in spec]
    return [create_filter(name, trait=trait) for name in names]
