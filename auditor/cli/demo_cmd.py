"""The end-to-end demo on the embedded lab: a teacher that loves an animal, audited.

Trains (or loads from the cache) the lab's base model, makes a teacher for `--target`, has it
write a number corpus and the base write a control corpus on the same prompts, then audits the
teacher's corpus exactly as `audit` would: the default filters, every detector against the
control (the model-based ones through the lab base), and probe students fine-tuned from the
base on both corpora. Needs no download; the first run trains the base (see README for times),
and a later run, from any folder, reuses the corpora and every detector's and probe student's
result from the lab cache (AUDIT_LAB_CACHE).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console

from auditor.audit import AuditConfig, run_audit
from auditor.cli.exit_codes import for_verdict
from auditor.cli.flags import add_option, add_permutations_option
from auditor.progress import Phases
from auditor.report import print_report, to_json, write_reports
from auditor.verdict import Thresholds


def configure(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--target", default="owl", help="the teacher's favourite animal")
    add_option(parser, "--seed", type=int, default=0, help="seed of the teacher and corpora")
    add_option(parser, "--rows", type=int, default=10_000, help="rows in each corpus")
    add_option(parser, "--seeds", type=int, default=3, help="probe students per side")
    add_option(parser, "--threads", type=int, default=1, help="CPU threads for torch")
    add_permutations_option(parser)
    add_option(parser, "--out", type=Path, default=Path("audit-demo"), help="output directory")
    add_option(parser, "--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    import torch

    from auditor.lab.demo import build_demo_corpus
    from auditor.probing import ProbeOptions

    # The lab's models are tiny: one thread is as fast, and far faster on a busy machine.
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    with Phases(disable=args.json) as phases, phases.phase("lab corpora") as say:
        teacher_path, control_path = build_demo_corpus(
            args.target, args.seed, args.out, rows=args.rows, progress=say
        )
    config = AuditConfig(
        dataset=teacher_path,
        trait=args.target,
        reference=control_path,
        permutations=args.permutations,
        seed=args.seed,
        model="lab:base",
        student="lab:base",
        probe=ProbeOptions(seeds=args.seeds),
        thresholds=Thresholds(),
        quiet=args.json,
    )
    report = run_audit(config)
    report.notes.append(
        f"teacher corpus {teacher_path}, control corpus {control_path}; "
        f"demo took {time.perf_counter() - started:.0f} s"
    )
    report.outputs.update(write_reports(report, args.out / "report"))
    if args.json:
        print(to_json(report))
    else:
        print_report(report, Console())
        Console().print(f"reports written to {args.out / 'report'}")
    return for_verdict(report.verdict.outcome)
