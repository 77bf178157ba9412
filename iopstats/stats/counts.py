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
    data : DataFrame
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
    g = data.groupby(keys, observed=True, dropna=False, sort=True)
    out = g[weights].sum() if weights else g.size()
    return out.rename(name).reset_index()
