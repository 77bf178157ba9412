"""Shrunken (empirical-Bayes) unit rates: :func:`shrunken_rates`.

A normal-normal random-effects model on the logit scale, as R
``metafor::rma(measure = "PLO", xi, ni)``: unit ``j`` has observed log-odds
``y_j = log(x_j / (n_j - x_j))`` with within-unit variance
``v_j = 1 / x_j + 1 / (n_j - x_j)`` (0.5 added to both cells of a unit with
0 or ``n_j`` events, metafor's ``add = 1/2, to = "only0"``), and
``y_j ~ N(theta_j, v_j)``, ``theta_j ~ N(mu, tau2)``.

* ``tau2``: REML (Fisher scoring on the restricted likelihood, metafor's
  default) or DerSimonian-Laird ``max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))``.
* ``mu = sum w y / sum w`` with ``w = 1 / (v + tau2)``, ``var(mu) = 1 / sum w``.
* Empirical-Bayes estimate (metafor ``blup``): ``l_j = tau2 / (tau2 + v_j)``,
  ``theta_j = l_j y_j + (1 - l_j) mu``, ``var = l_j v_j + (1 - l_j)^2 var(mu)``;
  the interval ``theta_j +/- z se`` is back-transformed to a rate.
* Rank intervals: ranks (1 = highest rate) of ``draws`` joint draws of the
  units' true logits from independent normals with the empirical-Bayes means
  and variances (seeded), and the expected rank in closed form
  ``1 + sum_{i != j} Phi((theta_i - theta_j) / sqrt(se_i^2 + se_j^2))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from iopstats._checks import check_confidence
from iopstats._results import Result
from iopstats.compare._units import unit_counts
from iopstats.exceptions import IopstatsError

__all__ = ["shrunken_rates", "ShrunkenRatesResult", "random_effects_logit"]

_METHODS = ("REML", "DL")


@dataclass(frozen=True, repr=False)
class ShrunkenRatesResult(Result):
    """Empirical-Bayes rates per unit.

    Attributes
    ----------
    summary : DataFrame
        ``unit``, ``events``, ``n``, ``rate`` (raw), ``yi``, ``vi`` (logit and
        its variance), ``shrinkage`` (``1 - l_j``, the weight on the mean),
        ``blup``, ``blup_se`` (logit scale), ``shrunken_rate``, ``ci_low``,
        ``ci_high`` (rate scale), ``expected_rank``, ``rank_low``,
        ``rank_high``.
    method : str
        ``"REML"`` or ``"DL"``.
    tau2, mu, mu_se : float
        Between-unit variance and mean (logit scale) with its standard error.
    Q : float
        Cochran's heterogeneity statistic.
    """

    method: str = "REML"
    tau2: float = float("nan")
    mu: float = float("nan")
    mu_se: float = float("nan")
    Q: float = float("nan")
    confidence: float = 0.95

    @property
    def mean_rate(self) -> float:
        """Back-transformed mean logit (the rate of a typical unit)."""
        return float(special.expit(self.mu))

    def plot(self, ax=None, *, title: str | None = None):
        """Caterpillar plot: shrunken rates with intervals (raw rates as open dots)."""
        from iopstats.compare._unit_plots import caterpillar_axes

        return caterpillar_axes(self, ax=ax, title=title)


def _logits(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """metafor ``escalc("PLO")`` with ``add = 1/2, to = "only0"``."""
    zero = (x == 0) | (x == n)
    xa = np.where(zero, x + 0.5, x)
    na = np.where(zero, n + 1.0, n)
    return np.log(xa / (na - xa)), 1.0 / xa + 1.0 / (na - xa)


def _dl(y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / v
    ybar = (w * y).sum() / w.sum()
    Q = (w * (y - ybar) ** 2).sum()
    return max(0.0, (Q - (len(y) - 1)) / (w.sum() - (w**2).sum() / w.sum()))


def _reml_loglik(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    w = 1.0 / (v + tau2)
    mu = (w * y).sum() / w.sum()
    return float(-0.5 * (np.log(v + tau2).sum() + np.log(w.sum()) + (w * (y - mu) ** 2).sum()))


def _reml(y: np.ndarray, v: np.ndarray, tol: float = 1e-10, max_iter: int = 1000) -> float:
    """REML tau2 by metafor's Fisher scoring: Hedges start ``max(0, var(y) - mean(v))``,
    steps ``(y'PPy - tr P) / tr(PP)`` halved to stay >= 0, stop when the change is <= ``tol``
    (metafor's ``threshold``, 1e-5 by default there), then metafor's check that the
    restricted likelihood is not higher at 0."""
    tau2 = max(0.0, float(np.var(y, ddof=1)) - float(np.mean(v)))
    change = np.inf
    it = 0
    while change > tol:
        it += 1
        if it > max_iter:
            raise IopstatsError("REML did not converge for the between-unit variance",
                                fix="use method='DL' or check units with extreme rates")
        old = tau2
        w = 1.0 / (v + tau2)
        sw = w.sum()
        Py = w * (y - (w * y).sum() / sw)
        trP = sw - (w**2).sum() / sw
        trPP = (w**2).sum() - 2 * (w**3).sum() / sw + ((w**2).sum() / sw) ** 2  # P = W - w w' / sum w
        adj = float(((Py**2).sum() - trP) / trPP)
        while tau2 + adj < 0:
            adj /= 2
        tau2 = tau2 + adj
        change = abs(old - tau2)
    if tau2 > tol and _reml_loglik(y, v, 0.0) - _reml_loglik(y, v, tau2) > np.finfo(float).eps ** 0.25:
        tau2 = 0.0
    return float(tau2)


def random_effects_logit(y, v, method: str = "REML", tol: float = 1e-10) -> dict:
    """Random-effects fit of logits ``y`` with variances ``v``: tau2, mu, se, Q and BLUPs.

    Examples
    --------
    >>> fit = random_effects_logit([0.0, 1.0], [0.5, 0.5], method="DL")
    >>> round(fit["tau2"], 6), round(fit["mu"], 6)
    (0.0, 0.5)
    """
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if method not in _METHODS:
        raise IopstatsError("method must be 'REML' or 'DL'", value=method, fix="pass method='REML' (metafor's default)")
    tau2 = _reml(y, v, tol) if method == "REML" else _dl(y, v)
    w = 1.0 / (v + tau2)
    mu = float((w * y).sum() / w.sum())
    vb = 1.0 / w.sum()
    w0 = 1.0 / v
    Q = float((w0 * (y - (w0 * y).sum() / w0.sum()) ** 2).sum())
    lam = tau2 / (tau2 + v)
    pred = lam * y + (1 - lam) * mu
    vpred = lam * v + (1 - lam) ** 2 * vb
    return {"tau2": float(tau2), "mu": mu, "mu_se": float(np.sqrt(vb)), "Q": Q, "lambda": lam, "blup": pred,
            "blup_se": np.sqrt(vpred)}


def _ranks(theta: np.ndarray, se: np.ndarray, conf: float, draws: int, seed: int):
    """Expected rank (closed form) and rank interval by seeded simulation (1 = highest)."""
    d = theta[:, None] - theta[None, :]
    s = np.sqrt(se[:, None] ** 2 + se[None, :] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_above = stats.norm.cdf(-d / np.where(s > 0, s, np.inf))  # P(theta_i' > theta_j) for column i'
    np.fill_diagonal(p_above, 0.0)
    expected = 1.0 + p_above.sum(axis=1)
    rng = np.random.default_rng(seed)
    k = len(theta)
    low = np.empty(k)
    high = np.empty(k)
    a = (1 - conf) / 2
    ranks = np.empty((draws, k), dtype=np.int32)
    for start in range(0, draws, 500):  # chunked: memory stays k x 500
        stop = min(draws, start + 500)
        sim = theta + se * rng.standard_normal((stop - start, k))
        order = np.argsort(-sim, axis=1)
        r = np.empty_like(order)
        np.put_along_axis(r, order, np.arange(1, k + 1)[None, :], axis=1)
        ranks[start:stop] = r
    low[:] = np.quantile(ranks, a, axis=0, method="lower")
    high[:] = np.quantile(ranks, 1 - a, axis=0, method="higher")
    return expected, low, high


def shrunken_rates(
    data: pd.DataFrame,
    unit: str,
    outcome: str,
    *,
    weights: str | None = None,
    method: str = "REML",
    confidence: float = 0.95,
    draws: int = 2000,
    seed: int = 0,
    tol: float = 1e-10,
) -> ShrunkenRatesResult:
    """Empirical-Bayes (shrunken) rates per unit with rank intervals.

    Parameters
    ----------
    data : DataFrame
        Episode rows or a collapsed count table (``weights="n"``). Not modified.
    unit, outcome : str
        Unit column and binary outcome.
    weights : str, optional
        Frequency weights of a collapsed table.
    method : {"REML", "DL"}
        Estimator of the between-unit variance (metafor's ``method=``).
    confidence : float
        Level of the intervals (rates and ranks).
    draws, seed : int
        Simulation draws of the rank intervals and their seed.
    tol : float
        REML stops when tau2 changes by less than ``tol``. metafor's default
        ``threshold`` is 1e-5: ``tol=1e-5`` reproduces ``rma()`` with default
        control to 1e-10; the default 1e-10 gives the converged root (metafor
        with ``control=list(threshold=1e-12)`` to 1e-9; its default fit differs
        by up to 5e-6 on these data).

    Returns
    -------
    ShrunkenRatesResult

    Examples
    --------
    >>> df = pd.DataFrame({"site": list("aabbbbcccc") * 10, "y": [1, 0, 1, 1, 1, 0, 0, 0, 0, 1] * 10})
    >>> res = shrunken_rates(df, "site", "y", method="DL")
    >>> res.summary[["unit", "n", "rate", "shrunken_rate"]].round(3)
      unit     n  rate  shrunken_rate
    0    a  20.0  0.50          0.500
    1    b  40.0  0.75          0.729
    2    c  40.0  0.25          0.271
    """
    conf = check_confidence(confidence)
    if not isinstance(draws, (int, np.integer)) or draws < 100:
        raise IopstatsError("draws must be an integer of at least 100", value=draws, fix="e.g. draws=2000")
    tab, dropped = unit_counts(data, unit, outcome, weights)
    if len(tab) < 2:
        raise IopstatsError("shrinkage needs at least two units", column=unit, fix="compare two or more units")
    x, n = tab["events"].to_numpy(float), tab["trials"].to_numpy(float)
    y, v = _logits(x, n)
    if not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise IopstatsError("tol must be a small positive number", value=tol, fix="e.g. tol=1e-10")
    fit = random_effects_logit(y, v, method, tol)
    z = stats.norm.ppf(0.5 + conf / 2)
    b, se = fit["blup"], fit["blup_se"]
    exp_rank, r_lo, r_hi = _ranks(b, se, conf, int(draws), seed)
    summary = pd.DataFrame({
        "unit": tab["unit"].to_numpy(), "events": x, "n": n, "rate": x / n, "yi": y, "vi": v,
        "shrinkage": 1 - fit["lambda"], "blup": b, "blup_se": se, "shrunken_rate": special.expit(b),
        "ci_low": special.expit(b - z * se), "ci_high": special.expit(b + z * se),
        "expected_rank": exp_rank, "rank_low": r_lo, "rank_high": r_hi,
    })
    remarks = [
        f"Normal-normal random-effects model on the logit scale (as metafor rma, measure 'PLO', method "
        f"'{method}'): tau2 = {fit['tau2']:.4g}, typical rate {special.expit(fit['mu']):.1%}.",
        "Each unit's rate is pulled toward the typical rate in proportion to its noise: small units move most. "
        f"Intervals are {conf:.0%} empirical-Bayes intervals (metafor blup).",
        f"Ranks: 1 = highest rate; rank intervals from {draws} seeded draws of the units' true rates. "
        "Wide rank intervals mean the ranking is not informative.",
    ]
    if dropped:
        remarks.append(f"{dropped} rows left out for a missing unit or outcome.")
    return ShrunkenRatesResult(summary=summary, title=f"Shrunken {outcome.replace('_', ' ')} rates",
                               remarks=tuple(remarks), method=method, tau2=fit["tau2"], mu=fit["mu"],
                               mu_se=fit["mu_se"], Q=fit["Q"], confidence=conf)
