"""Power and sample size for comparing two proportions.

Uses the normal approximation of the uncorrected Pearson chi-square /
two-proportion z-test (pooled variance under H0, unpooled under H1), the
method of R's ``power.prop.test`` (with its default ``strict = FALSE``: for a
two-sided test the far tail is ignored). With equal group sizes the numbers are
R's; unequal sizes use the same formula with group sizes ``n1`` and ``n2``::

    power = Phi((|p1 - p2| - z_{1-a} * sqrt(pbar*(1-pbar)*(1/n1 + 1/n2)))
                / sqrt(p1*(1-p1)/n1 + p2*(1-p2)/n2)),
    pbar = (n1*p1 + n2*p2) / (n1 + n2),  a = alpha/2 (two-sided) or alpha.

For ``alternative="greater"`` the alternative is ``p1 > p2`` (``"less"``:
``p1 < p2``) and the signed difference is used, so a difference in the wrong
direction gives power below ``alpha``.
"""

from __future__ import annotations

import math

from scipy import optimize, stats

from iopstats.exceptions import IopstatsError

__all__ = ["power_two_proportions", "sample_size_two_proportions"]

_ALTERNATIVES = ("two-sided", "greater", "less")


def _check_p(name: str, p) -> float:
    try:
        v = float(p)
    except (TypeError, ValueError):
        v = float("nan")
    if not 0.0 < v < 1.0:
        raise IopstatsError(f"{name} must be a proportion strictly between 0 and 1", value=p)
    return v


def _check_alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        a = float("nan")
    if not 0.0 < a < 1.0:
        raise IopstatsError("alpha must lie strictly between 0 and 1", value=alpha, fix="e.g. alpha=0.05")
    return a


def _check_alternative(alternative: str) -> str:
    if alternative not in _ALTERNATIVES:
        raise IopstatsError(
            "unknown alternative", value=alternative, fix=f"use one of {', '.join(_ALTERNATIVES)}"
        )
    return alternative


def _power(p1: float, p2: float, n1: float, n2: float, alpha: float, alternative: str) -> float:
    if alternative == "two-sided":
        d = abs(p1 - p2)
        za = stats.norm.isf(alpha / 2.0)
    else:
        d = (p1 - p2) if alternative == "greater" else (p2 - p1)
        za = stats.norm.isf(alpha)
    pbar = (n1 * p1 + n2 * p2) / (n1 + n2)
    s0 = math.sqrt(pbar * (1.0 - pbar) * (1.0 / n1 + 1.0 / n2))
    s1 = math.sqrt(p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2)
    return float(stats.norm.cdf((d - za * s0) / s1))


def power_two_proportions(
    p1: float,
    p2: float,
    n1: float,
    n2: float | None = None,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> float:
    """Power of the two-proportion test for true rates ``p1`` and ``p2``.

    Parameters
    ----------
    p1, p2 : float
        True proportions in group 1 (e.g. IOP) and group 2.
    n1 : float
        Size of group 1.
    n2 : float, optional
        Size of group 2 (default ``n1``).
    alpha : float
        Significance level.
    alternative : {"two-sided", "greater", "less"}
        ``"greater"``: the alternative is ``p1 > p2``.

    Returns
    -------
    float
        Power; equals ``power.prop.test(n, p1, p2, sig.level)$power`` in R
        when ``n1 == n2``.

    Examples
    --------
    >>> round(power_two_proportions(0.5, 0.75, 50), 6)
    0.740166
    """
    p1 = _check_p("p1", p1)
    p2 = _check_p("p2", p2)
    alpha = _check_alpha(alpha)
    alternative = _check_alternative(alternative)
    n2 = n1 if n2 is None else n2
    for name, v in (("n1", n1), ("n2", n2)):
        try:
            ok = float(v) > 0 and math.isfinite(float(v))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise IopstatsError(f"{name} must be a positive number", value=v)
    return _power(p1, p2, float(n1), float(n2), alpha, alternative)


def sample_size_two_proportions(
    p1: float,
    p2: float,
    power: float = 0.8,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> dict:
    """Group sizes needed to detect ``p1`` vs ``p2`` with the given power.

    Parameters
    ----------
    p1, p2 : float
        Anticipated proportions in group 1 and group 2.
    power : float
        Target power.
    alpha : float
        Significance level.
    ratio : float
        ``n2 / n1`` (e.g. 2.0 when the comparison group is twice the size).
    alternative : {"two-sided", "greater", "less"}

    Returns
    -------
    dict
        ``n1``, ``n2`` (rounded up to whole people), ``total``, the unrounded
        ``n1_exact`` and ``n2_exact`` (R's ``power.prop.test(...)$n`` when
        ``ratio == 1``) and ``power`` achieved with the rounded sizes.

    Examples
    --------
    >>> res = sample_size_two_proportions(0.5, 0.75, power=0.9)
    >>> res["n1"], res["n2"], res["total"], round(res["n1_exact"], 4)
    (77, 77, 154, 76.7069)
    """
    p1 = _check_p("p1", p1)
    p2 = _check_p("p2", p2)
    alpha = _check_alpha(alpha)
    alternative = _check_alternative(alternative)
    try:
        target = float(power)
    except (TypeError, ValueError):
        target = float("nan")
    if not alpha < target < 1.0:
        raise IopstatsError("power must lie between alpha and 1", value=power, fix="e.g. power=0.8")
    try:
        r = float(ratio)
    except (TypeError, ValueError):
        r = float("nan")
    if not (r > 0 and math.isfinite(r)):
        raise IopstatsError("ratio (n2 / n1) must be a positive number", value=ratio)
    if p1 == p2:
        raise IopstatsError("p1 and p2 are equal: no sample size detects a zero difference", value=p1)
    if alternative == "greater" and p1 <= p2 or alternative == "less" and p1 >= p2:
        raise IopstatsError(
            "the anticipated difference is in the opposite direction of the alternative",
            value=f"p1={p1}, p2={p2}, alternative={alternative}",
            fix="swap p1 and p2 or change alternative",
        )

    def f(n1: float) -> float:
        return _power(p1, p2, n1, r * n1, alpha, alternative) - target

    hi = 2.0
    while f(hi) < 0:
        hi *= 2.0
        if hi > 1e12:
            raise IopstatsError("no feasible sample size found", value=f"p1={p1}, p2={p2}")
    lo = 1e-6
    n1 = optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=500)
    n2 = r * n1
    c1 = int(math.ceil(n1 - 1e-9))
    c2 = int(math.ceil(n2 - 1e-9))
    return {
        "n1": c1,
        "n2": c2,
        "total": c1 + c2,
        "n1_exact": float(n1),
        "n2_exact": float(n2),
        "power": _power(p1, p2, float(c1), float(c2), alpha, alternative),
    }

