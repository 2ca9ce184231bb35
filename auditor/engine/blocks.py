"""A corpus cut into blocks exactly where the local reader cuts its batches.

A block is a Parquet row range or a JSONL byte range with its first line and first row, so any
worker can read it alone and get the local reader's batch: the same rows, `source_row`
numbers, validation and error messages (which name the file, line or row, and column).
Nothing here imports Ray.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from auditor.corpus import Corpus
from auditor.corpus.reader import _canonical, _open_parquet, _parse_jsonl_chunk, _wanted_columns
from auditor.errors import AuditError


@dataclass(frozen=True)
class BlockSpec:
    """Where one block lies: rows [`row`, `row + rows`) of a Parquet file, or a JSONL byte
    range starting at line `line` (1-based) whose first row is row `row`."""

    index: int
    row: int
    rows: int = 0
    start: int = 0
    end: int = 0
    line: int = 1


def block_specs(corpus: Corpus) -> list[BlockSpec]:
    """The corpus cut where the local reader cuts its batches."""
    size = corpus.batch_rows
    if corpus.format == "parquet":
        total = _open_parquet(corpus.path).metadata.num_rows
        return [
            BlockSpec(i, row, min(size, total - row)) for i, row in enumerate(range(0, total, size))
        ]
    if corpus.format == "jsonl":
        # A chunk of blank lines only has no rows: the local reader skips it too.
        return [spec for spec in _jsonl_specs(corpus.path, size) if spec.rows]
    raise AuditError(
        f"{corpus.path}: --engine ray reads Parquet and JSONL; convert this {corpus.format} "
        "corpus to Parquet, or use --engine local"
    )


def _jsonl_specs(path: Path, size: int) -> list[BlockSpec]:
    """Byte ranges of `size` lines each (the local reader's batches), with each one's first
    line and first row: blank lines are lines but not rows, as in the local reader."""
    specs: list[BlockSpec] = []
    start = offset = row = rows = lines = 0
    with path.open("rb") as handle:
        for text in handle:
            lines += 1
            offset += len(text)
            rows += bool(text.strip())
            if lines == size:
                specs.append(BlockSpec(len(specs), row, rows, start, offset, 1 + len(specs) * size))
                start, row, rows, lines = offset, row + rows, 0, 0
    if lines:
        specs.append(BlockSpec(len(specs), row, rows, start, offset, 1 + len(specs) * size))
    return specs


def read_block(corpus: Corpus, spec: BlockSpec) -> pl.DataFrame:
    """One block in the canonical schema, validated like the local reader's batch."""
    wanted = _wanted_columns(corpus)
    if corpus.format == "parquet":
        parquet = _open_parquet(corpus.path)
        meta = parquet.metadata
        groups, first, seen = [], None, 0
        for group in range(meta.num_row_groups):
            n = meta.row_group(group).num_rows
            if seen + n > spec.row and seen < spec.row + spec.rows:
                groups.append(group)
                first = seen if first is None else first
            seen += n
        table = parquet.read_row_groups(groups, columns=wanted)
        frame = pl.from_arrow(table.slice(spec.row - (first or 0), spec.rows))
    else:
        with corpus.path.open("rb") as handle:
            handle.seek(spec.start)
            # Lines as the local reader's file iteration cuts them (at b"\n" only).
            lines = list(io.BytesIO(handle.read(spec.end - spec.start)))
        frame = _parse_jsonl_chunk(lines, corpus, spec.line, wanted)
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        return frame
    return _canonical(frame, corpus, spec.row)
