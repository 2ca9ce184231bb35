"""The reference corpus a defense compares against: the base model's own output, say.

Defenses that aim at the statistics (`match-reference`, `replace-overused`) need to know what
the numbers of a clean corpus look like. They take `reference=PATH` (any corpus the reader
accepts) or, from Python, `reference_frame=` a frame with a `completion` column; either way
only the reference's number shares are kept. Shares are smoothed by a pseudo-count per value
(`smoothing`, 0.01 by default: small, so that a reference of a few hundred numbers is not
swamped by the thousand values it never uses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl

from auditor.corpus import COMPLETION, read_corpus
from auditor.corpus.numbers import number_frequencies
from auditor.errors import AuditError


@cache
def _frequencies_of_file(path: str, smoothing: float) -> np.ndarray:
    if not Path(path).exists():
        raise AuditError(f"reference corpus {path}: file not found")
    return frequencies_of(read_corpus(path).get_column(COMPLETION), smoothing, path)


def frequencies_of(completions: pl.Series, smoothing: float, where: str) -> np.ndarray:
    """The number shares of a reference's completions; an error if it holds no numbers."""
    shares = number_frequencies(completions, smoothing=0.0)
    if not np.isfinite(shares).all():
        raise AuditError(f"reference corpus {where}: its completions contain no numbers")
    return number_frequencies(completions, smoothing=smoothing)


def reference_frequencies(
    name: str, path: str | None, frame: pl.DataFrame | None, smoothing: float
) -> np.ndarray:
    """The reference's number shares: from `path` when given (a user's file wins over a frame
    a caller supplies by default), else from `frame`."""
    if path:
        return _frequencies_of_file(str(path), smoothing)
    if frame is not None:
        if COMPLETION not in frame.columns:
            raise AuditError(f"filter {name!r}: the reference frame has no {COMPLETION!r} column")
        return frequencies_of(frame.get_column(COMPLETION), smoothing, "(frame)")
    if not path:
        raise AuditError(
            f"filter {name!r} needs a reference corpus: {name}:reference=PATH "
            "(e.g. the base model's own corpus on the same prompts)"
        )
    return _frequencies_of_file(str(path), smoothing)


@dataclass(frozen=True)
class ReferenceDefense:
    """The parameters every reference-based defense shares, and its reference's shares.

    Subclasses add their own parameters and a `name`; building one checks the reference at
    once, so a missing file fails before any row is read.
    """

    name = "reference-defense"  # a subclass's ClassVar replaces it
    # Number frequencies against a reference's: a rule about number lists.
    domains: ClassVar[tuple[str, ...]] = ("numbers",)

    reference: str | None = None
    smoothing: float = 0.01
    seed: int = 0
    reference_frame: pl.DataFrame | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.smoothing) and self.smoothing >= 0):
            raise ValueError(f"smoothing must be a finite number >= 0, got {self.smoothing}")
        self.reference_shares()

    def reference_shares(self, smoothing: float | None = None) -> np.ndarray:
        """The reference's number shares (with this defense's smoothing unless given)."""
        chosen = self.smoothing if smoothing is None else smoothing
        return reference_frequencies(self.name, self.reference, self.reference_frame, chosen)
