"""Audit reports: the findings, the verdict, and their renderings."""

from auditor.report.model import AuditReport
from auditor.report.render import (
    print_report,
    report_dict,
    to_html,
    to_json,
    to_markdown,
    write_reports,
)

__all__ = [
    "AuditReport",
    "print_report",
    "report_dict",
    "to_html",
    "to_json",
    "to_markdown",
    "write_reports",
]
