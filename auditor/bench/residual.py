"""The filter benchmark's arithmetic: how much leakage survives a filter, with its interval.

For one target and seed, leakage is the trait score of a student trained on the teacher's
corpus minus that of a control student trained on the base's own corpus. A filter is applied to
both corpora; its residual is the leakage after it over the leakage before it:

    residual = (filtered student - filtered control) / (unfiltered student - unfiltered control)

1 means the filter stopped nothing, 0 that it stopped everything, and a value below 0 that the
filtered corpus moved the student away from the trait. Every (target, seed) cell gives one
residual; a filter's summary is their mean with a Student-t 95% interval over cells. Why t:
the cells are the replication unit (each seed has its own pair of base models), there are few
of them (6 by default), and a percentile bootstrap over so few values is too narrow (it
excludes zero whenever all values share a sign). A cell whose unfiltered leakage is not
positive has no residual (it would divide by noise) and is counted apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditor.stats import t_interval


def residual(
    student: float, control: float, unfiltered_student: float, unfiltered_control: float
) -> float:
    """One cell's residual leakage; nan when the unfiltered leakage is not positive."""
    baseline = unfiltered_student - unfiltered_control
    if not baseline > 0:
        return math.nan
    return (student - control) / baseline


def scored_records(
    cells: Sequence[dict[str, Any]],
    scores: Sequence[dict[str, float]],
    is_baseline: Callable[[dict[str, Any]], bool],
) -> list[dict[str, Any]]:
    """Records from cells: each cell's students' scores for its target (`cell["jobs"]` maps a
    role to its index in `scores`), then its residual against the baseline cell of the same
    target and seed, its leakage and its different-init shift. A cell without students (its
    filter kept nothing) or without a baseline gets a nan residual."""
    records = []
    for cell in cells:
        record = {k: v for k, v in cell.items() if k not in ("jobs", "frames", "empty")}
        for key, index in cell.get("jobs", {}).items():
            record[key] = scores[index][cell["target"]]
        records.append(record)
    baseline = {(r["target"], r["seed"]): r for r in records if is_baseline(r)}
    for record in records:
        base = baseline.get((record["target"], record["seed"]))
        if base is None or "student" not in record:
            record["residual"] = math.nan
            continue
        record["residual"] = residual(
            record["student"], record["control"], base["student"], base["control"]
        )
        record["xinit_shift"] = record["xinit_student"] - record["xinit_control"]
        record["leakage"] = record["student"] - record["control"]
    return records


@dataclass(frozen=True)
class Interval:
    """A mean over cells with its Student-t 95% interval (nan bounds with fewer than 2)."""

    mean: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Interval:
        data = [float(v) for v in values if math.isfinite(v)]
        if not data:
            return cls(math.nan, math.nan, math.nan, 0)
        low, high = t_interval(data)
        return cls(float(np.mean(data)), low, high, len(data))
