"""Results of the slow stages (detectors, probe students) kept on disk, keyed by everything that
produced them, so a second audit of the same corpora reads them back instead of computing again.

A result is a function of its inputs' content (the two corpora, hashed), its settings, the code
that computed it (the source of its modules, hashed, so an edited detector is not answered from
the cache) and the model it used: a model takes part only when a key names its weights exactly
(`Reproducible`, e.g. a lab model: the hash of its recipe); with any other model nothing is
cached. Stored as JSON under the lab cache (`AUDIT_LAB_CACHE`), in `results/`.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import polars as pl

from auditor.models import Reproducible
from auditor.probing import ProbeConfig, ProbeResult
from detectors.base import DetectorResult, NullHistogram

PROBE_CODE = ("auditor.probing", "auditor.backends.lab", "auditor.lab.probe", "auditor.lab.train")
DETECTOR_CODE = ("detectors.base", "detectors._permutation", "auditor.corpus.numbers")


def corpus_digest(frame: pl.DataFrame) -> str:
    """A hash of the corpus's prompts and completions, in order."""
    digest = hashlib.sha256()
    for prompt, completion in frame.select("prompt", "completion").iter_rows():
        digest.update(f"{len(prompt)}:{prompt}{len(completion)}:{completion}".encode())
    return digest.hexdigest()


def code_digest(modules: Sequence[str]) -> str:
    """A hash of the named modules' source."""
    digest = hashlib.sha256()
    for name in modules:
        digest.update(inspect.getsource(importlib.import_module(name)).encode("utf-8"))
    return digest.hexdigest()


def model_key(model: object) -> str | None:
    """The key naming a model's weights, or None when nothing does (then nothing is cached)."""
    return model.recipe_key() if isinstance(model, Reproducible) else None


def _key(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def probe_key(
    student: object, corpus: str, control: str, trait: str, config: ProbeConfig
) -> str | None:
    """The key of a probe (`corpus`, `control`: `corpus_digest`s), or None when uncacheable."""
    weights = model_key(student)
    if weights is None:
        return None
    return _key(
        {
            "kind": "probe",
            "student": weights,
            "corpus": corpus,
            "control": control,
            "trait": trait,
            "config": asdict(config),
            "code": code_digest(PROBE_CODE),
        }
    )


def detector_key(
    detector: type, params: dict[str, Any], suspect: str, reference: str, model: object
) -> str | None:
    """The key of one detector's test, or None when its model has no key."""
    weights = model_key(model) if model is not None else "no model"
    if weights is None:
        return None
    return _key(
        {
            "kind": "detector",
            "detector": detector.name,  # type: ignore[attr-defined]
            "params": params,
            "suspect": suspect,
            "reference": reference,
            "model": weights,
            "code": code_digest((*DETECTOR_CODE, detector.__module__)),
        }
    )


def _path(kind: str, key: str) -> Path:
    from auditor.lab.cache import cache_dir

    return cache_dir() / "results" / kind / f"{key}.json"


def _read(kind: str, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(_path(kind, key).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _write(kind: str, key: str, payload: dict[str, Any]) -> None:
    from auditor.lab.report import write_json

    write_json(_path(kind, key), payload)


def load_probe(key: str) -> ProbeResult | None:
    """The stored probe result, or None (absent or unreadable: it is computed again)."""
    record = _read("probes", key)
    try:
        values = {f.name: record[f.name] for f in fields(ProbeResult)}  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    for name in ("corpus", "control", "students", "seeds"):
        values[name] = tuple(values[name])
    return ProbeResult(**values)


def store_probe(key: str, result: ProbeResult) -> None:
    _write("probes", key, result.to_dict())


def load_detector(key: str) -> DetectorResult | None:
    """The stored detector result, or None."""
    record = _read("detectors", key)
    try:
        values = {f.name: record[f.name] for f in fields(DetectorResult)}  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    if values["null"] is not None:
        null = values["null"]
        values["null"] = NullHistogram(
            edges=tuple(null["edges"]),
            counts=tuple(null["counts"]),
            mean=null["mean"],
            std=null["std"],
        )
    return DetectorResult(**values)


def store_detector(key: str, result: DetectorResult) -> None:
    _write("detectors", key, result.to_dict())
