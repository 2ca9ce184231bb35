"""Audit a corpus for a hidden trait: filters, detectors and probes, a report and a verdict.

Exit codes: 0 the audit passed, 1 its verdict failed a threshold, 2 a usage or input error,
3 inconclusive: only filters ran, and filters cannot see a hidden trait (add --reference,
--base-model or --student; or pass --filters-only to accept the filters' pass).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from auditor.audit import AuditConfig, run_audit
from auditor.cli.exit_codes import for_verdict
from auditor.cli.flags import (
    add_detector_options,
    add_engine_option,
    add_filter_options,
    add_option,
    add_output_options,
    add_read_options,
    read_options,
)
from auditor.cli.model_flags import (
    add_model_options,
    add_probe_options,
    backend_options,
    probe_options,
)
from auditor.corpus.schema import DOMAINS
from auditor.report import print_report, to_json, write_reports
from auditor.verdict import Thresholds


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dataset", type=Path, help="corpus: .parquet, .jsonl or a saved dataset dir"
    )
    add_option(parser, "--trait", help="the trait to audit for, e.g. owl")
    add_option(parser, "--domain", choices=DOMAINS, help="default: detected")
    add_read_options(parser)
    add_filter_options(parser)
    add_engine_option(parser, "where the filters run")
    add_option(
        parser,
        "--filters-only",
        action="store_true",
        help="run only the filters and accept their pass (otherwise a run with no detector or "
        "probe is inconclusive, exit 3)",
    )
    add_detector_options(
        parser,
        reference_help="reference corpus: the teacher's base model on the same prompts",
        detector_help="detector to run against the reference (repeat; default: every one "
        "that can run with what is given)",
    )
    add_probe_options(parser, required=False)
    add_model_options(parser)
    group = parser.add_argument_group("verdict")
    add_option(
        group,
        "--max-trait-fraction",
        type=float,
        default=0.0,
        help="share of rows trait filters may flag before the audit fails",
    )
    group = parser.add_argument_group("output")
    add_option(group, "--output", type=Path, help="write the kept rows to this Parquet file")
    add_option(group, "--report-dir", type=Path, help="write report.json/.md/.html here")
    add_output_options(group)


def run(args: argparse.Namespace) -> int:
    config = AuditConfig(
        dataset=args.dataset,
        trait=args.trait,
        domain=args.domain,
        read=read_options(args),
        filter_specs=tuple(args.filters),
        pipeline_file=args.pipeline,
        reference=args.reference,
        detectors=tuple(args.detectors),
        permutations=args.permutations,
        seed=args.seed,
        kept_path=args.output,
        thresholds=Thresholds(alpha=args.alpha, max_trait_fraction=args.max_trait_fraction),
        quiet=args.quiet or args.json,
        model=args.base_model,
        student=args.student,
        probe=probe_options(args),
        backend=backend_options(args),
        filters_only=args.filters_only,
        engine=args.engine,
    )
    report = run_audit(config)
    if args.report_dir:
        report.outputs.update(write_reports(report, args.report_dir))
    if args.json:
        print(to_json(report))
    else:
        print_report(report, Console())
    return for_verdict(report.verdict.outcome)
