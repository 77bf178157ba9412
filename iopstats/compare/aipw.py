"""Augmented inverse probability weighting (doubly robust) risks and risk differences.

For each level of care ``a`` the AIPW estimate of the risk if everyone had been
treated at ``a`` is the mean over clients of

    phi_a = m_a(x) + 1(A = a) (y - m_a(x)) / e_a(x)

with ``m_a`` the outcome model (logistic regression of the outcome on the level
and the covariates, predicted at level a) and ``e_a`` the generalized propensity
(multinomial logistic model of the level on the covariates, as :func:`iptw`).
The estimate is consistent when either model is right. Standard errors come from
the influence function ``phi_a - mu_a``, plus (``nuisance="estimated"``, the
default) the terms for the estimation of both models, as R
``riskRegression::ate(estimator = "AIPTW")`` with ``known.nuisance = FALSE``
(``nuisance="known"`` is ``known.nuisance = TRUE``).

Everything is computed on cells (covariate pattern, level, outcome) with counts,
so a collapsed table with ``weights="n"`` gives the row-level numbers and a
national year costs a pass over the rows plus work proportional to the patterns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

from iopstats._checks import (
    binary_outcome, check_confidence, check_frame, column_list, frequency_weights, treatment_levels,
)
from iopstats._results import Result
from iopstats.compare.balance import balance_table
from iopstats.compare.propensity import _mn_info, _mnlogit
from iopstats.exceptions import IopstatsError
from iopstats.stats.design import design_matrix

__all__ = ["aipw", "AIPWResult"]

_NUISANCE = ("estimated", "known")


@dataclass(frozen=True, repr=False)
class AIPWResult(Result):
    """Doubly robust risks by level of care.

    Attributes
    ----------
    summary : DataFrame
        One row per level (reference first): level, n, risk, se, ci_low, ci_high,
        risk_difference (reference minus level, as :func:`iptw_rates`), rd_se,
        rd_ci_low, rd_ci_high, p_value.
    balance : DataFrame
        :func:`balance_table` before and after the ATE weights ``1 / e_a(x)``.
    weights : Series
        The ATE weights of the IPW part (NaN for rows left out), aligned to ``data``.
    outcome_model : DataFrame
        Coefficients of the outcome model (term, coef).
    """

    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    weights: pd.Series = field(default_factory=pd.Series)
    outcome_model: pd.DataFrame = field(default_factory=pd.DataFrame)
    nuisance: str = "estimated"

    def plot(self, ax=None, **kw):
        """Doubly robust risk differences (reference minus level) with intervals; returns the Axes."""
        from iopstats.plots import comparison

        return comparison(self.summary, ax=ax, title=kw.pop("title", self.title), **kw)


@dataclass
class _Cells:
    p: np.ndarray  # pattern code
    a: np.ndarray  # level code
    y: np.ndarray  # 0/1
    f: np.ndarray  # count
    Xp: np.ndarray  # (P, 1 + k) intercept + covariate columns per pattern


def _logit_fit(Z: np.ndarray, y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Logistic regression on weighted 0/1 cells (statsmodels GLM, frequency weights)."""
    import statsmodels.api as sm

    fit = sm.GLM(y, Z, family=sm.families.Binomial(), freq_weights=f).fit(tol=1e-12, maxiter=100)
    return np.asarray(fit.params)


def _outcome_design(Xp: np.ndarray, p: np.ndarray, a: np.ndarray, K: int) -> np.ndarray:
    """[1, indicators of levels 1..K-1, covariates] for cells at levels ``a``."""
    ind = (a[:, None] == np.arange(1, K)[None, :]).astype(float)
    return np.column_stack([Xp[p, :1], ind, Xp[p, 1:]])


def _influence(c: _Cells, K: int, nuisance: str):
    """Risks, per-cell influence values (cells x levels) and the fitted pieces."""
    P = c.Xp.shape[0]
    Y = np.bincount(c.p * K + c.a, weights=c.f, minlength=P * K).reshape(P, K)
    ps = _mnlogit(c.Xp, Y)
    e = ps.probs  # (P, K)
    Z_obs = _outcome_design(c.Xp, c.p, c.a, K)
    beta = _logit_fit(Z_obs, c.y, c.f)
    n = c.f.sum()
    m = np.column_stack([special.expit(_outcome_design(c.Xp, c.p, np.full(len(c.p), j), K) @ beta)
                         for j in range(K)])  # per cell, (cells, K)
    e_c = e[c.p]
    own = (c.a[:, None] == np.arange(K)[None, :])
    phi = m + own * (c.y[:, None] - m) / e_c
    mu = (c.f @ phi) / n
    infl = phi - mu
    if nuisance == "estimated":
        infl = infl + _outcome_terms(c, K, beta, m, e_c, own, n) + _propensity_terms(c, K, e, m, own, n)
    return mu, infl, e, beta


