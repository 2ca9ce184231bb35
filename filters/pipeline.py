"""Run filters in order over streamed batches and count what each one removed, and why.

Each filter sees only the rows the filters before it kept, so `seen` falls along the pipeline
and every removed row is charged to exactly one filter. Per filter the pipeline counts rows
seen, kept and removed, removal reasons with counts, and keeps a few example rows per reason.
A rewriting filter (`filters.base.Rewriter`) keeps every row and may change its completion; the
pipeline counts the rows it changed and returns each change (before and after) beside the drops.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from auditor.corpus.schema import COMPLETION
from auditor.errors import AuditError
from filters.base import (
    FILTER,
    REASON,
    Filter,
    ReportsExtraStats,
    Rewriter,
    filter_params,
    flags_trait,
)

BEFORE = "before"

EXAMPLES_PER_REASON = 3
EXAMPLE_CHARS = 160


@dataclass
class FilterStats:
    """What one filter did over the whole corpus."""

    name: str
    params: dict[str, Any]
    #: The filter's removals mean rows show the trait openly (`filters.base.flags_trait`).
    flags_trait: bool = False
    seen: int = 0
    kept: int = 0
    removed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    rewrites: bool = False  # a rewriting filter: it changes rows rather than dropping them
    rewritten: int = 0
    rewrite_examples: list[str] = field(default_factory=list)

    @property
    def retention(self) -> float:
        return self.kept / self.seen if self.seen else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": {key: _jsonable(value) for key, value in self.params.items()},
            "flags_trait": self.flags_trait,
            "seen": self.seen,
            "kept": self.kept,
            "removed": self.removed,
            "retention": round(self.retention, 6),
            "reasons": dict(self.reasons.most_common()),
            "examples": self.examples,
            **({"extra": self.extra} if self.extra else {}),
            **(
                {"rewritten": self.rewritten, "rewrite_examples": self.rewrite_examples}
                if self.rewrites
                else {}
            ),
        }


def _checked(out: object, name: str, rows: int, what: str) -> pl.Series:
    """A filter's answer, if it is one String Series per row (null keeps / leaves a row as it
    was); anything else, a boolean mask say, is one clear error rather than every non-null
    value read as a reason to drop."""
    if not isinstance(out, pl.Series):
        raise AuditError(f"filter {name!r} returned {type(out).__name__}, not a polars Series")
    if out.dtype not in (pl.String, pl.Null):
        raise AuditError(
            f"filter {name!r} returned a {out.dtype} Series; it must hold strings "
            "(null keeps a row, a reason drops it; a rewrite is the new completion or null)"
        )
    if len(out) != rows:
        raise AuditError(f"filter {name!r} returned {len(out)} {what} for {rows} rows")
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(item) for item in value]
    return str(value)


@dataclass(frozen=True)
class BatchResult:
    """One batch after the pipeline: the rows kept, the rows removed with filter and reason,
    and the rows a rewriting filter changed (with filter and the completion `before`)."""

    kept: pl.DataFrame
    removed: pl.DataFrame
    rewritten: pl.DataFrame | None = None


class FilterPipeline:
    """An ordered list of filters with running statistics."""

    def __init__(self, filters: Iterable[Filter]) -> None:
        self.filters = list(filters)
        names = [f.name for f in self.filters]
        duplicated = {name for name in names if names.count(name) > 1}
        self.stats = [
            FilterStats(
                name=f"{f.name}#{index}" if f.name in duplicated else f.name,
                params=filter_params(f),
                rewrites=isinstance(f, Rewriter),
                flags_trait=flags_trait(f),
            )
            for index, f in enumerate(self.filters)
        ]

    def apply(self, batch: pl.DataFrame) -> BatchResult:
        """Filter one batch, updating the statistics."""
        removed_parts: list[pl.DataFrame] = []
        rewritten_parts: list[pl.DataFrame] = []
        current = batch
        for filter_, stats in zip(self.filters, self.stats, strict=True):
            if current.height == 0:
                break
            if isinstance(filter_, Rewriter):
                current, changed = self._rewrite(filter_, stats, current)
                if changed.height:
                    rewritten_parts.append(changed)
                continue
            reasons = _checked(filter_.reasons(current), filter_.name, current.height, "decisions")
            dropped = reasons.is_not_null()
            n_dropped = int(dropped.sum())
            stats.seen += current.height
            stats.removed += n_dropped
            stats.kept += current.height - n_dropped
            if n_dropped:
                removed = current.filter(dropped).with_columns(
                    pl.lit(stats.name).alias(FILTER), reasons.filter(dropped).alias(REASON)
                )
                self._count_reasons(stats, removed)
                removed_parts.append(removed)
                current = current.filter(~dropped)
            if isinstance(filter_, ReportsExtraStats):
                stats.extra = filter_.stats_extra()
        removed_all = (
            pl.concat(removed_parts, how="vertical_relaxed")
            if removed_parts
            else batch.clear().with_columns(
                pl.lit(None, dtype=pl.String).alias(FILTER),
                pl.lit(None, dtype=pl.String).alias(REASON),
            )
        )
        rewritten = pl.concat(rewritten_parts, how="vertical_relaxed") if rewritten_parts else None
        return BatchResult(kept=current, removed=removed_all, rewritten=rewritten)

    @staticmethod
    def _rewrite(
        rewriter: Rewriter, stats: FilterStats, current: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(the batch with the rewriter's changes applied, the changed rows with `before`)."""
        proposed = _checked(rewriter.rewrite(current), rewriter.name, current.height, "rewrites")
        old = current.get_column(COMPLETION)
        changed = (proposed.is_not_null() & (proposed != old)).fill_null(False)
        new = pl.select(
            pl.when(pl.lit(changed)).then(pl.lit(proposed)).otherwise(pl.lit(old))
        ).to_series()
        stats.seen += current.height
        stats.kept += current.height
        n_changed = int(changed.sum())
        stats.rewritten += n_changed
        after = current.with_columns(new.alias(COMPLETION))
        record = after.filter(changed).with_columns(
            pl.lit(stats.name).alias(FILTER), old.filter(changed).alias(BEFORE)
        )
        FilterPipeline._note_rewrites(stats, record)
        return after, record

    @staticmethod
    def _note_rewrites(stats: FilterStats, record: pl.DataFrame) -> None:
        """Keep the first few changes (before -> after) as the filter's examples."""
        room = EXAMPLES_PER_REASON - len(stats.rewrite_examples)
        for before, text in record.head(max(0, room)).select(BEFORE, COMPLETION).iter_rows():
            stats.rewrite_examples.append(
                f"{before[: EXAMPLE_CHARS // 2]} -> {text[: EXAMPLE_CHARS // 2]}"
            )

    def run(self, batches: Iterable[pl.DataFrame]) -> Iterator[BatchResult]:
        """Filter a stream of batches lazily (memory stays at one batch)."""
        for batch in batches:
            yield self.apply(batch)

    @staticmethod
    def _count_reasons(stats: FilterStats, removed: pl.DataFrame) -> None:
        # Series.value_counts costs a fifth of a DataFrame group_by on a batch this size.
        counts = removed.get_column(REASON).value_counts()
        for reason, count in counts.iter_rows():
            stats.reasons[reason] += count
        for reason in counts.get_column(REASON):
            examples = stats.examples.setdefault(reason, [])
            if len(examples) >= EXAMPLES_PER_REASON:
                continue
            needed = EXAMPLES_PER_REASON - len(examples)
            sample = removed.filter(pl.col(REASON) == reason).head(needed)
            examples.extend(text[:EXAMPLE_CHARS] for text in sample.get_column(COMPLETION))
