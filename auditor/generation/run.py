"""Generate a teacher corpus (and its control) with any backend, resumably.

A run writes finished batches to a checkpoint file beside the output (`OUT.partial.jsonl`, one
JSON row per line, appended and flushed batch by batch). Prompts are a pure function of (seed,
index) and batch b always samples with seed `seed + b`, so a rerun after an interruption skips
the rows already in the checkpoint and produces exactly the corpus an uninterrupted run would
have. The Parquet output appears atomically at the end and the checkpoint is then removed.
Chain-of-thought rows also carry the problem's known `answer`, which `cot-correct` checks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from auditor.atomic import write_atomic
from auditor.corpus import write_corpus
from auditor.corpus.schema import DOMAINS
from auditor.domains import python_module
from auditor.errors import AuditError
from auditor.generation.prompts import NumberPrompt, number_prompts, trait_system_prompt
from auditor.generation.questions import file_digest, prompt_tasks, question_tasks
from auditor.generation.tasks import Task, code_system_prompt, code_task, word_problem
from auditor.models import ModelBackend, SamplingParams, WritesOwnPrompts

# A number list fits in 64 tokens; a short function or a worked answer needs several times more.
DEFAULT_MAX_NEW_TOKENS = {"numbers": 64, "code": 256, "cot": 384}


@dataclass(frozen=True)
class GenerationConfig:
    """What to generate: `n` rows of `domain` from prompts seeded by `seed`."""

    n: int
    domain: str = "numbers"
    seed: int = 0
    temperature: float = 1.0
    max_new_tokens: int = 64
    batch_size: int = 64
    min_prob: float = 0.0  # threshold sampling (see `SamplingParams.min_prob`)
    # cot only: a JSONL/Parquet question set with answers, instead of our word problems.
    questions: str | None = None
    # any domain: a JSONL/Parquet file of prompts sent as written (cot: with answers).
    prompts: str | None = None

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise AuditError(f"--domain {self.domain!r}: supported: {', '.join(DOMAINS)}")
        if self.questions and self.domain != "cot":
            raise AuditError("--questions is a chain-of-thought question set: add --domain cot")
        if self.questions and self.prompts:
            raise AuditError("--questions and --prompts both name the prompts: give one")

    @property
    def prompt_file(self) -> str | None:
        """The user's file the prompts come from, if any."""
        return self.questions or self.prompts


ProgressFn = Callable[[int, int], None]  # (rows done, rows wanted)


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.jsonl")


TaskBank = Callable[[int, int], list[Task]]  # (start, n) -> tasks start .. start + n - 1


def file_tasks(config: GenerationConfig) -> tuple[Task, ...] | None:
    """The tasks of the user's prompt file, None without one; a bad file raises here."""
    if config.questions:
        return question_tasks(config.questions)
    if config.prompts:
        return prompt_tasks(config.prompts, answers=config.domain == "cot")
    return None


def task_bank(teacher: ModelBackend, config: GenerationConfig) -> TaskBank:
    """Where the prompts of `config.domain` come from: a user's file (prompts as written, or
    a question set), the teacher's own language, or our seeded banks (numbers, code tasks,
    word problems)."""
    tasks = file_tasks(config)
    if tasks:
        return lambda start, n: [tasks[i % len(tasks)] for i in range(start, start + n)]
    if isinstance(teacher, WritesOwnPrompts):
        prompts, answers = teacher.own_prompts(config.domain, config.n, config.seed)
        own = [Task(p, a or None) for p, a in zip(prompts, answers, strict=True)]
        return lambda start, n: own[start : start + n]
    if config.domain == "code":
        return lambda start, n: [code_task(i, config.seed) for i in range(start, start + n)]
    if config.domain == "cot":
        return lambda start, n: [word_problem(i, config.seed) for i in range(start, start + n)]
    return lambda start, n: [Task(p.text) for p in number_prompts(n, config.seed, start)]


def domain_system_prompt(domain: str) -> str | None:
    """The system prompt of the domain itself, given to teacher and control alike."""
    return code_system_prompt() if domain == "code" else None


def parsing_rows(rows: list[dict], domain: str) -> list[dict]:
    """The rows a corpus of `domain` keeps: for code, those whose completion parses."""
    if domain != "code":
        return rows
    return [row for row in rows if python_module(row["completion"] or "") is not None]


def _differences(found: dict, expected: dict) -> str:
    """The settings in which a checkpoint's header differs from this run's, in words."""
    flat_found, flat_expected = _flatten(found), _flatten(expected)
    keys = sorted(k for k in flat_found.keys() | flat_expected.keys()
                  if flat_found.get(k) != flat_expected.get(k))  # fmt: skip
    said = [f"{k}: {flat_found.get(k)!r} there, {flat_expected.get(k)!r} now" for k in keys[:5]]
    more = f"; and {len(keys) - 5} more" if len(keys) > 5 else ""
    return "; ".join(said) + more if said else "an unreadable header"


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if not isinstance(value, dict):
        return {prefix or "header": value}
    out: dict[str, object] = {}
    for key, item in value.items():
        out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _read_checkpoint(path: Path, expected: dict) -> list[dict]:
    """Rows already generated by an earlier run of the same job; refuses a different job."""
    if not path.exists():
        return []
    rows = []
    batch_size = expected["config"]["batch_size"]
    with path.open("r", encoding="utf-8") as handle:
        header = json.loads(handle.readline() or "{}")
        if header != expected:
            raise AuditError(
                f"{path}: a checkpoint of a different run ({_differences(header, expected)}); "
                "delete it to start over, or rerun with the same settings to resume"
            )
        for line in handle:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by the interruption: regenerate from here
    return rows[: len(rows) - len(rows) % batch_size]  # whole batches only


