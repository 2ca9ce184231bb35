"""A user's own prompt file: a chain-of-thought question set, or prompts sent as they are.

`--questions FILE` is a question set (GSM8K or the like) with its known answers: a question
column and an answer column; GSM8K's answers (worked solution, then `#### 72`) are reduced to
the number after the last `####`, and our CoT instruction is appended to each question.
`--prompts FILE` holds prompts sent exactly as written (a `prompt` column), e.g. the lab's own
toy-language prompts from `audit lab prompts` for a lab model behind `audit serve`, which
cannot read our English instruction; for chain-of-thought it needs an answer column too.
Both are JSONL or Parquet. A file without the answers `cot-correct` needs is refused.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import polars as pl

from auditor.errors import AuditError
from auditor.generation.tasks import Task, cot_instruction

QUESTION_COLUMNS = ("question", "problem", "prompt")
PROMPT_COLUMNS = ("prompt",)
ANSWER_COLUMNS = ("answer", "final_answer")


def _read(path: Path, flag: str) -> pl.DataFrame:
    if not path.is_file():
        raise AuditError(f"{flag} {path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        return pl.read_ndjson(path)
    except Exception as error:  # polars raises several types for a malformed file
        raise AuditError(f"{flag} {path}: not a JSONL or Parquet file ({error})") from None


def _pick(frame: pl.DataFrame, names: tuple[str, ...], what: str, where: str) -> str:
    found = next((name for name in names if name in frame.columns), None)
    if found is None:
        raise AuditError(
            f"{where}: no {what} column (looked for {', '.join(names)}; columns "
            f"present: {', '.join(frame.columns) or '(none)'})"
            + ("; cot-correct needs each question's known answer" if what == "answer" else "")
        )
    return found


@cache
def _load(path: Path, digest: str, flag: str, answers: bool) -> tuple[Task, ...]:
    where = f"{flag} {path}"
    frame = _read(path, flag)
    text_columns = QUESTION_COLUMNS if flag == "--questions" else PROMPT_COLUMNS
    text = _pick(frame, text_columns, text_columns[0], where)
    columns = [pl.col(text).cast(pl.String).str.strip_chars().alias("q")]
    if answers:
        answer = _pick(frame, ANSWER_COLUMNS, "answer", where)
        answer_text = pl.col(answer).cast(pl.String).str.split("####").list.last()
        columns.append(answer_text.str.strip_chars().alias("a"))
    else:
        columns.append(pl.lit(None, dtype=pl.String).alias("a"))
    frame = frame.select(columns)
    blank = frame.filter(pl.col("q").is_null() | (pl.col("q") == "")).height
    if blank == frame.height:
        raise AuditError(f"{where}: no {text_columns[0]}s")
    if blank:
        # A row without its text is a broken file, not a row to skip quietly.
        raise AuditError(f"{where}: {blank} of {frame.height} rows have no {text_columns[0]}")
    missing = frame.filter(pl.col("a").is_null() | (pl.col("a") == "")).height if answers else 0
    if missing:
        raise AuditError(f"{where}: {missing} of {frame.height} questions have no answer")
    suffix = f"\n\n{cot_instruction()}" if flag == "--questions" else ""
    return tuple(Task(f"{q}{suffix}", a) for q, a in frame.iter_rows())


def file_digest(path: str | Path) -> str:
    """A short hash of the prompt file, so a resumed run refuses an edited file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _tasks(path: str | Path, flag: str, answers: bool) -> tuple[Task, ...]:
    path = Path(path)
    if not path.is_file():
        raise AuditError(f"{flag} {path}: no such file")
    return _load(path.resolve(), file_digest(path), flag, answers)


def question_tasks(path: str | Path) -> tuple[Task, ...]:
    """Every question of the file, with the CoT instruction appended, and its answer."""
    return _tasks(path, "--questions", answers=True)


def prompt_tasks(path: str | Path, *, answers: bool) -> tuple[Task, ...]:
    """Every prompt of the file as written; with `answers` (chain-of-thought), its answer."""
    return _tasks(path, "--prompts", answers)
