"""The audit report: what was audited, what each stage found, and the verdict.

The stages' own typed results travel in the report (`FilterStats`, the detectors' `Decision`,
`ProbeResult`); every renderer (terminal, JSON, Markdown, HTML) reads this one object, so the
JSON that CI scripts parse and the table a person reads can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auditor.engine import LOCAL, EngineInfo
from auditor.verdict import Subject, Thresholds, Verdict, judge
from detectors.base import Decision
from filters.pipeline import FilterStats

if TYPE_CHECKING:
    from auditor.probing import ProbeResult


@dataclass
class AuditReport:
    """Everything one audit found; `verdict` is derived from the findings and the thresholds."""

    dataset: str
    trait: str | None
    domain: str
    rows: int
    kept: int
    thresholds: Thresholds
    filters: list[FilterStats] = field(default_factory=list)
    detectors: Decision | None = None
    probe: ProbeResult | None = None
    student: str | None = None
    reference: str | None = None  # where the reference came from, in words
    # The reference as a path for the next-step commands (None when the base model wrote it).
    reference_path: str | None = None
    # The reference's rows before and after the same filters as the corpus (None: no reference).
    reference_rows: int | None = None
    reference_kept: int | None = None
    # The user asked for filters only: a pass needs no detector or probe behind it.
    filters_only: bool = False
    outputs: dict[str, str] = field(default_factory=dict)
    tool_version: str = ""
    engine: EngineInfo = LOCAL  # where the filters ran
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return judge(
            Subject(self.dataset, self.trait, self.reference_path),
            rows=self.rows,
            kept=self.kept,
            filters=self.filters,
            decision=self.detectors,
            probe=self.probe,
            thresholds=self.thresholds,
            filters_only=self.filters_only,
        )
