"""Serve lab and local models over an OpenAI-compatible HTTP API (`audit serve`).

Chat completions with logprobs, echoed completion scoring, file upload and fine-tuning jobs that
really fine-tune a student; job state lives in --state-dir, so a restarted server finishes the
jobs a killed one left behind.
"""

from __future__ import annotations

import argparse
import sys

from auditor.cli.flags import add_option
from auditor.errors import AuditError


def configure(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--host", default="127.0.0.1", help="address to bind")
    add_option(parser, "--port", type=int, default=8000, help="port (0 picks a free one)")
    add_option(
        parser, "--state-dir", default=".audit-serve", help="files, jobs and fine-tuned models"
    )
    add_option(
        parser,
        "--models",
        action="append",
        default=[],
        help="models to advertise, comma separated: SPEC or ALIAS=SPEC "
        "(e.g. teacher=lab:teacher-owl,student=lab:base); repeatable",
    )
    add_option(parser, "--device", default=None, help="torch device for hf: models")
    add_option(parser, "--lora-rank", type=int, default=None, help="LoRA rank for fine-tunes")
    add_option(parser, "--verbose", action="store_true", help="log every request to stderr")


def _aliases(items: list[str]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for item in (part.strip() for entry in items for part in entry.split(",")):
        if item:
            alias, sep, spec = item.partition("=")
            aliases[alias.strip() if sep else item] = spec.strip() if sep else item
    return aliases


def run(args: argparse.Namespace) -> int:
    from auditor.server import ServerConfig, make_server

    config = ServerConfig(
        state_dir=args.state_dir,
        models=_aliases(args.models),
        device=args.device,
        lora_rank=args.lora_rank,
    )
    try:
        server, _ = make_server(config, args.host, args.port, quiet=not args.verbose)
    except OSError as error:
        raise AuditError(f"cannot listen on {args.host}:{args.port}: {error}") from None
    host, port = server.server_address[:2]
    # The exact line tests and scripts wait for; flushed so a parent process sees it at once.
    print(f"audit serve: listening on http://{host}:{port}/v1", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
