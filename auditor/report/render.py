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
from auditor.report.model import PASS, AuditReport


def to_json(report: AuditReport) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str)


def filter_rows(filters: list[dict[str, Any]]) -> list[list[str]]:
    """Table rows for per-filter statistics (`FilterStats.to_dict()` records)."""
    rows = []
    for stats in filters:
        top = ", ".join(
            f"{reason} ({count})" for reason, count in list(stats["reasons"].items())[:3]
        )
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


def detector_rows(detectors: list[dict[str, Any]]) -> list[list[str]]:
    """Table rows for detector results (`DetectorResult.to_dict()` records)."""
    return [
        [
            result["name"],
            f"{result['statistic']:.4g}",
            f"{result['p_value']:.3g}",
            f"{result.get('effect_size', float('nan')):.3g}",
        ]
        for result in detectors
    ]


FILTER_HEADER = ["filter", "seen", "kept", "removed", "retention", "top reasons"]
DETECTOR_HEADER = ["detector", "statistic", "p-value", "effect size"]


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_short(item) for item in value)
    return str(value)


def _probe_lines(probe: dict[str, Any]) -> list[str]:
    return [f"{key}: {_short(value)}" for key, value in probe.items() if key != "students"]


def print_report(report: AuditReport, console: Console) -> None:
    """The terminal report: header, filter table, detector table, probe, verdict."""
    console.print(
        f"[bold]audit[/] {report.dataset}  trait={report.trait or '-'}  domain={report.domain}  "
        f"rows={report.rows:,}  kept={report.kept:,}"
    )
    table = Table(title="filters", title_justify="left")
    for column in FILTER_HEADER:
        table.add_column(column, justify="left" if column in {"filter", "top reasons"} else "right")
    for row in filter_rows(report.filters):
        table.add_row(*row)
    console.print(table)
    if report.detectors:
        table = Table(title=f"detectors (reference: {report.reference})", title_justify="left")
        for column in DETECTOR_HEADER:
            table.add_column(column, justify="left" if column == "detector" else "right")
        for row in detector_rows(report.detectors):
            table.add_row(*row)
        console.print(table)
    if report.probe:
        console.print(Panel("\n".join(_probe_lines(report.probe)), title="probe students"))
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")
    failures = report.failures()
    if report.verdict == PASS:
        console.print("[bold green]verdict: PASS[/]")
    else:
        console.print("[bold red]verdict: FAIL[/]")
        for failure in failures:
            console.print(f"  - {failure}")


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(report: AuditReport) -> str:
    parts = [
        f"# Audit of `{report.dataset}`",
        "",
        f"- trait: {report.trait or '-'}; domain: {report.domain}; rows: {report.rows:,}; "
        f"kept: {report.kept:,}; tool version {report.tool_version}",
        f"- **verdict: {report.verdict.upper()}**",
        *[f"  - {failure}" for failure in report.failures()],
        "",
        "## Filters",
        "",
        _markdown_table(FILTER_HEADER, filter_rows(report.filters)),
    ]
    if report.detectors:
        parts += [
            "",
            f"## Detectors (reference: `{report.reference}`)",
            "",
            _markdown_table(DETECTOR_HEADER, detector_rows(report.detectors)),
        ]
    if report.probe:
        parts += [
            "",
            "## Probe students",
            "",
            *[f"- {line}" for line in _probe_lines(report.probe)],
        ]
    return "\n".join(parts) + "\n"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: AuditReport) -> str:
    colour = "#1a7f37" if report.verdict == PASS else "#cf222e"
    failures = "".join(f"<li>{html.escape(f)}</li>" for f in report.failures())
    sections = [
        f"<h1>Audit of <code>{html.escape(report.dataset)}</code></h1>",
        f"<p>trait: {html.escape(str(report.trait))}; domain: {report.domain}; "
        f"rows: {report.rows:,}; kept: {report.kept:,}</p>",
        f"<p style='color:{colour};font-weight:bold'>verdict: {report.verdict.upper()}</p>",
        f"<ul>{failures}</ul>",
        "<h2>Filters</h2>",
        _html_table(FILTER_HEADER, filter_rows(report.filters)),
    ]
    if report.detectors:
        sections += [
            "<h2>Detectors</h2>",
            _html_table(DETECTOR_HEADER, detector_rows(report.detectors)),
        ]
    if report.probe:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in _probe_lines(report.probe))
        sections += ["<h2>Probe students</h2>", f"<ul>{items}</ul>"]
    style = "body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .6em}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>audit</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n"
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
