"""Collapsed count tables: the one step that touches every row.

With categorical covariates every statistic in :mod:`iopstats.stats` can be
computed from a table of distinct covariate patterns x time x event with a
frequency-weight column, and gives the same numbers as the row-level fit.
Statistics accept ``weights=`` (a column of frequency weights) for that reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from iopstats.exceptions import IopstatsError

__all__ = ["collapse"]


def collapse(
    data: pd.DataFrame,
    keys: Sequence[str],
    weights: str | None = None,
    name: str = "n",
) -> pd.DataFrame:
    """Collapse rows to distinct ``keys`` patterns with a count (or weight sum).

    Rows with a missing key are kept as their own pattern (``dropna=False``);
    statistics decide what to do with them. Categorical keys keep their dtype
    and only observed combinations are returned, sorted by ``keys``.

    Parameters
    ----------
    data : DataFrame or dask.dataframe.DataFrame
        Row-level data. A Dask frame (from
        :func:`iopstats.io.parquet.read_episodes_parquet` with ``engine="dask"``)
        is collapsed on the cluster; only the collapsed table is returned.
    keys : sequence of str
        Columns defining a pattern (covariates, time, event, group).
    weights : str, optional
        Existing frequency-weight column to sum instead of counting rows.
    name : str
        Name of the count column in the result.

    Examples
    --------
    >>> df = pd.DataFrame({"g": ["a", "a", "b"], "t": [1, 1, 2], "e": [1, 1, 0]})
    >>> collapse(df, ["g", "t", "e"])
       g  t  e  n
    0  a  1  1  2
    1  b  2  0  1
    """
    keys = list(keys)
    missing = [k for k in keys + ([weights] if weights else []) if k not in data.columns]
    if missing:
        raise IopstatsError(
            "columns not found for collapsing",
            column=missing[0],
            fix=f"use columns present in the data: {list(data.columns)[:12]}",
        )
    if name in keys:
        raise IopstatsError("count column name clashes with a key", column=name, fix="pass another name=")
    if _is_dask(data):
        return _collapse_dask(data, keys, weights, name)
    g = data.groupby(keys, observed=True, dropna=False, sort=True)
    out = g[weights].sum() if weights else g.size()
    return _restore_key_dtypes(out.rename(name).reset_index(), data, keys)


def _restore_key_dtypes(out: pd.DataFrame, like: pd.DataFrame, keys) -> pd.DataFrame:
    """Give the key columns the input's dtypes (a multi-key groupby with
    ``dropna=False`` can return ordered categoricals as unordered)."""
    for k in keys:
        want = like[k].dtype
        if out[k].dtype != want:
            out[k] = out[k].astype(want)
    return out


def _is_dask(data) -> bool:
    return type(data).__module__.startswith("dask")


def _collapse_dask(ddf, keys, weights, name) -> pd.DataFrame:
    """The same table computed by Dask: partial counts per partition, then summed.

    Only the small collapsed table is brought into memory. Integer counts and
    sums are exact, so the result equals the pandas path to the last digit.
    """
    cols = keys + ([weights] if weights else [])
    sub = ddf[cols]
    g = sub.groupby(keys, observed=True, dropna=False)
    out = (g[weights].sum(split_out=1) if weights else g.size(split_out=1)).compute()
    out = out.sort_index().rename(name).reset_index()
    out = _restore_key_dtypes(out, ddf._meta, keys)
    if not weights:
        out[name] = out[name].astype("int64")
    return out
