"""Flags shared by several commands: how to read the corpus, how to choose filters, output."""

from __future__ import annotations

import argparse
from pathlib import Path

from auditor.cli.options import add_option
from auditor.corpus import ColumnMapping, ReadOptions
from auditor.corpus.reader import DEFAULT_MAX_FIELD_BYTES


def add_read_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reading the corpus")
    add_option(
        group,
        "--columns",
        help="map your columns: prompt=COL,completion=COL or messages=COL (default: detected)",
    )
    add_option(group, "--split", default="train", help="split of a saved DatasetDict")
    add_option(
        group, "--batch-rows", type=int, help="rows per batch (default: about 64 MB of rows)"
    )
    add_option(
        group,
        "--max-field-bytes",
        type=int,
        default=DEFAULT_MAX_FIELD_BYTES,
        help="refuse a prompt or completion larger than this",
    )


def read_options(args: argparse.Namespace) -> ReadOptions:
    return ReadOptions(
        mapping=ColumnMapping.parse(args.columns) if args.columns else None,
        batch_rows=int(args.batch_rows) if args.batch_rows else None,
        max_field_bytes=int(args.max_field_bytes),
        split=args.split,
    )


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters")
    add_option(
        group,
        "--filter",
        dest="filters",
        action="append",
        default=[],
        metavar="NAME[:k=v,...]",
        help="a filter to run, in order (repeat); see `audit filter --list`",
    )
    add_option(group, "--pipeline", type=Path, help="a TOML/YAML file listing the filters")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--json", action="store_true", help="print one JSON object on stdout")
    add_option(parser, "--quiet", "-q", action="store_true", help="no progress bars")
