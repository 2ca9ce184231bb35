"""subliminal-audit: audit model-generated training data for hidden traits.

The library API, for an audit from Python rather than the `audit` command:

    from auditor import AuditConfig, run_audit, write_reports
    report = run_audit(AuditConfig("corpus.parquet", trait="owl", reference="base.parquet"))
    print(report.verdict.outcome, report.verdict.failures)   # pass | fail | inconclusive
    write_reports(report, Path("out"))                       # JSON, Markdown and HTML

The parts, for building your own pipeline: `open_corpus` / `read_corpus` (any supported
layout, streamed), `create_filter` and `FilterPipeline` (the filters and defenses),
`run_detectors` (the calibrated detectors), `open_model` (`lab:`, `hf:` and `openai:` models),
and `run_bench` with `parse_entries` (the filter benchmark on the embedded lab).

Names are imported on first use, so `import auditor` stays cheap for the command line.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "AuditConfig": "auditor.audit",
    "run_audit": "auditor.audit",
    "AuditReport": "auditor.report.model",
    "write_reports": "auditor.report.render",
    "to_json": "auditor.report.render",
    "Thresholds": "auditor.verdict",
    "Verdict": "auditor.verdict",
    "AuditError": "auditor.errors",
    "open_corpus": "auditor.corpus",
    "read_corpus": "auditor.corpus",
    "write_corpus": "auditor.corpus",
    "create_filter": "filters",
    "FilterPipeline": "filters",
    "run_detectors": "detectors",
    "open_model": "auditor.backends",
    "BenchConfig": "auditor.bench.filters_bench",
    "run_bench": "auditor.bench.filters_bench",
    "parse_entries": "auditor.bench.entries",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'auditor' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
