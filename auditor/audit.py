"""The audit: filters, then detectors against a reference, then probe students, then a verdict.

`run_audit` is the library entry behind `audit DATASET`; each stage is optional and plugs in
through the interfaces of `filters/`, `detectors/` and `auditor.models`, so the orchestration
never knows which filter, detector or model it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from auditor.corpus import ReadOptions, open_corpus, tool_version
from auditor.corpus.schema import ANSWER
from auditor.domains import check_domain, read_domain
from auditor.errors import AuditError
from auditor.filtering import run_filters
from auditor.models import ModelBackend, SamplingParams, VocabularyCoverage
from auditor.progress import Phases
from auditor.report import AuditReport
from auditor.verdict import Thresholds
from detectors.base import DEFAULT_PERMUTATIONS, Decision, decide
from filters.base import Filter
from filters.config import default_filters, load_pipeline_file
from filters.pipeline import FilterPipeline
from filters.registry import create_filter

if TYPE_CHECKING:
    from auditor.backends import BackendOptions
    from auditor.probing import ProbeOptions, ProbeResult


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
    permutations: int = DEFAULT_PERMUTATIONS
    seed: int = 0
    kept_path: Path | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    quiet: bool = False
    # The suspect's base model (`lab:base`, `hf:PATH`, ...): it writes the reference when none
    # is given, and enables the model-based detectors.
    model: str | None = None
    # Probe students: fine-tuned from this spec on the kept corpus and on the reference.
    student: str | None = None
    probe: ProbeOptions | None = None  # None: every choice left to the student backend
    backend: BackendOptions | None = None
    # Only filters were asked for: their pass is a pass, not an inconclusive.
    filters_only: bool = False
    engine: str | None = None  # where the filters run: local or ray (None: AUDIT_ENGINE)

    def __post_init__(self) -> None:
        # From Python, paths may come as strings: `AuditConfig("corpus.parquet", ...)`.
        for name in ("dataset", "pipeline_file", "reference", "kept_path"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value))


def build_filters(config: AuditConfig, domain: str) -> list[Filter]:
    """The filters the audit runs: a pipeline file, explicit specs, or the domain's default."""
    if config.pipeline_file and config.filter_specs:
        raise AuditError("give filters either with --filter or with --pipeline, not both")
    if config.pipeline_file:
        return load_pipeline_file(config.pipeline_file, trait=config.trait)
    if config.filter_specs:
        return [create_filter(spec, trait=config.trait) for spec in config.filter_specs]
    return default_filters(domain, config.trait)


def for_domain(names: list[str], domain: str) -> tuple[list[str], str | None]:
    """(the detectors of `names` that declare `domain`, a note naming those skipped)."""
    from detectors import detector_class

    skipped = {name: detector_class(name).domains for name in names}
    skipped = {name: domains for name, domains in skipped.items() if domain not in domains}
    if not skipped:
        return names, None
    said = "; ".join(f"{name} ({', '.join(domains)} only)" for name, domains in skipped.items())
    note = f"detectors skipped on this {domain} corpus, which they do not support: {said}"
    return [name for name in names if name not in skipped], note


def _run_detectors(
    config: AuditConfig,
    kept: pl.DataFrame,
    reference: pl.DataFrame,
    model: ModelBackend | None,
    phases: Phases,
    names: list[str],
) -> tuple[Decision, list[str]]:
    """(the detectors' decision, the names of those read from the results cache)."""
    # Imported late: detectors are optional to filter-only runs.
    from auditor import results_cache
    from detectors import detector_class, run_detectors

    params = {"n_permutations": config.permutations, "seed": config.seed, "trait": config.trait}
    suspect_digest = results_cache.corpus_digest(kept)
    reference_digest = results_cache.corpus_digest(reference)
    results, reused = [], []
    for name in names:  # one at a time, so each runs under its own label
        key = results_cache.detector_key(
            detector_class(name), params, suspect_digest, reference_digest, model
        )
        cached = results_cache.load_detector(key) if key else None
        if cached is not None:
            results.append(cached)
            reused.append(name)
            continue
        with phases.phase(f"detector {name} ({config.permutations} permutations)"):
            (result,) = run_detectors(kept, reference, [name], model=model, **params)
        if key:
            results_cache.store_detector(key, result)
        results.append(result)
    return decide(results, config.thresholds.alpha), reused


