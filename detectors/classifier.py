"""Classifier two-sample test: can a classifier tell suspect rows from reference rows?

If the corpora are exchangeable, no classifier beats chance on held-out rows, so the
cross-validated AUC is the statistic. The classifier is multinomial naive Bayes on hashed token
and character n-grams (scikit-learn's `HashingVectorizer`; the same decision function as
`sklearn.naive_bayes.MultinomialNB`). Naive Bayes is chosen because its fit is a pair of class
sums: refitting it on every permuted labelling is a sparse matrix product, so the permutation
test refits the whole cross-validation each time and is exact, not an approximation that reuses
scores learned from the true labels. Folds are drawn from the seed, independently of the labels.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.stats import rankdata
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from detectors._permutation import (
    null_histogram,
    observed_indicator,
    p_value,
    standardized,
    suspect_indicators,
)
from detectors.base import Detector, DetectorResult, validate_frame
from detectors.registry import register

# Numbers and single non-space symbols are the tokens of a number list: "12, 7" -> 12 , 7
_TOKEN_PATTERN = r"\d+|[^\d\s]"


def _vectorizers(n_features: int) -> list[HashingVectorizer]:
    common = {"n_features": n_features, "alternate_sign": False, "norm": None, "lowercase": True}
    return [
        HashingVectorizer(
            analyzer="word", token_pattern=_TOKEN_PATTERN, ngram_range=(1, 2), **common
        ),
        HashingVectorizer(analyzer="char", ngram_range=(2, 4), **common),
    ]


def ngram_counts(texts: list[str], n_features: int) -> sp.csr_matrix:
    """Hashed token (1-2) and character (2-4) n-gram counts, side by side."""
    return sp.hstack([v.transform(texts) for v in _vectorizers(n_features)], format="csr")


def ngram_names(texts: list[str], columns: set[int], n_features: int) -> dict[int, str]:
    """Recover readable n-grams for hashed `columns` from a sample of the texts."""
    names: dict[int, str] = {}
    for block, vectorizer in enumerate(_vectorizers(n_features)):
        analyze = vectorizer.build_analyzer()
        kind = "token" if block == 0 else "char"
        for text in texts:
            for gram in analyze(text):
                column = block * n_features + abs(murmurhash3_32(gram, seed=0)) % n_features
                if column in columns and column not in names:
                    names[column] = f"{kind}:{gram!r}"
    return names


def _fold_aucs(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC per column (ties count half); 0.5 where one class is empty."""
    ranks = rankdata(scores, axis=0)
    positives = labels.sum(axis=0)
    negatives = labels.shape[0] - positives
    rank_sum = (ranks * labels).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auc, 0.5)


