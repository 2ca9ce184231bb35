"""Format features: the layout of a row, and prompt adjustment that keeps the test exact."""

from __future__ import annotations

import numpy as np
import polars as pl

from detectors.format_features import FormatFeatures, format_features, residualize


def test_features_of_one_row() -> None:
    frame = pl.DataFrame({"prompt": ["Continue: 1, 500, 3"], "completion": ["[12, 600, 7]."]})
    row = format_features(frame).row(0, named=True)
    assert row["numbers"] == 3 and row["first_number"] == 12 and row["last_number"] == 7
    assert row["bracketed"] == 1 and row["trailing_period"] == 1 and row["comma_count"] == 2
    assert row["above_prompt_max_share"] == 1 / 3  # only 600 exceeds the prompt's 500
    assert row["lead_digit_6"] == 1 / 3 and row["last_digit_0"] == 1 / 3


def test_residualize_removes_what_the_prompt_explains() -> None:
    rng = np.random.default_rng(0)
    covariate = rng.normal(size=(500, 1))
    feature = 3 * covariate + 0.1 * rng.normal(size=(500, 1))
    left = residualize(feature, covariate, ridge=1e-6)
    assert left.std() < 0.2 < feature.std()


def test_format_shift_is_found_and_named() -> None:
    rows = 300
    reference = pl.DataFrame(
        {
            "prompt": ["Give numbers."] * rows,
            "completion": ["1, 2, 3"] * (rows - 30) + ["1; 2; 3"] * 30,
        }
    )
    suspect = pl.DataFrame(
        {
            "prompt": ["Give numbers."] * rows,
            "completion": ["1, 2, 3"] * (rows - 90) + ["1; 2; 3"] * 90,
        }
    )
    result = FormatFeatures(n_permutations=99).fit(reference).test(suspect)
    assert result.p_value <= 0.02
    assert result.evidence[0]["feature"] in {"semicolon_count", "comma_count", "space_count"}
