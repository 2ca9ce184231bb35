"""Print the sweep results as a Markdown table (one row per variant and target).

python benchmarks/lab_sweep/summarise.py benchmarks/lab_sweep/results_*.jsonl
"""

from __future__ import annotations

import json
import sys
from statistics import mean


def rows(path: str) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as handle:
        runs = [json.loads(line) for line in handle if line.strip()]
    for run in runs:
        if "error" in run:
            out.append(f"| {run['variant']} | - | error: {run['error'][:60]} |||||||")
            continue
        for target, entry in run["summary"].items():
            recs = [r for r in run["records"] if r["target"] == target]
            s, x = entry["student_shift"], entry["xinit_shift"]
            soft = entry.get("soft_shift", {}).get("mean")
            out.append(
                f"| {run['variant']} | {target} | {len(recs)} "
                f"| {mean(r['teacher'] for r in recs):.3f} "
                f"| {mean(r['control'] for r in recs):.4f} "
                f"| {mean(r['student'] for r in recs):.4f} "
                f"| {s['mean']:+.4f} [{s['ci_low']:+.4f}, {s['ci_high']:+.4f}] "
                f"p={s['p_value']:.2g} "
                f"| {entry['student_ratio']:.2f} | {x['mean']:+.4f} p={x['p_value']:.2g} "
                f"| {'' if soft is None else f'{soft:+.4f}'} | {run.get('device', '')} |"
            )
    return out


def main() -> None:
    print(
        "| variant | target | seeds | teacher | control | student | shift [95% CI] p "
        "| ratio | xinit shift | soft shift | device |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for path in sys.argv[1:]:
        print("\n".join(rows(path)))


if __name__ == "__main__":
    main()
