"""The pipeline: each filter sees what the previous kept; stats add up over batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import polars as pl

from filters.banned_numbers import BannedNumbers
from filters.base import ReportsExtraStats
from filters.numbers_format import NumbersFormat
from filters.pipeline import EXAMPLES_PER_REASON, FilterPipeline


def _batch(completions: list[str], start: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "prompt": ["give numbers"] * len(completions),
            "completion": completions,
            "source_row": pl.Series(range(start, start + len(completions)), dtype=pl.UInt64),
        }
    )


BATCHES = [
    ["1, 2, 3", "hello", "666, 1", "4, 5"],
    ["7, 8", "hi there", "bye", "1000", "9"],
    ["911", "2, 3", "words again", "more words"],
]


def test_stats_add_up_over_batches_and_charge_each_row_to_one_filter() -> None:
    pipeline = FilterPipeline([NumbersFormat(), BannedNumbers()])
    batches = [_batch(rows, sum(map(len, BATCHES[:i]))) for i, rows in enumerate(BATCHES)]
    results = list(pipeline.run(batches))
    fmt, banned = pipeline.stats

    assert (fmt.seen, fmt.kept, fmt.removed) == (13, 7, 6)
    assert dict(fmt.reasons) == {"no numbers": 5, "number out of range": 1}
    assert (banned.seen, banned.kept, banned.removed) == (7, 4, 3)
    assert dict(banned.reasons) == {
        "banned number 666": 1,
        "banned number 4": 1,
        "banned number 911": 1,
    }
    assert fmt.examples["no numbers"] == ["hello", "hi there", "bye"]

    kept = pl.concat([r.kept for r in results])
    removed = pl.concat([r.removed for r in results])
    assert kept.height + removed.height == 13
    assert sorted(kept["completion"].to_list()) == ["1, 2, 3", "2, 3", "7, 8", "9"]
    assert set(removed.columns) >= {"completion", "source_row", "filter", "reason"}
    assert removed.filter(pl.col("completion") == "1000").row(0, named=True)["filter"] == (
        "numbers-format"
    )


def test_examples_are_capped_per_reason_and_collected_across_batches() -> None:
    pipeline = FilterPipeline([NumbersFormat()])
    for start in range(0, 20, 4):
        pipeline.apply(_batch([f"word{start + i}" for i in range(4)], start))
    stats = pipeline.stats[0]
    assert stats.reasons["not a number list"] == 20
    assert stats.examples["not a number list"] == ["word0", "word1", "word2"]
    assert len(stats.examples["not a number list"]) == EXAMPLES_PER_REASON
    assert stats.to_dict()["retention"] == 0.0


def test_the_same_filter_twice_gets_distinct_names_and_later_filters_skip_empty_batches() -> None:
    pipeline = FilterPipeline([NumbersFormat(), NumbersFormat(max_count=1)])
    assert [s.name for s in pipeline.stats] == ["numbers-format#0", "numbers-format#1"]
    result = pipeline.apply(_batch(["x", "y"], 0))
    assert result.kept.height == 0 and result.removed.height == 2
    assert pipeline.stats[1].seen == 0


def test_a_batch_with_nothing_removed_yields_an_empty_removed_frame_with_the_columns() -> None:
    result = FilterPipeline([NumbersFormat()]).apply(_batch(["1, 2"], 0))
    assert result.removed.height == 0
    assert {"filter", "reason"} <= set(result.removed.columns)


def test_a_filter_that_reports_extra_stats_has_them_in_its_stats() -> None:
    @dataclass(frozen=True)
    class CountsBatches:
        name: ClassVar[str] = "counts-batches"
        batches: list[int] = field(default_factory=list)

        def reasons(self, batch: pl.DataFrame) -> pl.Series:
            self.batches.append(batch.height)
            return pl.repeat(None, batch.height, dtype=pl.String, eager=True)

        def stats_extra(self) -> dict[str, object]:
            return {"batches": list(self.batches)}

    counting = CountsBatches()
    assert isinstance(counting, ReportsExtraStats)
    assert not isinstance(NumbersFormat(), ReportsExtraStats)
    pipeline = FilterPipeline([NumbersFormat(), counting])
    for start, completions in enumerate(BATCHES):
        pipeline.apply(_batch(completions, start * 10))
    assert pipeline.stats[1].extra == {"batches": [3, 2, 2]}  # the rows numbers-format kept
    assert pipeline.stats[0].extra == {} and "extra" not in pipeline.stats[0].to_dict()