def _outcome_terms(c, K, beta, m, e_c, own, n):
    """d mu_a / d beta times the influence of the outcome-model coefficients."""
    Z_obs = _outcome_design(c.Xp, c.p, c.a, K)
    m_obs = m[np.arange(len(c.a)), c.a]
    info = (Z_obs * (c.f * m_obs * (1 - m_obs))[:, None]).T @ Z_obs
    if_beta = n * np.linalg.solve(info, (Z_obs * (c.y - m_obs)[:, None]).T).T  # (cells, q)
    out = np.empty((len(c.a), K))
    for j in range(K):
        Zj = _outcome_design(c.Xp, c.p, np.full(len(c.p), j), K)
        grad = ((c.f * (1 - own[:, j] / e_c[:, j]) * m[:, j] * (1 - m[:, j]))[:, None] * Zj).sum(axis=0) / n
        out[:, j] = if_beta @ grad
    return out


def _propensity_terms(c, K, e, m, own, n):
    """d mu_a / d gamma times the influence of the multinomial propensity coefficients."""
    P, k = c.Xp.shape
    m_pat = np.bincount(c.p, weights=c.f, minlength=P)
    J = _mn_info(c.Xp, m_pat, e)
    xp = c.Xp[c.p]
    e_c = e[c.p]
    resid = own[:, 1:] - e_c[:, 1:]  # (cells, K-1)
    u = (resid[:, :, None] * xp[:, None, :]).reshape(len(c.p), (K - 1) * k)  # level-major
    if_gamma = n * np.linalg.solve(J, u.T).T
    out = np.empty((len(c.a), K))
    for a in range(K):
        r = c.f * own[:, a] * (c.y - m[:, a]) / e_c[:, a]
        blocks = [-((r * ((a == j) - e_c[:, j]))[:, None] * xp).sum(axis=0) / n for j in range(1, K)]
        out[:, a] = if_gamma @ np.concatenate(blocks)
    return out


