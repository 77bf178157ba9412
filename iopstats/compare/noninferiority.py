"""Two-proportion building blocks: Newcombe's risk-difference interval and the Farrington-Manning test.

Both are vectorized over comparisons and used by
:func:`iopstats.compare.rates.compare_rates` (which also re-exports them):

* :func:`newcombe_interval`: Newcombe's hybrid score interval (method 10 of
  Newcombe 1998, no continuity correction) for ``p1 - p2``, built from the two
  Wilson intervals.
* :func:`farrington_manning`: the Farrington-Manning score statistic for
  H0: ``p1 - p2 = delta``, with the restricted maximum-likelihood variance at
  the null boundary: the non-inferiority and equivalence (TOST) test.
"""

from __future__ import annotations

import numpy as np

from iopstats.stats.rates import wilson_interval

__all__ = ["newcombe_interval", "farrington_manning"]


def newcombe_interval(x1, n1, x2, n2, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe hybrid score interval (method 10) for ``p1 - p2``.

    Examples
    --------
    >>> lo, hi = newcombe_interval(56, 70, 48, 80)
    >>> print(f"{float(lo):.4f} {float(hi):.4f}")
    0.0524 0.3339
    """
    x1, n1, x2, n2 = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    lo = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return lo, hi


def _restricted_mle(x1, n1, x2, n2, delta):
    """Farrington-Manning MLE of (p1, p2) under ``p1 - p2 = delta``."""
    p1h, p2h = x1 / n1, x2 / n2
    theta = n2 / n1
    a = 1.0 + theta
    b = -(1.0 + theta + p1h + theta * p2h + delta * (theta + 2.0))
    c = delta**2 + delta * (2.0 * p1h + theta + 1.0) + p1h + theta * p2h
    d = -p1h * delta * (1.0 + delta)
    v = b**3 / (3.0 * a) ** 3 - b * c / (6.0 * a * a) + d / (2.0 * a)
    u = np.sign(v) * np.sqrt(np.maximum(b * b / (3.0 * a) ** 2 - c / (3.0 * a), 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(u == 0, 0.0, v / np.where(u == 0, 1.0, u**3))
    w = (np.pi + np.arccos(np.clip(ratio, -1.0, 1.0))) / 3.0
    p1t = 2.0 * u * np.cos(w) - b / (3.0 * a)
    p1t = np.clip(p1t, np.maximum(0.0, delta), 1.0 + np.minimum(0.0, delta))
    p2t = p1t - delta
    return p1t, p2t


def farrington_manning(x1, n1, x2, n2, delta) -> np.ndarray:
    """Farrington-Manning score statistic for H0: ``p1 - p2 = delta``.

    Large values favour ``p1 - p2 > delta``. With ``delta = 0`` it is the
    signed square root of the uncorrected Pearson chi-square.

    Examples
    --------
    >>> z = farrington_manning(56, 70, 48, 80, 0.0)
    >>> round(float(z) ** 2, 4)  # prop.test(c(56, 48), c(70, 80), correct=FALSE)
    7.0234
    """
    x1, n1, x2, n2 = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    delta = np.asarray(delta, dtype=float)
    p1t, p2t = _restricted_mle(x1, n1, x2, n2, delta)
    se = np.sqrt(p1t * (1.0 - p1t) / n1 + p2t * (1.0 - p2t) / n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x1 / n1 - x2 / n2 - delta) / se
