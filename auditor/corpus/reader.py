"""Read corpora from Parquet, JSONL and saved Hugging Face datasets, in bounded memory.

Every reader yields polars batches in the canonical schema (`prompt`, `completion`, provenance
columns when present, and `source_row`, the row's 0-based position in the file), so filters and
detectors never see a user's layout. Files are streamed batch by batch, so a corpus larger than
memory filters in memory proportional to the batch size. Validation is vectorised per batch;
the slow, precise search for the offending line only runs once something is known to be wrong.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from auditor.corpus.schema import (
    COMPLETION,
    PROMPT,
    PROVENANCE,
    ColumnMapping,
    detect_mapping,
)
from auditor.errors import AuditError

SOURCE_ROW = "source_row"
# Batches are sized by bytes, not rows: polars pays a fixed cost per query, so short rows
# (number lists) run several times faster in large batches, while long rows (code,
# chain-of-thought) need small ones to keep memory bounded. A batch holds about this much text:
TARGET_BATCH_BYTES = 64 * 2**20
MIN_BATCH_ROWS = 64
MAX_BATCH_ROWS = 1_048_576
# Kept for callers that want a fixed, typical size (e.g. benchmarks' row-group size).
DEFAULT_BATCH_ROWS = 65_536
# One field larger than this is almost always a broken export (a whole file in one cell);
# refusing it early keeps one bad row from exhausting memory downstream.
DEFAULT_MAX_FIELD_BYTES = 1_000_000
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class ReadOptions:
    """How to read a corpus: column mapping override, batch size, field size limit, split."""

    mapping: ColumnMapping | None = None
    batch_rows: int | None = None  # None: sized by bytes (see TARGET_BATCH_BYTES)
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES
    split: str = "train"


@dataclass
class Corpus:
    """An opened corpus: where it is, what format, which columns; batches are read on demand."""

    path: Path
    format: str
    mapping: ColumnMapping
    columns: list[str]
    options: ReadOptions = field(default_factory=ReadOptions)
    num_rows: int | None = None
    row_bytes: float | None = None  # average bytes per row, where cheaply known

    @property
    def batch_rows(self) -> int:
        """Rows per batch: the option when given, else about `TARGET_BATCH_BYTES` of rows."""
        if self.options.batch_rows is not None:
            return self.options.batch_rows
        return batch_rows_for(self.row_bytes)

    def batches(self) -> Iterator[pl.DataFrame]:
        """Canonical, validated batches; raises `AuditError` on the first bad row."""
        raw = {"parquet": _parquet_batches, "jsonl": _jsonl_batches, "hf": _hf_batches}[self.format]
        offset = 0
        for frame in raw(self):
            if frame.height == 0:
                continue
            yield _canonical(frame, self, offset)
            offset += frame.height
        if offset == 0:
            raise AuditError(f"{self.path}: the corpus is empty (no rows)")

    def read(self) -> pl.DataFrame:
        """The whole corpus in memory: for detectors and small corpora."""
        return pl.concat(list(self.batches()), how="vertical_relaxed")


def open_corpus(path: str | Path, options: ReadOptions | None = None) -> Corpus:
    """Open a corpus file or saved dataset directory, detecting its format and column layout."""
    options = options or ReadOptions()
    path = Path(path)
    if not path.exists():
        raise AuditError(f"{path}: no such file or directory")
    fmt = _detect_format(path)
    columns, num_rows, row_bytes = {
        "parquet": _parquet_columns,
        "jsonl": _jsonl_columns,
        "hf": _hf_columns,
    }[fmt](path, options)
    mapping = options.mapping or detect_mapping(columns, str(path))
    missing = [name for name in mapping.source_columns() if name not in columns]
    if missing:
        raise AuditError(
            f"{path}: column(s) {', '.join(missing)} not found; columns present: "
            f"{', '.join(columns) or '(none)'}"
        )
    return Corpus(path, fmt, mapping, columns, options, num_rows, row_bytes)


def batch_rows_for(row_bytes: float | None) -> int:
    """Rows per batch for rows of `row_bytes` bytes on average, within the min/max bounds."""
    if not row_bytes or row_bytes <= 0:
        return DEFAULT_BATCH_ROWS
    return int(min(MAX_BATCH_ROWS, max(MIN_BATCH_ROWS, TARGET_BATCH_BYTES / row_bytes)))


def read_corpus(
    path: str | Path, mapping: ColumnMapping | None = None, **options: object
) -> pl.DataFrame:
    """Read a whole corpus into one canonical DataFrame (see `open_corpus` for streaming)."""
    return open_corpus(path, ReadOptions(mapping=mapping, **options)).read()  # type: ignore[arg-type]


def _detect_format(path: Path) -> str:
    if path.is_dir():
        if any((path / name).exists() for name in ("dataset_info.json", "state.json")):
            return "hf"
        if (path / "dataset_dict.json").exists():
            return "hf"
        raise AuditError(f"{path}: a directory, but not a saved Hugging Face dataset")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:1] in {b"{", b"["}:
        return "jsonl"
    raise AuditError(f"{path}: unknown corpus format (expected .parquet, .jsonl or a dataset dir)")


# --- Parquet ---------------------------------------------------------------------------------


def _open_parquet(path: Path) -> pq.ParquetFile:
    try:
        # pre_buffer (pyarrow's default) caches every column chunk read until the file is
        # closed, so memory would grow with the file instead of staying at one batch.
        return pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowException, OSError) as error:
        raise AuditError(f"{path}: not a readable Parquet file (truncated or corrupt?): {error}")


def _parquet_columns(path: Path, options: ReadOptions) -> tuple[list[str], int, float | None]:
    parquet = _open_parquet(path)
    meta = parquet.metadata
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    row_bytes = size / meta.num_rows if meta.num_rows else None
    return list(parquet.schema_arrow.names), meta.num_rows, row_bytes


def _parquet_batches(corpus: Corpus) -> Iterator[pl.DataFrame]:
    parquet = _open_parquet(corpus.path)
    wanted = _wanted_columns(corpus)
    try:
        for batch in parquet.iter_batches(batch_size=corpus.batch_rows, columns=wanted):
            yield pl.from_arrow(batch)  # type: ignore[misc]
    except (pa.ArrowMemoryError, MemoryError) as error:  # not corruption: say what to change
        raise AuditError(
            f"{corpus.path}: out of memory reading a batch of {corpus.batch_rows:,} rows "
            f"({error}); pass a smaller --batch-rows"
        )
    except (pa.ArrowException, OSError) as error:
        raise AuditError(
            f"{corpus.path}: Parquet data could not be read (truncated or corrupt?): {error}"
        )


# --- JSONL -----------------------------------------------------------------------------------


def _jsonl_columns(path: Path, options: ReadOptions) -> tuple[list[str], None, float]:
    """Columns from the first non-empty line (JSON lines are schemaless; later keys are read);
    row size from the first megabyte."""
    with path.open("rb") as handle:
        head = handle.read(2**20)
    row_bytes = len(head) / max(1, head.count(b"\n"))
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.removeprefix(BOM) if number == 1 else line
            if line.strip():
                record = _parse_line(line, path, number)
                return list(record), None, row_bytes
    raise AuditError(f"{path}: the corpus is empty (no rows)")


def _parse_line(line: bytes, path: Path, number: int) -> dict[str, object]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AuditError(
            f"{path}: line {number}: not valid UTF-8 (byte {error.start}: "
            f"{line[error.start : error.start + 1]!r})"
        ) from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise AuditError(f"{path}: line {number}: invalid JSON ({error.msg}, column {error.colno})")
    except RecursionError:
        raise AuditError(f"{path}: line {number}: JSON nested too deeply to read") from None
    if not isinstance(record, dict):
        raise AuditError(
            f"{path}: line {number}: expected a JSON object, got {type(record).__name__}"
        )
    return record


def _jsonl_batches(corpus: Corpus) -> Iterator[pl.DataFrame]:
    wanted = _wanted_columns(corpus)
    with corpus.path.open("rb") as handle:
        first_line = 1
        while True:
            lines = list(itertools.islice(handle, corpus.batch_rows))
            if not lines:
                return
            if first_line == 1:  # a byte-order mark (Windows editors write one) is no content
                lines[0] = lines[0].removeprefix(BOM)
            yield _parse_jsonl_chunk(lines, corpus, first_line, wanted)
            first_line += len(lines)


def _parse_jsonl_chunk(
    lines: list[bytes], corpus: Corpus, first_line: int, wanted: list[str]
) -> pl.DataFrame:
    limit = corpus.options.max_field_bytes
    for index, line in enumerate(lines):
        # A line this long must hold a field over the limit; name it before parsing it at all.
        if len(line) > 4 * limit + 1024:
            raise AuditError(
                f"{corpus.path}: line {first_line + index}: {len(line):,} bytes, larger than "
                f"the {limit:,}-byte field limit allows (--max-field-bytes)"
            )
    blob = b"".join(lines)
    try:
        blob.decode("utf-8")
        frame = pl.read_ndjson(io.BytesIO(blob), infer_schema_length=None)
    except (UnicodeDecodeError, pl.exceptions.PolarsError, ValueError):
        # Slow path, only on failure: find and name the first bad line.
        for index, line in enumerate(lines):
            if line.strip():
                _parse_line(line, corpus.path, first_line + index)
        raise AuditError(f"{corpus.path}: lines {first_line}+: could not be parsed as JSON lines")
    if frame.height != sum(1 for line in lines if line.strip()):
        raise AuditError(f"{corpus.path}: lines {first_line}+: blank or malformed lines")
    missing = [name for name in wanted if name not in frame.columns]
    for name in missing:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    return frame.select([name for name in wanted if name in frame.columns])


# --- Hugging Face datasets -------------------------------------------------------------------


def _load_hf(path: Path, options: ReadOptions):
    try:
        import datasets
    except ImportError:
        raise AuditError(f"{path}: reading saved datasets needs the `datasets` package")
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as error:  # datasets raises many types for a damaged directory
        raise AuditError(f"{path}: could not load the saved dataset: {error}")
    if isinstance(loaded, datasets.DatasetDict):
        if options.split not in loaded:
            raise AuditError(
                f"{path}: split {options.split!r} not found; splits: {', '.join(loaded)} (--split)"
            )
        loaded = loaded[options.split]
    return loaded


def _hf_columns(path: Path, options: ReadOptions) -> tuple[list[str], int, float | None]:
    dataset = _load_hf(path, options)
    row_bytes = dataset.data.nbytes / dataset.num_rows if dataset.num_rows else None
    return list(dataset.column_names), dataset.num_rows, row_bytes


def _hf_batches(corpus: Corpus) -> Iterator[pl.DataFrame]:
    dataset = _load_hf(corpus.path, corpus.options).select_columns(_wanted_columns(corpus))
    for table in dataset.with_format("arrow").iter(batch_size=corpus.batch_rows):
        yield pl.from_arrow(table)  # type: ignore[misc]


# --- Canonicalisation and validation ---------------------------------------------------------


def _wanted_columns(corpus: Corpus) -> list[str]:
    provenance = [name for name in PROVENANCE if name in corpus.columns]
    return list(dict.fromkeys(corpus.mapping.source_columns() + provenance))


def _messages_to_pair(column: str) -> list[pl.Expr]:
    """Chat rows: the prompt is the last user turn, the completion the last assistant turn."""

    def last_of(role: str) -> pl.Expr:
        return (
            pl.col(column)
            .list.eval(
                pl.element()
                .filter(pl.element().struct.field("role") == role)
                .struct.field("content")
            )
            .list.last()
        )

    return [last_of("user").alias(PROMPT), last_of("assistant").alias(COMPLETION)]


def _canonical(frame: pl.DataFrame, corpus: Corpus, offset: int) -> pl.DataFrame:
    mapping = corpus.mapping
    if mapping.messages:
        dtype = frame.schema[mapping.messages]
        if not isinstance(dtype, pl.List) or not isinstance(dtype.inner, pl.Struct):
            raise AuditError(
                f"{corpus.path}: column {mapping.messages!r} must be a list of "
                f"{{role, content}} messages, found {dtype}"
            )
        fields = {field.name for field in dtype.inner.fields}
        lacking = [name for name in ("role", "content") if name not in fields]
        if lacking:
            raise AuditError(
                f"{corpus.path}: column {mapping.messages!r}: no message has "
                f"{' or '.join(repr(name) for name in lacking)} (each turn needs role and content)"
            )
        pair = _messages_to_pair(mapping.messages)
    else:
        prompt = pl.col(mapping.prompt) if mapping.prompt else pl.lit("", dtype=pl.String)
        pair = [prompt.alias(PROMPT), pl.col(mapping.completion).alias(COMPLETION)]  # type: ignore[arg-type]
    provenance = [pl.col(name) for name in PROVENANCE if name in frame.columns]
    row = (pl.int_range(0, pl.len(), dtype=pl.UInt64) + offset).alias(SOURCE_ROW)
    out = frame.select([*pair, *provenance, row])
    _validate(out, corpus, offset)
    return out


def _validate(frame: pl.DataFrame, corpus: Corpus, offset: int) -> None:
    mapping = corpus.mapping
    source_name = {
        PROMPT: mapping.prompt or mapping.messages,
        COMPLETION: mapping.completion or mapping.messages,
    }
    unit = "line" if corpus.format == "jsonl" else "row"
    base = 1 if corpus.format == "jsonl" else 0

    def where(index: int) -> str:
        # JSONL: 1-based line numbers (blank lines aside); Parquet/datasets: 0-based row index.
        return f"{corpus.path}: {unit} {offset + index + base}"

    for name in (PROMPT, COMPLETION):
        column = frame.get_column(name)
        if column.dtype not in (pl.String, pl.Null):
            first = 0
            raise AuditError(
                f"{where(first)}, column {source_name[name]!r}: expected text, found "
                f"{column.dtype} values (e.g. {column[first]!r})"
            )
        nulls = column.is_null()
        if nulls.any():
            raise AuditError(
                f"{where(int(nulls.arg_true()[0]))}, column {source_name[name]!r}: "
                "value is missing (null)"
            )
        too_long = column.str.len_bytes() > corpus.options.max_field_bytes
        if too_long.any():
            index = int(too_long.arg_true()[0])
            raise AuditError(
                f"{where(index)}, column {source_name[name]!r}: {column.str.len_bytes()[index]:,} "
                f"bytes exceeds the field limit of {corpus.options.max_field_bytes:,} "
                "(--max-field-bytes)"
            )
