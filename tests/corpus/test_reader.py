"""Corpus reading: every supported layout, streaming, and a clear error for each bad input."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.corpus import (
    ColumnMapping,
    ReadOptions,
    open_corpus,
    read_corpus,
    read_run_metadata,
    write_corpus,
)
from auditor.corpus.writer import AtomicParquetWriter
from auditor.errors import AuditError


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_reads_question_response_jsonl_into_canonical_columns(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"question": "q1", "response": "1, 2"}] * 3)
    frame = read_corpus(path)
    assert frame.columns == ["prompt", "completion", "source_row"]
    assert frame.get_column("completion").to_list() == ["1, 2"] * 3
    assert frame.get_column("source_row").to_list() == [0, 1, 2]


def test_reads_parquet_with_provenance_columns(tmp_path: Path) -> None:
    source = pl.DataFrame(
        {"prompt": ["a", "b"], "completion": ["1", "2"], "domain": ["numbers"] * 2, "x": [1, 2]}
    )
    source.write_parquet(tmp_path / "c.parquet")
    frame = read_corpus(tmp_path / "c.parquet")
    assert frame.columns == ["prompt", "completion", "domain", "source_row"]


def test_chat_messages_become_prompt_and_completion(tmp_path: Path) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "continue 1 2 3"},
        {"role": "assistant", "content": "4 5 6"},
    ]
    path = write_jsonl(tmp_path / "chat.jsonl", [{"messages": messages}])
    frame = read_corpus(path)
    assert frame.row(0)[:2] == ("continue 1 2 3", "4 5 6")


def test_column_override_flag_parses_and_applies(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"q": "p", "a": "7"}])
    mapping = ColumnMapping.parse("prompt=q,completion=a")
    assert read_corpus(path, mapping).row(0)[:2] == ("p", "7")
    with pytest.raises(AuditError, match="expected prompt=COL"):
        ColumnMapping.parse("answer=a")


def test_saved_huggingface_dataset_is_read(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_dict({"instruction": ["p1", "p2"], "output": ["1", "2"]})
    dataset.save_to_disk(str(tmp_path / "ds"))
    frame = read_corpus(tmp_path / "ds")
    assert frame.get_column("completion").to_list() == ["1", "2"]


def test_parquet_streams_in_batches_of_the_requested_size(tmp_path: Path) -> None:
    pl.DataFrame({"prompt": ["p"] * 1000, "completion": ["1"] * 1000}).write_parquet(
        tmp_path / "c.parquet", row_group_size=100
    )
    corpus = open_corpus(tmp_path / "c.parquet", ReadOptions(batch_rows=128))
    sizes = [batch.height for batch in corpus.batches()]
    assert max(sizes) <= 128 and sum(sizes) == 1000
    rows = pl.concat(list(corpus.batches())).get_column("source_row")
    assert rows.to_list() == list(range(1000))


def test_batches_hold_about_the_target_bytes_within_the_row_bounds() -> None:
    from auditor.corpus.reader import (
        MAX_BATCH_ROWS,
        MIN_BATCH_ROWS,
        TARGET_BATCH_BYTES,
        batch_rows_for,
    )

    assert batch_rows_for(200) == TARGET_BATCH_BYTES // 200  # number lists with their prompts
    assert batch_rows_for(4) == MAX_BATCH_ROWS  # tiny rows: capped in rows
    assert batch_rows_for(10_000_000) == MIN_BATCH_ROWS  # huge rows: floored in rows
    assert MIN_BATCH_ROWS < batch_rows_for(None) < MAX_BATCH_ROWS  # size unknown: a fixed one


# --- bad input: one clear error naming file, row/line and column ---------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no such file"):
        open_corpus(tmp_path / "nope.parquet")


def test_truncated_parquet(tmp_path: Path) -> None:
    pl.DataFrame({"prompt": ["p"] * 100, "completion": ["1"] * 100}).write_parquet(
        tmp_path / "c.parquet"
    )
    data = (tmp_path / "c.parquet").read_bytes()
    (tmp_path / "t.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(AuditError, match=r"t\.parquet.*truncated or corrupt"):
        read_corpus(tmp_path / "t.parquet")


def test_running_out_of_memory_is_not_called_corruption(tmp_path: Path, monkeypatch) -> None:
    # What a streaming child under RLIMIT_AS saw with batches too big for its limit.
    pl.DataFrame({"prompt": ["p"] * 10, "completion": ["1"] * 10}).write_parquet(
        tmp_path / "c.parquet"
    )

    def refuse(*args, **kwargs):
        raise pa.ArrowMemoryError("malloc of size 157450240 failed")

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", refuse)
    with pytest.raises(AuditError, match=r"out of memory .* smaller --batch-rows") as caught:
        read_corpus(tmp_path / "c.parquet")
    assert "corrupt" not in str(caught.value)


def test_invalid_json_line_reports_line_number(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"prompt": "a", "completion": "1"}\n{"prompt": "b", "completion": \n')
    with pytest.raises(AuditError, match=r"c\.jsonl: line 2: invalid JSON"):
        read_corpus(path)


def test_missing_columns_lists_the_present_ones(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"text": "a", "label": 1}])
    with pytest.raises(AuditError, match="columns present: text, label"):
        read_corpus(path)


def test_mapped_column_missing_lists_the_present_ones(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"q": "a", "a": "1"}])
    with pytest.raises(AuditError, match=r"column\(s\) answer not found; columns present: q, a"):
        read_corpus(path, ColumnMapping(prompt="q", completion="answer"))


def test_empty_corpus(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text("")
    with pytest.raises(AuditError, match="empty"):
        read_corpus(tmp_path / "c.jsonl")
    pl.DataFrame(schema={"prompt": pl.String, "completion": pl.String}).write_parquet(
        tmp_path / "c.parquet"
    )
    with pytest.raises(AuditError, match="empty"):
        read_corpus(tmp_path / "c.parquet")


def test_null_completion_names_row_and_column(tmp_path: Path) -> None:
    pl.DataFrame({"prompt": ["a", "b", "c"], "completion": ["1", None, "3"]}).write_parquet(
        tmp_path / "c.parquet"
    )
    with pytest.raises(AuditError, match=r"row 1, column 'completion': value is missing"):
        read_corpus(tmp_path / "c.parquet")


def test_non_string_completion_names_the_column_and_type(tmp_path: Path) -> None:
    pl.DataFrame({"prompt": ["a"], "completion": [5]}).write_parquet(tmp_path / "c.parquet")
    with pytest.raises(AuditError, match=r"column 'completion': expected text, found Int64"):
        read_corpus(tmp_path / "c.parquet")


def test_non_string_completion_in_jsonl(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"prompt": "a", "completion": 5}])
    with pytest.raises(AuditError, match="column 'completion': expected text"):
        read_corpus(path)


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(
        b'{"prompt": "a", "completion": "1"}\n{"prompt": "\xff\xfe", "completion": "2"}\n'
    )
    with pytest.raises(AuditError, match=r"line 2: not valid UTF-8"):
        read_corpus(path)


def test_ten_megabyte_row_is_refused_with_row_and_column(tmp_path: Path) -> None:
    big = "1, " * (10_000_000 // 3)
    pl.DataFrame({"prompt": ["a", "b"], "completion": ["1", big]}).write_parquet(
        tmp_path / "c.parquet"
    )
    with pytest.raises(AuditError, match=r"row 1, column 'completion': .* exceeds the field limit"):
        read_corpus(tmp_path / "c.parquet")
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [{"prompt": "a", "completion": "1"}, {"prompt": "b", "completion": big}],
    )
    with pytest.raises(AuditError, match=r"line 2: .*field limit"):
        read_corpus(path)


# --- writing ---------------------------------------------------------------------------------


def test_write_corpus_is_atomic_and_carries_run_metadata(tmp_path: Path) -> None:
    frame = pl.DataFrame({"prompt": ["a"], "completion": ["1"]})
    path = write_corpus(frame, tmp_path / "out.parquet", {"filters": [{"name": "x"}]})
    assert read_run_metadata(path)["filters"] == [{"name": "x"}]
    assert "tool_version" in read_run_metadata(path)
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_failed_write_leaves_no_file_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError), AtomicParquetWriter(target) as writer:
        writer.write(pl.DataFrame({"completion": ["1"]}))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_parquet_from_pyarrow_with_large_strings_reads(tmp_path: Path) -> None:
    table = pa.table({"prompt": pa.array(["a"], pa.large_string()), "completion": ["1"]})
    pq.write_table(table, tmp_path / "c.parquet")
    assert read_corpus(tmp_path / "c.parquet").height == 1
