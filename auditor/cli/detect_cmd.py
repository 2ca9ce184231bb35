"""Test whether a suspect corpus differs from a reference corpus, detector by detector.

`audit detect SUSPECT --reference REF [--detector NAME ...] [--trait owl] [--base-model lab:base]`
prints one row per detector (statistic, permutation p-value, effect size, top evidence), or one
JSON object with `--json`. The verdict is the audit's, with the same defaults: it fails when any
detector's p-value falls below alpha / (number of detectors) (Bonferroni), and the exit code
follows it: 0 pass, 1 fail, 2 bad input, 3 inconclusive (too few permutations to fail).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from auditor.audit import for_domain, vocabulary_warnings
from auditor.cli.exit_codes import EXIT_PASS, for_verdict
from auditor.cli.flags import add_detector_options, add_option, add_read_options, read_options
from auditor.cli.model_flags import add_model_options, backend_options
from auditor.corpus import open_corpus
from auditor.corpus.schema import DOMAINS
from auditor.domains import infer_domain, read_domain
from auditor.errors import AuditError
from auditor.report.render import DETECTOR_HEADER, detector_rows, print_verdict
from auditor.verdict import Subject, Thresholds, Verdict, judge
from detectors import available_detectors, decide, default_detectors, run_detectors


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suspect", type=Path, nargs="?", help="the corpus under suspicion")
    add_option(parser, "--list", action="store_true", help="list the detectors and exit")
    add_option(parser, "--trait", help="trait for trait-aware detectors (e.g. owl)")
    add_option(
        parser, "--domain", choices=DOMAINS,
        help="the corpus's domain, which picks the detectors that can read it (default: the "
        "corpus's domain column, else detected from its completions)",
    )  # fmt: skip
    add_detector_options(
        parser,
        reference_help="a corpus known to be clean: the teacher's base model on the same prompts",
        detector_help="a detector to run (repeat; default: every one that can run; see --list)",
    )
    add_read_options(parser)
    add_model_options(parser)
    add_option(parser, "--json", action="store_true", help="print one JSON object on stdout")


def _open_model(args: argparse.Namespace) -> object:
    if not args.base_model:
        return None
    from auditor.backends import open_model

    return open_model(args.base_model, backend_options(args))


def _print_table(verdict: Verdict, seed: int) -> None:
    decision = verdict.decision
    assert decision is not None
    table = Table(title="detectors: suspect vs reference", title_justify="left")
    for column in DETECTOR_HEADER:
        table.add_column(
            column, justify="left" if column in {"detector", "top evidence"} else "right"
        )
    for row in detector_rows(decision.results):
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(f"a detector flags when {decision.rule()}")
    permutations = decision.results[0].n_permutations if decision.results else 0
    print_verdict(verdict, console, f" ({permutations} row permutations, seed {seed})")


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
    opened, opened_reference = (
        open_corpus(args.suspect, options),
        open_corpus(args.reference, options),
    )
    domain, mixed = read_domain(opened, args.domain)
    if args.domain is None and (theirs := infer_domain(opened_reference, None)) != domain:
        raise AuditError(
            f"the suspect reads as {domain}, the reference as {theirs}: a detector would find "
            "that difference alone; compare corpora of one domain (--domain forces one)"
        )
    suspect = opened.read()
    reference = opened_reference.read()
    model = _open_model(args)
    warnings = vocabulary_warnings(model, args.base_model, suspect) if model else []
    warnings += [mixed] if mixed else []
    names, skipped = for_domain(
        args.detectors or default_detectors(model=model, trait=args.trait, domain=None), domain
    )
    # As in the audit: a detector the user named, or a number detector on code/CoT, is a note.
    notes = [skipped] if skipped and (args.detectors or domain != "numbers") else []
    for warning in warnings:
        Console(stderr=True).print(f"[bold yellow]warning:[/] {warning}")
    if not args.json:
        for note in notes:
            Console(stderr=True).print(f"[dim]note: {note}[/]")
    if not names:
        raise AuditError(f"no detector given can read this {domain} corpus (see --list)")
    results = run_detectors(
        suspect,
        reference,
        names,
        model=model,
        trait=args.trait,
        n_permutations=int(args.permutations),
        seed=int(args.seed),
    )
    verdict = judge(
        Subject(str(args.suspect), args.trait, str(args.reference)),
        rows=suspect.height,
        decision=decide(results, float(args.alpha)),
        thresholds=Thresholds(alpha=float(args.alpha)),
    )
    if args.json:
        payload = {
            "suspect": str(args.suspect),
            "reference": str(args.reference),
            "domain": domain,
            **verdict.to_dict(),
            "warnings": warnings,
            "notes": notes,
            "detectors": [r.to_dict() for r in verdict.decision.results],  # type: ignore[union-attr]
        }
        print(json.dumps(payload, indent=2, default=str))
    else:
        _print_table(verdict, int(args.seed))
    return for_verdict(verdict.outcome)
