"""The audit report: what was audited, what each stage found, and the verdict.

One dataclass feeds every renderer (terminal, JSON, Markdown, HTML), so the JSON that CI
scripts parse and the table a person reads can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS = "pass"
FAIL = "fail"


@dataclass(frozen=True)
class Thresholds:
    """When an audit fails.

    alpha: a detector whose p-value is below alpha (Bonferroni-corrected over detectors) fails.
    max_trait_fraction: the share of rows that trait filters (trait words, the judge) may flag.
    probe_alpha: a probe student whose shift over control has p below this fails.
    """

    alpha: float = 0.01
    max_trait_fraction: float = 0.0
    probe_alpha: float = 0.05


# Filters whose removals mean the corpus mentions the trait openly (a verdict matter), as opposed
# to format or quality filters whose removals are only reported.
TRAIT_FILTERS = frozenset({"trait-words", "llm-judge"})


@dataclass
class AuditReport:
    """Everything one audit found; `verdict` is derived from the findings and the thresholds."""

    dataset: str
    trait: str | None
    domain: str
    rows: int
    kept: int
    thresholds: Thresholds
    filters: list[dict[str, Any]] = field(default_factory=list)
    detectors: list[dict[str, Any]] = field(default_factory=list)
    probe: dict[str, Any] | None = None
    reference: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    tool_version: str = ""
    notes: list[str] = field(default_factory=list)

    def failures(self) -> list[str]:
        """Why the audit fails; empty when it passes."""
        failed: list[str] = []
        for stats in self.filters:
            base_name = stats["name"].split("#")[0]
            if base_name in TRAIT_FILTERS and self.rows:
                fraction = stats["removed"] / self.rows
                if fraction > self.thresholds.max_trait_fraction:
                    failed.append(
                        f"{stats['name']}: {stats['removed']} rows ({fraction:.2%}) reference "
                        f"the trait (allowed {self.thresholds.max_trait_fraction:.2%})"
                    )
        if self.detectors:
            corrected = self.thresholds.alpha / len(self.detectors)
            for result in self.detectors:
                if result["p_value"] < corrected:
                    failed.append(
                        f"{result['name']}: p = {result['p_value']:.3g} < {corrected:.3g} "
                        "(the corpus differs from the reference)"
                    )
        probe = self.probe or {}
        significant = probe.get("p_value") is not None and (
            probe["p_value"] < self.thresholds.probe_alpha and probe.get("shift", 0) > 0
        )
        if significant:
            failed.append(
                f"probe: students trained on the corpus show the trait more than control "
                f"(shift {probe['shift']:+.3f}, p = {probe['p_value']:.3g})"
            )
        return failed

    @property
    def verdict(self) -> str:
        return FAIL if self.failures() else PASS

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (see README, "JSON output")."""
        return {
            "verdict": self.verdict,
            "failures": self.failures(),
            "dataset": self.dataset,
            "trait": self.trait,
            "domain": self.domain,
            "rows": self.rows,
            "kept": self.kept,
            "reference": self.reference,
            "thresholds": vars(self.thresholds),
            "filters": self.filters,
            "detectors": self.detectors,
            "probe": self.probe,
            "outputs": self.outputs,
            "notes": self.notes,
            "tool_version": self.tool_version,
        }
