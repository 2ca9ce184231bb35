"""Statistical detectors: does a suspect corpus differ from a reference, and where?

Every detector has one shape (`fit(reference)` then `test(suspect)` -> `DetectorResult`) with
row-permutation p-values. Model-free detectors need only the two corpora; model-based ones
(`requires_model`) also take `model=` (any `ModelBackend` that scores log-probs) and some a
`trait=`.
"""

from __future__ import annotations

import inspect
from typing import Any

import polars as pl
from threadpoolctl import threadpool_limits

from auditor.errors import AuditError
from detectors.base import (
    DEFAULT_ALPHA,
    DEFAULT_PERMUTATIONS,
    Decision,
    Detector,
    DetectorResult,
    decide,
    validate_frame,
)
from detectors.registry import (
    ENTRY_POINT_GROUP,
    available_detectors,
    create_detector,
    detector_class,
    register,
)


def default_detectors(
    *, model: object = None, trait: str | None = None, domain: str | None = "numbers"
) -> list[str]:
    """The detectors that can run with what is at hand: model-free ones, plus model-based
    ones when a model is given (and a trait, for those that need one), among those that read
    `domain` (None: whatever their domains)."""
    names = []
    for name, cls in available_detectors().items():
        if domain is not None and domain not in cls.domains:
            continue
        if cls.requires_model and model is None:
            continue
        if cls.requires_trait and not trait:
            continue
        names.append(name)
    return names


def run_detectors(
    suspect: pl.DataFrame,
    reference: pl.DataFrame,
    names: list[str] | None = None,
    **params: Any,
) -> list[DetectorResult]:
    """Fit each named detector on `reference` and test `suspect`; one result per name.

    `params` (e.g. `n_permutations`, `seed`, `model`, `trait`) go to every detector whose
    constructor accepts them, so shared settings are given once. `names=None` or empty runs
    `default_detectors(...)`. `blas_threads` caps BLAS threads while the detectors run: their
    matrices are small, and on a busy machine multithreaded BLAS spends more time waiting for
    cores than computing (8x slower measured on 2 loaded cores); None leaves BLAS alone.
    """
    blas_threads = params.pop("blas_threads", 1)
    chosen = names or default_detectors(model=params.get("model"), trait=params.get("trait"))
    results = []
    for name in chosen:
        cls = detector_class(name)
        if cls.requires_model and params.get("model") is None:
            raise AuditError(f"detector {name!r} needs a model: give --base-model (e.g. lab:base)")
        if cls.requires_trait and not params.get("trait"):
            raise AuditError(f"detector {name!r} needs a trait: give --trait (e.g. owl)")
        accepted = inspect.signature(cls.__init__).parameters
        own = {k: v for k, v in params.items() if k in accepted}
        with threadpool_limits(limits=blas_threads, user_api="blas"):
            results.append(create_detector(name, **own).fit(reference).test(suspect))
    return results


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_PERMUTATIONS",
    "ENTRY_POINT_GROUP",
    "Decision",
    "Detector",
    "DetectorResult",
    "available_detectors",
    "create_detector",
    "decide",
    "default_detectors",
    "detector_class",
    "register",
    "run_detectors",
    "validate_frame",
]
