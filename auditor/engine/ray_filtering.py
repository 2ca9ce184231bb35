"""The filter pipeline on Ray Data: blocks read in parallel, one `map_batches` stage per filter.

Same answer as the local engine, row for row: a block is exactly one of the local engine's
batches (the same `batch_rows`, the same reader, validation and `source_row` numbering), and
every stage applies its filter with the local `FilterPipeline` to the block's rows still alive.
Removed rows stay in the block, marked with their filter, reason and step, so the driver can
write them in the local engine's order (by block, then filter, then row) and count the
statistics from the rows themselves; a filter with totals of its own (the judge's cache hits,
retries, cost) adds one record per block with what that block added. Counting from the data
rather than from side channels means a block Ray re-runs after a worker died is counted once.

The driver streams the finished blocks in order into the same atomic writers as the local
engine, so outputs appear only when the whole run succeeded.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from auditor.corpus import COMPLETION, PROMPT, SOURCE_ROW, AtomicParquetWriter, Corpus
from auditor.engine.blocks import BlockSpec, block_specs, read_block
from auditor.engine.cluster import cluster_info, ensure_ray
from auditor.errors import AuditError
from auditor.progress import make_progress
from filters.base import FILTER, REASON, Filter, NeedsModel, ReportsExtraStats, Rewriter
from filters.pipeline import BEFORE, FilterPipeline, FilterStats

# Internal columns: what a row is, which step removed or rewrote it, its block, a stats record.
PART, STEP, BLOCK, EXTRA = "_part", "_step", "_block", "_extra"
ROW, REWRITE, TOTALS = 0, 1, 2
ALIVE = -1
INTERNAL = (FILTER, REASON, BEFORE, PART, STEP, BLOCK, EXTRA)


def _marked(frame: pl.DataFrame, part: int, step: int, block: int) -> pl.DataFrame:
    """`frame` with every internal column present (nulls where they do not apply)."""
    columns = []
    for name in (FILTER, REASON, BEFORE):
        if name not in frame.columns:
            columns.append(pl.lit(None, dtype=pl.String).alias(name))
    return frame.with_columns(
        *columns,
        pl.lit(part, dtype=pl.Int8).alias(PART),
        pl.lit(step, dtype=pl.Int32).alias(STEP),
        pl.lit(block, dtype=pl.Int64).alias(BLOCK),
        pl.lit(None, dtype=pl.String).alias(EXTRA),
    )


class ReadStage:
    """Ray Data map: a table of block specs -> the blocks' canonical rows."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def __call__(self, specs: Any) -> Any:
        frames = []
        for values in specs.to_pylist():
            spec = BlockSpec(**values)
            frames.append(_marked(read_block(self.corpus, spec), ROW, ALIVE, spec.index))
        return pl.concat(frames, how="vertical_relaxed").to_arrow()


# Models opened by this worker process, by spec: a model-scoring filter opens its model once
# per worker, not once per block.
_WORKER_MODELS: dict[str, Any] = {}


class FilterStage:
    """Ray Data map: apply filter number `step` to the rows of a block still alive."""

    def __init__(self, filter_: Filter | Rewriter, step: int, name: str) -> None:
        self.filter = filter_
        self.step = step
        self.name = name

    def __reduce__(self) -> Any:
        return (_rebuilt_stage, (_portable(self.filter), self.step, self.name))

    def _ready_filter(self) -> Filter | Rewriter:
        if isinstance(self.filter, NeedsModel) and getattr(self.filter, "scorer", None) is None:
            from auditor.filtering import with_models

            self.filter = with_models([self.filter], _WORKER_MODELS)[0]
        return self.filter

    def __call__(self, table: Any) -> Any:
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        alive = (pl.col(PART) == ROW) & (pl.col(STEP) == ALIVE)
        live = frame.filter(alive)
        if live.height == 0:
            return table
        block = int(live.get_column(BLOCK)[0])
        canonical = [c for c in live.columns if c not in INTERNAL]
        filter_ = self._ready_filter()
        before = filter_.stats_extra() if isinstance(filter_, ReportsExtraStats) else None
        pipeline = FilterPipeline([filter_])
        pipeline.stats[0].name = self.name
        result = pipeline.apply(live.select(canonical))
        parts = [
            frame.filter(~alive),
            _marked(result.kept, ROW, ALIVE, block),
            _marked(result.removed, ROW, self.step, block),
        ]
        if result.rewritten is not None:
            parts.append(_marked(result.rewritten, REWRITE, self.step, block))
        if before is not None:
            added = numeric_delta(filter_.stats_extra(), before)  # type: ignore[union-attr]
            record = pl.DataFrame({PROMPT: [""], COMPLETION: [""]})
            parts.append(
                _marked(record, TOTALS, self.step, block).with_columns(
                    pl.lit(json.dumps(added)).alias(EXTRA)
                )
            )
        return pl.concat(parts, how="diagonal_relaxed").select(frame.columns).to_arrow()


