"""A user's own chain-of-thought question set (GSM8K or the like), with its known answers.

The file is JSONL or Parquet with a question column and an answer column; GSM8K's answers
(worked solution, then `#### 72`) are reduced to the number after the last `####`. A file
without answers is refused: the `cot-correct` filter needs them to drop wrong reasoning.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import polars as pl

from auditor.errors import AuditError
from auditor.generation.tasks import Task, cot_instruction

QUESTION_COLUMNS = ("question", "problem", "prompt")
ANSWER_COLUMNS = ("answer", "final_answer")


def _read(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise AuditError(f"--questions {path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        return pl.read_ndjson(path)
    except Exception as error:  # polars raises several types for a malformed file
        raise AuditError(f"--questions {path}: not a JSONL or Parquet file ({error})") from None


def _pick(frame: pl.DataFrame, names: tuple[str, ...], what: str, path: Path) -> str:
    found = next((name for name in names if name in frame.columns), None)
    if found is None:
        raise AuditError(
            f"--questions {path}: no {what} column (looked for {', '.join(names)}; columns "
            f"present: {', '.join(frame.columns) or '(none)'})"
            + ("; cot-correct needs each question's known answer" if what == "answer" else "")
        )
    return found


@cache
def _load(path: Path, digest: str) -> tuple[Task, ...]:
    frame = _read(path)
    question = _pick(frame, QUESTION_COLUMNS, "question", path)
    answer = _pick(frame, ANSWER_COLUMNS, "answer", path)
    frame = frame.select(
        pl.col(question).cast(pl.String).str.strip_chars().alias("q"),
        pl.col(answer).cast(pl.String).str.split("####").list.last().str.strip_chars().alias("a"),
    ).filter(pl.col("q").is_not_null() & (pl.col("q") != ""))
    missing = frame.filter(pl.col("a").is_null() | (pl.col("a") == "")).height
    if frame.height == 0 or missing:
        raise AuditError(
            f"--questions {path}: {missing} of {frame.height} questions have no answer"
            if frame.height
            else f"--questions {path}: no questions"
        )
    instruction = cot_instruction()
    return tuple(Task(f"{q}\n\n{instruction}", a) for q, a in frame.iter_rows())


def file_digest(path: str | Path) -> str:
    """A short hash of the question file, so a resumed run refuses an edited file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def question_tasks(path: str | Path) -> tuple[Task, ...]:
    """Every question of the file, with the CoT instruction appended, and its answer."""
    path = Path(path)
    if not path.is_file():
        raise AuditError(f"--questions {path}: no such file")
    return _load(path.resolve(), file_digest(path))
