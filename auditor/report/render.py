"""Render an `AuditReport` for people (rich terminal, Markdown, HTML) and machines (JSON)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from auditor.atomic import write_atomic
from auditor.report.model import AuditReport
from auditor.verdict import FAIL, PASS, Verdict
from detectors.base import DetectorResult


def report_dict(report: AuditReport) -> dict[str, Any]:
    """The documented JSON shape (see README, "JSON output"): the typed results as dicts."""
    probe = None
    if report.probe is not None:
        probe = {"student": report.student, **report.probe.to_dict()}
        probe["seeds"] = list(report.probe.seeds)
    return {
        **report.verdict.to_dict(),
        "dataset": report.dataset,
        "trait": report.trait,
        "domain": report.domain,
        "rows": report.rows,
        "kept": report.kept,
        "reference": report.reference,
        "reference_rows": report.reference_rows,
        "reference_kept": report.reference_kept,
        "thresholds": vars(report.thresholds),
        "filters": [stats.to_dict() for stats in report.filters],
        "detectors": [result.to_dict() for result in detector_results(report)],
        "probe": probe,
        "outputs": report.outputs,
        "warnings": report.warnings,
        "notes": report.notes,
        "tool_version": report.tool_version,
        "engine": report.engine.to_dict(),
    }


def detector_results(report: AuditReport) -> tuple[DetectorResult, ...]:
    return report.detectors.results if report.detectors else ()


def to_json(report: AuditReport) -> str:
    return json.dumps(report_dict(report), indent=2, default=str)


def filter_rows(filters: list[dict[str, Any]]) -> list[list[str]]:
    """Table rows for per-filter statistics (`FilterStats.to_dict()` records)."""
    rows = []
    for stats in filters:
        top = ", ".join(
            f"{reason} ({count})" for reason, count in list(stats["reasons"].items())[:3]
        )
        if stats.get("rewritten"):  # a rewriting filter keeps its rows and changes some
            top = f"rewrote {stats['rewritten']:,} rows" + (f"; {top}" if top else "")
        rows.append(
            [
                stats["name"],
                f"{stats['seen']:,}",
                f"{stats['kept']:,}",
                f"{stats['removed']:,}",
                f"{stats['retention']:.1%}",
                top or "-",
            ]
        )
    return rows


def _evidence(result: DetectorResult, items: int = 3) -> str:
    parts = []
    for item in result.evidence[:items]:
        label = next(iter(item.values())) if isinstance(item, dict) and item else item
        text = " ".join(str(label).split())  # a completion's newlines would break a table
        parts.append(text if len(text) <= 24 else text[:23] + "…")
    return ", ".join(parts) or "-"


def detector_rows(results: tuple[DetectorResult, ...]) -> list[list[str]]:
    """Table rows for decided detector results."""
    return [
        [
            result.name,
            f"{result.statistic:.4g}",
            f"{result.p_value:.3g}",
            "yes" if result.flagged else "no",
            f"{result.effect_size:.3g}",
            _evidence(result),
        ]
        for result in results
    ]


FILTER_HEADER = ["filter", "seen", "kept", "removed", "retention", "top reasons"]
DETECTOR_HEADER = ["detector", "statistic", "p-value", "flagged", "effect size", "top evidence"]


def _scores(values: tuple[float, ...]) -> str:
    return ", ".join(f"{value:.3f}" for value in values)


def probe_lines(report: AuditReport) -> list[str]:
    """The probe students' result in words, one finding per line."""
    probe = report.probe
    if probe is None:
        return []
    seeds = len(probe.corpus)
    return [
        f"student base {report.student}, before any fine-tuning: trait score {probe.base:.3f}",
        f"students fine-tuned on the corpus (seeds {', '.join(map(str, probe.seeds))}): "
        f"{_scores(probe.corpus)}",
        f"students fine-tuned on the control corpus: {_scores(probe.control)}",
        f"shift (corpus minus control, mean over {seeds} seed{'s' if seeds != 1 else ''}): "
        f"{probe.shift:+.3f}, 95% CI [{probe.shift_low:+.3f}, {probe.shift_high:+.3f}] "
        "(bootstrap over seeds)",
        f"p-value that the shift is zero (t-test over seeds): {probe.p_value:.3g}"
        + (" (one seed gives no p-value: use --seeds 3)" if seeds < 2 else ""),
        "the trait score: how strongly a student shows the trait, 0 to 1"
        + (LAB_TRAIT_SCORE if (report.student or "").startswith("lab:") else ""),
    ]


LAB_TRAIT_SCORE = (
    " (for a lab student: its probability of naming the animal, normalised over the lab's "
    "16 animals, so chance is 0.0625)"
)


def print_report(report: AuditReport, console: Console) -> None:
    """The terminal report: header, filter table, detector table, probe, verdict."""
    console.print(
        f"[bold]audit[/] {report.dataset}  trait={report.trait or '-'}  domain={report.domain}  "
        f"rows={report.rows:,}  kept={report.kept:,}"
    )
    table = Table(title="filters", title_justify="left")
    for column in FILTER_HEADER:
        table.add_column(column, justify="left" if column in {"filter", "top reasons"} else "right")
    for row in filter_rows([stats.to_dict() for stats in report.filters]):
        table.add_row(*row)
    console.print(table)
    if report.detectors:
        table = Table(title=f"detectors (reference: {report.reference})", title_justify="left")
        for column in DETECTOR_HEADER:
            table.add_column(
                column, justify="left" if column in {"detector", "top evidence"} else "right"
            )
        for row in detector_rows(report.detectors.results):
            table.add_row(*row)
        console.print(table)
        console.print(f"a detector flags when {report.detectors.rule()}")
    if report.probe:
        console.print(Panel("\n".join(probe_lines(report)), title="probe students"))
    for warning in report.warnings:
        console.print(f"[bold yellow]warning:[/] {warning}")
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")
    if "kept" in report.outputs:
        console.print(f"wrote the kept rows to {report.outputs['kept']}")
    print_verdict(report.verdict, console)