@register
class Classifier(Detector):
    """Cross-validated AUC of naive Bayes on hashed n-grams, with a full-refit permutation test."""

    name = "classifier"

    def __init__(
        self,
        *,
        n_folds: int = 5,
        alpha: float = 1.0,
        n_features: int = 2**18,
        min_count: int = 3,
        top_k: int = 10,
        n_permutations: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__(n_permutations=n_permutations, seed=seed)
        self.n_folds = n_folds
        self.alpha = alpha
        self.n_features = n_features
        self.min_count = min_count
        self.top_k = top_k

    def fit(self, reference: pl.DataFrame) -> Self:
        self._check_params()
        frame = validate_frame(reference, "reference", self.name)
        self.reference_texts_ = frame["completion"].to_list()
        self.reference_counts_ = ngram_counts(self.reference_texts_, self.n_features)
        return self

    def test(self, suspect: pl.DataFrame) -> DetectorResult:
        self._check_fitted()
        frame = validate_frame(suspect, "suspect", self.name)
        texts = frame["completion"].to_list()
        pooled = sp.vstack([self.reference_counts_, ngram_counts(texts, self.n_features)]).tocsr()
        # n-grams seen fewer than min_count times in both corpora together carry almost no
        # signal but most of the cost; dropping them uses no labels, so the test stays exact.
        counts = np.asarray(pooled.sum(axis=0)).ravel()
        present = np.flatnonzero(counts >= max(1, self.min_count))
        if present.size == 0:  # tiny corpora: keep whatever was seen
            present = np.flatnonzero(counts)
        if present.size == 0:
            return self._nothing_to_compare(
                "no n-gram in either corpus: nothing to compare",
                statistic=0.5,
                n_suspect=pooled.shape[0] - self.reference_counts_.shape[0],
            )
        pooled = pooled[:, present].tocsr()
        n_ref = self.reference_counts_.shape[0]
        n = pooled.shape[0]
        folds = np.random.default_rng([self.seed, 1]).permutation(n) % max(2, self.n_folds)
        parts = [np.flatnonzero(folds == f) for f in range(max(2, self.n_folds))]
        blocks = [(rows, pooled[rows], pooled[rows].T.tocsr()) for rows in parts]
        totals = np.asarray(pooled.sum(axis=0)).ravel()
        block_totals = [np.asarray(b.sum(axis=0)).ravel() for _, b, _ in blocks]

        def cv_auc(z: np.ndarray) -> np.ndarray:
            sums = [bt @ z[rows] for rows, _, bt in blocks]  # suspect sums per fold
            all_sums = sum(sums)
            aucs = []
            for (rows, block, _), fold_sums, fold_totals in zip(
                blocks, sums, block_totals, strict=True
            ):
                weights = self._nb_weights(all_sums - fold_sums, (totals - fold_totals)[:, None])
                aucs.append(_fold_aucs(np.asarray(block @ weights), z[rows]))
            return np.mean(aucs, axis=0)

        observed = float(cv_auc(observed_indicator(n_ref, n - n_ref))[0])
        null = np.concatenate(
            [
                cv_auc(z)
                for z in suspect_indicators(n_ref, n - n_ref, self.n_permutations, self.seed)
            ]
        )
        return DetectorResult(
            name=self.name,
            statistic=observed,
            p_value=p_value(observed, null),
            null=null_histogram(observed, null),
            effect_size=observed - 0.5,
            n_permutations=self.n_permutations,
            seed=self.seed,
            evidence=self._evidence(pooled, n_ref, present, texts),
            details={
                "cv_auc": observed,
                "null_auc_mean": float(null.mean()),
                "z_vs_null": standardized(observed, null),
                "n_folds": len(parts),
                "features": int(present.size),
                "n_reference": n_ref,
                "n_suspect": n - n_ref,
            },
        )

    def _nb_weights(self, suspect_sums: np.ndarray, totals: np.ndarray) -> np.ndarray:
        """Per-feature log-likelihood ratio suspect vs reference (Laplace-smoothed), per column."""
        reference_sums = totals - suspect_sums
        d = suspect_sums.shape[0]
        log_s = np.log(suspect_sums + self.alpha) - np.log(suspect_sums.sum(0) + self.alpha * d)
        log_r = np.log(reference_sums + self.alpha) - np.log(reference_sums.sum(0) + self.alpha * d)
        return log_s - log_r

    def _evidence(
        self, pooled: sp.csr_matrix, n_ref: int, present: np.ndarray, texts: list[str]
    ) -> list[dict]:
        """The n-grams the full-data classifier leans on most, with their rates in each corpus."""
        totals = np.asarray(pooled.sum(axis=0)).ravel()
        suspect = np.asarray(pooled[n_ref:].sum(axis=0)).ravel()
        weights = self._nb_weights(suspect[:, None], totals[:, None]).ravel()
        # Rank by weight x support so one-off n-grams with extreme ratios don't crowd the list.
        order = np.argsort(-np.abs(weights) * np.sqrt(totals))[: self.top_k]
        sample = self.reference_texts_[:1000] + texts[:1000]
        names = ngram_names(sample, {int(present[i]) for i in order}, self.n_features)
        return [
            {
                "ngram": names.get(int(present[i]), f"hash:{int(present[i])}"),
                "log_ratio": float(weights[i]),
                "suspect_count": int(suspect[i]),
                "reference_count": int(totals[i] - suspect[i]),
            }
            for i in order
        ]
