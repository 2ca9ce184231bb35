"""Serve lab and local models over an OpenAI-compatible HTTP API (`audit serve`).

Chat completions with logprobs, echoed completion scoring, file upload and fine-tuning jobs that
really fine-tune a student; job state lives in --state-dir, so a restarted server finishes the
jobs a killed one left behind. Anything that reaches the port can use the models and start
training, so beyond loopback a key is required (`--api-key`), and every request is bounded.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
import threading

from auditor.cli.flags import add_option
from auditor.errors import AuditError

# Served when --models is not given: the lab base and the teachers of the demo's two traits.
DEFAULT_MODELS = {
    "base": "lab:base",
    "teacher-owl": "lab:teacher-owl",
    "teacher-dolphin": "lab:teacher-dolphin",
}


def configure(parser: argparse.ArgumentParser) -> None:
    from auditor.server.schema import Limits

    limits = Limits()
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
        "(e.g. teacher=lab:teacher-owl,student=lab:base); lab names take a code- or cot- "
        "prefix for the code and chain-of-thought domains (teacher=lab:code-teacher-owl,"
        "base=lab:code-base), whose prompts `audit lab prompts --domain code` writes for "
        "`audit generate --prompts`; repeatable; without it: "
        + ",".join(f"{alias}={spec}" for alias, spec in DEFAULT_MODELS.items()),
    )
    add_option(
        parser,
        "--api-key",
        default=None,
        help="clients must send Authorization: Bearer KEY (all routes but /health); "
        "required to bind beyond loopback",
    )
    add_option(
        parser,
        "--insecure",
        action="store_true",
        help="allow binding beyond loopback without --api-key (anyone reaching the port "
        "can use the models and train)",
    )
    add_option(parser, "--device", default=None, help="torch device for hf: models")
    add_option(parser, "--lora-rank", type=int, default=None, help="LoRA rank for fine-tunes")
    add_option(
        parser, "--workers", type=int, default=limits.workers, help="requests handled at once"
    )
    add_option(
        parser,
        "--timeout",
        type=float,
        default=limits.socket_timeout,
        help="seconds a connection may stay silent before it is closed",
    )
    add_option(parser, "--max-n", type=int, default=limits.max_n, help="most choices per request")
    add_option(
        parser, "--max-tokens", type=int, default=limits.max_tokens, help="most tokens per choice"
    )
    add_option(
        parser,
        "--max-prompt-chars",
        type=int,
        default=limits.max_prompt_chars,
        help="longest prompt, in characters",
    )
    add_option(
        parser,
        "--max-upload-mb",
        type=float,
        default=limits.max_upload_bytes / 2**20,
        help="largest uploaded file, MiB",
    )
    add_option(
        parser,
        "--upload-quota-mb",
        type=float,
        default=limits.upload_quota_bytes / 2**20,
        help="all uploaded files together, MiB",
    )
    add_option(
        parser,
        "--max-loaded-models",
        type=int,
        default=limits.max_loaded_models,
        help="models kept open at once (least recently used closed first)",
    )
    add_option(parser, "--verbose", action="store_true", help="log every request to stderr")


def _aliases(items: list[str]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for item in (part.strip() for entry in items for part in entry.split(",")):
        if item:
            alias, sep, spec = item.partition("=")
            aliases[alias.strip() if sep else item] = spec.strip() if sep else item
    return aliases


def is_loopback(host: str) -> bool:
    """Whether every address `host` resolves to is a loopback one."""
    try:
        infos = socket.getaddrinfo(host or "0.0.0.0", None)
    except OSError:
        return False
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def _limits(args: argparse.Namespace):
    from auditor.server.schema import Limits

    values = {
        "workers": args.workers,
        "socket_timeout": args.timeout,
        "max_n": args.max_n,
        "max_tokens": args.max_tokens,
        "max_prompt_chars": args.max_prompt_chars,
        "max_loaded_models": args.max_loaded_models,
    }
    for name, value in values.items():
        if not value > 0:
            raise AuditError(f"--{name.replace('_', '-')} must be positive, not {value}")
    return Limits(
        **values,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        upload_quota_bytes=int(args.upload_quota_mb * 2**20),
    )


def run(args: argparse.Namespace) -> int:
    from auditor.server import ServerConfig, make_server

    if not args.api_key and not args.insecure and not is_loopback(args.host):
        raise AuditError(
            f"refusing to serve on {args.host} without --api-key (AUDIT_API_KEY): anyone who "
            "can reach it could use the models and start training; pass --insecure to do so"
        )
    limits = _limits(args)
    models = _aliases(args.models) or dict(DEFAULT_MODELS)
    config = ServerConfig(
        state_dir=args.state_dir,
        models=models,
        device=args.device,
        lora_rank=args.lora_rank,
        limits=limits,
    )
    try:
        server, service = make_server(
            config, args.host, args.port, quiet=not args.verbose, api_key=args.api_key
        )
    except OSError as error:
        raise AuditError(f"cannot listen on {args.host}:{args.port}: {error}") from None
    # Requests are answered while the models load (503 + Retry-After, /health "loading"),
    # so a client started beside the server waits politely instead of hanging.
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    try:

        def report(line: str) -> None:
            print(f"audit serve: {line}", file=sys.stderr, flush=True)

        service.load_all(report)  # a cold lab cache trains here, visibly, not in a request
        host, port = server.server_address[:2]
        # The exact line tests and scripts wait for; flushed so a parent process sees it at once.
        print(f"audit serve: listening on http://{host}:{port}/v1", file=sys.stderr, flush=True)
        while serving.is_alive():
            serving.join(0.5)  # a timed join keeps Ctrl-C deliverable to this thread
    except KeyboardInterrupt:
        pass
    finally:
        if serving.is_alive():
            server.shutdown()  # stops serve_forever (waits for a loop that already ended)
        server.server_close()
    return 0
