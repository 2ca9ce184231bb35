"""`audit bench`: benchmarks on the embedded lab, where the truth is known.

    audit bench filters --seeds 3 --out DIR                    # every offline filter + defenses
    audit bench filters --filter match-reference --filter likelihood:mode=surprise --out DIR
    audit bench filters --plugin my_filters.py --out DIR       # your own filter classes
    audit bench filters --domain code --out DIR                # code (or cot) corpora
    audit bench filters --targets misaligned --out DIR         # the misaligned teacher

`filters` runs each filter over lab teacher corpora and their controls, trains probe students
on what each keeps (equal optimiser steps), and reports retention against residual leakage
with 95% intervals over target x seed cells: DIR/filters.json, filters.md, filters.svg.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from auditor.bench.setups import DOMAINS
from auditor.bench.students import STUDENTS, TEACHERS
from auditor.cli.flags import add_engine_option, add_option, output_directory
from auditor.errors import AuditError

_stderr = Console(stderr=True, highlight=False)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench_command", required=True, metavar="COMMAND")
    bench = sub.add_parser(
        "filters",
        help="rank filters and defenses by the leakage that survives them, against retention",
    )
    add_option(
        bench, "--targets", default="owl,dolphin",
        help="comma-separated target animals, or misaligned (alone: the misaligned lab teacher, "
        "whose banned-numbers filter gets the lab's learned list)",
    )  # fmt: skip
    add_option(
        bench, "--domain", default="numbers", choices=DOMAINS,
        help="the corpora: number lists, code or chain-of-thought (each domain benchmarks the "
        "filters and runs the detectors that can read it)",
    )  # fmt: skip
    add_option(bench, "--seeds", type=int, default=3, help="seeds (each draws its own base pair)")
    add_option(
        bench, "--filter", action="append", default=[], dest="filters", metavar="SPEC",
        help="a filter spec to benchmark (repeatable; default: the domain's offline filters and "
        "defenses, plus gen:min_prob=0.05); 'none' is always included",
    )  # fmt: skip
    add_option(
        bench, "--plugin", action="append", default=[], dest="plugins", metavar="FILE.py",
        help="a Python file whose filter classes are benchmarked too (repeatable)",
    )  # fmt: skip
    add_option(
        bench, "--student", default="lnf-bias", choices=sorted(STUDENTS),
        help="probe student: lnf-bias reads token frequencies, mid-bias reads context",
    )  # fmt: skip
    add_option(
        bench, "--teacher", default="lnf-bias", choices=sorted(TEACHERS),
        help="where the lab teacher's trait lives (its fine-tuned parameters)",
    )  # fmt: skip
    add_option(bench, "--rows", type=int, default=None, help="corpus rows (default: the recipe's)")
    add_option(bench, "--permutations", type=int, default=200, help="detector permutations")
    add_option(bench, "--workers", type=int, default=2, help="worker processes (1 thread each)")
    add_engine_option(bench, "where students train (ray: one task each, a GPU where there is one)")
    add_option(
        bench, "--lab-cache", "--cache", dest="cache", default=None,
        help="lab model cache directory (default: ~/.cache/subliminal-audit/lab)",
    )  # fmt: skip
    add_option(bench, "--out", required=True, help="output directory")


def run(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)  # workers run one thread each; the main process scores and tests
    from auditor.bench.entries import off_domain, parse_entries
    from auditor.bench.filters_bench import config_for, run_bench
    from auditor.bench.report import header, summary_rows, write_outputs
    from auditor.bench.setups import bench_setup
    from auditor.bench.students import student_config, teacher_config

    targets = tuple(t.strip().lower() for t in str(args.targets).split(",") if t.strip())
    setup = bench_setup(str(args.domain), targets, teacher_config(str(args.teacher)))
    if int(args.seeds) < 1 or int(args.workers) < 1 or int(args.permutations) < 1:
        raise AuditError("--seeds, --workers and --permutations must be at least 1")
    entries = parse_entries(args.filters, args.plugins, setup.entries)
    notes = off_domain(entries, setup.domain)
    for note in notes:
        _stderr.print(f"[bold yellow]warning:[/] {note}", soft_wrap=True)
    recipe = setup.recipe
    if args.rows is not None:
        if int(args.rows) < 50:
            raise AuditError("--rows must be at least 50")
        recipe = replace(recipe, corpus_rows=int(args.rows))
    setup = replace(setup, recipe=recipe)
    config = config_for(
        setup,
        seeds=tuple(range(int(args.seeds))),
        student=student_config(str(args.student), recipe),
        student_name=str(args.student),
        permutations=int(args.permutations),
        workers=int(args.workers),
        engine=args.engine,
    )
    out = output_directory(args.out)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=_stderr, transient=True,
    ) as progress:  # fmt: skip
        tasks: dict[str, int] = {}

        def say(phase: str, done: int, total: int) -> None:
            if not _stderr.is_terminal and (done == total or done % max(1, total // 10) == 0):
                # Logs and CI get a line per tenth of each phase (a bar needs a terminal).
                _stderr.print(f"{time.strftime('%H:%M:%S')} bench filters: {phase} {done}/{total}")
            if phase not in tasks:
                tasks[phase] = progress.add_task(f"bench filters: {phase}", total=total)
            progress.update(tasks[phase], completed=done, total=total)

        result = run_bench(entries, config, cache=args.cache, progress=say)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["command"] = "audit " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result["notes"] = notes
    result["config"] = {
        "domain": setup.domain,
        "trait": setup.trait_label,
        "targets": list(targets),
        "seeds": list(config.seeds),
        "student_name": config.student_name,
        "teacher": str(args.teacher),
        "detectors": list(config.detectors),
        "permutations": config.permutations,
        "corpus_rows": recipe.corpus_rows,
        "filter_defaults": {k: dict(v) for k, v in setup.filter_defaults.items()},
    }
    for name, message in result["errors"].items():
        _stderr.print(f"[bold red]filter failed:[/] {name}: {message}", soft_wrap=True)
    write_outputs(result, out)
    # The terminal gets the columns that decide (full table with detectors: filters.md).
    wanted = ("filter", "retention", "residual", "95% CI (t, over cells)", "shown to close")
    columns = [i for i, name in enumerate(header(result)) if name in wanted]
    table = Table(
        title=f"Filter benchmark, {setup.domain}, {setup.trait_label} ({result['seconds']:.0f} s)"
    )
    for i in columns:
        table.add_column(header(result)[i], overflow="fold")
    for cells in summary_rows(result):
        table.add_row(*(cells[i] for i in columns))
    Console().print(table)
    if len(config.seeds) * len(targets) < 2:
        Console().print("one cell per filter: no interval (give --seeds 2 or more, or two targets)")
    Console().print(f"wrote {out / 'filters.json'}, filters.md (every column), filters.svg")
    # A filter that failed is in the report, but a script (CI) must see it too.
    return 1 if result["errors"] else 0