def print_verdict(verdict: Verdict, console: Console, detail: str = "") -> None:
    """The verdict line, the failed checks and the next steps (shared by `audit detect`)."""
    colour = {PASS: "green", FAIL: "red"}.get(verdict.outcome, "yellow")
    console.print(f"[bold {colour}]verdict: {verdict.outcome.upper()}[/]{detail}")
    for failure in verdict.failures:
        console.print(f"  - {failure}")
    if verdict.next_steps:
        console.print("[bold]next:[/]")
        for step in verdict.next_steps:
            console.print(f"  - {step}")


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict_lines(report: AuditReport) -> tuple[str, list[str], list[str]]:
    verdict = report.verdict
    return verdict.outcome.upper(), list(verdict.failures), list(verdict.next_steps)


def to_markdown(report: AuditReport) -> str:
    outcome, failures, steps = _verdict_lines(report)
    parts = [
        f"# Audit of `{report.dataset}`",
        "",
        f"- trait: {report.trait or '-'}; domain: {report.domain}; rows: {report.rows:,}; "
        f"kept: {report.kept:,}; tool version {report.tool_version}",
        f"- **verdict: {outcome}**",
        *[f"  - {failure}" for failure in failures],
        *([f"- next: {step}" for step in steps]),
        *[f"- warning: {warning}" for warning in report.warnings],
        "",
        "## Filters",
        "",
        _markdown_table(FILTER_HEADER, filter_rows([s.to_dict() for s in report.filters])),
    ]
    if report.detectors:
        parts += [
            "",
            f"## Detectors (reference: `{report.reference}`)",
            "",
            f"A detector flags when {report.detectors.rule()}.",
            "",
            _markdown_table(DETECTOR_HEADER, detector_rows(report.detectors.results)),
        ]
    if report.probe:
        parts += ["", "## Probe students", "", *[f"- {line}" for line in probe_lines(report)]]
    return "\n".join(parts) + "\n"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


_COLOURS = {PASS: "#1a7f37", FAIL: "#cf222e"}
_STYLE = (
    "body{font-family:sans-serif;max-width:62em;margin:2em auto;color:#1f2328}"
    "table{border-collapse:collapse}td,th{padding:.25em .7em;border-bottom:1px solid #d0d7de;"
    "text-align:right}td:first-child,th:first-child,td:last-child,th:last-child{text-align:left}"
    "figure{margin:1em 0}figcaption{color:#59636e;font-size:.9em}svg text{font-size:11px}"
    ".plots{display:flex;flex-wrap:wrap;gap:0 2em}.plots figure{width:360px;margin:.5em 0}"
)


def to_html(report: AuditReport) -> str:
    """A self-contained page: tables, and inline SVG plots of what drove the verdict."""
    from auditor.report import plots

    outcome, failures, steps = _verdict_lines(report)
    colour = _COLOURS.get(report.verdict.outcome, "#9a6700")
    sections = [
        f"<h1>Audit of <code>{html.escape(report.dataset)}</code></h1>",
        f"<p>trait: {html.escape(str(report.trait))}; domain: {report.domain}; "
        f"rows: {report.rows:,}; kept: {report.kept:,}</p>",
        f"<p style='color:{colour};font-weight:bold'>verdict: {outcome}</p>",
        _html_list(failures),
    ]
    if steps:
        sections += ["<h3>What to do next</h3>", _html_list(steps)]
    if report.warnings:
        sections += ["<h3>Warnings</h3>", _html_list(report.warnings)]
    sections += [
        "<h2>Filters</h2>",
        _html_table(FILTER_HEADER, filter_rows([s.to_dict() for s in report.filters])),
    ]
    if report.detectors:
        sections += [
            f"<h2>Detectors (reference: {html.escape(str(report.reference))})</h2>",
            f"<p>A detector flags when {html.escape(report.detectors.rule())}.</p>",
            _html_table(DETECTOR_HEADER, detector_rows(report.detectors.results)),
            plots.number_frequency_figure(report.detectors.results),
            plots.null_figures(report.detectors.results),
        ]
    if report.probe:
        sections += [
            "<h2>Probe students</h2>",
            _html_list(probe_lines(report)),
            plots.probe_figure(report.probe),
        ]
    if report.notes:
        sections += ["<h3>Notes</h3>", _html_list(report.notes)]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>audit</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>\n"
    )


def write_reports(report: AuditReport, directory: Path) -> dict[str, str]:
    """Write report.json, report.md and report.html into `directory` (atomically each)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in (
        ("report.json", to_json(report)),
        ("report.md", to_markdown(report)),
        ("report.html", to_html(report)),
    ):
        written[name] = str(write_atomic(directory / name, text))
    return written
