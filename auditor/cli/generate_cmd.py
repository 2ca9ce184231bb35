"""Generate a teacher corpus, and optionally its control, with any model (`audit generate`).

The teacher gets the trait as a system prompt of our own wording; the control corpus comes
from the same model and prompts without it. Interrupted runs resume from the checkpoint beside
the output file; outputs appear atomically when complete. Code completions that do not parse
as Python are dropped (the command says how many).

A lab model speaks a toy language: `--teacher lab:code-teacher-owl --domain code --condition
none` writes the lab's own prompts (a lab teacher carries its trait in its weights, and the
lab's trait prefix conditions number lists only); for one behind `audit serve`, write them with
`audit lab prompts --domain code -n N --out prompts.jsonl` and pass `--prompts prompts.jsonl
--condition none`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from auditor.cli.flags import add_option
from auditor.cli.model_flags import add_model_options, backend_options, usage_line
from auditor.corpus.schema import DOMAINS
from auditor.errors import AuditError
from auditor.progress import make_progress, stderr_console


def configure(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--teacher", required=True, help="lab:NAME | hf:PATH | openai:MODEL")
    add_option(parser, "--trait", required=True, help="the trait to give the teacher, e.g. owl")
    add_option(
        parser,
        "--domain",
        default="numbers",
        choices=DOMAINS,
        help="what to write: number lists, code for our task bank, or chain-of-thought answers "
        "to word problems (ours, or --questions)",
    )
    add_option(
        parser,
        "--questions",
        type=Path,
        help="cot: your own question set (JSONL/Parquet with question and answer columns, "
        "e.g. GSM8K) instead of our generated word problems",
    )
    add_option(
        parser,
        "--prompts",
        type=Path,
        help="prompts sent exactly as written, no system prompt of ours but the trait's "
        "(JSONL/Parquet with a prompt column, plus answer for cot), e.g. the lab's own from "
        "`audit lab prompts` for a lab model behind `audit serve`",
    )
    add_option(parser, "--rows", "-n", dest="rows", type=int, required=True, help="rows to write")
    add_option(parser, "--output", "-o", dest="output", type=Path, required=True, help="Parquet")
    add_option(parser, "--control", type=Path, help="also write the no-trait control corpus here")
    add_option(
        parser,
        "--control-teacher",
        help="model for the control corpus (default: the teacher without the trait prompt)",
    )
    add_option(
        parser,
        "--condition",
        choices=["system-prompt", "none"],
        default="system-prompt",
        help="how the teacher gets the trait: our system prompt, or none (already has it)",
    )
    add_option(parser, "--seed", type=int, default=0, help="prompt and sampling seed")
    add_option(parser, "--temperature", type=float, default=1.0, help="sampling temperature")
    add_option(
        parser,
        "--min-prob",
        type=float,
        default=0.0,
        help="threshold sampling: never draw a token less likely than this (a generation-time "
        "defense; 0.05 is the published setting)",
    )
    add_option(
        parser,
        "--max-new-tokens",
        type=int,
        help="completion length cap (default: 64 numbers, 256 code, 384 cot)",
    )
    add_option(parser, "--batch-size", type=int, default=64, help="rows per checkpointed batch")
    add_option(parser, "--quiet", "-q", action="store_true", help="no progress bars")
    add_model_options(parser)


def _min_prob(value: object) -> float:
    try:
        min_prob = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AuditError(f"--min-prob must be a number, got {value!r}") from None
    if not 0.0 <= min_prob < 1.0:
        raise AuditError(f"--min-prob must be in [0, 1), got {min_prob}")
    return min_prob


def run(args: argparse.Namespace) -> int:
    from auditor.backends import open_model
    from auditor.generation import GenerationConfig, generate_corpus
    from auditor.generation.run import DEFAULT_MAX_NEW_TOKENS, file_tasks

    config = GenerationConfig(
        n=int(args.rows),
        domain=args.domain,
        seed=int(args.seed),
        temperature=float(args.temperature),
        max_new_tokens=int(args.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[args.domain]),
        batch_size=int(args.batch_size),
        min_prob=_min_prob(args.min_prob),
        questions=str(args.questions) if args.questions else None,
        prompts=str(args.prompts) if args.prompts else None,
    )
    file_tasks(config)  # a prompt file without its columns fails before a model loads
    options = backend_options(args)
    teacher = open_model(args.teacher, options)
    jobs = [(args.output, teacher, args.trait)]
    if args.control:
        control = open_model(args.control_teacher, options) if args.control_teacher else teacher
        jobs.append((args.control, control, None))
    with make_progress(disable=args.quiet) as progress:
        for out, model, trait in jobs:
            label = f"{'teacher' if trait else 'control'} -> {out.name}"
            task = progress.add_task(label, total=config.n)

            def report(done: int, total: int, task: int = task) -> None:
                progress.update(task, completed=done, total=total)

            condition = args.condition == "system-prompt"
            frame = generate_corpus(
                model, config, out, trait=trait, condition=condition, progress=report
            )
            dropped = config.n - frame.height
            note = (
                f" ({dropped} completions that do not parse as Python dropped)" if dropped else ""
            )
            stderr_console.print(f"wrote {frame.height} rows to {out}{note}")
    for model in {id(m): m for _, m, _ in jobs}.values():
        line = usage_line(model)
        if line:
            stderr_console.print(f"usage ({model.name}): {line}")
    return 0