def _portable(filter_: Filter | Rewriter) -> Any:
    """What travels to a worker: the filter itself when it pickles, else (a filter holding a
    lock, say) its class, its parameters and whatever else of its state can travel; the
    worker builds it again, as a config file would."""
    from ray import cloudpickle

    try:
        cloudpickle.dumps(filter_)
        return filter_
    except Exception:
        if not dataclasses.is_dataclass(filter_):
            raise AuditError(f"filter {filter_.name!r} cannot be sent to Ray workers") from None
    fields = dataclasses.fields(filter_)
    params = {f.name: getattr(filter_, f.name) for f in fields if f.init}
    state = {}
    for f in fields:
        if not f.init:
            try:
                cloudpickle.dumps(value := getattr(filter_, f.name))
            except Exception:
                continue  # rebuilt from the parameters on the worker
            state[f.name] = value
    return (type(filter_), params, state)


def _rebuilt_stage(portable: Any, step: int, name: str) -> FilterStage:
    if isinstance(portable, tuple):
        cls, params, state = portable
        portable = cls(**params)
        for key, value in state.items():
            setattr(portable, key, value)
    return FilterStage(portable, step, name)


def numeric_delta(after: Any, before: Any) -> Any:
    """What `after` adds to `before`, leaf by leaf: numbers subtract, anything else is
    `after`'s value (a filter's totals: counts and costs grow, names stay)."""
    if isinstance(after, dict):
        before = before if isinstance(before, dict) else {}
        return {key: numeric_delta(value, before.get(key)) for key, value in after.items()}
    if _number(after) and _number(before):
        return after - before
    return after


def numeric_sum(total: Any, added: Any) -> Any:
    """`total` plus one block's `numeric_delta` (the inverse of it)."""
    if isinstance(added, dict):
        total = total if isinstance(total, dict) else {}
        keys = list(dict.fromkeys([*total, *added]))
        return {key: numeric_sum(total.get(key), added.get(key)) for key in keys}
    if added is None:
        return total if total is not None and not _number(total) else None
    if _number(added) and _number(total):
        return total + added
    return added


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def run_filters_ray(
    corpus: Corpus,
    filters: list[Filter | Rewriter],
    metadata: dict[str, Any],
    *,
    kept_path: Path | None,
    removed_path: Path | None,
    rewritten_path: Path | None,
    collect_kept: bool,
    quiet: bool,
) -> Any:
    """`auditor.filtering.run_filters` on Ray (see the module docstring)."""
    from auditor.filtering import EMPTY_SCHEMAS, FilterRun

    ray = ensure_ray()

    specs = block_specs(corpus)
    if not specs or not any(spec.rows for spec in specs):
        raise AuditError(f"{corpus.path}: the corpus is empty (no rows)")
    pipeline = FilterPipeline(filters)  # the stats' names, params and flags, as locally
    stats = pipeline.stats
    staged, pools = _share_judge_limits(filters)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.raise_original_map_exception = True
    dataset = ray.data.from_items(
        [vars(spec) for spec in specs], override_num_blocks=len(specs)
    ).map_batches(ReadStage(corpus), batch_size=None, batch_format="pyarrow")
    for step, (filter_, stat) in enumerate(zip(staged, stats, strict=True)):
        dataset = dataset.map_batches(
            FilterStage(filter_, step, stat.name),
            batch_size=None,
            batch_format="pyarrow",
            **_resources(filter_),
        )
    rows = kept_rows = 0
    kept_parts: list[pl.DataFrame] = []
    try:
        with contextlib.ExitStack() as stack:
            writers = {
                part: stack.enter_context(AtomicParquetWriter(path, {**metadata, "part": part}))
                for part, path in (
                    ("kept", kept_path),
                    ("removed", removed_path),
                    ("rewritten", rewritten_path),
                )
                if path
            }
            progress = stack.enter_context(make_progress(disable=quiet))
            task = progress.add_task(f"filtering {corpus.path.name} on Ray", total=corpus.num_rows)
            for block in _blocks_in_order(dataset):
                out = _account(block, stats)
                rows += out.rows
                kept_rows += out.kept.height
                if "kept" in writers:
                    writers["kept"].write(out.kept.drop(SOURCE_ROW))
                if "removed" in writers and out.removed.height:
                    writers["removed"].write(out.removed)
                if "rewritten" in writers and out.rewritten.height:
                    writers["rewritten"].write(out.rewritten)
                if collect_kept:
                    kept_parts.append(out.kept)
                progress.advance(task, out.rows)
            for part, writer in writers.items():
                writer.empty_schema = EMPTY_SCHEMAS[part]
        permits = [ray.get(pool.report.remote()) for pool in pools]
    except Exception as error:
        raise _user_error(error) from None
    finally:
        for pool in pools:
            ray.kill(pool)
    kept = pl.concat(kept_parts, how="vertical_relaxed") if collect_kept and kept_parts else None
    info = cluster_info(
        ray,
        blocks=len(specs),
        stages=1 + len(filters),
        **({"judge_permits": permits} if permits else {}),
    )
    return FilterRun(stats=stats, rows=rows, kept_rows=kept_rows, kept=kept, engine=info)


