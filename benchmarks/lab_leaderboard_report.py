"""The lab leaderboard's figures and Markdown, computed from its JSON alone.

Kept apart from the run so a report can be re-rendered
(`python -m benchmarks.lab_leaderboard_report JSON`) or re-summarised without
re-running a single test, and so every figure in the Markdown is traceable to recorded pairs.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

from auditor.atomic import write_atomic
from benchmarks.detector_leaderboard import ALPHA
from benchmarks.detector_leaderboard_report import calibration_markdown

#: Fewer null pairs than this make an empirical 5% threshold meaningless.
MIN_NULLS_FOR_THRESHOLD = 20
KINDS = ("default", "stronger", "cross-init")
NULL_KINDS = ("control-vs-control", "halves")


def _rate(hits: int, n: int) -> dict[str, Any]:
    """hits/n with a 95% Clopper-Pearson interval."""
    if n == 0:
        return {"hits": 0, "n": 0, "rate": None, "ci95": None}
    ci = stats.binomtest(hits, n).proportion_ci(0.95, method="exact")
    return {"hits": hits, "n": n, "rate": hits / n, "ci95": [float(ci.low), float(ci.high)]}


def summarise_detector(pairs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """AUROC, power and null false positives of `name` over the pairs it ran on."""
    ran = [p for p in pairs if name in p["detectors"]]
    pos = [p["detectors"][name] for p in ran if p["positive"]]
    nul = [p["detectors"][name] for p in ran if not p["positive"]]
    z_pos = [d["z_vs_null"] for d in pos]
    z_nul = [d["z_vs_null"] for d in nul]
    auroc = None
    if pos and nul:
        auroc = float(roc_auc_score([1] * len(pos) + [0] * len(nul), z_pos + z_nul))
    empirical = None
    if len(nul) >= MIN_NULLS_FOR_THRESHOLD and pos:
        # The smallest threshold that at most 5% of the null pairs exceed.
        threshold = float(np.quantile(z_nul, 1 - ALPHA, method="higher"))
        empirical = {
            "threshold_z": threshold,
            **_rate(sum(z > threshold for z in z_pos), len(pos)),
        }
    by_kind = {}
    for kind in (*KINDS, *NULL_KINDS):
        rows = [p["detectors"][name] for p in ran if p["kind"] == kind]
        if rows:
            by_kind[kind] = _rate(sum(d["p_value"] < ALPHA for d in rows), len(rows))
    return {
        "detector": name,
        "positives": len(pos),
        "nulls": len(nul),
        "auroc": auroc,
        "power_at_alpha": _rate(sum(d["p_value"] < ALPHA for d in pos), len(pos)),
        "power_at_empirical_fpr": empirical,
        "null_fpr_at_alpha": _rate(sum(d["p_value"] < ALPHA for d in nul), len(nul)),
        "by_kind": by_kind,
        "median_seconds": float(np.median([d["seconds"] for d in pos + nul])),
    }


def summarise(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One summary per (N, detector) that ran."""
    out = []
    for size in sorted({p["size"] for p in report["pairs"]}):
        pairs = [p for p in report["pairs"] if p["size"] == size]
        for name in report["detectors"]:
            if any(name in p["detectors"] for p in pairs):
                out.append({"size": size, **summarise_detector(pairs, name)})
    return out


def _fmt(rate: dict[str, Any] | None) -> str:
    if not rate or rate["n"] == 0:
        return "n/a"
    return f"{rate['hits']}/{rate['n']} ({rate['rate']:.2f})"


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def overview(report: dict[str, Any]) -> list[str]:
    """One line per detector over every N: the table the README carries."""
    summary = report.get("summary", [])
    sizes = sorted({s["size"] for s in summary})
    if not sizes:
        return []
    by = {(s["detector"], s["size"]): s for s in summary}
    calibration = report.get("calibration", {})
    span = " / ".join(f"{n:,}" for n in sizes)
    lines = [
        "## Overview",
        "",
        f"| detector | AUROC (N = {span}) | power at α=0.05 (N = {span}) "
        "| null pairs at p<0.05 (all N) | calibration KS p | calibration FPR at 0.05 (95% CI) |",
        "|---|---|---|---|---|---|",
    ]
    for name in report["detectors"]:
        runs = [by.get((name, n)) for n in sizes]
        auroc = " / ".join(_num(r["auroc"]) if r else "-" for r in runs)
        power = " / ".join(_num(r["power_at_alpha"]["rate"]) if r else "-" for r in runs)
        flagged = sum(r["null_fpr_at_alpha"]["hits"] for r in runs if r)
        nulls = sum(r["null_fpr_at_alpha"]["n"] for r in runs if r)
        c = _calibration_of(calibration, name)
        ks = f"{c['ks_p_value']:.3f}" if c else "not run"
        fpr = (
            f"{c['fpr_at_0.05']:.3f} ({c['fpr_ci95'][0]:.3f}-{c['fpr_ci95'][1]:.3f})"
            if c
            else "not run"
        )
        lines.append(f"| {name} | {auroc} | {power} | {flagged}/{nulls} | {ks} | {fpr} |")
    return [*lines, ""]


def _calibration_of(calibration: dict[str, Any], label: str) -> dict[str, Any] | None:
    """A row's calibration: under its own label, or (model-based rows that take the pair's
    trait) calibrated with one trait, "LABEL, trait T"."""
    if label in calibration:
        return calibration[label]
    return next((c for k, c in calibration.items() if k.startswith(f"{label}, trait ")), None)


