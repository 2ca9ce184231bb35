"""Numbers in completions: a row x value count matrix and value shares, built with polars."""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

#: Values 0..MAX_VALUE get their own column; larger ones share the overflow column.
MAX_VALUE = 999
N_COLUMNS = MAX_VALUE + 2


def number_lists(texts: pl.Series) -> pl.Series:
    """Each text's maximal digit runs as a list of integers (capped at MAX_VALUE + 1)."""
    # ASCII digits only: polars' \d also matches other scripts' digits ("٣", "７"), which the
    # integer cast then refuses; they are not numbers of the lists we count.
    return texts.str.extract_all(r"[0-9]+").list.eval(
        pl.element().str.slice(0, 6).cast(pl.Int64).clip(0, MAX_VALUE + 1)
    )


def number_counts(texts: pl.Series) -> sp.csr_matrix:
    """Row i, column v: how many times value v appears in text i (float32, CSR)."""
    lists = number_lists(texts)
    exploded = (
        pl.DataFrame({"value": lists}).with_row_index("row").explode("value").drop_nulls("value")
    )
    rows = exploded["row"].to_numpy()
    cols = exploded["value"].to_numpy()
    data = np.ones(rows.size, dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(texts.len(), N_COLUMNS))
    matrix.sum_duplicates()
    return matrix


def number_frequencies(texts: pl.Series, *, smoothing: float = 0.5) -> np.ndarray:
    """The share of each value 0..MAX_VALUE among all numbers in `texts`, add-`smoothing`.

    Smoothing keeps a value the texts never use at a small non-zero share, so ratios against
    these frequencies stay finite. Values above MAX_VALUE are left out.
    """
    counts = np.asarray(number_counts(texts).sum(axis=0)).ravel()[: MAX_VALUE + 1]
    counts = counts.astype(float) + smoothing
    with np.errstate(invalid="ignore", divide="ignore"):  # no numbers at all: nan shares
        return counts / counts.sum()
