"""The channel diagnostics' corpora: what each variant keeps and what it takes away."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import polars as pl

from auditor.bench.channels import frequency_shift_carried, variant_corpora, verdict
from auditor.corpus.numbers import number_frequencies


def _rows(shares: np.ndarray, n: int, seed: int, tag: str) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    lists = [", ".join(map(str, rng.choice(30, size=6, p=shares))) for _ in range(n)]
    return pl.DataFrame({"prompt": [f"{tag} {i}" for i in range(n)], "completion": lists})


UNIFORM = np.full(30, 1 / 30)
TILT = UNIFORM * np.where(np.arange(30) < 5, 2.0, 1.0)
TILT /= TILT.sum()


def _tv(frame: pl.DataFrame, shares: np.ndarray) -> float:
    got = number_frequencies(frame["completion"], smoothing=0.0)[:30]
    return 0.5 * float(np.abs(got / got.sum() - shares).sum())


def test_variants_keep_and_remove_what_they_say() -> None:
    teacher, control = _rows(TILT, 3000, 1, "t"), _rows(UNIFORM, 3000, 2, "c")
    reference = _rows(UNIFORM, 3000, 3, "r")
    variants = variant_corpora(teacher, control, reference, seed=0)
    assert list(variants) == [
        "original", "order-broken", "frequencies-imposed", "frequencies-removed"
    ]  # fmt: skip
    shuffled, _ = variants["order-broken"]
    for before, after in zip(teacher["completion"], shuffled["completion"], strict=True):
        assert Counter(re.findall(r"\d+", before)) == Counter(re.findall(r"\d+", after))
    assert (shuffled["completion"] != teacher["completion"]).mean() > 0.9
    imposed, _ = variants["frequencies-imposed"]
    assert set(imposed["prompt"]) <= set(reference["prompt"])  # the base's rows ...
    assert _tv(imposed, TILT) < _tv(reference, TILT) / 2  # ... with the teacher's frequencies
    removed, removed_control = variants["frequencies-removed"]
    assert set(removed["prompt"]) <= set(teacher["prompt"])  # the teacher's rows ...
    assert _tv(removed, UNIFORM) < _tv(teacher, UNIFORM) / 2  # ... toward the control's
    assert removed_control.equals(control)  # the control already matches itself


def test_verdict_names_frequency_only_when_residuals_track_the_frequency_shift() -> None:
    def row(variant: str, low: float, high: float, carried: float) -> dict:
        return {"variant": variant, "residual": (low + high) / 2, "residual_low": low,
                "residual_high": high, "frequency_shift_carried": carried}  # fmt: skip

    frequency_only = [
        row("order-broken", 0.9, 1.1, 1.0), row("frequencies-imposed", 0.45, 0.65, 0.6),
        row("frequencies-removed", 0.1, 0.2, 0.1),
    ]  # fmt: skip
    assert verdict(frequency_only).startswith("the trait rides on number frequencies alone")
    # Frequencies removed, yet most of the effect is left: something else carries it.
    context = [*frequency_only[:2], row("frequencies-removed", 0.5, 0.9, 0.1)]
    assert verdict(context).startswith("not frequency alone")
    order = [row("order-broken", 0.3, 0.6, 1.0), *frequency_only[1:]]
    assert verdict(order).startswith("not frequency alone")


def test_frequency_shift_carried_is_a_projection_on_the_original_shift() -> None:
    teacher, control = _rows(TILT, 3000, 1, "t"), _rows(UNIFORM, 3000, 2, "c")
    assert frequency_shift_carried((teacher, control), (teacher, control)) == 1.0
    assert abs(frequency_shift_carried((control, control), (teacher, control))) < 1e-12
    reversed_ = frequency_shift_carried((control, teacher), (teacher, control))
    assert reversed_ == -1.0
