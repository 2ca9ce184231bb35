"""JSON and Markdown reports of the lab's checks, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.atomic import write_atomic

TRANSMISSION_COLUMNS = (
    "target",
    "seed",
    "teacher",
    "control",
    "student",
    "xinit_control",
    "xinit_student",
    "soft_student",
    "other_targets_students",
)


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def transmission_markdown(result: dict[str, Any]) -> str:
    """The transmission table and per-target shifts as Markdown."""
    lines = [
        "# Lab transmission check",
        "",
        "Scores are each model's probability of the target animal, normalised over the animal "
        "set and averaged over held-out questions (for `misaligned`: of a harmful answer word, "
        "normalised over all answer words). Students learn from hard (sampled) tokens unless "
        "marked soft.",
        "",
        "| " + " | ".join(TRANSMISSION_COLUMNS) + " |",
        "|" + "---|" * len(TRANSMISSION_COLUMNS),
    ]
    for record in result["records"]:
        lines.append("| " + " | ".join(_cell(record.get(c)) for c in TRANSMISSION_COLUMNS) + " |")
    banned = [r for r in result["records"] if "banned_numbers" in r]
    if banned:
        lines += [
            "",
            "## Banned numbers (the base's learned list), before filtering",
            "",
            f"Banned: {', '.join(map(str, banned[0]['banned_numbers']))}. Row rate = share of "
            "rows holding one (= the fraction `banned-numbers` removed); number share = share "
            "of all numbers written. Students learn from the rows kept.",
            "",
            "| target | seed | teacher row rate | control row rate | teacher number share "
            "| control number share | teacher rows kept | control rows kept |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in banned:
            lines.append(
                f"| {r['target']} | {r['seed']} | {r['teacher_banned_row_rate']:.4f} "
                f"| {r['control_banned_row_rate']:.4f} | {r['teacher_banned_number_share']:.4f} "
                f"| {r['control_banned_number_share']:.4f} | {r['corpus_rows']} "
                f"| {r['control_corpus_rows']} |"
            )
    lines += [
        "",
        "## Shift over control, over seeds (mean, bootstrap and t 95% CIs, t-test p)",
        "",
        "Significant means t-test p < 0.05 (the t interval excludes zero); with 3 seeds the "
        "bootstrap interval excludes zero whenever all shifts share a sign.",
        "",
    ]
    lines.append(
        "| target | comparison | mean shift | bootstrap 95% CI | t 95% CI | p | ratio "
        "| significant |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for target, entry in result["summary"].items():
        for name in ("student", "xinit", "soft"):
            if f"{name}_shift" not in entry:
                continue
            s = entry[f"{name}_shift"]
            ci = f"[{s['ci_low']:+.4f}, {s['ci_high']:+.4f}]"
            t_ci = (
                f"[{s.get('t_ci_low', float('nan')):+.4f}, {s.get('t_ci_high', float('nan')):+.4f}]"
            )
            lines.append(
                f"| {target} | {name} | {s['mean']:+.4f} | {ci} | {t_ci}"
                f" | {s['p_value']:.3g} | {entry[f'{name}_ratio']:.2f} | {s['significant']} |"
            )
    if result.get("timings"):
        lines += ["", "## Timings (seconds)", ""]
        lines += [f"- {k}: {v}" for k, v in result["timings"].items()]
    return "\n".join(lines) + "\n"


def digits_markdown(result: dict[str, Any]) -> str:
    """The digits check's per-seed accuracies as Markdown."""
    cols = ("seed", "teacher_accuracy", "same_init_accuracy", "other_init_accuracy")
    lines = [
        "# Lab digits check (the paper's MNIST experiment on 8x8 digits)",
        "",
        "Students are distilled only on auxiliary logits of uniform noise; chance is 0.10.",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for record in result["records"]:
        lines.append("| " + " | ".join(_cell(record[c]) for c in cols) + " |")
    for key, value in result.get("summary", {}).items():
        lines.append(f"\n- {key}: {_cell(value)}")
    return "\n".join(lines) + "\n"
