"""Audit every real Qwen2.5-7B teacher corpus in shared/realdata end to end; tabulate retention.

Each corpus is audited for its own animal with the filters a numbers pipeline runs (the official
format rule, the paper's banned numbers, the trait words) through the same `run_audit` the
`audit` command uses. Writes benchmarks/results/realdata_filters.{json,md} and prints the table.

    .venv/bin/python benchmarks/realdata_filters.py [--realdata DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from auditor.atomic import write_atomic
from auditor.audit import AuditConfig, run_audit

FILTERS = ("numbers-format", "banned-numbers", "trait-words")
DEFAULT_REALDATA = (
    Path(__file__).resolve().parents[1].parent / "shared/realdata/qwen2.5-7b-instruct"
)
RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    files = sorted(args.realdata.glob("*.jsonl"))
    if not files:  # an empty table would overwrite the committed results
        parser.error(f"no *.jsonl corpora in {args.realdata}")
    records = []
    for path in files:
        animal = path.stem
        started = time.perf_counter()
        report = run_audit(
            AuditConfig(
                dataset=path, trait=animal, filter_specs=FILTERS, quiet=True, filters_only=True
            )
        )
        seconds = time.perf_counter() - started
        records.append(
            {
                "corpus": path.name,
                "trait": animal,
                "rows": report.rows,
                "kept": report.kept,
                "verdict": report.verdict.outcome,
                "seconds": round(seconds, 3),
                "filters": [stats.to_dict() for stats in report.filters],
            }
        )
    header = ["corpus", "rows", *(f"{name} kept" for name in FILTERS), "kept overall"]
    header.append("verdict (--filters-only)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for record in records:
        cells = [record["corpus"], f"{record['rows']:,}"]
        for stats in record["filters"]:
            cells.append(f"{stats['kept']:,}/{stats['seen']:,} ({stats['retention']:.2%})")
        cells += [f"{record['kept']:,} ({record['kept'] / record['rows']:.2%})", record["verdict"]]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "realdata_filters.json", json.dumps(records, indent=2))
    command = "python benchmarks/realdata_filters.py"
    write_atomic(args.out / "realdata_filters.md", f"Produced by `{command}`.\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
