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


def _prep(p) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(p, dtype=float).ravel()
    ok = ~np.isnan(arr)
    if np.any((arr[ok] < 0) | (arr[ok] > 1)):
        raise IopstatsError(
            "p-values must lie between 0 and 1", value=arr[ok][(arr[ok] < 0) | (arr[ok] > 1)][0]
        )
    return arr, ok


def holm(p) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03])
    array([0.03, 0.06, 0.06])
    """
    arr, ok = _prep(p)
    out = np.full(arr.shape, np.nan)
    q = arr[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="mergesort")
    adj = np.maximum.accumulate((m - np.arange(m)) * q[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate).

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03])
    array([0.03, 0.04, 0.04])
    """
    arr, ok = _prep(p)
    out = np.full(arr.shape, np.nan)
    q = arr[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="mergesort")[::-1]
    ranks = np.arange(m, 0, -1)
    adj = np.minimum.accumulate(m / ranks * q[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out
