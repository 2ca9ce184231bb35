"""Corpus IO: read any supported layout into the canonical schema, write Parquet atomically."""

from auditor.corpus.reader import (
    SOURCE_ROW,
    Corpus,
    ReadOptions,
    open_corpus,
    read_corpus,
)
from auditor.corpus.schema import COMPLETION, DOMAINS, PROMPT, PROVENANCE, ColumnMapping
from auditor.corpus.writer import (
    AtomicParquetWriter,
    read_run_metadata,
    tool_version,
    write_corpus,
)

__all__ = [
    "COMPLETION",
    "DOMAINS",
    "PROMPT",
    "PROVENANCE",
    "SOURCE_ROW",
    "AtomicParquetWriter",
    "ColumnMapping",
    "Corpus",
    "ReadOptions",
    "open_corpus",
    "read_corpus",
    "read_run_metadata",
    "tool_version",
    "write_corpus",
]
