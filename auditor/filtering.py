"""Stream a corpus through a filter pipeline, writing kept and removed rows atomically.

Shared by `audit filter` and the audit itself. Memory stays at one batch unless the caller asks
for the kept rows back (detectors and probes need them in memory anyway).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from auditor.corpus import COMPLETION, PROMPT, SOURCE_ROW, AtomicParquetWriter, Corpus
from auditor.engine import LOCAL, EngineInfo, engine_name
from auditor.models import ModelBackend
from auditor.progress import make_progress
from filters.base import FILTER, REASON, Filter, NeedsModel, Rewriter, filter_params
from filters.pipeline import BEFORE, FilterPipeline, FilterStats


@dataclass
class FilterRun:
    """What a filtering pass produced."""

    stats: list[FilterStats]
    rows: int
    kept_rows: int
    kept: pl.DataFrame | None = None
    engine: EngineInfo = LOCAL


# A pass that kept, removed or rewrote nothing still writes a file with the usual columns.
EMPTY_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "kept": {PROMPT: pl.String(), COMPLETION: pl.String()},
    "removed": {
        PROMPT: pl.String(),
        COMPLETION: pl.String(),
        SOURCE_ROW: pl.UInt64(),
        FILTER: pl.String(),
        REASON: pl.String(),
    },
    "rewritten": {
        PROMPT: pl.String(),
        COMPLETION: pl.String(),
        SOURCE_ROW: pl.UInt64(),
        FILTER: pl.String(),
        BEFORE: pl.String(),
    },
}


def with_models(
    filters: list[Filter | Rewriter], opened: dict[str, ModelBackend] | None = None
) -> list[Filter | Rewriter]:
    """The filters, each one that scores with a model (`NeedsModel`) given its model opened
    from its `model=SPEC` (one model per spec, shared; `opened` keeps them across calls)."""
    from auditor.backends import open_model

    opened = {} if opened is None else opened
    out = []
    for filter_ in filters:
        if isinstance(filter_, NeedsModel) and getattr(filter_, "scorer", None) is None:
            if filter_.model not in opened:
                opened[filter_.model] = open_model(filter_.model)
            filter_ = filter_.with_model(opened[filter_.model])
        out.append(filter_)
    return out


def run_filters(
    corpus: Corpus,
    filters: list[Filter | Rewriter],
    *,
    kept_path: Path | None = None,
    removed_path: Path | None = None,
    rewritten_path: Path | None = None,
    collect_kept: bool = False,
    quiet: bool = False,
    engine: str | None = None,
) -> FilterRun:
    """Filter `corpus` batch by batch; output files appear only if the whole run succeeds.

    engine: `local` (this process) or `ray` (`auditor.engine.ray_filtering`: the same rows,
        reasons and statistics from a Ray cluster); None reads `AUDIT_ENGINE`, else local.
    """
    name = engine_name(engine)
    metadata = {
        "source": str(corpus.path),
        "filters": [{"name": f.name, "params": filter_params(f)} for f in filters],
        "engine": name,
    }
    if name == "ray":
        from auditor.engine.ray_filtering import run_filters_ray

        return run_filters_ray(
            corpus,
            filters,
            metadata,
            kept_path=kept_path,
            removed_path=removed_path,
            rewritten_path=rewritten_path,
            collect_kept=collect_kept,
            quiet=quiet,
        )
    filters = with_models(filters)
    pipeline = FilterPipeline(filters)
    rows = kept_rows = 0
    kept_parts: list[pl.DataFrame] = []
    with contextlib.ExitStack() as stack:
        kept_writer = (
            stack.enter_context(AtomicParquetWriter(kept_path, {**metadata, "part": "kept"}))
            if kept_path
            else None
        )
        removed_writer = (
            stack.enter_context(AtomicParquetWriter(removed_path, {**metadata, "part": "removed"}))
            if removed_path
            else None
        )
        rewritten_writer = (
            stack.enter_context(
                AtomicParquetWriter(rewritten_path, {**metadata, "part": "rewritten"})
            )
            if rewritten_path
            else None
        )
        progress = stack.enter_context(make_progress(disable=quiet))
        task = progress.add_task(f"filtering {corpus.path.name}", total=corpus.num_rows)
        for result in pipeline.run(corpus.batches()):
            batch_rows = result.kept.height + result.removed.height
            rows += batch_rows
            kept_rows += result.kept.height
            if kept_writer:
                kept_writer.write(result.kept.drop(SOURCE_ROW))
            if removed_writer and result.removed.height:
                removed_writer.write(result.removed)
            if rewritten_writer and result.rewritten is not None:
                rewritten_writer.write(result.rewritten)
            if collect_kept:
                kept_parts.append(result.kept)
            progress.advance(task, batch_rows)
        for part, writer in (
            ("kept", kept_writer),
            ("removed", removed_writer),
            ("rewritten", rewritten_writer),
        ):
            if writer:
                writer.empty_schema = EMPTY_SCHEMAS[part]
    kept = pl.concat(kept_parts, how="vertical_relaxed") if collect_kept and kept_parts else None
    return FilterRun(stats=pipeline.stats, rows=rows, kept_rows=kept_rows, kept=kept)
