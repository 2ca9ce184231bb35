"""The filter benchmark's outputs: filters.json, filters.md and the residual-retention plot."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from auditor import jsonsafe
from auditor.atomic import write_atomic
from auditor.bench.students import STUDENTS as STUDENT_CHANNELS
from auditor.report import svg


def _num(value: Any, digits: int = 2, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _p(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.3f}"


def summary_rows(result: dict[str, Any]) -> list[list[str]]:
    """The table's cells, one list per filter, in the order `HEADER` names."""
    from auditor.bench.filters_bench import shown_to_close

    config = result["config"]
    detectors = config["detectors"]
    rows = []
    for row in result["summary"]:
        cells = [
            row["filter"],
            _num(row["retention"], 3),
            _num(row["residual"]),
            f"[{_num(row['residual_low'])}, {_num(row['residual_high'])}]",
            _num(row["leakage"], 4, signed=True),
            f"{_num(row['xinit_shift'], 4, signed=True)} "
            f"[{_num(row['xinit_shift_low'], 4, signed=True)}, "
            f"{_num(row['xinit_shift_high'], 4, signed=True)}]",
            *[_p(row.get(f"{name}_median_p")) for name in detectors],
            f"{row['seconds']:.1f}",
            shown_to_close(row["residual_high"], config["student_name"]) or "—",
        ]
        rows.append(cells)
    return rows


def header(result: dict[str, Any]) -> list[str]:
    detectors = result["config"]["detectors"]
    return [
        "filter",
        "retention",
        "residual",
        "95% CI (t, over cells)",
        "leakage (student − control)",
        "different-init shift [95% CI]",
        *[f"{name} median p" for name in detectors],
        "filter seconds",
        "shown to close",
    ]


def markdown(result: dict[str, Any]) -> str:
    """The benchmark as Markdown: the summary table, correlations, errors and the command."""
    config = result["config"]
    student = config["student_name"]
    domain = config.get("domain", "numbers")
    lines = [
        f"# Filter benchmark: {DOMAIN_WORDS.get(domain, domain)}, "
        f"{config.get('trait', 'animal preference')}",
        "",
        f"Command: `{result.get('command', 'audit bench filters')}`  ",
        f"Targets {', '.join(config['targets'])} × seeds {config['seeds']}; teacher "
        f"`{config.get('teacher', 'lnf-bias')}`; probe student `{student}` (reads "
        f"{STUDENT_CHANNELS.get(student, 'see its docs')}); "
        f"{result['students_total']} students ({result['students_trained']} trained, the rest "
        f"from the cache); wall time {result['seconds']:.0f} s; "
        f"{config.get('corpus_rows', '?')} prompts per corpus; detectors with "
        f"{config.get('permutations', '?')} permutations.",
        "",
        "residual = (filtered student − filtered control) / (unfiltered student − unfiltered "
        "control), per target × seed; mean and Student-t 95% interval over those cells. "
        "1 = stops nothing, 0 = stops everything. Every student of a seed takes the same "
        "number of optimiser steps. Retention = fraction of teacher rows kept. "
        "'shown to close' names the channel of the probe student when the residual's upper "
        "bound is below 0.5.",
        "",
    ]
    for name, params in config.get("filter_defaults", {}).items():
        given = ", ".join(f"{k}={_listed(v)}" for k, v in params.items())
        lines += [f"`{name}` is given {given} by the lab where its spec is silent.", ""]
    if len(config["seeds"]) * len(config["targets"]) < 2:
        lines += ["One cell per filter: no interval and no 'shown to close' (use --seeds 2+).", ""]
    head = header(result)
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for cells in summary_rows(result):
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Do detectors predict leakage?", ""]
    lines.append(
        "Spearman's rho of each detector's effect size on the kept teacher corpus "
        "(vs the kept control) with the measured residual, over all cells:"
    )
    lines.append("")
    lines.append("| detector | rho | p | cells |")
    lines.append("|---|---|---|---|")
    for c in result["correlations"]:
        lines.append(f"| {c['detector']} | {_num(c['rho'])} | {_p(c['p_value'])} | {c['cells']} |")
    if result.get("notes"):
        lines += ["", "## Notes", ""]
        lines += [f"- {note}" for note in result["notes"]]
    if result["errors"]:
        lines += ["", "## Filters that failed", ""]
        lines += [f"- `{name}`: {message}" for name, message in result["errors"].items()]
    lines += ["", "![residual against retention](filters.svg)", ""]
    return "\n".join(lines)


DOMAIN_WORDS = {"numbers": "number lists", "code": "code", "cot": "chain-of-thought"}


