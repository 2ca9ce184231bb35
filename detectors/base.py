"""The one detector shape: `fit(reference)` learns, `test(suspect)` answers with a result.

Follows scikit-learn's estimator contract so every detector reads the same way: `__init__` only
stores parameters, `fit` learns state (attributes ending in `_`) and returns `self`, `test`
returns a `DetectorResult`. P-values come from permutation over ROWS: a row is the exchangeable
unit, numbers inside one row are not independent, so permuting anything finer would understate
the noise and overstate the evidence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Self

import polars as pl

from auditor.errors import AuditError

REQUIRED_COLUMNS = ("prompt", "completion")


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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (plain floats, lists and dicts only)."""
        return asdict(self)


class Detector(ABC):
    """Base class: subclasses set `name`, store their params in `__init__`, implement the rest."""

    name: ClassVar[str] = ""
    #: True when the detector needs a `model` (a `ModelBackend`) to run.
    requires_model: ClassVar[bool] = False
    #: True when the detector needs a named `trait` to run.
    requires_trait: ClassVar[bool] = False

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
