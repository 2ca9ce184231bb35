"""Positional and format features: does the suspect lay out its answers differently?

A trait can leak through how a list is written rather than which numbers it holds: its length,
separators, brackets, how many numbers, the first number, digit statistics (leading, tens and
last digits, doubled digits), repeats, how much it copies from the prompt. Each row becomes a
small feature vector (polars expressions, no row loops); the statistic is Hotelling's T^2 of the
group means under the pooled covariance, which is the same for every permutation, so every
permutation costs one small matrix product.

Much of a row's layout is dictated by its prompt (which format it asks for, how many numbers it
shows). With `adjust_for_prompt` (the default) each feature is first replaced by its residual
from a ridge regression on prompt covariates (template words, prompt-number statistics) fitted
on the pooled rows WITHOUT their labels. That removes prompt-driven variance, so real
differences stand out (on the Qwen corpora it multiplies T^2 severalfold), while the
permutation test stays exact: the residuals are a label-free function of the pooled rows.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import polars as pl
from sklearn.feature_extraction.text import CountVectorizer

from auditor.corpus.numbers import MAX_VALUE
from detectors._permutation import null_histogram, p_value, standardized, sum_statistic_null
from detectors.base import Detector, DetectorResult, validate_frame
from detectors.registry import register

#: The most frequent prompt words/bigrams kept as covariates (bounds the regression cost).
MAX_PROMPT_TERMS = 256

# A digit written twice in a row ("377", "800"): polars regex has no backreferences.
_DOUBLED = "|".join(str(d) * 2 for d in range(10))

_SEPARATORS = {"comma": ",", "semicolon": ";", "space": " ", "newline": "\n", "tab": "\t"}


def _nums(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .str.extract_all(r"\d+")
        .list.eval(pl.element().str.slice(0, 6).cast(pl.Int64).clip(0, MAX_VALUE + 1))
    )


def _share(condition: pl.Expr) -> pl.Expr:
    """Per-row share of the row's numbers meeting `condition` (0 when the row has none)."""
    return pl.col("_n").list.eval(condition.cast(pl.Float64)).list.mean().fill_null(0.0)


