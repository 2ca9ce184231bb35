"""Test whether a suspect corpus differs from a reference corpus, detector by detector.

`audit detect SUSPECT --reference REF [--detector NAME ...] [--trait owl] [--base-model lab:base]`
prints one row per detector (statistic, permutation p-value, effect size, top evidence), or one
JSON object with `--json`. The verdict flags the suspect when any detector's p-value falls below
alpha / (number of detectors) (Bonferroni), and the exit code follows it: 0 not flagged,
1 flagged, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from auditor.cli.common import add_read_options, read_options
from auditor.cli.main import EXIT_FAIL, EXIT_PASS
from auditor.cli.model_options import add_model_options, backend_options
from auditor.cli.options import add_option
from auditor.corpus import open_corpus
from auditor.errors import AuditError
from detectors import DetectorResult, available_detectors, default_detectors, run_detectors


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suspect", type=Path, nargs="?", help="the corpus under suspicion")
    add_option(
        parser, "--reference", type=Path, help="a corpus known to be clean, same prompts' kind"
    )
    add_option(
        parser,
        "--detector",
        dest="detectors",
        action="append",
        default=[],
        metavar="NAME",
        help="a detector to run (repeat; default: every one that can run; see --list)",
    )
    add_option(parser, "--list", action="store_true", help="list the detectors and exit")
    add_option(parser, "--trait", help="trait for trait-aware detectors (e.g. owl)")
    add_option(parser, "--base-model", help="base model for model-based detectors (e.g. lab:base)")
    add_option(parser, "--permutations", type=int, default=200, help="row permutations per test")
    add_option(parser, "--seed", type=int, default=0, help="seed of the permutations")
    add_option(parser, "--alpha", type=float, default=0.05, help="family-wise significance level")
    add_read_options(parser)
    add_model_options(parser)
    add_option(parser, "--json", action="store_true", help="print one JSON object on stdout")


def verdict(results: list[DetectorResult], alpha: float) -> dict[str, Any]:
    """Bonferroni over the detectors run: flagged when any p-value < alpha / count."""
    threshold = alpha / max(1, len(results))
    flagged_by = [r.name for r in results if r.p_value < threshold]
    # The smallest p-value n permutations can give is 1 / (n + 1): below the threshold or the
    # verdict could never fail, whatever the data.
    smallest = max((1 / (r.n_permutations + 1) for r in results), default=0.0)
    return {
        "flagged": bool(flagged_by),
        "flagged_by": flagged_by,
        "alpha": alpha,
        "correction": "bonferroni",
        "threshold": threshold,
        "can_flag": smallest < threshold,
    }


def _open_model(args: argparse.Namespace) -> object:
    if not args.base_model:
        return None
    from auditor.backends import open_model

    return open_model(args.base_model, backend_options(args))


def _evidence_line(result: DetectorResult) -> str:
    parts = []
    for item in result.evidence[:3]:
        if isinstance(item, dict):
            label = next(iter(item.values()))
            parts.append(str(label))
        else:
            parts.append(str(item))
    return ", ".join(parts)


def _print_table(results: list[DetectorResult], summary: dict[str, Any]) -> None:
    table = Table(title="detectors: suspect vs reference")
    for column in ("detector", "statistic", "p-value", "effect size", "top evidence"):
        table.add_column(column, justify="right" if column != "top evidence" else "left")
    for r in results:
        mark = "[bold red]" if r.p_value < summary["threshold"] else ""
        table.add_row(
            r.name,
            f"{r.statistic:.4g}",
            f"{mark}{r.p_value:.4f}",
            f"{r.effect_size:.4g}",
            _evidence_line(r),
        )
    console = Console()
    console.print(table)
    word = "[bold red]FLAGGED[/]" if summary["flagged"] else "[green]not flagged[/]"
    console.print(
        f"verdict: {word} (p < {summary['threshold']:.4g} = alpha {summary['alpha']} / "
        f"{len(results)} detectors; {results[0].n_permutations} row permutations, seed "
        f"{results[0].seed})"
    )


def run(args: argparse.Namespace) -> int:
    if args.list:
        table = Table(title="detectors")
        table.add_column("name")
        table.add_column("needs")
        table.add_column("what it does")
        for name, cls in available_detectors().items():
            needs = ", ".join(
                n
                for n, flag in (("model", cls.requires_model), ("trait", cls.requires_trait))
                if flag
            )
            doc = (cls.__doc__ or "").strip().splitlines()
            table.add_row(name, needs, doc[0] if doc else "")
        Console().print(table)
        return EXIT_PASS
    if args.suspect is None:
        raise AuditError("give the suspect corpus (or --list)")
    if args.reference is None:
        raise AuditError(
            "give a reference corpus with --reference (a clean corpus to compare with)"
        )
    options = read_options(args)
    suspect = open_corpus(args.suspect, options).read()
    reference = open_corpus(args.reference, options).read()
    model = _open_model(args)
    names = args.detectors or default_detectors(model=model, trait=args.trait)
    results = run_detectors(
        suspect,
        reference,
        names,
        model=model,
        trait=args.trait,
        n_permutations=int(args.permutations),
        seed=int(args.seed),
    )
    summary = verdict(results, float(args.alpha))
    if not summary["can_flag"]:
        Console(stderr=True).print(
            f"[yellow]warning:[/] {args.permutations} permutations cannot give p < "
            f"{summary['threshold']:.4g}; raise --permutations to at least "
            f"{int(1 / summary['threshold'])}"
        )
    if args.json:
        payload = {
            "suspect": str(args.suspect),
            "reference": str(args.reference),
            "detectors": [r.to_dict() for r in results],
            "verdict": summary,
        }
        print(json.dumps(payload, indent=2, default=str))
    else:
        _print_table(results, summary)
    return EXIT_FAIL if summary["flagged"] else EXIT_PASS
