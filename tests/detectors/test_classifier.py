"""Classifier two-sample test: naive Bayes as in scikit-learn, exact refit permutations."""

from __future__ import annotations

import numpy as np
from sklearn.naive_bayes import MultinomialNB

from detectors.classifier import Classifier, ngram_counts


def test_nb_weights_match_sklearn_multinomial_nb() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(60, 12)).astype(float)
    y = np.r_[np.zeros(30), np.ones(30)]
    nb = MultinomialNB(alpha=1.0).fit(x, y)
    expected = nb.feature_log_prob_[1] - nb.feature_log_prob_[0]
    suspect_sums = x[30:].sum(axis=0)[:, None]
    got = Classifier(alpha=1.0)._nb_weights(suspect_sums, x.sum(axis=0)[:, None]).ravel()
    assert np.allclose(got, expected)


def test_evidence_shows_readable_ngrams(reference, shifted_suspect) -> None:
    result = Classifier(n_permutations=19).fit(reference).test(shifted_suspect)
    assert result.statistic > 0.55
    grams = " ".join(e["ngram"] for e in result.evidence)
    assert "77" in grams
    assert not any(e["ngram"].startswith("hash:") for e in result.evidence)


def test_ngram_counts_cover_tokens_and_characters() -> None:
    counts = ngram_counts(["12, 7"], n_features=2**10)
    assert counts.shape == (1, 2 * 2**10) and counts.sum() > 5
