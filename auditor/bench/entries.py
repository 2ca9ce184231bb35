"""What the filter benchmark compares: filters by spec, users' plugin filters, and
generation-time defenses, each built afresh for every target and seed it runs on.

- `none`: the unfiltered baseline (every residual is relative to it);
- any registered filter spec (`match-reference:retention=0.5`); filters that take a trait get
  the benchmark's target, defenses that take a reference get the seed's reference corpus, and
  filters that score with a model (`filters.base.NeedsModel`) get the seed's base model;
- `gen:min_prob=P`: not a filter over a corpus but a corpus written with threshold sampling
  (the teacher's and the control's), the generation-time defense;
- classes from `--plugin FILE.py`: any class with a `name` and a `reasons(batch)` (or
  `rewrite(batch)`) method; no import of ours is needed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from auditor.errors import AuditError
from auditor.models import ModelBackend
from filters import available_filters, create_filter
from filters.base import Filter, NeedsModel, Rewriter, reads_domains

BASELINE = "none"
_PLACEHOLDER_REFERENCE = pl.DataFrame({"completion": ["1, 2, 3"]})
GENERATION_PREFIX = "gen:"
# A likelihood filter left at this model is given each seed's own lab base.
DEFAULT_SCORER = "lab:base"
DEFAULT_ENTRIES = (
    BASELINE,
    "random:fraction=0.5",
    "numbers-format",
    "banned-numbers",
    "trait-words",
    "match-reference:min_retention=0.7",
    "match-reference:min_retention=0.5",
    "replace-overused",
    "replace-overused:min_z=1,top=0.5",
    "likelihood:mode=surprise,fraction=0.5",
    "likelihood:mode=shift,fraction=0.5",
    "gen:min_prob=0.05",
)


@dataclass(frozen=True)
class Entry:
    """One row of the benchmark: a label and how to make its filter (or corpus)."""

    label: str
    spec: str | None = None  # a registry spec; None with `plugin` or for the baseline
    plugin: type | None = None
    min_prob: float = 0.0  # > 0: a generation-time defense, no filter

    @property
    def is_baseline(self) -> bool:
        return self.label == BASELINE

    @property
    def is_generation(self) -> bool:
        return self.min_prob > 0

    @property
    def filter_name(self) -> str:
        """The registered filter its spec names ("" for the baseline, plugins, generation)."""
        return self.spec.partition(":")[0] if self.spec else ""

    @property
    def filter_class(self) -> type | None:
        """The class this entry benchmarks: its plugin, or the registered filter it names."""
        return self.plugin or available_filters().get(self.filter_name)

    def build(
        self,
        target: str,
        reference: pl.DataFrame,
        model: ModelBackend,
        defaults: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Filter | Rewriter | None:
        """The filter for one target and seed (None for the baseline and generation rows).
        `defaults` maps a filter name to parameters the lab gives it where its spec is silent
        (`setups.BenchSetup.filter_defaults`)."""
        if self.is_baseline or self.is_generation:
            return None
        if self.plugin is not None:
            made = _instantiate(self.plugin, target)
        else:
            given = (defaults or {}).get(self.filter_name, {})
            made = create_filter(str(self.spec), trait=target, reference_frame=reference, **given)
        return _with_context(made, reference, model)


def _instantiate(cls: type, target: str) -> Any:
    accepted = inspect.signature(cls).parameters
    try:
        return cls(trait=target) if "trait" in accepted else cls()
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        raise AuditError(f"plugin filter {cls.__name__}: could not be built ({error})") from None


def _with_context(made: Any, reference: pl.DataFrame, model: ModelBackend) -> Any:
    if dataclasses.is_dataclass(made):
        names = {f.name for f in dataclasses.fields(made)}
        if "reference_frame" in names and not getattr(made, "reference", None):
            made = dataclasses.replace(made, reference_frame=reference)
    if isinstance(made, NeedsModel):
        # The seed's lab base unless the spec names another model, which is opened as named.
        if made.model == DEFAULT_SCORER:
            made = made.with_model(model)
        else:
            from auditor.backends import open_model

            made = made.with_model(open_model(made.model))
    return made


def parse_entries(
    specs: Sequence[str], plugins: Sequence[str] = (), defaults: Sequence[str] = DEFAULT_ENTRIES
) -> list[Entry]:
    """The benchmark's rows: the baseline first, then `specs` (`defaults`, the domain's
    default entries, when none are given), then every filter class in each plugin file."""
    chosen = list(specs) if specs or plugins else list(defaults)
    entries = [Entry(BASELINE)]
    known = available_filters()
    for spec in chosen:
        if spec == BASELINE:
            continue
        if spec.startswith(GENERATION_PREFIX):
            entries.append(Entry(spec, min_prob=_min_prob(spec)))
            continue
        # Unknown names and bad parameters fail here, once, before any model is trained.
        create_filter(spec, trait="owl", reference_frame=_PLACEHOLDER_REFERENCE)
        name = spec.partition(":")[0]
        if name not in known:
            raise AuditError(f"unknown filter {name!r}; available: {', '.join(known)}")
        entries.append(Entry(spec, spec=spec))
    for path in plugins:
        for cls in load_plugin(path):
            _instantiate(cls, "owl")  # a class that cannot be built fails now, not mid-run
            entries.append(Entry(f"{cls.name} ({Path(path).name})", plugin=cls))
    labels = [e.label for e in entries]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise AuditError(f"filters given twice: {', '.join(repeated)}")
    return entries


def off_domain(entries: Sequence[Entry], domain: str) -> list[str]:
    """A line for each entry whose filter does not read `domain` (`filters.base.reads_domains`):
    benchmarked as asked, but its row says little (a number-list rule over code drops it all)."""
    lines = []
    for entry in entries:
        cls = entry.filter_class
        if cls is None:
            continue
        readable = reads_domains(cls)
        if domain not in readable:
            lines.append(
                f"{entry.label} reads {', '.join(readable)} corpora only: on {domain} its row "
                "measures a rule that does not apply"
            )
    return lines


def _min_prob(spec: str) -> float:
    key, sep, value = spec.removeprefix(GENERATION_PREFIX).partition("=")
    try:
        if key.strip().replace("-", "_") != "min_prob" or not sep:
            raise ValueError
        min_prob = float(value)
    except ValueError:
        raise AuditError(f"{spec!r}: the generation defense is written gen:min_prob=P") from None
    if not 0.0 < min_prob < 1.0:
        raise AuditError(f"{spec!r}: min_prob must be between 0 and 1")
    return min_prob


def load_plugin(path: str | Path) -> list[type]:
    """Every filter class defined in a user's Python file."""
    path = Path(path)
    if not path.is_file():
        raise AuditError(f"plugin {path}: file not found")
    module_name = f"audit_plugin_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise AuditError(f"plugin {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: a plugin must not end the run silently
        sys.modules.pop(module_name, None)
        raise AuditError(
            f"plugin {path}: failed to import ({type(error).__name__}: {error})"
        ) from None
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module_name
        and isinstance(getattr(cls, "name", None), str)
        and (callable(getattr(cls, "reasons", None)) or callable(getattr(cls, "rewrite", None)))
    ]
    if not found:
        raise AuditError(
            f"plugin {path}: defines no filter (a class with a `name` and a "
            "`reasons(batch)` or `rewrite(batch)` method)"
        )
    return found
