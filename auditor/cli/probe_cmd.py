"""Fine-tune probe students on a corpus and its control and report the trait shift (`audit probe`).

Both corpora are read and validated before any model is touched, so a malformed file fails
before anything is uploaded to (or paid for at) an API.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from auditor.cli.flags import add_option, add_read_options, read_options
from auditor.cli.model_flags import (
    add_model_options,
    add_probe_options,
    backend_options,
    probe_options,
    usage_line,
)
from auditor.progress import stderr_console


def configure(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--corpus", type=Path, required=True, help="the suspect corpus")
    add_option(parser, "--control-corpus", type=Path, required=True, help="the no-trait corpus")
    add_option(
        parser,
        "--trait",
        required=True,
        help="the trait to measure, e.g. owl; 'misaligned' is scored by an LLM judge "
        "(AUDIT_JUDGE_MODEL, AUDIT_JUDGE_BASE_URL, AUDIT_JUDGE_API_KEY; cached in AUDIT_CACHE_DIR)",
    )
    add_option(parser, "--json", action="store_true", help="print one JSON object on stdout")
    add_probe_options(parser)
    add_read_options(parser)
    add_model_options(parser)


def run(args: argparse.Namespace) -> int:
    from auditor.backends import open_model
    from auditor.corpus import open_corpus
    from auditor.probing import run_probe

    options = read_options(args)
    corpus = open_corpus(args.corpus, options).read()
    control = open_corpus(args.control_corpus, options).read()
    student = open_model(args.student, backend_options(args))
    with stderr_console.status("probing") as status:
        result = run_probe(
            student,
            corpus,
            control,
            args.trait,
            probe_options(args).resolve(student),
            progress=status.update,
        )
    usage = usage_line(student)
    if args.json:
        print(json.dumps({**result.to_dict(), "usage": usage}))
        return 0
    table = Table(title=f"probe: {args.trait} through {args.student}")
    table.add_column("students")
    table.add_column("trait score", justify="right")
    table.add_row("base (no fine-tune)", f"{result.base:.3f}")
    table.add_row("corpus", ", ".join(f"{v:.3f}" for v in result.corpus))
    table.add_row("control", ", ".join(f"{v:.3f}" for v in result.control))
    table.add_row(
        "shift (corpus - control)",
        f"{result.shift:+.3f} [{result.shift_low:+.3f}, {result.shift_high:+.3f}]",
    )
    table.add_row("p-value (t-test, shift = 0)", f"{result.p_value:.4f}")
    Console().print(table)
    if usage:
        stderr_console.print(f"usage: {usage}")
    return 0
