"""Text features for code and chain-of-thought: does the suspect write programs or reasoning
differently?

A trait can leak into code through how it is written rather than what it computes (longer or
more telling names, more comments or strings, a style of loop) and into reasoning through its
shape (more steps, longer sentences, more arithmetic shown). Each row becomes a small vector of
token, identifier and step statistics (polars expressions, no row loops); the test is
`format-features`' own: Hotelling's T^2 under the pooled covariance, after regressing out what
the prompt dictates, with a row-permutation p-value. Features that are constant in both corpora
(the step counts of a code corpus) drop out on their own.
"""

from __future__ import annotations

import polars as pl

from detectors.format_features import FormatFeatures
from detectors.registry import register

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_KEYWORDS = ("def", "return", "for", "while", "if", "else", "lambda", "in")


def text_features(frame: pl.DataFrame) -> pl.DataFrame:
    """One row of float features per corpus row: tokens and identifiers, steps and answers."""
    c = pl.col("completion")
    names = c.str.extract_all(_IDENTIFIER)
    lengths = names.list.eval(pl.element().str.len_chars())
    reasoning = c.str.split("<answer>").list.first()
    answer = c.str.extract(r"(?s)<answer>(.*?)</answer>", 1)
    features: dict[str, pl.Expr] = {
        "chars": c.str.len_chars(),
        "lines": c.str.count_matches("\n") + 1,
        "words": c.str.count_matches(r"\S+"),
        "identifiers": names.list.len(),
        "distinct_identifier_share": (names.list.n_unique() / names.list.len()).fill_nan(0.0),
        "mean_identifier_length": lengths.list.mean(),
        "long_identifier_share": lengths.list.eval(
            (pl.element() >= 6).cast(pl.Float64)
        ).list.mean(),
        "snake_case": c.str.count_matches(r"\b[a-z0-9]+_[A-Za-z0-9_]+\b"),
        "camel_case": c.str.count_matches(r"\b[a-z]+[A-Z][A-Za-z0-9]*\b"),
        "comment_lines": c.str.count_matches(r"(?m)^\s*#"),
        "string_literals": c.str.count_matches(r"\"[^\"\n]*\"|'[^'\n]*'"),
        "max_indent": c.str.extract_all(r"(?m)^ +")
        .list.eval(pl.element().str.len_chars())
        .list.max(),
        "numbers": c.str.count_matches(r"\d+"),
        "digit_share": c.str.count_matches(r"\d") / c.str.len_chars(),
        "operators": c.str.count_matches(r"[-+*/%=<>]"),
        "steps": reasoning.str.count_matches(r"(?m)^\s*\S"),
        "sentences": reasoning.str.count_matches(r"[.!?](?:\s|$)"),
        "equations": reasoning.str.count_matches(r"="),
        "reasoning_chars": reasoning.str.len_chars(),
        "has_answer": answer.is_not_null(),
        "answer_chars": answer.str.len_chars(),
    }
    for keyword in _KEYWORDS:
        features[f"keyword_{keyword}"] = c.str.count_matches(rf"\b{keyword}\b")
    return frame.select(
        **{k: v.cast(pl.Float64).fill_null(0.0).fill_nan(0.0) for k, v in features.items()}
    )


@register
class TextFeatures(FormatFeatures):
    """Hotelling's T^2 over per-row token, identifier and reasoning-step features."""

    name = "text-features"
    domains = ("code", "cot")
    featurize = staticmethod(text_features)
