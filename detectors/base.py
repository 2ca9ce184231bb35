"""The one detector shape: `fit(reference)` learns, `test(suspect)` answers with a result.

Follows scikit-learn's estimator contract so every detector reads the same way: `__init__` only
stores parameters, `fit` learns state (attributes ending in `_`) and returns `self`, `test`
returns a `DetectorResult`. P-values come from permutation over ROWS: a row is the exchangeable
unit, numbers inside one row are not independent, so permuting anything finer would understate
the noise and overstate the evidence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar, Self

import polars as pl

from auditor.corpus.schema import DOMAINS
from auditor.errors import AuditError

REQUIRED_COLUMNS = ("prompt", "completion")

#: The one set of defaults behind `audit`, `audit detect` and `audit demo`. 1000 row
#: permutations resolve p down to 1/1001, below alpha 0.01 split over five detectors (0.002).
DEFAULT_ALPHA = 0.01
DEFAULT_PERMUTATIONS = 1000


@dataclass(frozen=True)
class NullHistogram:
    """The statistic's permutation null as a histogram: enough to plot the observed value
    against it, without keeping every permuted statistic. `counts[i]` falls in
    `[edges[i], edges[i + 1])`; values beyond the shown range are clipped into the end bins."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    mean: float
    std: float


@dataclass(frozen=True)
class DetectorResult:
    """What a detector found: how different the suspect is, how surprising, and why.

    `statistic` is larger when the corpora differ more; `p_value` is the add-one permutation
    p-value of that statistic; `effect_size` is a sample-size-free measure of the difference;
    `evidence` lists the few numbers, n-grams or features that drove the statistic.
    """

    name: str
    statistic: float
    p_value: float
    effect_size: float
    n_permutations: int
    seed: int
    evidence: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    #: The permutation null behind `p_value` (None for results with nothing to compare).
    null: NullHistogram | None = None
    #: Set by `decide`: the p-value below which this result is flagged (after the correction
    #: for the number of detectors run), and whether it is. None until decided.
    threshold: float | None = None
    flagged: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (plain floats, lists and dicts only)."""
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """Bonferroni over the detectors run: one threshold, and each result decided against it.

    Every command decides through `decide`, so the same results give the same verdict
    whichever command produced them (alibi-detect's habit: the decision travels with the
    result). `can_flag` is False when a detector's permutations cannot reach the threshold:
    the smallest p-value n permutations give is 1 / (n + 1).
    """

    results: tuple[DetectorResult, ...]
    alpha: float
    threshold: float
    can_flag: bool
    correction: str = "bonferroni"

    @property
    def flagged_by(self) -> list[str]:
        return [result.name for result in self.results if result.flagged]

    @property
    def flagged(self) -> bool:
        return bool(self.flagged_by)

    def rule(self) -> str:
        """The threshold in words, e.g. "p < 0.002 = α 0.01 over 5 detectors"."""
        count = len(self.results)
        return (
            f"p < {self.threshold:.3g} = α {self.alpha:g} over {count} "
            f"detector{'s' if count != 1 else ''}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The decision without the results (those are reported on their own)."""
        return {
            "alpha": self.alpha,
            "correction": self.correction,
            "detectors": len(self.results),
            "threshold": self.threshold,
            "rule": self.rule(),
            "flagged": self.flagged,
            "flagged_by": self.flagged_by,
            "can_flag": self.can_flag,
        }


def decide(results: Sequence[DetectorResult], alpha: float = DEFAULT_ALPHA) -> Decision:
    """Decide a family of detector results: flagged where p < alpha / (number of results)."""
    if not 0 < alpha < 1:
        raise AuditError(f"alpha must be between 0 and 1, got {alpha}")
    threshold = alpha / max(1, len(results))
    decided = tuple(
        replace(result, threshold=threshold, flagged=result.p_value < threshold)
        for result in results
    )
    smallest = max((1 / (r.n_permutations + 1) for r in results), default=0.0)
    return Decision(
        results=decided, alpha=alpha, threshold=threshold, can_flag=smallest < threshold
    )


class Detector(ABC):
    """Base class: subclasses set `name`, store their params in `__init__`, implement the rest."""

    name: ClassVar[str] = ""
    #: True when the detector needs a `model` (a `ModelBackend`) to run.
    requires_model: ClassVar[bool] = False
    #: True when the detector needs a named `trait` to run.
    requires_trait: ClassVar[bool] = False
    #: The corpus domains (numbers, code, cot) whose completions the statistic can read; the
    #: audit skips the detector on others, with a note. A number-list statistic says
    #: `("numbers",)`; one over any text (n-grams, log-likelihoods) keeps the default.
    domains: ClassVar[tuple[str, ...]] = DOMAINS

    def __init__(self, *, n_permutations: int = 200, seed: int = 0) -> None:
        self.n_permutations = n_permutations
        self.seed = seed

    @abstractmethod
    def fit(self, reference: pl.DataFrame) -> Self:
        """Learn what the reference corpus looks like; returns `self`."""

    @abstractmethod
    def test(self, suspect: pl.DataFrame) -> DetectorResult:
        """Compare `suspect` with the fitted reference; raises if `fit` was not called."""

    def _nothing_to_compare(
        self, note: str, *, statistic: float = 0.0, **details: Any
    ) -> DetectorResult:
        """The result when the corpora give the statistic nothing to work with: p = 1, and the
        statistic at its no-difference value (0, or e.g. 0.5 for an AUC)."""
        return DetectorResult(
            name=self.name,
            statistic=statistic,
            p_value=1.0,
            effect_size=0.0,
            n_permutations=self.n_permutations,
            seed=self.seed,
            evidence=[],
            details={"note": note, **details},
        )

    def _check_fitted(self) -> None:
        if not any(k.endswith("_") for k in vars(self)):
            raise AuditError(f"detector {self.name!r}: call fit(reference) before test(suspect)")

    def _check_params(self) -> None:
        if not isinstance(self.n_permutations, int) or self.n_permutations < 1:
            raise AuditError(
                f"detector {self.name!r}: n_permutations must be a positive integer, "
                f"got {self.n_permutations!r}"
            )


def validate_frame(frame: object, role: str, detector: str) -> pl.DataFrame:
    """Check a corpus frame has non-empty string `prompt`/`completion` columns, or raise.

    `role` ("reference" or "suspect") and `detector` name the culprit in the message.
    """
    where = f"detector {detector!r}, {role} corpus"
    if not isinstance(frame, pl.DataFrame):
        raise AuditError(f"{where}: expected a polars DataFrame, got {type(frame).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise AuditError(
            f"{where}: missing column(s) {', '.join(missing)} (has: {', '.join(frame.columns)})"
        )
    if frame.height == 0:
        raise AuditError(f"{where}: the corpus has no rows")
    for column in REQUIRED_COLUMNS:
        dtype = frame.schema[column]
        if dtype not in (pl.String, pl.Null):
            raise AuditError(f"{where}: column {column!r} must hold strings, not {dtype}")
        nulls = frame[column].null_count()
        if nulls:
            row = int(frame.with_row_index().filter(pl.col(column).is_null())["index"][0])
            raise AuditError(
                f"{where}: column {column!r} has {nulls} missing value(s), first at row {row}"
            )
    return frame.select(REQUIRED_COLUMNS)
