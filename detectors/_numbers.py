"""Numbers in completions as a sparse row x value count matrix, built with polars, no row loops."""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

#: Values 0..MAX_VALUE get their own column; larger ones share the overflow column.
MAX_VALUE = 999
N_COLUMNS = MAX_VALUE + 2


def number_lists(texts: pl.Series) -> pl.Series:
    """Each text's maximal digit runs as a list of integers (capped at MAX_VALUE + 1)."""
    return texts.str.extract_all(r"\d+").list.eval(
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