def format_features(frame: pl.DataFrame) -> pl.DataFrame:
    """One row of float features per corpus row; columns are named for the evidence table."""
    c = pl.col("completion")
    n = pl.col("_n")
    features: dict[str, pl.Expr] = {
        "chars": c.str.len_chars(),
        "numbers": n.list.len(),
        "distinct_share": (n.list.n_unique() / n.list.len()).fill_nan(0.0).fill_null(0.0),
        "first_number": n.list.first().fill_null(-1),
        "last_number": n.list.last().fill_null(-1),
        "mean_number": n.list.mean().fill_null(-1),
        "std_number": n.list.std().fill_null(0.0),
        "rising_share": n.list.diff()
        .list.eval((pl.element() > 0).cast(pl.Float64))
        .list.mean()
        .fill_null(0.0),
        "mean_abs_step": n.list.diff().list.eval(pl.element().abs()).list.mean().fill_null(0.0),
        "copied_share": (n.list.set_intersection(pl.col("_p")).list.len() / n.list.n_unique())
        .fill_nan(0.0)
        .fill_null(0.0),
        "one_digit_share": _share(pl.element() < 10),
        "two_digit_share": _share((pl.element() >= 10) & (pl.element() < 100)),
        "bracketed": c.str.contains(r"^\s*[\[\(]").cast(pl.Float64),
        "trailing_period": c.str.contains(r"\.\s*$").cast(pl.Float64),
        "non_digit_chars": c.str.len_chars() - c.str.count_matches(r"\d"),
    }
    for label, sep in _SEPARATORS.items():
        features[f"{label}_count"] = c.str.count_matches(sep, literal=True)
    features["ten_numbers"] = n.list.len() == 10
    features["under_eight_numbers"] = n.list.len() < 8
    features["repeats"] = n.list.len() - n.list.n_unique()
    features["double_digit_share"] = (
        pl.col("completion")
        .str.extract_all(r"\d+")
        .list.eval(pl.element().str.contains(_DOUBLED).cast(pl.Float64))
        .list.mean()
        .fill_null(0.0)
    )
    for digit in range(10):
        features[f"last_digit_{digit}"] = _share(pl.element() % 10 == digit)
    for digit in range(10):
        features[f"tens_digit_{digit}"] = _share(
            (pl.element() >= 10) & ((pl.element() // 10) % 10 == digit)
        )
    for digit in range(1, 10):
        features[f"lead_digit_{digit}"] = _share(
            pl.element().cast(pl.String).str.slice(0, 1) == str(digit)
        )
    parsed = frame.with_columns(_n=_nums("completion"), _p=_nums("prompt"))
    return parsed.select(**{k: v.cast(pl.Float64) for k, v in features.items()}).with_columns(
        above_prompt_max_share=_above_prompt_max(parsed)
    )


def _above_prompt_max(parsed: pl.DataFrame) -> pl.Series:
    """Share of each row's numbers above the largest number in its prompt (0 if none)."""
    long = (
        parsed.select(n="_n", m=pl.col("_p").list.max().fill_null(MAX_VALUE + 1))
        .with_row_index("row")
        .explode("n")
    )
    share = long.group_by("row").agg((pl.col("n") > pl.col("m")).cast(pl.Float64).mean())
    return (
        pl.DataFrame({"row": pl.arange(0, parsed.height, eager=True, dtype=pl.UInt32)})
        .join(share, on="row", how="left")
        .sort("row")["n"]
        .fill_null(0.0)
        .fill_nan(0.0)
    )


def prompt_covariates(prompts: pl.Series) -> np.ndarray:
    """Label-free prompt descriptors: template words and bigrams present, prompt-number stats."""
    n = prompts.len()
    vectorizer = CountVectorizer(
        token_pattern=r"[A-Za-z_]+",
        ngram_range=(1, 2),
        binary=True,
        min_df=max(2, n // 1000),
        max_features=MAX_PROMPT_TERMS,
    )
    try:
        words = vectorizer.fit_transform(prompts.to_list()).toarray()
    except ValueError:  # no word survives min_df (tiny or numeric-only prompts)
        words = np.zeros((n, 0))
    numbers = pl.DataFrame({"p": prompts}).select(_nums("p").alias("p"))["p"]
    stats = np.column_stack(
        [
            numbers.list.len().to_numpy(),
            numbers.list.mean().fill_null(0).to_numpy(),
            numbers.list.first().fill_null(0).to_numpy(),
            numbers.list.last().fill_null(0).to_numpy(),
            numbers.list.max().fill_null(0).to_numpy(),
            prompts.str.len_chars().to_numpy(),
        ]
    ).astype(float)
    return np.hstack([words.astype(float), stats])


def residualize(features: np.ndarray, covariates: np.ndarray, ridge: float = 10.0) -> np.ndarray:
    """`features` minus their ridge-regression fit on standardised `covariates`."""
    std = covariates.std(axis=0)
    keep = std > 0
    if not keep.any():
        return features - features.mean(axis=0)
    c = (covariates[:, keep] - covariates[:, keep].mean(axis=0)) / std[keep]
    centred = features - features.mean(axis=0)
    gram = c.T @ c + ridge * np.eye(c.shape[1])
    return centred - c @ np.linalg.solve(gram, c.T @ centred)


def standardize(pooled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the non-constant columns centred and scaled to unit variance, which columns those are)."""
    mean = pooled.mean(axis=0)
    std = pooled.std(axis=0)
    keep = std > 1e-9 * (1 + np.abs(mean))
    return (pooled[:, keep] - mean[keep]) / std[keep], keep


def hotelling_null(
    standard: np.ndarray, n_reference: int, ridge: float, n_permutations: int, seed: int
) -> tuple[float, np.ndarray]:
    """Observed and row-permutation-null Hotelling T^2 of standardized rows, reference first.

    Whitened with the pooled (label-free) covariance plus `ridge`: permutation-invariant, so
    T^2 of every permutation is a squared norm of whitened group-mean differences.
    """
    k = standard.shape[1]
    cov = np.cov(standard, rowvar=False).reshape(k, k) + ridge * np.eye(k)
    white = standard @ np.linalg.cholesky(np.linalg.inv(cov))
    n_suspect = standard.shape[0] - n_reference
    scale = n_reference * n_suspect / standard.shape[0]

    def t2(sums: np.ndarray) -> np.ndarray:
        # pooled rows are centred, so reference sums = -suspect sums
        diff = sums / n_suspect + sums / n_reference
        return scale * np.sum(diff**2, axis=0)

    return sum_statistic_null(white, n_reference, t2, n_permutations, seed)


@register
class FormatFeatures(Detector):
    """Hotelling's T^2 over per-row layout and digit features, with a row permutation p-value."""

    name = "format-features"
    domains = ("numbers",)  # its statistic reads number lists
    #: The per-row features (`text-features` swaps in its own for code and CoT).
    featurize = staticmethod(format_features)

    def __init__(
        self,
        *,
        adjust_for_prompt: bool = True,
        ridge: float = 1e-3,
        top_k: int = 8,
        n_permutations: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__(n_permutations=n_permutations, seed=seed)
        self.adjust_for_prompt = adjust_for_prompt
        self.ridge = ridge
        self.top_k = top_k

    def fit(self, reference: pl.DataFrame) -> Self:
        self._check_params()
        frame = validate_frame(reference, "reference", self.name)
        self.reference_features_ = self.featurize(frame)
        self.reference_prompts_ = frame["prompt"]
        return self

    def test(self, suspect: pl.DataFrame) -> DetectorResult:
        self._check_fitted()
        frame = validate_frame(suspect, "suspect", self.name)
        names = self.reference_features_.columns
        reference = self.reference_features_.to_numpy()
        suspect_x = self.featurize(frame).to_numpy()
        pooled = np.vstack([reference, suspect_x])
        n_ref, n_sus = reference.shape[0], suspect_x.shape[0]
        if self.adjust_for_prompt:
            prompts = pl.concat([self.reference_prompts_, frame["prompt"]])
            pooled = residualize(pooled, prompt_covariates(prompts))
        standard, keep = standardize(pooled)
        if not keep.any():
            return self._nothing_to_compare("every feature is constant across both corpora")
        observed, null = hotelling_null(standard, n_ref, self.ridge, self.n_permutations, self.seed)
        scale = n_ref * n_sus / (n_ref + n_sus)
        z = (standard[n_ref:].mean(axis=0) - standard[:n_ref].mean(axis=0)) / np.sqrt(
            1 / n_ref + 1 / n_sus
        )
        kept_names = [name for name, k in zip(names, keep, strict=True) if k]
        order = np.argsort(-np.abs(z))[: self.top_k]
        evidence = [
            {
                "feature": kept_names[i],
                "suspect_mean": float(suspect_x[:, keep][:, i].mean()),
                "reference_mean": float(reference[:, keep][:, i].mean()),
                "z": float(z[i]),
            }
            for i in order
        ]
        return DetectorResult(
            name=self.name,
            statistic=observed,
            p_value=p_value(observed, null),
            null=null_histogram(observed, null),
            # Mahalanobis distance between the group means: T^2 without its sample-size factor.
            effect_size=float(np.sqrt(observed / scale)),
            n_permutations=self.n_permutations,
            seed=self.seed,
            evidence=evidence,
            details={
                "z_vs_null": standardized(observed, null),
                "features": len(kept_names),
                "adjusted_for_prompt": self.adjust_for_prompt,
                "n_reference": n_ref,
                "n_suspect": n_sus,
            },
        )
