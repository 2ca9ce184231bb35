"""Shared argparse helpers: every flag can also be set by an environment variable.

`--base-url` is settable as `AUDIT_BASE_URL`, `--trait` as `AUDIT_TRAIT`, and so on: the flag
name upper-cased, dashes to underscores, prefixed with `AUDIT_`. A flag given on the command
line wins over the environment.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

ENV_PREFIX = "AUDIT_"


def env_name(flag: str) -> str:
    """The environment variable that sets `flag` (e.g. `--base-url` -> `AUDIT_BASE_URL`)."""
    return ENV_PREFIX + flag.lstrip("-").upper().replace("-", "_")


def add_option(parser: argparse.ArgumentParser, flag: str, *names: str, **kwargs: Any) -> None:
    """`parser.add_argument` whose default comes from the flag's environment variable when set."""
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
    kwargs["help"] = f"{help_text} [env: {variable}]".strip()
    parser.add_argument(flag, *names, **kwargs)