def aipw(
    data: pd.DataFrame,
    outcome: str,
    covariates: str | Sequence[str],
    treatment: str = "level_of_care",
    reference: object = "iop",
    weights: str | None = None,
    nuisance: str = "estimated",
    confidence: float = 0.95,
) -> AIPWResult:
    """Doubly robust (AIPW) risk of a binary outcome at each level of care, and risk differences.

    Parameters
    ----------
    data : DataFrame
        One row per episode, or a collapsed table with ``weights=``. Not modified.
    outcome : str
        Binary outcome column (0/1 or bool); rows with a missing outcome are left out.
    covariates : str or list of str
        Covariates of both the outcome model (with the level of care, main effects)
        and the placement model (multinomial logistic).
    treatment, reference : str, object
        Level-of-care column and the reference level (listed first).
    weights : str, optional
        Frequency weights of a collapsed table.
    nuisance : {"estimated", "known"}
        Include the estimation of both models in the influence function
        (riskRegression's default) or treat them as known.
    confidence : float
        Level of the Wald intervals.

    Returns
    -------
    AIPWResult

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop"] * 6 + ["op"] * 6,
    ...                    "sev": ["hi", "lo", "lo", "lo", "hi", "lo", "hi", "hi", "hi", "lo", "hi", "hi"],
    ...                    "done": [0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]})
    >>> aipw(df, "done", ["sev"], treatment="loc").summary[["level", "risk", "risk_difference"]].round(4)
      level    risk  risk_difference
    0   iop  0.6042              NaN
    1    op  0.6500          -0.0458
    """
    conf = check_confidence(confidence)
    if nuisance not in _NUISANCE:
        raise IopstatsError("unknown nuisance", value=nuisance, fix=f"use one of {list(_NUISANCE)}")
    covs = column_list(covariates, "covariates")
    if not covs:
        raise IopstatsError("give at least one covariate", fix='e.g. covariates=["age_group", "sex"]')
    if not isinstance(data, pd.DataFrame):
        raise IopstatsError("data must be a pandas DataFrame", value=type(data).__name__)
    check_frame(data, [outcome, treatment, *covs] + ([weights] if weights else []))
    levels = treatment_levels(data, treatment, reference)
    order = [reference] + [lv for lv in levels if lv != reference]
    y_all = binary_outcome(data, outcome)
    f_all = frequency_weights(data, weights)
    f_all = np.ones(len(data)) if f_all is None else f_all
    if np.any(f_all != np.round(f_all)):
        raise IopstatsError("aipw() weights must be whole-number frequency weights (counts of a collapsed table)",
                            column=weights, fix="pass the count column of a collapsed table; AIPW builds its "
                                                "own inverse probability weights")
    a_all = data[treatment].map({lv: i for i, lv in enumerate(order)}).to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(y_all) & ~np.isnan(a_all) & (f_all > 0)
    design = design_matrix(data, covs, keep=keep)
    rows = design.rows
    a = a_all[rows].astype(np.int64)
    K = len(order)
    if np.bincount(a, weights=f_all[rows], minlength=K).min() <= 0:
        raise IopstatsError("every level needs rows with a known outcome and complete covariates",
                            column=treatment, fix="drop empty levels before the comparison")
    cells = _cells(design, a, y_all[rows], f_all[rows], K)
    mu, infl, e, beta = _influence(cells, K, nuisance)
    n = cells.f.sum()
    summary = _summary(order, cells, mu, infl, n, conf, weights is None)
    w = pd.Series(np.nan, index=data.index, name="aipw_ipw")
    w.iloc[rows] = 1.0 / e[design.pattern_codes, a]
    balance = balance_table(data, treatment, covs, weights=weights, reference=reference, balancing_weights=w)
    terms = ["intercept"] + [f"{treatment}[{lv}]" for lv in order[1:]] + list(design.columns)
    remarks = list(design.remarks) + [
        f"Doubly robust (AIPW) risks of {outcome}: logistic outcome model on {treatment} + "
        f"{' + '.join(covs)}, multinomial placement model on {' + '.join(covs)}; influence-function "
        "standard errors " + ("including" if nuisance == "estimated" else "ignoring")
        + " the estimation of both models. Risk differences are reference minus level.",
    ]
    if float(np.min(e)) < 0.01:
        remarks.append(f"Positivity: some propensities are below 0.01 (smallest {np.min(e):.2g}); "
                       "the IPW part rests on few comparable clients.")
    return AIPWResult(summary=summary, balance=balance, weights=w, nuisance=nuisance,
                      outcome_model=pd.DataFrame({"term": terms, "coef": beta}), remarks=tuple(remarks),
                      title=f"Doubly robust (AIPW) risk of {outcome} by {treatment}")


def _cells(design, a, y, f, K) -> _Cells:
    P = design.n_patterns
    key = (design.pattern_codes * K + a) * 2 + y.astype(np.int64)
    uk, inv = np.unique(key, return_inverse=True)
    cf = np.bincount(inv, weights=f)
    Xp = np.column_stack([np.ones(P), design.patterns]).astype(float)
    return _Cells(p=uk // (2 * K), a=(uk // 2) % K, y=(uk % 2).astype(float), f=cf, Xp=Xp)


def _summary(order, c, mu, infl, n, conf, whole) -> pd.DataFrame:
    q = stats.norm.ppf(0.5 + conf / 2.0)
    se = np.sqrt((c.f @ infl**2)) / n
    rows = []
    for j, lv in enumerate(order):
        row = {"level": lv, "n": c.f[c.a == j].sum(), "risk": mu[j], "se": se[j],
               "ci_low": mu[j] - q * se[j], "ci_high": mu[j] + q * se[j]}
        if j == 0:
            row.update(risk_difference=np.nan, rd_se=np.nan, rd_ci_low=np.nan, rd_ci_high=np.nan, p_value=np.nan)
        else:
            rd = mu[0] - mu[j]
            s = float(np.sqrt(c.f @ (infl[:, 0] - infl[:, j]) ** 2) / n)
            row.update(risk_difference=rd, rd_se=s, rd_ci_low=rd - q * s, rd_ci_high=rd + q * s,
                       p_value=float(2 * stats.norm.sf(abs(rd) / s)) if s > 0 else np.nan)
        rows.append(row)
    out = pd.DataFrame(rows)
    if whole:
        out["n"] = out["n"].astype(np.int64)
    return out
