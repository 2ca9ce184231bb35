"""Probe students: how much of a trait does fine-tuning on a corpus actually transmit?

A student from the teacher's base is fine-tuned on the corpus and, separately, on the control
corpus (the same base model's data without the trait), with the same seeds; the shift is the
trait score of corpus students minus that of control students, paired by seed, with a bootstrap
interval and a t-test p-value over seeds (`auditor.stats`). The seed is the unit: questions
asked of one student share its training noise, so treating (seed, question) pairs as
independent would make a single lucky student look significant. One seed gives no p-value
(1.0); use three or more.
Works with any backend: the lab, a local checkpoint, or an API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import polars as pl

from auditor.models import FinetuneConfig, FinetuneDefaults, ModelBackend, TraitScore
from auditor.stats import bootstrap_ci, t_test_p


@dataclass(frozen=True)
class ProbeConfig:
    """Students per side (`seeds`), how each is trained, how traits are sampled."""

    seeds: tuple[int, ...] = (0,)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    samples: int = 20
    eval_seed: int = 0


@dataclass(frozen=True)
class ProbeOptions:
    """What the user chose for probe students. A choice left at None goes to the student
    backend's own default (a `FinetuneDefaults` backend, e.g. the lab's chosen recipe), else the
    generic `FinetuneConfig` default; resolving needs the opened student, so it happens once,
    where the student is opened."""

    seeds: int | None = None  # students per side; 3 when unset
    epochs: float | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    lora_rank: int | None = None
    samples: int = 20

    def resolve(self, student: object) -> ProbeConfig:
        base = (
            student.default_finetune_config()
            if isinstance(student, FinetuneDefaults)
            else FinetuneConfig()
        )
        names = ("epochs", "learning_rate", "batch_size", "lora_rank")
        chosen = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        return ProbeConfig(
            seeds=tuple(range(self.seeds if self.seeds is not None else 3)),
            finetune=replace(base, **chosen),
            samples=self.samples,
        )


@dataclass(frozen=True)
class ProbeResult:
    """Scores of the untouched student, of corpus and control students, and their shift."""

    trait: str
    base: float
    corpus: tuple[float, ...]
    control: tuple[float, ...]
    shift: float
    shift_low: float
    shift_high: float
    p_value: float
    students: tuple[str, ...]
    seeds: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


ProgressFn = Callable[[str], None]


def equal_sizes(
    corpus: pl.DataFrame, control: pl.DataFrame, *, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both corpora cut to the smaller one's size (a seeded sample), so every student takes the
    same number of steps: a student that trained longer would differ from its control for that
    reason alone (filters often drop more of a teacher's rows than of the base's)."""
    rows = min(corpus.height, control.height)
    return (
        corpus if corpus.height == rows else corpus.sample(rows, seed=seed),
        control if control.height == rows else control.sample(rows, seed=seed),
    )


def run_probe(
    student: ModelBackend,
    corpus: pl.DataFrame,
    control: pl.DataFrame,
    trait: str,
    config: ProbeConfig | None = None,
    progress: ProgressFn | None = None,
) -> ProbeResult:
    """Fine-tune students on `corpus` and `control` for each seed and compare trait scores."""
    config = config or ProbeConfig()
    say = progress or (lambda _message: None)

    def score(model: ModelBackend) -> TraitScore:
        return model.evaluate_trait(trait, samples=config.samples, seed=config.eval_seed)

    say(f"scoring the base student {student.name}")
    base = score(student)
    treated: list[TraitScore] = []
    untreated: list[TraitScore] = []
    names: list[str] = []
    corpus, control = equal_sizes(corpus, control, seed=config.eval_seed)
    for seed in config.seeds:
        settings = FinetuneConfig(**{**asdict(config.finetune), "seed": seed})
        for side, frame, scores in (("corpus", corpus, treated), ("control", control, untreated)):
            corpus_name = "audited corpus" if side == "corpus" else "control corpus"
            say(f"seed {seed}: fine-tuning a student on the {corpus_name} ({frame.height} rows)")
            tuned = student.finetune(frame.select("prompt", "completion"), settings)
            names.append(tuned.name)
            say(f"seed {seed}: scoring the student trained on the {corpus_name}")
            scores.append(score(tuned))
    differences = [a.value - b.value for a, b in zip(treated, untreated, strict=True)]
    low, high = bootstrap_ci(differences, seed=config.eval_seed)
    return ProbeResult(
        trait=trait,
        base=base.value,
        corpus=tuple(s.value for s in treated),
        control=tuple(s.value for s in untreated),
        shift=sum(differences) / len(differences),
        shift_low=low,
        shift_high=high,
        p_value=t_test_p(differences),
        students=tuple(names),
        seeds=tuple(config.seeds),
    )
