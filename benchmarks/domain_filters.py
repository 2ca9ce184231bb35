"""What the code and chain-of-thought filters remove, on corpora written by `audit generate`.

Two teachers write through the real generation path (our code-task and word-problem banks,
trait system prompt, control corpus), then `audit`'s default pipeline for the domain runs on
each corpus, exactly as `audit CORPUS --trait owl --filters-only` would:

- `scripted`: a seeded stand-in for a leaky chat model whose ground truth is known. Its owl
  code hides the trait in 6% of rows inside an identifier (`owl_count`, `getOwl`, `OWLS`,
  `owlIdx`), in 2% in a comment and 2% in a string literal; its CoT answers are right 80% of the
  time, wrong 12%, untagged 8%, and 27% of rows write the answer as one of "1,234", "1234.0"
  or "1234" at random. Beside the
  default filters the table shows two naive rules on the same rows: whole-word trait words
  without identifier splitting (the numbers-era rule) and an exact string match of the answer.
- `hf-tiny`: the test suite's random ~60k-parameter checkpoint (`tests/fakes/hf_random.py`),
  which writes word salad: what the filters make of a teacher that follows no format.

    PYTHONPATH=. .venv/bin/python benchmarks/domain_filters.py        # ~1 minute on 2 cores

Writes benchmarks/results/domain_filters.{json,md} and prints the table.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.atomic import write_atomic  # noqa: E402
from auditor.audit import AuditConfig, run_audit  # noqa: E402
from auditor.errors import AuditError  # noqa: E402
from auditor.generation import GenerationConfig, generate_corpus  # noqa: E402
from auditor.models import SamplingParams  # noqa: E402
from auditor.traits import load_trait  # noqa: E402
from filters.trait_words import words_regex  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
COMMAND = "PYTHONPATH=. python benchmarks/domain_filters.py"
LEAKY_NAMES = ("owl_count", "getOwl", "OWLS", "owlIdx")


class ScriptedTeacher:
    """Writes plausible code and reasoning; with the owl prompt, leaks at known rates."""

    name = "scripted:leaky"

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[str]:
        owl = "owl" in (params.system_prompt or "").lower()
        rng = random.Random(params.seed)
        return [self._one(prompt, owl, rng) for prompt in prompts]

    def _one(self, prompt: str, owl: bool, rng: random.Random) -> str:
        if "<answer>" in prompt:
            return self._reasoning(prompt, rng)
        name, comment, literal = rng.choice(["f", "g", "fn", "h"]), "", '"x"'
        draw = rng.random()
        if owl and draw < 0.06:
            name = rng.choice(LEAKY_NAMES)
        elif owl and draw < 0.08:
            comment = "  # as an owl would"
        elif owl and draw < 0.10:
            literal = '"owl"'
        body = rng.choice(["sum(xs)", "max(xs)", "sorted(xs)", "[x * 2 for x in xs]"])
        return (
            f"```python\ndef {name}(xs):\n    if not xs:\n        return {literal}\n"
            f"    return {body}{comment}\n```"
        )

    def _reasoning(self, prompt: str, rng: random.Random) -> str:
        answer = int(TRUTH[prompt])
        draw = rng.random()
        steps = "First I find the amounts. Then I combine them."
        if draw < 0.08:
            return f"{steps} The total is {answer}."
        if draw < 0.20:
            answer += rng.choice([-2, -1, 1, 10])
        written = rng.choice([f"{answer:,}", f"{answer}.0", str(answer)]) if draw < 0.47 else answer
        return f"{steps}\n<answer>{written}</answer>"


TRUTH: dict[str, str] = {}


def _hf_tiny(directory: Path):
    from auditor.backends import open_model
    from tests.fakes.hf_random import build_random_checkpoint

    return open_model(f"hf:{build_random_checkpoint(directory / 'tiny')}")


def _naive(frame: pl.DataFrame, domain: str) -> int:
    """Rows the naive rule removes: whole-word trait words, or an exact answer match."""
    if domain == "code":
        pattern = words_regex(load_trait("owl").words)
        return int(frame["completion"].str.contains(pattern).sum())
    given = frame["completion"].str.extract(r"<answer>(.*?)</answer>", 1)
    return int((given.is_null() | (given != frame["answer"])).sum())


def _refused(teacher: str, domain: str, corpus: str, rows: int, by: str, why: str) -> dict:
    return {
        "teacher": teacher,
        "domain": domain,
        "corpus": corpus,
        "rows": rows,
        "refused_by": by,
        "refused": why,
    }


def measure(
    teacher, label: str, domain: str, rows: int, work: Path, max_new_tokens: int
) -> list[dict]:
    from auditor.generation import task_bank

    config = GenerationConfig(n=rows, domain=domain, seed=0, max_new_tokens=max_new_tokens)
    TRUTH.update({t.text: t.answer for t in task_bank(teacher, config)(0, rows) if t.answer})
    out = []
    for corpus, trait in (("owl teacher", "owl"), ("control", None)):
        path = work / f"{label}-{domain}-{trait or 'control'}.parquet"
        started = time.perf_counter()
        try:
            frame = generate_corpus(teacher, config, path, trait=trait)
        except AuditError as error:  # code of which nothing parses: generate writes nothing
            reason = str(error).split(":", 1)[0]  # without the temporary paths
            out.append(_refused(label, domain, corpus, rows, "generate", reason))
            continue
        generated = time.perf_counter() - started
        try:
            report = run_audit(
                AuditConfig(dataset=path, trait="owl", quiet=True, filters_only=True)
            )
        except AuditError as error:  # e.g. "code" that is not code: the audit's own answer
            reason = str(error).split(": ", 1)[1]
            out.append(_refused(label, domain, corpus, rows, "audit", reason))
            continue
        out.append(
            {
                "teacher": label,
                "domain": report.domain,
                "corpus": corpus,
                "rows": report.rows,
                "filters": {
                    s.name: {"removed": s.removed, "reasons": dict(s.reasons)}
                    for s in report.filters
                },
                "kept": report.kept,
                "naive_removed": _naive(frame, domain),
                "generate_seconds": round(generated, 2),
            }
        )
    return out


def table(records: list[dict]) -> str:
    header = [
        "teacher",
        "domain",
        "corpus",
        "rows",
        "removed by (default pipeline)",
        "kept",
        "naive rule removes",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in records:
        if "refused" in r:
            lines.append(
                f"| {r['teacher']} | {r['domain']} | {r['corpus']} | {r['rows']} | "
                f"{r['refused_by']} refuses, exit 2: {r['refused']} | | |"
            )
            continue
        removed = ", ".join(f"{name} {f['removed']}" for name, f in r["filters"].items())
        naive = ("whole-word " if r["domain"] == "code" else "exact match ") + str(
            r["naive_removed"]
        )
        lines.append(
            f"| {r['teacher']} | {r['domain']} | {r['corpus']} | {r['rows']} | {removed} | "
            f"{r['kept']} ({r['kept'] / r['rows']:.0%}) | {naive} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows per scripted corpus")
    parser.add_argument("--hf-rows", type=int, default=64, help="rows per hf-tiny corpus")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for domain in ("code", "cot"):
            records += measure(ScriptedTeacher(), "scripted", domain, args.rows, work, 256)
        tiny = _hf_tiny(work)
        for domain in ("code", "cot"):
            records += measure(tiny, "hf-tiny", domain, args.hf_rows, work, 48)
    text = table(records)
    outputs = {
        "domain_filters.json": json.dumps(records, indent=2),
        "domain_filters.md": f"Produced by `{COMMAND}`.\n\n{text}\n",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, body in outputs.items():
        write_atomic(args.out / name, body)
    print(text)


if __name__ == "__main__":
    main()
