"""Command-line flags: every flag also settable by an environment variable, and the flag groups
several commands share (reading a corpus, choosing filters, detectors and the verdict, output).

`--base-url` is settable as `AUDIT_BASE_URL`, `--trait` as `AUDIT_TRAIT`, and so on: the flag
name upper-cased, dashes to underscores, prefixed with `AUDIT_`; the same flag has the same
variable in every command. A flag given on the command line wins over the environment. Help
texts end with the default in effect and the variable.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from auditor.corpus import ColumnMapping, ReadOptions
from auditor.corpus.reader import DEFAULT_MAX_FIELD_BYTES
from auditor.errors import AuditError
from detectors.base import DEFAULT_ALPHA, DEFAULT_PERMUTATIONS

ENV_PREFIX = "AUDIT_"


def output_directory(value: str | Path) -> Path:
    """`--out DIR`, checked before any work (nothing is created yet): an existing file there,
    or a place where the directory cannot be made, is one clear error now rather than a
    traceback after the run."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise AuditError(f"--out {path}: a file is in the way (give a directory)")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
        raise AuditError(f"--out {path}: {ancestor} is not a writable directory")
    return path


def env_name(flag: str) -> str:
    """The environment variable that sets `flag` (e.g. `--base-url` -> `AUDIT_BASE_URL`)."""
    return ENV_PREFIX + flag.lstrip("-").upper().replace("-", "_")


def add_option(parser: Any, flag: str, *names: str, **kwargs: Any) -> None:
    """`parser.add_argument` whose default comes from the flag's environment variable when set;
    the help text shows the default and the variable."""
    variable = env_name(flag)
    if variable in os.environ:
        raw = os.environ[variable]
        if kwargs.get("action") == "store_true":
            kwargs["default"] = raw.strip().lower() in {"1", "true", "yes", "on"}
        elif kwargs.get("action") == "append" or kwargs.get("nargs") in {"*", "+"}:
            kwargs["default"] = [item for item in raw.split(os.pathsep) if item]
        else:
            kwargs["default"] = raw
        kwargs["required"] = False
    help_text = kwargs.get("help", "")
    default = kwargs.get("default")
    unset = default is None or default is False or default == [] or default == ""
    shown = not unset and "default" not in help_text
    suffix = f"default {default}; env {variable}" if shown else f"env {variable}"
    kwargs["help"] = f"{help_text} [{suffix}]".strip().replace("%", "%%")
    parser.add_argument(flag, *names, **kwargs)


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
        help="a filter to run, in order (repeat; default: the domain's pipeline); "
        "see `audit filter --list`",
    )
    add_option(group, "--pipeline", type=Path, help="a TOML/YAML file listing the filters")


def add_detector_options(
    parser: argparse.ArgumentParser, *, reference_help: str, detector_help: str
) -> argparse._ArgumentGroup:
    """The detectors and their verdict, with the defaults `audit` and `audit detect` share."""
    group = parser.add_argument_group("detectors")
    add_option(group, "--reference", type=Path, help=reference_help)
    add_option(
        group,
        "--detector",
        dest="detectors",
        action="append",
        default=[],
        metavar="NAME",
        help=detector_help,
    )
    add_option(
        group,
        "--base-model",
        help="the corpus's base model (lab:base, hf:PATH, openai:MODEL): enables the "
        "model-based detectors; `audit` has it write the reference when --reference is not given",
    )
    add_permutations_option(group)
    add_option(group, "--seed", type=int, default=0, help="seed of the permutations")
    add_option(
        group,
        "--alpha",
        type=float,
        default=DEFAULT_ALPHA,
        help="significance level over all detectors (Bonferroni: each needs p < alpha / count)",
    )
    return group


def add_permutations_option(parser: Any) -> None:
    """`--permutations`, with the default every command shares."""
    add_option(
        parser,
        "--permutations",
        type=int,
        default=DEFAULT_PERMUTATIONS,
        help="row permutations per p-value",
    )


def add_output_options(parser: Any) -> None:
    add_option(parser, "--json", action="store_true", help="print one JSON object on stdout")
    add_option(parser, "--quiet", "-q", action="store_true", help="no progress bars")


def add_engine_option(parser: Any, what: str = "where the work runs") -> None:
    """`--engine local|ray` (env `AUDIT_ENGINE`): the same flag in every command."""
    from auditor.engine import ENGINES

    add_option(
        parser,
        "--engine",
        choices=list(ENGINES),
        default="local",
        help=f"{what}: local (this process) or ray (a Ray cluster at RAY_ADDRESS, else a "
        "local one; needs the ray extra)",
    )
