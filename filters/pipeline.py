"""Run filters in order over streamed batches and count what each one removed, and why.

Each filter sees only the rows the filters before it kept, so `seen` falls along the pipeline
and every removed row is charged to exactly one filter. Per filter the pipeline counts rows
seen, kept and removed, removal reasons with counts, and keeps a few example rows per reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from auditor.corpus.schema import COMPLETION
from auditor.errors import AuditError
from filters.base import FILTER, REASON, Filter, filter_params, flags_trait

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
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(item) for item in value]
    return str(value)


@dataclass(frozen=True)
class BatchResult:
    """One batch after the pipeline: the rows kept, and the rows removed with filter and reason."""

    kept: pl.DataFrame
    removed: pl.DataFrame


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
                flags_trait=flags_trait(f),
            )
            for index, f in enumerate(self.filters)
        ]

    def apply(self, batch: pl.DataFrame) -> BatchResult:
        """Filter one batch, updating the statistics."""
        removed_parts: list[pl.DataFrame] = []
        current = batch
        for filter_, stats in zip(self.filters, self.stats, strict=True):
            if current.height == 0:
                break
            reasons = filter_.reasons(current)
            if len(reasons) != current.height:
                raise AuditError(
                    f"filter {filter_.name!r} returned {len(reasons)} decisions "
                    f"for {current.height} rows"
                )
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
            absorb = getattr(filter_, "stats_extra", None)
            if callable(absorb):
                stats.extra = absorb()
        removed_all = (
            pl.concat(removed_parts, how="vertical_relaxed")
            if removed_parts
            else batch.clear().with_columns(
                pl.lit(None, dtype=pl.String).alias(FILTER),
                pl.lit(None, dtype=pl.String).alias(REASON),
            )
        )
        return BatchResult(kept=current, removed=removed_all)

    def run(
        self,
        batches: Iterable[pl.DataFrame],
        on_batch: Callable[[BatchResult], None] | None = None,
    ) -> Iterator[BatchResult]:
        """Filter a stream of batches lazily (memory stays at one batch)."""
        for batch in batches:
            result = self.apply(batch)
            if on_batch:
                on_batch(result)
            yield result

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
