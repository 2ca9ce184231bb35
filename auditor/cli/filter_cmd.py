"""Run filters over a corpus; write the kept rows, and the removed rows with filter and reason."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from auditor.cli.exit_codes import EXIT_PASS
from auditor.cli.flags import (
    add_engine_option,
    add_filter_options,
    add_option,
    add_output_options,
    add_read_options,
    read_options,
)
from auditor.corpus import open_corpus
from auditor.errors import AuditError
from auditor.filtering import run_filters
from auditor.report.render import FILTER_HEADER, filter_rows
from filters.config import load_pipeline_file
from filters.registry import available_filters, create_filter


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, nargs="?", help="corpus to filter")
    add_option(parser, "--list", action="store_true", help="list the available filters and exit")
    add_option(parser, "--trait", help="trait for trait-aware filters (trait-words, llm-judge)")
    add_read_options(parser)
    add_filter_options(parser)
    add_engine_option(parser, "where the filters run")
    add_option(parser, "--output", type=Path, help="Parquet file for the kept rows")
    add_option(parser, "--removed", type=Path, help="Parquet file for removed rows + reasons")
    add_option(
        parser,
        "--rewritten",
        type=Path,
        help="Parquet file for rows a rewriting filter changed (completion before and after)",
    )
    add_output_options(parser)


def _list_filters(console: Console) -> int:
    table = Table(title="filters")
    table.add_column("name")
    table.add_column("what it does")
    for name, cls in available_filters().items():
        table.add_row(name, (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "")
    console.print(table)
    return EXIT_PASS


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list_filters(Console())
    if args.dataset is None:
        raise AuditError("give a corpus to filter (or --list)")
    if not args.filters and not args.pipeline:
        raise AuditError("name at least one --filter or a --pipeline file (see --list)")
    if args.filters and args.pipeline:
        raise AuditError("give filters either with --filter or with --pipeline, not both")
    filters = (
        load_pipeline_file(args.pipeline, trait=args.trait)
        if args.pipeline
        else [create_filter(spec, trait=args.trait) for spec in args.filters]
    )
    outputs = [target.resolve() for target in (args.output, args.removed, args.rewritten) if target]
    for target in outputs:
        if target == args.dataset.resolve():
            raise AuditError(f"{target}: refusing to overwrite the input corpus")
    if len(set(outputs)) < len(outputs):
        raise AuditError("--output, --removed and --rewritten must be different files")
    corpus = open_corpus(args.dataset, read_options(args))
    run_ = run_filters(
        corpus,
        filters,
        kept_path=args.output,
        removed_path=args.removed,
        rewritten_path=args.rewritten,
        quiet=args.quiet or args.json,
        engine=args.engine,
    )
    summary = {
        "dataset": str(args.dataset),
        "rows": run_.rows,
        "kept": run_.kept_rows,
        "engine": run_.engine.to_dict(),
        "filters": [stats.to_dict() for stats in run_.stats],
        "outputs": {
            k: str(v)
            for k, v in (
                ("kept", args.output),
                ("removed", args.removed),
                ("rewritten", args.rewritten),
            )
            if v
        },
    }
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return EXIT_PASS
    console = Console()
    table = Table(title=f"{args.dataset}: {run_.kept_rows:,} of {run_.rows:,} rows kept")
    for column in FILTER_HEADER:
        table.add_column(column)
    for row in filter_rows(summary["filters"]):
        table.add_row(*row)
    console.print(table)
    return EXIT_PASS
