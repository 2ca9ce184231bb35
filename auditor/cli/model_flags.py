"""Flags that say how to reach a model and train probe students: shared by `audit`,
`audit generate` and `audit probe`.

A model is a spec (`lab:NAME`, `hf:PATH`, `openai:MODEL`); these flags carry what a spec
can't: the torch device for local checkpoints, and the server, key and price table for
OpenAI-compatible APIs. Each is also settable by environment (`AUDIT_BASE_URL`, ...).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from auditor.backends import BackendOptions
from auditor.cli.flags import add_option
from auditor.models import HasUsageMeter
from auditor.usage import Budget, parse_prices

if TYPE_CHECKING:
    from auditor.probing import ProbeOptions


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reaching models")
    add_option(group, "--device", help="torch device for hf: models (default: cuda if present)")
    add_option(group, "--base-url", help="OpenAI-compatible server for openai: models")
    add_option(group, "--api-key", help="API key for openai: models (or OPENAI_API_KEY)")
    add_option(
        group,
        "--prices",
        default="",
        help="price table MODEL=PROMPT/COMPLETION dollars per 1k tokens, comma separated",
    )
    add_option(
        group,
        "--state-dir",
        default=".audit-state",
        help="where fine-tuning job ids are kept so interrupted probes resume",
    )
    add_option(group, "--concurrency", type=int, default=8, help="parallel API requests")
    add_option(
        group, "--max-cost", type=float, help="stop before spending more dollars (needs --prices)"
    )
    add_option(group, "--max-requests", type=int, help="stop after this many paid API requests")
    add_option(group, "--deadline", type=float, help="stop sending API requests after SECONDS")
    add_option(
        group,
        "--trait-questions",
        help="JSON file of trait questions for openai: models (e.g. a lab model's own)",
    )


def backend_options(args: argparse.Namespace) -> BackendOptions:
    return BackendOptions(
        device=args.device,
        base_url=args.base_url,
        api_key=args.api_key,
        state_dir=args.state_dir,
        concurrency=int(args.concurrency),
        questions=args.trait_questions,
        prices=parse_prices(args.prices or ""),
        budget=Budget(
            max_cost=_number(args.max_cost),
            max_requests=None if args.max_requests is None else int(args.max_requests),
            deadline_seconds=_number(args.deadline),
        ),
    )


def _number(value: object) -> float | None:
    return None if value in (None, "") else float(value)  # type: ignore[arg-type]


def usage_line(model: object) -> str | None:
    """`requests, tokens, cost` of an API-backed model, or None for local ones."""
    if not isinstance(model, HasUsageMeter):
        return None
    summary = model.meter.summary()
    cost = summary["cost_usd"]
    price = f"${cost:.4f}" if cost is not None else "cost unknown (no --prices)"
    return (
        f"{summary['requests']} requests, {summary['prompt_tokens']} prompt + "
        f"{summary['completion_tokens']} completion tokens, {price}"
    )


def add_probe_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """`--student` and how probe students are trained and scored (`audit probe`, `audit`)."""
    group = parser.add_argument_group("probe students")
    add_option(
        group,
        "--student",
        required=required,
        help="base to fine-tune probe students from: lab:NAME | hf:PATH | openai:MODEL",
    )
    add_option(group, "--seeds", type=int, default=None, help="students per side (default 3)")
    add_option(group, "--epochs", type=float, help="fine-tuning epochs (default: the backend's)")
    add_option(group, "--learning-rate", type=float, help="fine-tuning rate (default: backend's)")
    add_option(group, "--batch-size", type=int, help="fine-tuning batch size (default: backend's)")
    add_option(group, "--lora-rank", type=int, help="LoRA rank (hf students; default: full)")
    add_option(group, "--samples", type=int, default=20, help="answers sampled per question")


def probe_options(args: argparse.Namespace) -> ProbeOptions:
    """The probe flags as given; unset ones are left to the student backend's defaults."""
    from auditor.probing import ProbeOptions

    return ProbeOptions(
        seeds=args.seeds,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        lora_rank=args.lora_rank,
        samples=int(args.samples),
    )