def generate_reference(model: ModelBackend, suspect: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The base model's own completions of the suspect's prompts: what it would have written."""
    prompts = suspect.get_column("prompt").to_list()
    completions = model.generate(prompts, SamplingParams(temperature=1.0, seed=seed))
    frame = pl.DataFrame({"prompt": prompts, "completion": completions})
    if ANSWER in suspect.columns:  # same prompts, same known answers (for `cot-correct`)
        frame = frame.with_columns(suspect.get_column(ANSWER))
    return frame


# A lab corpus has no token unknown to the lab's vocabulary; a real Qwen number corpus has 10.5%
# (its English prompts; the lists themselves are all known numbers). Above 1% the model is
# reading a corpus it was not made for.
UNKNOWN_TOKEN_WARNING = 0.01
COVERAGE_SAMPLE_ROWS = 1000


def vocabulary_warnings(model: object, spec: str, corpus: pl.DataFrame) -> list[str]:
    """A warning when `model` cannot read most of `corpus` (e.g. a lab model on English)."""
    if not isinstance(model, VocabularyCoverage):
        return []
    sample = corpus.head(COVERAGE_SAMPLE_ROWS)
    texts = [
        f"{prompt} {completion}"
        for prompt, completion in sample.select("prompt", "completion").iter_rows()
    ]
    unknown = model.unknown_token_fraction(texts)
    if unknown <= UNKNOWN_TOKEN_WARNING:
        return []
    return [
        f"{spec} does not match this corpus: {unknown:.1%} of its tokens are unknown to the "
        "model (it reads only the lab's toy language, where none are), so what it scores or "
        "learns says little about this corpus; use the corpus's own base model (hf:PATH, "
        "openai:MODEL)"
    ]


def _open(spec: str, config: AuditConfig, phases: Phases) -> ModelBackend:
    from auditor.backends import open_model

    with phases.phase(f"loading {spec}"):
        return open_model(spec, config.backend)


def _probe(
    config: AuditConfig,
    student: ModelBackend,
    kept: pl.DataFrame,
    control: pl.DataFrame,
    trait: str,
    phases: Phases,
) -> tuple[ProbeResult, bool]:
    """(the probe students' result, whether it came from the cache)."""
    from auditor import results_cache
    from auditor.probing import ProbeOptions, run_probe

    settings = (config.probe or ProbeOptions()).resolve(student)
    key = results_cache.probe_key(
        student,
        results_cache.corpus_digest(kept),
        results_cache.corpus_digest(control),
        trait,
        settings,
    )
    cached = results_cache.load_probe(key) if key else None
    if cached is not None:
        return cached, True
    with phases.phase(f"probe students ({len(settings.seeds)} seeds)") as say:
        result = run_probe(student, kept, control, trait, settings, progress=say)
    if key:
        results_cache.store_probe(key, result)
    return result, False


def run_audit(config: AuditConfig) -> AuditReport:
    """Audit one corpus and return the report (the caller renders it and picks the exit code)."""
    if config.student and not config.trait:
        raise AuditError("probe students measure a trait: give --trait with --student")
    if config.student and config.reference is None and config.model is None:
        raise AuditError(
            "probe students need a control corpus: "
            "give --reference, or --base-model to generate one"
        )
    wants_rows = config.reference is not None or config.model is not None
    if config.filters_only and (wants_rows or config.student):
        raise AuditError(
            "--filters-only runs no detector or probe: drop it, or drop --reference, "
            "--base-model and --student"
        )
    corpus = open_corpus(config.dataset, config.read)
    domain, mixed = read_domain(corpus, config.domain)
    filters = build_filters(config, domain)
    check_domain(corpus, domain, needs_answers=any(f.name == "cot-correct" for f in filters))
    run = run_filters(
        corpus,
        filters,
        kept_path=config.kept_path,
        collect_kept=wants_rows,
        quiet=config.quiet,
        engine=config.engine,
    )
    report = AuditReport(
        dataset=str(config.dataset),
        trait=config.trait,
        domain=domain,
        rows=run.rows,
        kept=run.kept_rows,
        thresholds=config.thresholds,
        filters=run.stats,
        filters_only=config.filters_only,
        tool_version=tool_version(),
        engine=run.engine,
    )
    if config.kept_path:
        report.outputs["kept"] = str(config.kept_path)
    if mixed:
        report.warnings.append(mixed)
    if not wants_rows:
        return report
    if run.kept is None or run.kept.height == 0:
        report.notes.append("the filters removed every row: detectors and probes were not run")
        return report
    with Phases(disable=config.quiet) as phases:
        _test(config, report, filters, run.kept, phases)
    return report


def filtered_reference(filters: list[Filter], reference: pl.DataFrame) -> pl.DataFrame:
    """The reference after the same filters as the corpus, so the two are compared on equal
    terms: a filter that ran on one side only (banned numbers dropped from the suspect, kept in
    the reference) would be a difference every detector finds."""
    columns = ["prompt", "completion", *([ANSWER] if ANSWER in reference.columns else [])]
    return FilterPipeline(filters).apply(reference.select(columns)).kept


def _test(
    config: AuditConfig,
    report: AuditReport,
    filters: list[Filter],
    kept: pl.DataFrame,
    phases: Phases,
) -> None:
    """The detectors, then the probe students, on the rows the filters kept."""
    model = _open(config.model, config, phases) if config.model else None
    if config.reference is not None:
        reference = open_corpus(config.reference, ReadOptions(split=config.read.split)).read()
        report.reference = report.reference_path = str(config.reference)
    else:
        assert model is not None
        with phases.phase(f"{config.model} writes the reference on the corpus's prompts"):
            reference = generate_reference(model, kept, config.seed)
        report.reference = f"{config.model}, on the corpus's own prompts"
    report.reference_rows = reference.height
    reference = filtered_reference(filters, reference)
    report.reference_kept = reference.height
    report.notes.append(
        f"the reference went through the same filters: {reference.height:,} of "
        f"{report.reference_rows:,} rows kept"
    )
    if reference.height == 0:
        report.notes.append("the filters removed every reference row: no detector or probe ran")
        return
    if model is not None:
        report.warnings += vocabulary_warnings(model, config.model or "", kept)
    from detectors import default_detectors

    names = list(config.detectors) or default_detectors(
        model=model, trait=config.trait, domain=None
    )
    names, skipped = for_domain(names, report.domain)
    # Say so when a detector the user named, or a number detector on code/CoT, was left out;
    # on a number corpus the code/CoT-only defaults are not news.
    if skipped and (config.detectors or report.domain != "numbers"):
        report.notes.append(skipped)
    report.detectors, reused = _run_detectors(config, kept, reference, model, phases, names)
    if reused:
        report.notes.append(
            f"detectors {', '.join(reused)}: results for these corpora, settings and code read "
            "from the lab cache (computed by an earlier run)"
        )
    if not report.detectors.can_flag:
        report.notes.append(
            f"{config.permutations} permutations cannot give p < "
            f"{report.detectors.threshold:.3g}: the detectors cannot fail this audit; "
            "raise --permutations"
        )
    if config.student and config.trait:
        student = _open(config.student, config, phases)
        if config.student != config.model:
            report.warnings += vocabulary_warnings(student, config.student, kept)
        report.student = config.student
        report.probe, reused = _probe(config, student, kept, reference, config.trait, phases)
        if reused:
            report.notes.append(
                "probe students: the result for these corpora and this student recipe was "
                "read from the lab cache (trained by an earlier run)"
            )