def _share_judge_limits(
    filters: list[Filter | Rewriter],
) -> tuple[list[Filter | Rewriter], list[Any]]:
    """The filters as the stages run them, each judge a copy sharing one cluster-wide permit
    pool (its `concurrency` is the limit), and the pools; the caller's judges are untouched,
    so they still run here afterwards (the audit filters its reference with them)."""
    from filters.llm_judge import LLMJudge

    if not any(isinstance(f, LLMJudge) for f in filters):
        return filters, []
    from auditor.engine.judge_limit import share_limit

    staged: list[Filter | Rewriter] = []
    pools = []
    for filter_ in filters:
        if isinstance(filter_, LLMJudge):
            filter_ = copy.copy(filter_)
            pools.append(share_limit(filter_, f"judge-permits-{uuid.uuid4().hex[:12]}"))
        staged.append(filter_)
    return staged, pools


def _resources(filter_: Filter | Rewriter) -> dict[str, Any]:
    """Per-task resources: a model-scoring filter gets a GPU when the cluster has one."""
    import ray

    if isinstance(filter_, NeedsModel) and ray.cluster_resources().get("GPU", 0) >= 1:
        return {"num_gpus": 1}
    return {}


def _blocks_in_order(dataset: Any) -> Any:
    """The finished rows, one whole block at a time, in block order (Ray may hand a block
    over in pieces; pieces of one block arrive together since order is preserved)."""
    pending: list[pl.DataFrame] = []
    current: int | None = None
    for table in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        if frame.height == 0:
            continue
        for (block,), piece in frame.group_by(BLOCK, maintain_order=True):
            if current is not None and block != current:
                yield pl.concat(pending, how="vertical_relaxed")
                pending = []
            current = int(block)  # type: ignore[arg-type]
            pending.append(piece)
    if pending:
        yield pl.concat(pending, how="vertical_relaxed")


@dataclass
class _BlockOut:
    rows: int
    kept: pl.DataFrame
    removed: pl.DataFrame
    rewritten: pl.DataFrame


def _account(block: pl.DataFrame, stats: list[FilterStats]) -> _BlockOut:
    """Split a finished block into kept, removed and rewritten rows (in the local engine's
    order) and add its counts to `stats`, filter by filter, as the local pipeline counts."""
    canonical = [c for c in block.columns if c not in INTERNAL]
    rows = block.filter(pl.col(PART) == ROW)
    kept = rows.filter(pl.col(STEP) == ALIVE).sort(SOURCE_ROW).select(canonical)
    removed_all = rows.filter(pl.col(STEP) != ALIVE).sort(STEP, SOURCE_ROW)
    rewrites = block.filter(pl.col(PART) == REWRITE).sort(STEP, SOURCE_ROW)
    totals = block.filter(pl.col(PART) == TOTALS)
    alive = rows.height
    for step, stat in enumerate(stats):
        if alive == 0:
            break
        removed = removed_all.filter(pl.col(STEP) == step)
        stat.seen += alive
        stat.removed += removed.height
        stat.kept += alive - removed.height
        alive -= removed.height
        if removed.height:
            FilterPipeline._count_reasons(stat, removed)
        if stat.rewrites:
            changed = rewrites.filter(pl.col(STEP) == step)
            stat.rewritten += changed.height
            FilterPipeline._note_rewrites(stat, changed)
        for added in totals.filter(pl.col(STEP) == step).get_column(EXTRA):
            stat.extra = numeric_sum(stat.extra, json.loads(added))
    return _BlockOut(
        rows=rows.height,
        kept=kept,
        removed=removed_all.select(*canonical, FILTER, REASON),
        rewritten=rewrites.select(*canonical, FILTER, BEFORE),
    )


_RAY_RETRY_NOTE = "\nFailed to apply UDF transform"


def _user_error(error: BaseException) -> BaseException:
    """The `AuditError` behind a Ray failure (a bad row read on a worker), else a clear one."""
    if isinstance(error, (KeyboardInterrupt, SystemExit)):
        return error
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        inner = getattr(cause, "cause", None)  # a RayTaskError: the worker's own exception
        if isinstance(inner, BaseException):
            cause = inner
            continue
        if isinstance(cause, AuditError):
            # Ray Data appends its retry advice to a map's error; the user's message is ours.
            return AuditError(str(cause).split(_RAY_RETRY_NOTE, 1)[0])
        cause = cause.__cause__ or cause.__context__
    return AuditError(f"--engine ray: the run failed and wrote no output: {error}")
