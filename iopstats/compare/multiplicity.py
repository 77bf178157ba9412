"""Multiple-comparison adjustment of p-values (Holm, Benjamini-Hochberg).

Comparing IOP with several other levels of care makes several tests at once;
without adjustment the chance of at least one false "difference" grows with the
number of levels. :func:`holm` controls the family-wise error rate (any false
positive), :func:`benjamini_hochberg` the false discovery rate. Both equal R's
``p.adjust(p, method="holm")`` and ``p.adjust(p, method="BH")``; missing
p-values are left missing and do not count towards the number of tests (as R).
"""

from __future__ import annotations

import numpy as np

from iopstats.exceptions import IopstatsError

__all__ = ["holm", "benjamini_hochberg"]


def _adjust(p, step) -> np.ndarray:
    """Apply ``step(sorted_p, m) -> (order, adjusted)`` to the non-missing p-values;
    missing ones stay missing, adjusted values are capped at 1."""
    arr = np.asarray(p, dtype=float).ravel()
    ok = ~np.isnan(arr)
    bad = ok & ((arr < 0) | (arr > 1))
    if bad.any():
        raise IopstatsError("p-values must lie between 0 and 1", value=arr[bad][0],
                            fix="pass raw p-values, not percentages or statistics")
    out = np.full(arr.shape, np.nan)
    q = arr[ok]
    if q.size:
        order, adj = step(q, q.size)
        res = np.empty(q.size)
        res[order] = np.minimum(adj, 1.0)
        out[ok] = res
    return out


def holm(p) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control), as R's
    ``p.adjust(p, "holm")``.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03])
    array([0.03, 0.06, 0.06])
    """

    def step(q, m):
        order = np.argsort(q, kind="mergesort")
        return order, np.maximum.accumulate((m - np.arange(m)) * q[order])

    return _adjust(p, step)


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate), as
    R's ``p.adjust(p, "BH")``.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03])
    array([0.03, 0.04, 0.04])
    """

    def step(q, m):
        order = np.argsort(q, kind="mergesort")[::-1]
        return order, np.minimum.accumulate(m / np.arange(m, 0, -1) * q[order])

    return _adjust(p, step)
    order = np.argsort(q, kind="mergesort")[::-1]
    ranks = np.arange(m, 0, -1)
    adj = np.minimum.accumulate(m / ranks * q[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out
