"""The filter contract: for a batch, a reason per row (null keeps the row, text drops it).

Like datatrove's keep / (drop, reason), but per batch: a filter returns a polars String Series,
as long as the batch, holding the removal reason for each dropped row and null for kept ones.
Counting seen/kept/removed rows and reasons is the pipeline's job, never the filter's.

Rule filters subclass `RuleFilter` and give one polars expression, so they run vectorised in
polars' engine; filters that call out (the LLM judge) implement `reasons` directly. A filter is a
dataclass whose fields are its parameters, so registries and config files can build it from
`name:key=value` text and report its parameters back.
"""

from __future__ import annotations

import dataclasses
import random
import zlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol, runtime_checkable

import polars as pl

from auditor.corpus.schema import DOMAINS
from auditor.credentials import redacted
from auditor.models import ModelBackend

REASON = "reason"
FILTER = "filter"


@runtime_checkable
class Filter(Protocol):
    """Anything with a registry `name` and a `reasons(batch)` method is a filter."""

    name: ClassVar[str]

    def reasons(self, batch: pl.DataFrame) -> pl.Series:
        """One entry per row of `batch`: null keeps it, a string drops it with that reason."""
        ...


@runtime_checkable
class Rewriter(Protocol):
    """A filter that changes rows instead of dropping them (a defense that rewrites numbers).

    `rewrite(batch)` returns one entry per row: the new completion, or null to leave the row as
    it was. The pipeline records every change (source row, before, after), as drops record why.
    """

    name: ClassVar[str]

    def rewrite(self, batch: pl.DataFrame) -> pl.Series:
        """One entry per row of `batch`: the rewritten completion, or null for no change."""
        ...


@runtime_checkable
class NeedsModel(Protocol):
    """A filter that scores rows with a model it is given (the likelihood defense).

    `model` is the spec the user wrote (`lab:base`, `hf:PATH`, ...); whoever builds the
    pipeline opens it and calls `with_model`, so filters never import a backend themselves.
    """

    model: str

    def with_model(self, model: ModelBackend) -> Filter | Rewriter:
        """This filter, holding an opened model that can score completions."""
        ...


@runtime_checkable
class ReportsExtraStats(Protocol):
    """A filter with totals of its own for the report (the LLM judge's cache hits, retries,
    cost). Optional: after each batch the pipeline stores them in `FilterStats.extra`."""

    def stats_extra(self) -> dict[str, Any]:
        """The filter's own totals so far, JSON-ready."""
        ...


class RuleFilter(ABC):
    """A filter that is a single polars expression over the canonical columns."""

    name: ClassVar[str]
    flags_trait: ClassVar[bool] = False

    @abstractmethod
    def expression(self) -> pl.Expr:
        """A String expression: null where the row is kept, the reason where it is dropped."""

    def reasons(self, batch: pl.DataFrame) -> pl.Series:
        return collect_column(batch, self.expression().cast(pl.String).alias(REASON))


def collect_column(frame: pl.DataFrame, expression: pl.Expr) -> pl.Series:
    """One expression over a batch, as a Series, through the lazy engine.

    Why not `frame.select(expression)`: on this project's polars an eager select of one
    element-wise expression runs on one thread, while the lazy engine splits the rows into
    morsels across all cores (a regex scan of 1M rows: 0.092 s eager, 0.052 s lazy, same CPU
    time, on 2 cores; `benchmarks/filter_throughput.py` times both).
    """
    return frame.lazy().select(expression).collect().to_series()


def row_draw(seed: int) -> pl.Expr:
    """A uniform draw in [0, 1) per row from a hash of its prompt and completion and `seed`.

    Filters that decide at random use it so a run is reproducible (on one polars version:
    polars does not promise the same hash across versions) and needs no state across batches.
    """
    text = pl.concat_str(pl.col("prompt"), pl.col("completion"), separator="\x1f")
    return text.hash(seed=seed).cast(pl.Float64) / float(2**64)


def row_rng(seed: int, prompt: str, completion: str) -> random.Random:
    """A random generator seeded by one row's text: per-row rewrites reproducible anywhere."""
    return random.Random(zlib.crc32(f"{seed}\x1f{prompt}\x1f{completion}".encode()))


def reads_domains(filter_: object) -> tuple[str, ...]:
    """The corpus domains (numbers, code, cot) a filter's rule means something on. A filter
    that reads number lists only declares `domains: ClassVar[tuple[str, ...]] = ("numbers",)`;
    one that says nothing reads any text. (A number-list rule over code drops every row: a
    measurement of nothing, which the filter benchmark warns about.)"""
    cls = filter_ if isinstance(filter_, type) else type(filter_)
    return tuple(getattr(cls, "domains", DOMAINS))


def flags_trait(filter_: object) -> bool:
    """Whether a filter's removals mean a row shows the trait openly (a verdict matter), not a
    format or quality problem (only reported). A filter declares it as a class attribute,
    `flags_trait: ClassVar[bool] = True`; one that says nothing does not flag the trait."""
    return bool(getattr(type(filter_), "flags_trait", False))


def filter_params(instance: object) -> dict[str, Any]:
    """A filter's parameters (its dataclass fields), for reports and run metadata; credentials
    in URLs (`https://user:pw@host`) are hidden, since both are written to disk."""
    if dataclasses.is_dataclass(instance):
        return {
            field.name: redacted(getattr(instance, field.name))
            for field in dataclasses.fields(instance)
            if field.repr
        }
    return {}
