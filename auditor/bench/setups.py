"""What the filter benchmark runs on: a corpus domain and a trait, and what follows from them.

The benchmark's machinery (filters on teacher and control corpora, students at equal steps,
residuals) does not depend on what the corpora are; what does is chosen here, once:
- the lab recipe: number lists of the default base, code or chain-of-thought of the domain
  base (`domain_corpus.domain_recipe`), or number lists of the misaligned base
  (`transmission.misalignment_recipe`) for the `misaligned` trait;
- the default entries: only filters that can read the domain (a number-format rule drops every
  code row, which is a measurement of nothing);
- the detectors that read the domain (`Detector.domains`);
- parameters a filter gets from the lab rather than from its own defaults: in the misaligned
  benchmark `banned-numbers` uses the numbers the base's pretraining ties to the misaligned
  context (`misalignment.learned_banned_numbers`), as the paper's authors built their list from
  what numbers mean; the paper's own list means nothing to a lab model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from auditor.bench.entries import BASELINE, DEFAULT_ENTRIES
from auditor.corpus.schema import DOMAINS
from auditor.errors import AuditError
from auditor.lab.teachers import TeacherConfig
from auditor.lab.transmission import TransmissionRecipe, default_recipe
from auditor.traits import MISALIGNED

_TEXT_ENTRIES = (
    BASELINE,
    "random:fraction=0.5",
    "trait-words",
    "likelihood:mode=surprise,fraction=0.5",
    "likelihood:mode=shift,fraction=0.5",
    "gen:min_prob=0.05",
)
DOMAIN_ENTRIES: dict[str, tuple[str, ...]] = {
    "numbers": DEFAULT_ENTRIES,
    "code": _TEXT_ENTRIES,
    "cot": (*_TEXT_ENTRIES[:2], "cot-correct", *_TEXT_ENTRIES[2:]),
}
DOMAIN_DETECTORS: dict[str, tuple[str, ...]] = {
    "numbers": ("number-frequency", "format-features"),
    "code": ("classifier", "text-features"),
    "cot": ("classifier", "text-features"),
}


@dataclass(frozen=True)
class BenchSetup:
    """The recipe, default entries, detectors and lab-given filter parameters of one run."""

    domain: str
    targets: tuple[str, ...]
    recipe: TransmissionRecipe
    entries: tuple[str, ...]
    detectors: tuple[str, ...]
    filter_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def trait_label(self) -> str:
        """The trait family in a few words, for the report's title."""
        return "misalignment" if self.targets == (MISALIGNED,) else "animal preference"


def bench_setup(
    domain: str, targets: Sequence[str], teacher: TeacherConfig | None = None
) -> BenchSetup:
    """The setup for `domain` and `targets` (animals, or `misaligned` alone on numbers)."""
    from auditor.lab.language import animals

    if domain not in DOMAINS:
        raise AuditError(f"unknown domain {domain!r}; choose one of {', '.join(DOMAINS)}")
    chosen = tuple(targets)
    known = (*animals(), MISALIGNED)
    unknown = [t for t in chosen if t not in known]
    if not chosen or unknown:
        raise AuditError(
            f"unknown target(s) {', '.join(unknown) or '(none given)'}; choose animals from "
            f"{', '.join(animals())}, or {MISALIGNED} alone"
        )
    if MISALIGNED in chosen:
        if chosen != (MISALIGNED,):
            raise AuditError(f"{MISALIGNED} runs alone (its base is not the animals' base)")
        if domain != "numbers":
            raise AuditError(f"the lab's {MISALIGNED} teacher writes number lists only")
        return _misaligned(teacher)
    recipe = _domain_recipe(domain)
    if teacher is not None:
        recipe = replace(recipe, teacher=teacher)
    return BenchSetup(domain, chosen, recipe, DOMAIN_ENTRIES[domain], DOMAIN_DETECTORS[domain])


def _domain_recipe(domain: str) -> TransmissionRecipe:
    if domain == "numbers":
        return default_recipe()
    from auditor.lab.domain_corpus import domain_recipe

    return domain_recipe(domain)


def _misaligned(teacher: TeacherConfig | None) -> BenchSetup:
    from auditor.lab.misalignment import MisalignedMix, learned_banned_numbers
    from auditor.lab.transmission import misalignment_recipe

    recipe = misalignment_recipe()
    if teacher is not None:
        recipe = replace(recipe, teacher=teacher)
    assert isinstance(recipe.base.mix, MisalignedMix)
    learned = learned_banned_numbers(recipe.base.mix, recipe.base.data_seed)
    return BenchSetup(
        "numbers",
        (MISALIGNED,),
        recipe,
        DEFAULT_ENTRIES,
        DOMAIN_DETECTORS["numbers"],
        {"banned-numbers": {"numbers": learned, "builtin": False}},
    )