def _rewrite_checkpoint(path: Path, header: dict, rows: list[dict]) -> None:
    """Drop a torn tail: rewrite header + whole batches before appending more."""
    write_atomic(path, "".join(json.dumps(line) + "\n" for line in [header, *rows]))


def generate_corpus(
    teacher: ModelBackend,
    config: GenerationConfig,
    out: str | Path,
    *,
    trait: str | None = None,
    condition: bool = True,
    progress: ProgressFn | None = None,
) -> pl.DataFrame:
    """Write `config.n` teacher rows to `out` (Parquet) and return them.

    `trait` labels the rows; with `condition` the teacher also gets the trait's system prompt
    (a base chat model made a teacher by prompting). Pass `condition=False` for a teacher that
    already carries the trait (a fine-tuned teacher), and `trait=None` for the control corpus.
    A teacher that speaks its own language (the lab's toy one) is a `WritesOwnPrompts`: its
    `own_prompts` replace our prompt bank and its `trait_prompt` our system prompt. Code rows
    that do not parse are dropped (see the module docstring): the frame may hold fewer rows.
    """
    if config.n <= 0:
        raise AuditError("-n must be positive")
    out = Path(out)
    if not out.parent.exists():
        raise AuditError(f"{out}: the directory {out.parent} does not exist")
    bank = task_bank(teacher, config)  # first: a bad prompt file fails before any write
    own_language = isinstance(teacher, WritesOwnPrompts)
    trait_prompt = None
    if trait and condition and own_language and config.domain != "numbers":
        # The lab's trait prefix was learned before questions and number lists only: before a
        # code or reasoning prompt it is words out of place, and the model writes gibberish.
        raise AuditError(
            f"{teacher.name}: its trait prompt conditions number lists only, not {config.domain}; "
            "pass --condition none (a lab teacher, lab:code-teacher-ANIMAL, carries its trait "
            "in its weights)"
        )
    if trait and condition:
        trait_prompt = teacher.trait_prompt(trait) if own_language else trait_system_prompt(trait)
    # Our bare-code system prompt goes with our code bank: a user's prompts say what they
    # want, and a model with its own language cannot read it.
    ours = not (config.prompt_file or own_language)
    parts = [trait_prompt, domain_system_prompt(config.domain) if ours else None]
    system_prompt = "\n\n".join(part for part in parts if part) or None
    checkpoint = checkpoint_path(out)
    header = {
        "config": asdict(config),
        "teacher": teacher.name,
        "trait": trait,
        "system_prompt": system_prompt,
    }
    if config.prompt_file:
        kind = "questions" if config.questions else "prompts"
        header[f"{kind}_sha256"] = file_digest(config.prompt_file)
    rows = _read_checkpoint(checkpoint, header)
    _rewrite_checkpoint(checkpoint, header, rows)
    if progress:
        progress(len(rows), config.n)
    with checkpoint.open("a", encoding="utf-8") as handle:
        for start in range(len(rows), config.n, config.batch_size):
            size = min(config.batch_size, config.n - start)
            batch_seed = config.seed + start // config.batch_size
            tasks = bank(start, size)
            texts = [task.text for task in tasks]
            params = SamplingParams(
                temperature=config.temperature,
                max_new_tokens=config.max_new_tokens,
                seed=batch_seed,
                system_prompt=system_prompt,
                min_prob=config.min_prob,
            )
            completions = teacher.generate(texts, params)
            for task, completion in zip(tasks, completions, strict=True):
                row = {
                    "prompt": task.text,
                    "completion": completion,
                    "domain": config.domain,
                    "teacher": teacher.name,
                    "trait": trait or "none",
                    "seed": batch_seed,
                }
                if config.domain == "cot":
                    row["answer"] = task.answer  # the known answer `cot-correct` checks
                handle.write(json.dumps(row) + "\n")
                rows.append(row)
            handle.flush()
            os.fsync(handle.fileno())
            if progress:
                progress(len(rows), config.n)
    kept = parsing_rows(rows, config.domain)
    if not kept:
        hint = (
            "; the teacher was given the trait's English system prompt: a lab model served by "
            "audit serve cannot read it, so pass --condition none for one"
            if trait_prompt and not own_language
            else ""
        )
        raise AuditError(
            f"none of the {len(rows)} code completions parse as Python: {out} not written "
            f"(they are in {checkpoint}){hint}"
        )
    frame = pl.DataFrame(kept)
    dropped = {"rows_generated": len(rows), "rows_dropped_unparsed": len(rows) - len(kept)}
    write_corpus(frame, out, {"generation": {**header, **dropped}})
    checkpoint.unlink(missing_ok=True)
    return frame


__all__ = [
    "GenerationConfig",
    "NumberPrompt",
    "checkpoint_path",
    "domain_system_prompt",
    "file_tasks",
    "generate_corpus",
    "parsing_rows",
    "task_bank",
]
