"""The detector leaderboard's Markdown: power tables, calibration, speed.

`calibration_markdown` also renders the lab leaderboard's calibration section
(`benchmarks/lab_leaderboard_report.py`), so both leaderboards show it alike.
"""

from __future__ import annotations

from typing import Any


def calibration_markdown(calibration: dict[str, Any], source: str) -> list[str]:
    """`calibration_section`'s summary as a Markdown section, one table row per detector;
    `source` says where the null pairs came from."""
    first = next(iter(calibration.values()))
    lines = [
        f"## Calibration ({first['null_pairs']} null pairs, {first['rows_per_side']} rows per "
        f"side, source: {source})",
        "",
        "| detector | KS statistic | KS p | FPR at 0.05 | 95% CI (Clopper-Pearson) | mean p |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in calibration.items():
        lines.append(
            f"| {name} | {c['ks_statistic']:.3f} | {c['ks_p_value']:.3f} | "
            f"{c['fpr_at_0.05']:.3f} | {c['fpr_ci95'][0]:.3f}-{c['fpr_ci95'][1]:.3f} | "
            f"{c['mean_p']:.3f} |"
        )
    return [*lines, ""]


def markdown(report: dict[str, Any]) -> str:
    names = report["detectors"]
    lines = [
        "# Detector leaderboard",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Permutations per test: {report['permutations']} (smallest possible p-value "
        f"{1 / (report['permutations'] + 1):.4f}); seed {report['seed']}; "
        f"machine: {report['machine']}, BLAS threads {report['blas_threads']}.",
        "",
    ]
    if report.get("calibration"):
        lines += calibration_markdown(report["calibration"], report["calibration_source"])
    if report.get("power"):
        for size in sorted({r["size"] for r in report["power"]}, reverse=True):
            rows = [r for r in report["power"] if r["size"] == size]
            lines += [
                f"## Real Qwen2.5-7B corpora, {size} rows per side: permutation p-values",
                "",
                "| reference | suspect | rows | " + " | ".join(names) + " |",
                "|---|---|---|" + "---|" * len(names),
            ]
            for r in rows:
                label = f"{r['reference']} (half)" if r["null"] else r["reference"]
                suspect = f"{r['suspect']} (other half)" if r["null"] else r["suspect"]
                cells = " | ".join(f"{r['detectors'][n]['p_value']:.4f}" for n in names)
                lines.append(
                    f"| {label} | {suspect} | {r['n_reference']}/{r['n_suspect']} | {cells} |"
                )
            diff = [r for r in rows if not r["null"]]
            nulls = [r for r in rows if r["null"]]
            lines += [
                "",
                "| detector | different-trait pairs at p<0.01 | at p<0.05 "
                "| null halves at p<0.05 | AUROC |",
                "|---|---|---|---|---|",
            ]
            for n in names:
                p01 = sum(r["detectors"][n]["p_value"] < 0.01 for r in diff)
                p05 = sum(r["detectors"][n]["p_value"] < 0.05 for r in diff)
                n05 = sum(r["detectors"][n]["p_value"] < 0.05 for r in nulls)
                auroc = _auroc(
                    [r["detectors"][n]["z_vs_null"] for r in diff],
                    [r["detectors"][n]["z_vs_null"] for r in nulls],
                )
                lines.append(
                    f"| {n} | {p01}/{len(diff)} | {p05}/{len(diff)} | {n05}/{len(nulls)} "
                    f"| {auroc:.2f} |"
                )
            lines += [
                "",
                "AUROC: how well the statistic (in null standard deviations) ranks the "
                "different-trait pairs above the null halves.",
                "",
            ]
    if report.get("timing"):
        lines += [
            "## Speed: fit + test, 10k vs 10k rows, 200 permutations (median of repeats)",
            "",
            "| detector | seconds | all runs |",
            "|---|---|---|",
        ]
        for name, t in report["timing"].items():
            runs = ", ".join(f"{r:.2f}" for r in t.get("runs", [t["seconds"]]))
            lines.append(f"| {name} | {t['seconds']:.2f} | {runs} |")
        lines.append("")
    return "\n".join(lines)


def _auroc(positives: list[float], negatives: list[float]) -> float:
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > q) + 0.5 * (p == q) for p in positives for q in negatives)
    return wins / (len(positives) * len(negatives))
