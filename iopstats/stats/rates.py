"""Proportions (rates) of a binary outcome with Wilson score intervals.

A *rate* here is the share of episodes with a binary outcome (completed,
retained at 90 days, relapsed ...). Intervals are Wilson score intervals, the
interval R's ``prop.test(x, n, correct=FALSE)`` reports: unlike the Wald
interval it stays inside [0, 1] and keeps close to its nominal coverage for the
small groups and extreme rates common in program data.

Rows whose outcome is missing are excluded and counted in ``n_missing``: they
are not silently treated as "no event". ``weights=`` names a column of
frequency weights, so the same numbers come out of a collapsed count table
(:func:`iopstats.stats.counts.collapse`) as from the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from iopstats._checks import (binary_outcome, check_confidence, check_frame, column_list, frequency_weights,
                              group_order)
from iopstats.exceptions import IopstatsError

__all__ = ["wilson_interval", "rates"]


def wilson_interval(events, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score confidence interval for a proportion (vectorized).

    Parameters
    ----------
    events, n : array_like
        Number of events and number of trials (frequency-weighted sums are
        allowed). Broadcast against each other.
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    (ci_low, ci_high) : tuple of ndarray
        ``nan`` where ``n == 0``. Same as R's ``prop.test(events, n,
        correct=FALSE)$conf.int``.

    Examples
    --------
    >>> lo, hi = wilson_interval(56, 70)
    >>> print(f"{float(lo):.4f} {float(hi):.4f}")
    0.6918 0.8770
    >>> lo, hi = wilson_interval([0, 5], [0, 10])
    >>> lo
    array([       nan, 0.23659309])
    """
    c = check_confidence(confidence)
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    x, m = np.broadcast_arrays(x, m)
    bad = ~np.isfinite(x) | ~np.isfinite(m) | (m < 0) | (x < 0) | (x > m)
    if np.any(bad & ~(np.isnan(x) | np.isnan(m))):
        raise IopstatsError(
            "events must lie between 0 and n (and n must be non-negative)",
            value=f"events={x[bad][:3].tolist()}, n={m[bad][:3].tolist()}",
            fix="pass event counts no larger than the number of trials",
        )
    z = stats.norm.ppf(0.5 + c / 2.0)
    z2 = z * z
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / m
        denom = 1.0 + z2 / m
        center = (p + z2 / (2.0 * m)) / denom
        half = z * np.sqrt(p * (1.0 - p) / m + z2 / (4.0 * m * m)) / denom
        lo = np.clip(center - half, 0.0, 1.0)
        hi = np.clip(center + half, 0.0, 1.0)
    empty = ~(m > 0)
    lo = np.where(empty, np.nan, lo)
    hi = np.where(empty, np.nan, hi)
    # exact bounds at the edges (rounding can leave 1e-17 instead of 0)
    lo = np.where(x == 0, 0.0, lo)
    hi = np.where((x == m) & (m > 0), 1.0, hi)
    lo = np.where(empty, np.nan, lo)
    hi = np.where(empty, np.nan, hi)
    return lo, hi


def rates(
    data: pd.DataFrame,
    outcome: str,
    by: str | Sequence[str] | None = "level_of_care",
    subgroup: str | Sequence[str] | None = None,
    confidence: float = 0.95,
    weights: str | None = None,
) -> pd.DataFrame:
    """Rate of a binary outcome per group with Wilson score intervals.

    Parameters
    ----------
    data : DataFrame
        One row per episode (or a collapsed count table with ``weights``).
    outcome : str
        Binary column (bool, pandas ``boolean`` or 0/1). Missing values are
        excluded from ``n`` and counted in ``n_missing``.
    by : str or list of str or None
        Grouping column(s). ``None`` gives one overall row.
    subgroup : str or list of str, optional
        Further grouping columns shown after ``by`` (e.g. ``"age_group"``).
    confidence : float
        Two-sided confidence level of the Wilson interval.
    weights : str, optional
        Column of frequency weights (counts); results equal the row level.

    Returns
    -------
    DataFrame
        Grouping column(s), ``n`` (non-missing outcomes), ``events``, ``rate``,
        ``ci_low``, ``ci_high``, ``n_missing``. Groups appear in categorical
        order (sorted otherwise); only observed groups are listed. Rows whose
        grouping value is missing are left out.

    Examples
    --------
    >>> df = pd.DataFrame({"level_of_care": ["iop"] * 4 + ["outpatient"] * 3,
    ...                    "completed": [1, 1, 0, None, 0, 1, 0]})
    >>> rates(df, "completed").round(3)
      level_of_care  n  events   rate  ci_low  ci_high  n_missing
    0           iop  3       2  0.667   0.208    0.939          1
    1    outpatient  3       1  0.333   0.061    0.792          0
    """
    conf = check_confidence(confidence)
    by_cols = column_list(by, "by")
    sub_cols = column_list(subgroup, "subgroup")
    keys = by_cols + sub_cols
    check_frame(data, [outcome, *keys] + ([weights] if weights else []))
    if outcome in keys:
        raise IopstatsError("outcome cannot also be a grouping column", column=outcome)
    y = binary_outcome(data, outcome)
    w = frequency_weights(data, weights)
    if w is None:
        w = np.ones(len(y))
    miss = np.isnan(y)
    work = pd.DataFrame(
        {
            "__w": np.where(miss, 0.0, w),
            "__e": np.where(miss, 0.0, np.nan_to_num(y) * w),
            "__m": np.where(miss, w, 0.0),
        },
        index=data.index,
    )
    if not keys:
        tab = pd.DataFrame(
            {"n": [work["__w"].sum()], "events": [work["__e"].sum()], "n_missing": [work["__m"].sum()]}
        )
    else:
        for k in keys:
            work[k] = data[k]
        tab = (
            work.groupby(keys, observed=True, dropna=True, sort=False)[["__w", "__e", "__m"]]
            .sum()
            .rename(columns={"__w": "n", "__e": "events", "__m": "n_missing"})
            .reset_index()
        )
        # display order: categorical order, else sorted
        order_cols = []
        for k in keys:
            levels = group_order(data[k])
            pos = {v: i for i, v in enumerate(levels)}
            order_cols.append(tab[k].map(pos).to_numpy())
        idx = np.lexsort(order_cols[::-1]) if order_cols else np.arange(len(tab))
        tab = tab.iloc[idx].reset_index(drop=True)
    n = tab["n"].to_numpy(dtype=float)
    e = tab["events"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, e / np.where(n > 0, n, 1.0), np.nan)
    lo, hi = wilson_interval(e, n, conf)
    out = tab[keys].copy() if keys else pd.DataFrame(index=range(len(tab)))
    if weights is None:
        out["n"] = n.astype(np.int64)
        out["events"] = e.astype(np.int64)
        out["n_missing"] = tab["n_missing"].to_numpy().astype(np.int64)
    else:
        out["n"] = n
        out["events"] = e
        out["n_missing"] = tab["n_missing"].to_numpy(dtype=float)
    out["rate"] = rate
    out["ci_low"] = lo
    out["ci_high"] = hi
    return out[[*keys, "n", "events", "rate", "ci_low", "ci_high", "n_missing"]]
