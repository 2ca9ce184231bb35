"""Audit reports: the findings, the verdict, and their renderings."""

from auditor.report.model import FAIL, PASS, AuditReport, Thresholds
from auditor.report.render import print_report, to_html, to_json, to_markdown, write_reports

__all__ = [
    "FAIL",
    "PASS",
    "AuditReport",
    "Thresholds",
    "print_report",
    "to_html",
    "to_json",
    "to_markdown",
    "write_reports",
]
