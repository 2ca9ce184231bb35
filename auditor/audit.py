"""The audit: filters, then detectors against a reference, then probe students, then a verdict.

`run_audit` is the library entry behind `audit DATASET`; each stage is optional and plugs in
through the interfaces of `filters/`, `detectors/` and `auditor.models`, so the orchestration
never knows which filter, detector or model it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from auditor.corpus import Corpus, ReadOptions, open_corpus, tool_version
from auditor.errors import AuditError
from auditor.filtering import run_filters
from auditor.report import AuditReport, Thresholds
from filters.base import Filter
from filters.config import default_filters, load_pipeline_file
from filters.registry import create_filter


@dataclass(frozen=True)
class AuditConfig:
    """Everything one audit needs; built by the CLI from flags and environment."""

    dataset: Path
    trait: str | None = None
    domain: str | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    filter_specs: tuple[str, ...] = ()
    pipeline_file: Path | None = None
    reference: Path | None = None
    detectors: tuple[str, ...] = ()
    # 1000 row permutations resolve p down to ~0.001, below alpha 0.01 split over the detectors.
    permutations: int = 1000
    seed: int = 0
    kept_path: Path | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    quiet: bool = False


def infer_domain(corpus: Corpus, explicit: str | None) -> str:
    """The corpus's domain: the flag, else its `domain` provenance column, else numbers."""
    if explicit:
        return explicit
    if "domain" in corpus.columns:
        first = next(corpus.batches()).get_column("domain")
        values = first.drop_nulls().unique().to_list()
        if len(values) == 1:
            return str(values[0])
    return "numbers"


def build_filters(config: AuditConfig, domain: str) -> list[Filter]:
    """The filters the audit runs: a pipeline file, explicit specs, or the domain's default."""
    if config.pipeline_file and config.filter_specs:
        raise AuditError("give filters either with --filter or with --pipeline, not both")
    if config.pipeline_file:
        return load_pipeline_file(config.pipeline_file, trait=config.trait)
    if config.filter_specs:
        return [create_filter(spec, trait=config.trait) for spec in config.filter_specs]
    return default_filters(domain, config.trait)


def _run_detectors(
    config: AuditConfig, kept: pl.DataFrame, reference: pl.DataFrame
) -> list[dict[str, object]]:
    from detectors import run_detectors  # imported late: detectors are optional to filter-only runs

    results = run_detectors(
        kept,
        reference,
        list(config.detectors) or None,
        n_permutations=config.permutations,
        seed=config.seed,
        trait=config.trait,
    )
    return [result.to_dict() for result in results]


def run_audit(config: AuditConfig) -> AuditReport:
    """Audit one corpus and return the report (the caller renders it and picks the exit code)."""
    corpus = open_corpus(config.dataset, config.read)
    domain = infer_domain(corpus, config.domain)
    filters = build_filters(config, domain)
    wants_rows = config.reference is not None
    run = run_filters(
        corpus,
        filters,
        kept_path=config.kept_path,
        collect_kept=wants_rows,
        quiet=config.quiet,
    )
    report = AuditReport(
        dataset=str(config.dataset),
        trait=config.trait,
        domain=domain,
        rows=run.rows,
        kept=run.kept_rows,
        thresholds=config.thresholds,
        filters=[stats.to_dict() for stats in run.stats],
        tool_version=tool_version(),
    )
    if config.kept_path:
        report.outputs["kept"] = str(config.kept_path)
    if config.reference is not None:
        reference = open_corpus(config.reference, ReadOptions(split=config.read.split)).read()
        if run.kept is None or run.kept.height == 0:
            report.notes.append("the filters removed every row: detectors were not run")
        else:
            report.reference = str(config.reference)
            report.detectors = _run_detectors(config, run.kept, reference)
            threshold = config.thresholds.alpha / max(1, len(report.detectors))
            if 1 / (config.permutations + 1) >= threshold:
                report.notes.append(
                    f"{config.permutations} permutations cannot give p < {threshold:.3g}: "
                    "the detectors cannot fail this audit; raise --permutations"
                )
    return report