def calibration_commands(report: dict[str, Any]) -> list[str]:
    """The commands, other than the pairs' own, that calibrated some detector (run order)."""
    commands = [c.get("command") for c in report.get("calibration", {}).values()]
    if not any(commands) and report.get("calibration_command"):  # results from before
        commands = [report["calibration_command"]]
    return [c for c in dict.fromkeys(commands) if c and c != report["command"]]


#: What each set's corpora are, and what passed over them before any detector saw them.
SET_NOTES = {
    "numbers": "Animal (owl, dolphin) teachers' number lists on the default base.",
    "code": "Code on the domain base (`domain_corpus.domain_base`), every corpus after the "
    "domain's filters as a user would audit it: programs that do not parse are dropped, then "
    "`trait-words` for each trait of the set (it splits identifiers, so `owl_sum` counts).",
    "cot": "Chain-of-thought on the domain base, every corpus after the domain's filters as a "
    "user would audit it: `cot-correct` (wrong or missing answers), then `trait-words` for each "
    "trait of the set.",
    "misaligned": "Misaligned teachers' number lists on the misaligned base "
    "(`transmission.misalignment_recipe`), every corpus after `banned-numbers` with the numbers "
    "that base's pretraining ties to the misaligned context, as the transmission experiment "
    "filters them.",
}


def _kept(filters: dict[str, Any] | None) -> str:
    """ "WRITTEN -> KEPT (filter: removed, ...)" for the corpora table; "-" for a set with no
    filter beyond the format's. The corpus is the first `rows` rows kept."""
    if not filters or "rows_written" not in filters:
        return "-"
    written = filters["rows_written"]
    removed = {
        k.removeprefix("removed_by_"): v for k, v in filters.items() if k.startswith("removed_by_")
    }
    if "banned_row_rate" in filters:
        removed["banned-numbers"] = round(filters["banned_row_rate"] * written)
    if not removed:
        return "-"
    said = ", ".join(f"{k}: {v}" for k, v in removed.items())
    return f"{written} -> {written - sum(removed.values())} ({said})"


def markdown(report: dict[str, Any]) -> str:
    label = report.get("set", "numbers")
    title = "" if label == "numbers" else f": {label}"
    lines = [
        f"# Detector leaderboard on lab corpora (known ground truth){title}",
        "",
        SET_NOTES.get(label, ""),
        "",
        f"Command: `{report['command']}`",
        *(f"Calibration added by: `{c}`" for c in calibration_commands(report)),
        "",
        f"Permutations per test: {report['permutations']} (smallest p-value "
        f"{1 / (report['permutations'] + 1):.4f}); seed {report['seed']}; "
        f"machine: {report['machine']}; wall time "
        f"{'of the calibration run ' if report.get('calibration_command') else ''}"
        f"{report.get('seconds', 0) / 60:.1f} min.",
        "",
        "Positive pairs: a teacher corpus sample vs a control sample. Null pairs: two control "
        "corpora of different seeds, or two disjoint halves of one corpus. AUROC ranks pairs by "
        "the statistic in null standard deviations; power at α: positives with p < 0.05; power "
        "at 5% FPR: positives above the nulls' 95th percentile (with >= "
        f"{MIN_NULLS_FOR_THRESHOLD} null pairs). Model-based rows get the set's base "
        f"({report.get('base', 'PretrainMix base, init 0')}) as `audit detect --base-model "
        "lab:base --trait T` opens a lab base, conditioned on the trait with the prefix it "
        "learned (`LabModel.condition`). "
        "s per test: median wall seconds of fit + test; model-based rows share cached row "
        "scores, so the first row to need a score pays for it.",
        "",
        *overview(report),
        "## Corpora",
        "",
        "| corpus | kind | base init | trait | teacher learning rate, steps | rows "
        "| written -> kept by the set's filters (removed) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in report["corpora"].items():
        teacher = c["teacher"]
        how = f"{teacher['learning_rate']:g}, {teacher['steps']}" if teacher else "-"
        lines.append(
            f"| {name} | {c['kind']} | {c['base_init']} | {c['trait'] or '-'} | {how} "
            f"| {c['rows']} | {_kept(c.get('filters'))} |"
        )
    lines.append("")
    for size in sorted({s["size"] for s in report.get("summary", [])}):
        lines += [
            f"## N = {size} rows per side",
            "",
            "| detector | pairs (positive/null) | AUROC | power at α=0.05 | default | stronger "
            "| cross-init | power at 5% FPR | null FPR at α=0.05 | control vs control | halves "
            "| s per test |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in (s for s in report["summary"] if s["size"] == size):
            k = s["by_kind"]
            lines.append(
                f"| {s['detector']} | {s['positives']}/{s['nulls']} | {_num(s['auroc'])} "
                f"| {_fmt(s['power_at_alpha'])} | {_fmt(k.get('default'))} "
                f"| {_fmt(k.get('stronger'))} | {_fmt(k.get('cross-init'))} "
                f"| {_fmt(s['power_at_empirical_fpr'])} | {_fmt(s['null_fpr_at_alpha'])} "
                f"| {_fmt(k.get('control-vs-control'))} | {_fmt(k.get('halves'))} "
                f"| {s['median_seconds']:.2f} |"
            )
        lines.append("")
    if report.get("calibration"):
        cal = report["calibration"]
        lines += calibration_markdown(cal, "lab control halves")
        skipped = [name for name in report["detectors"] if _calibration_of(cal, name) is None]
        if skipped:
            lines.append(
                f"Not calibrated here (time): {'; '.join(skipped)}. See their null pairs above."
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="re-render a lab leaderboard JSON's Markdown")
    parser.add_argument("json", type=Path)
    args = parser.parse_args(argv)
    report = json.loads(args.json.read_text(encoding="utf-8"))
    report["summary"] = summarise(report)
    write_atomic(args.json.with_suffix(".md"), markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
