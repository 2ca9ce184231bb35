"""Write Parquet atomically, with the run's metadata inside the file.

Output goes to a hidden temporary file beside the target and is renamed into place only when
complete, so an interrupted or failed run never leaves a partial file under the user's name.
The run metadata (tool version, filters and their parameters, ...) is stored as JSON in the
Parquet key-value metadata under `subliminal_audit`, where `read_run_metadata` finds it.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from auditor.atomic import commit, temp_path
from auditor.errors import AuditError

METADATA_KEY = b"subliminal_audit"


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("subliminal-audit")
    except PackageNotFoundError:
        return "0+unknown"


class AtomicParquetWriter:
    """Stream polars batches into a Parquet file that appears only when the writer closes cleanly.

    Use as a context manager; an exception inside the block deletes the temporary file. A writer
    that received no batch writes an empty file with `empty_schema`.
    """

    def __init__(
        self,
        path: str | Path,
        metadata: dict[str, Any] | None = None,
        empty_schema: dict[str, pl.DataType] | None = None,
    ) -> None:
        self.path = Path(path)
        self.metadata = {"tool_version": tool_version(), **(metadata or {})}
        self.empty_schema = empty_schema or {}
        self.rows_written = 0
        self._temp = temp_path(self.path)
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def __enter__(self) -> AtomicParquetWriter:
        if not self.path.parent.exists():
            raise AuditError(f"{self.path}: the directory {self.path.parent} does not exist")
        return self

    def write(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if self._writer is None:
            self._schema = table.schema.with_metadata(self._encoded_metadata())
            self._writer = pq.ParquetWriter(self._temp, self._schema)
        else:
            table = table.cast(self._schema)  # a batch may have inferred e.g. null columns
        self._writer.write_table(table)
        self.rows_written += frame.height

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None and self._writer is None:
            self.write(pl.DataFrame(schema=self.empty_schema))
        if self._writer is not None:
            self._writer.close()
        if exc_type is None:
            commit(self._temp, self.path)
        else:
            self._temp.unlink(missing_ok=True)

    def _encoded_metadata(self) -> dict[bytes, bytes]:
        return {METADATA_KEY: json.dumps(self.metadata, default=str).encode()}


def write_corpus(
    frame: pl.DataFrame, path: str | Path, metadata: dict[str, Any] | None = None
) -> Path:
    """Write one DataFrame atomically as Parquet with run metadata; returns the path."""
    with AtomicParquetWriter(path, metadata, empty_schema=dict(frame.schema)) as writer:
        writer.write(frame)
    return Path(path)


def read_run_metadata(path: str | Path) -> dict[str, Any]:
    """The run metadata stored by `AtomicParquetWriter`, or {} for a file written elsewhere."""
    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}