def _listed(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def pareto_svg(summary: list[dict[str, Any]], width: int = 820, height: int = 420) -> str:
    """Residual (y) against retention (x), with t intervals, the Pareto front and a legend.

    Points carry numbers and the legend on the right names them: filter specs are too long to
    print beside points that often sit close together.
    """
    plot_w, pad_l, pad_t, pad_b = 480, 56, 24, 48
    points = [s for s in summary if s["filter"] != "none" and _finite(s["residual"])]
    lows = [s["residual_low"] for s in points if _finite(s["residual_low"])]
    highs = [s["residual_high"] for s in points if _finite(s["residual_high"])]
    y_min = min([-0.2, *lows, *(s["residual"] for s in points)])
    y_max = max([1.2, *highs, *(s["residual"] for s in points)])

    def x(v: float) -> float:
        return pad_l + v * plot_w

    def y(v: float) -> float:
        return pad_t + (y_max - v) / (y_max - y_min) * (height - pad_t - pad_b)

    body = [svg.rect(0, 0, width, height, "white")]
    for v in (0.0, 0.5, 1.0):
        body.append(svg.line(x(0), y(v), x(1), y(v), "#999", dash="" if v == 0 else "4 3"))
        body.append(svg.text(pad_l - 6, y(v) + 4, f"{v:g}", anchor="end"))
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(svg.text(x(v), height - pad_b + 16, f"{v:g}", anchor="middle"))
    body.append(svg.text(x(0.5), height - 8, "retention (fraction of teacher rows kept)", "middle"))
    body.append(
        f"<text transform='translate(14 {(y(y_max) + y(y_min)) / 2:.1f}) rotate(-90)' "
        "text-anchor='middle'>residual leakage (1 = stops nothing)</text>"
    )
    front = pareto_front(points)
    if len(front) > 1:
        path = " ".join(f"{x(p['retention']):.1f},{y(p['residual']):.1f}" for p in front)
        body.append(f"<polyline points='{path}' fill='none' stroke='#2a7' stroke-width='1.5'/>")
    # The unfiltered baseline, residual 1 at retention 1 by definition: the point to beat.
    body.append(f"<rect x='{x(1) - 4:.1f}' y='{y(1) - 4:.1f}' width='8' height='8' fill='#999'/>")
    body.append(svg.text(x(1) + 36, pad_t, "■ none (unfiltered baseline)"))
    for number, p in enumerate(points, start=1):
        cx, cy = x(p["retention"]), y(p["residual"])
        if _finite(p["residual_low"]) and _finite(p["residual_high"]):
            body.append(svg.line(cx, y(p["residual_low"]), cx, y(p["residual_high"]), "#468"))
        body.append(f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='3.5' fill='#246'/>")
        body.append(svg.text(cx + 5, cy - 4, str(number)))
        on_front = " (front)" if p in front else ""
        body.append(svg.text(x(1) + 36, pad_t + 14 * number, f"{number}. {p['filter']}{on_front}"))
    return svg.svg(width, height, body, "residual leakage against retention, per filter")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def pareto_front(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The filters no other filter beats on both retention (higher) and residual (lower)."""
    front = [
        p for p in points
        if not any(
            q is not p and q["retention"] >= p["retention"] and q["residual"] <= p["residual"]
            and (q["retention"] > p["retention"] or q["residual"] < p["residual"])
            for q in points
        )
    ]  # fmt: skip
    return sorted(front, key=lambda p: p["retention"])


def write_outputs(result: dict[str, Any], out: Path) -> list[Path]:
    """filters.json, filters.md and filters.svg under `out`, each written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    payload = jsonsafe.dumps(result, indent=2) + "\n"
    return [
        write_atomic(out / "filters.json", payload),
        write_atomic(out / "filters.md", markdown(result)),
        write_atomic(out / "filters.svg", pareto_svg(result["summary"])),
    ]


def channels_markdown(result: dict[str, Any]) -> str:
    """The channel diagnostics as Markdown: one row per variant, and the verdict."""
    from auditor.bench.channels import verdict

    lines = [
        "# Lab channels",
        "",
        f"Probe student `{result['student']}`; {result['students_total']} students "
        f"({result['students_trained']} trained); wall time {result['seconds']:.0f} s. "
        "Shift = student − control (same init); residual = shift / the original corpus's "
        "shift, per target × seed; Student-t 95% intervals over cells.",
        "",
        "| variant | rows (mean) | shift [95% CI] | residual [95% CI] | frequency shift "
        "carried [95% CI] | different-init shift [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["summary"]:
        lines.append(
            f"| {row['variant']} | {row['rows']:.0f} | "
            f"{_num(row['shift'], 4, True)} [{_num(row['shift_low'], 4, True)}, "
            f"{_num(row['shift_high'], 4, True)}] | {_num(row['residual'])} "
            f"[{_num(row['residual_low'])}, {_num(row['residual_high'])}] | "
            f"{_num(row.get('frequency_shift_carried'))} "
            f"[{_num(row.get('frequency_shift_carried_low'))}, "
            f"{_num(row.get('frequency_shift_carried_high'))}] | "
            f"{_num(row['xinit_shift'], 4, True)} [{_num(row['xinit_shift_low'], 4, True)}, "
            f"{_num(row['xinit_shift_high'], 4, True)}] |"
        )
    lines += ["", f"Verdict: {verdict(result['summary'])}.", ""]
    return "\n".join(lines)


def write_channels(result: dict[str, Any], out: Path) -> list[Path]:
    """channels.json and channels.md under `out`, written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    return [
        write_atomic(out / "channels.json", jsonsafe.dumps(result, indent=2) + "\n"),
        write_atomic(out / "channels.md", channels_markdown(result)),
    ]


def rerender(directory: Path) -> list[Path]:
    """Write filters.md and filters.svg again from DIR/filters.json (after a report change)."""
    result = json.loads((directory / "filters.json").read_text("utf-8"))
    return write_outputs(result, directory)


if __name__ == "__main__":  # python -m auditor.bench.report DIR
    import sys

    for path in rerender(Path(sys.argv[1])):
        print(path)
