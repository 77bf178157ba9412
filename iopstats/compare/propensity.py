"""Inverse probability of treatment weights (IPTW) for several levels of care.

:func:`iptw` fits generalized propensity scores ``P(level | covariates)`` with
a multinomial logistic model and turns them into weights ``1 / P(own level |
covariates)`` (stabilized by the level's share; ATE or ATT), with a balance
table before / after weighting and positivity checks. The weighted estimators
(:func:`iopstats.compare.adjust.iptw_rates`,
:func:`iopstats.compare.adjust_survival.iptw_kaplan_meier` and
:func:`iopstats.compare.adjust_survival.iptw_cox`) take these weights.

The multinomial model is fitted by Newton-Raphson on distinct covariate
patterns (counts per pattern and level), the exact maximum-likelihood fit of
R's ``nnet::multinom`` / statsmodels ``MNLogit`` on the rows, at a cost that
grows with the number of patterns, not rows. (A set of one-vs-reference binary
fits would be faster but is not the joint maximum-likelihood fit and stops on
sparse cells; the joint fit lets such cells drift to propensities near 0,
which the positivity remarks then report.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg

from iopstats._checks import check_frame, column_list, frequency_weights, treatment_levels
from iopstats._results import Result
from iopstats.compare.balance import balance_table
from iopstats.exceptions import IopstatsError
from iopstats.stats.design import design_matrix

__all__ = ["iptw", "IPTWResult"]

_ESTIMANDS = ("ATE", "ATT", "ATO")
_MAX_ITER = 60
_PS_RATIO = 0.1  # propensity / level share below which overlap is reported as poor
_W_HIGH = 10.0  # stabilized weight above which a weight is reported as extreme
_CHUNK = 8192


# ----------------------------------------------------------------------------
# multinomial propensity model on patterns
# ----------------------------------------------------------------------------


@dataclass
class _MNFit:
    probs: np.ndarray  # (P, K) fitted probabilities per pattern
    loglik: float
    converged: bool
    iterations: int


def _softmax(X: np.ndarray, B: np.ndarray) -> np.ndarray:
    eta = np.zeros((X.shape[0], B.shape[1] + 1))
    eta[:, 1:] = X @ B
    eta -= eta.max(axis=1, keepdims=True)
    p = np.exp(eta)
    p /= p.sum(axis=1, keepdims=True)
    return p


def _mn_loglik(Y: np.ndarray, p: np.ndarray) -> float:
    with np.errstate(divide="ignore"):
        lp = np.log(p)
    return float(np.sum(np.where(Y > 0, Y * lp, 0.0)))


def _mn_info(X: np.ndarray, m: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Fisher information of the multinomial logit, blocks (level j, level l) of X' W_jl X."""
    P, k = X.shape
    J = p.shape[1] - 1
    info = np.zeros((J * k, J * k))
    for lo in range(0, P, _CHUNK):
        sl = slice(lo, min(P, lo + _CHUNK))
        x, mm, pp = X[sl], m[sl], p[sl, 1:]
        for j in range(J):
            info[j * k:(j + 1) * k, j * k:(j + 1) * k] += (x * (mm * pp[:, j])[:, None]).T @ x
        Bm = (np.sqrt(mm)[:, None, None] * pp[:, :, None] * x[:, None, :]).reshape(x.shape[0], J * k)
        info -= Bm.T @ Bm
    return info


def _mnlogit(X: np.ndarray, Y: np.ndarray) -> _MNFit:
    """Multinomial logit (column 0 of ``Y`` = baseline) by Newton-Raphson with step halving."""
    P, k = X.shape
    K = Y.shape[1]
    m = Y.sum(axis=1)
    share = Y.sum(axis=0) / m.sum()
    B = np.zeros((k, K - 1))
    B[0] = np.log(share[1:] / share[0])  # X[:, 0] is the intercept
    p = _softmax(X, B)
    ll = _mn_loglik(Y, p)
    converged = False
    it = 0
    for it in range(1, _MAX_ITER + 1):
        score = (X.T @ (Y[:, 1:] - m[:, None] * p[:, 1:])).T.ravel()  # level-major
        info = _mn_info(X, m, p)
        try:
            step = linalg.cho_solve(linalg.cho_factor(info, check_finite=False), score, check_finite=False)
        except linalg.LinAlgError:  # collinear covariates: any solution gives the same probabilities
            step = linalg.lstsq(info, score, check_finite=False)[0]
        step = step.reshape(K - 1, k).T
        t = 1.0
        for _ in range(30):
            nB = B + t * step
            np_ = _softmax(X, nB)
            nll = _mn_loglik(Y, np_)
            if nll >= ll - 1e-12 * abs(ll):
                break
            t /= 2.0
        size = float(np.max(np.abs(t * step)))
        gain = nll - ll
        B, p, ll = nB, np_, nll
        if size < 1e-9 * (1.0 + float(np.max(np.abs(B)))) or (0 <= gain < 1e-11 * (abs(ll) + 1.0)):
            converged = size < 1e-4 or gain < 1e-11 * (abs(ll) + 1.0)
            break
    return _MNFit(probs=p, loglik=ll, converged=converged, iterations=it)


# ----------------------------------------------------------------------------
# IPTW
# ----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class IPTWResult(Result):
    """Inverse probability of treatment weights with diagnostics.

    Attributes
    ----------
    summary : DataFrame
        One row per level: ``level``, ``n`` (rows used), ``ess`` (Kish
        effective sample size of the weighted level), ``weight_min``,
        ``weight_median``, ``weight_max``, ``sum_weights``, ``ps_min`` (smallest
        propensity of a row for its own level), ``n_trimmed``.
    weights : Series
        The weight of each row of ``data`` (same index); NaN for rows left out
        (missing treatment or covariate, zero frequency weight). Multiply by
        the frequency weights when the data are a collapsed table.
    propensity : DataFrame
        Generalized propensity scores, one column per level, same index as
        ``data`` (NaN for rows left out).
    balance : DataFrame
        :func:`iopstats.compare.balance.balance_table` before and after weighting.
    treatment, reference, estimand, stabilized, trim, covariates :
        Settings the weights were computed with.
    converged : bool
        Whether the propensity model converged (it does not when a level never
        occurs in some covariate cell: see ``remarks``).
    n_dropped : int
        Rows left out for a missing treatment or covariate.
    """

    weights: pd.Series = field(default_factory=pd.Series)
    propensity: pd.DataFrame = field(default_factory=pd.DataFrame)
    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    treatment: str = "level_of_care"
    reference: object = "iop"
    estimand: str = "ATE"
    stabilized: bool = True
    trim: float | None = None
    covariates: tuple[str, ...] = ()
    converged: bool = True
    n_dropped: int = 0


def _weighted_quantile(x: np.ndarray, f: np.ndarray, q: float) -> float:
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(f[order])
    return float(x[order][min(np.searchsorted(cw, q * cw[-1], side="left"), len(x) - 1)])


def iptw(
    data: pd.DataFrame,
    treatment: str,
    covariates: str | Sequence[str],
    reference: object = "iop",
    estimand: str = "ATE",
    stabilized: bool = True,
    trim: float | None = None,
    weights: str | None = None,
) -> IPTWResult:
    """Inverse probability of treatment weights for several levels of care.

    Parameters
    ----------
    data : DataFrame
        One row per episode, or a collapsed table with ``weights``. Not modified.
    treatment : str
        Level-of-care column (two or more levels).
    covariates : str or list of str
        Covariates of the placement (propensity) model. Categorical columns
        become indicators; numeric columns enter linearly.
    reference : object
        Reference level: listed first, the comparison level of the balance
        table and, for ``estimand="ATT"``, the target population.
    estimand : {"ATE", "ATT", "ATO"}
        ``"ATE"``: weights ``1 / e_a(x)`` (``e_a`` = propensity of the row's own
        level ``a``) target the whole population. ``"ATT"``: weights
        ``e_ref(x) / e_a(x)`` (1 for the reference level) target the population
        treated at the reference level (e.g. "patients like those in IOP").
        ``"ATO"``: generalized overlap weights ``h(x) / e_a(x)`` with
        ``h(x) = 1 / sum_k 1 / e_k(x)`` (Li & Li 2019; ``e_1 e_0 / e_a`` with two
        levels) target the patients every level could plausibly take; they are
        bounded by 1, need no trimming and balance the means of the model's
        covariates exactly with two levels.
    stabilized : bool
        Multiply ATE weights by the level's share ``P(a)`` (ATT weights of other
        levels by ``P(a) / P(ref)``), so weights average about 1 within each
        level; ATO weights are divided by their mean within each level. Point estimates of weighted (Hajek) means are unchanged.
    trim : float, optional
        Truncation quantile in (0.5, 1), e.g. 0.99: weights above that quantile
        (over all rows used) are set to it (counted in ``n_trimmed``).
    weights : str, optional
        Column of frequency weights; the propensity model and the summaries
        equal those on the expanded rows.

    Returns
    -------
    IPTWResult
        ``.weights`` (Series aligned to ``data.index``), ``.propensity``,
        ``.balance`` (SMD before/after per covariate indicator and level),
        ``.summary`` (effective sample size and weight distribution by level)
        and remarks on positivity (propensities below a tenth of the level's
        share, stabilized weights above 10) and remaining imbalance (``|SMD| > 0.1``).

    Notes
    -----
    Weighted estimates are consistent when the placement model is correct and
    every level is possible for every covariate pattern (positivity). Standard
    errors that treat the weights as known (robust sandwich) are conservative
    for the ATE; use :func:`standardized_rates` as a check from the outcome
    side.

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop"] * 6 + ["op"] * 6,
    ...                    "sev": ["hi", "lo", "lo", "lo", "hi", "lo",
    ...                            "hi", "hi", "hi", "lo", "hi", "hi"]})
    >>> res = iptw(df, "loc", ["sev"])
    >>> res.propensity.round(4).iloc[:2]  # P(level | sev): hi 2 of 7 in iop, lo 4 of 5
    loc     iop      op
    0    0.2857  0.7143
    1    0.8000  0.2000
    >>> res.weights.round(3).tolist()[:3]  # P(iop) / P(iop | sev)
    [1.75, 0.625, 0.625]
    >>> res.balance[["term", "level", "smd_before"]].round(3)
          term level  smd_before
    0  sev[hi]    op       1.177
    1  sev[lo]    op      -1.177
    >>> bool(res.balance["smd_after"].abs().max() < 1e-12)
    True
    """
    covs = column_list(covariates, "covariates")
    if not covs:
        raise IopstatsError("give at least one covariate", fix='e.g. covariates=["age_group", "sex"]')
    if not isinstance(treatment, str):
        raise IopstatsError("treatment must be a column name", value=treatment)
    check_frame(data, [treatment, *covs] + ([weights] if weights else []))
    if estimand not in _ESTIMANDS:
        raise IopstatsError("unknown estimand", value=estimand, fix=f"use one of {list(_ESTIMANDS)}")
    if trim is not None:
        try:
            trim = float(trim)
        except (TypeError, ValueError):
            trim = float("nan")
        if not 0.5 < trim < 1.0:
            raise IopstatsError("trim must be a quantile between 0.5 and 1", value=trim,
                                fix="e.g. trim=0.99 truncates weights at their 99th percentile")
    f_all = frequency_weights(data, weights)
    f_all = np.ones(len(data)) if f_all is None else f_all
    levels = treatment_levels(data, treatment, reference)
    order = [reference] + [lv for lv in levels if lv != reference]
    pos = {lv: i for i, lv in enumerate(order)}
    a_all = data[treatment].map(pos).to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(a_all) & (f_all > 0)
    n_tr_missing = int(np.isnan(a_all).sum())
    if not keep.any():
        raise IopstatsError("no rows with a level of care and a positive weight", column=treatment,
                            fix="check the treatment column")
    design = design_matrix(data, covs, keep=keep)
    rows = design.rows
    a = a_all[rows].astype(np.int64)
    f = f_all[rows]
    K = len(order)
    present = np.bincount(a, weights=f, minlength=K) > 0
    if not present[0]:
        raise IopstatsError("the reference level has no rows with complete covariates", column=treatment,
                            value=reference, fix="check the covariates for missing values")
    if present.sum() < 2:
        raise IopstatsError("only one level of care has rows with complete covariates: nothing to weight",
                            column=treatment, fix="pass data with at least two levels")
    used_levels = [lv for lv, ok in zip(order, present) if ok]
    remap = np.cumsum(present) - 1
    a = remap[a]
    K = len(used_levels)
    Xp = np.column_stack([np.ones(design.n_patterns), design.patterns])
    P = design.n_patterns
    Y = np.bincount(design.pattern_codes * K + a, weights=f, minlength=P * K).reshape(P, K)
    fit = _mnlogit(Xp, Y)
    probs = fit.probs[design.pattern_codes]  # (n_used, K)
    e_own = probs[np.arange(len(a)), a]
    share = np.bincount(a, weights=f, minlength=K) / f.sum()
    if estimand == "ATE":
        w = 1.0 / e_own
        if stabilized:
            w = w * share[a]
    elif estimand == "ATO":
        w = 1.0 / (e_own * (1.0 / probs).sum(axis=1))
        if stabilized:
            mean_w = np.bincount(a, weights=f * w, minlength=K) / np.bincount(a, weights=f, minlength=K)
            w = w / mean_w[a]
    else:
        w = probs[:, 0] / e_own
        if stabilized:
            w = np.where(a == 0, 1.0, w * share[a] / share[0])
    trimmed = np.zeros(len(w), dtype=bool)
    if trim is not None:
        cap = _weighted_quantile(w, f, trim)
        trimmed = w > cap
        w = np.minimum(w, cap)
    w_series = pd.Series(np.nan, index=data.index, name="iptw")
    w_series.iloc[rows] = w
    ps = np.full((len(data), K), np.nan)
    ps[rows] = probs
    propensity = pd.DataFrame(ps, index=data.index, columns=pd.Index(used_levels, name=treatment))

    summary_rows = []
    for j, lv in enumerate(used_levels):
        s = a == j
        fj, wj = f[s], w[s]
        summary_rows.append({
            "level": lv, "n": fj.sum(), "ess": (fj @ wj) ** 2 / (fj @ (wj * wj)),
            "weight_min": wj.min(), "weight_median": _weighted_quantile(wj, fj, 0.5),
            "weight_max": wj.max(), "sum_weights": fj @ wj, "ps_min": e_own[s].min(),
            "n_trimmed": fj[trimmed[s]].sum(),
        })
    summary = pd.DataFrame(summary_rows)
    if weights is None:
        summary["n"] = summary["n"].astype(np.int64)
        summary["n_trimmed"] = summary["n_trimmed"].astype(np.int64)
    balance = balance_table(data, treatment, covs, weights=weights, reference=reference,
                            balancing_weights=w_series)

    n_dropped = n_tr_missing + (int(keep.sum()) - len(rows))
    remarks = [
        f"Generalized propensity scores from a multinomial logistic model of {treatment} on "
        f"{' + '.join(covs)} (maximum likelihood on {P} covariate patterns of {len(rows)} rows); "
        f"{'stabilized ' if stabilized else ''}{estimand} weights"
        + (f", truncated at the {trim:g} quantile" if trim is not None else "") + ".",
    ]
    remarks.extend(design.remarks)
    if n_tr_missing:
        remarks.append(f"{n_tr_missing} rows with a missing {treatment} get no weight (NaN).")
    absent = [lv for lv, ok in zip(order, present) if not ok]
    if absent:
        remarks.append(f"Levels without complete rows get no weights: {absent}.")
    if not fit.converged:
        remarks.append("The propensity model did not converge: some level never occurs in some "
                       "covariate cell, so its propensity there tends to 0. Merge sparse levels or "
                       "restrict the comparison to patients every level can take.")
    # poor overlap: a propensity below a tenth of the level's share (a would-be stabilized weight > 10)
    low = probs < _PS_RATIO * share[None, :]
    if low.any():
        per = np.array([f[low[:, j]].sum() for j in range(K)])
        worst = [f"{used_levels[j]} ({per[j]:g})" for j in np.argsort(-per)[:3] if per[j] > 0]
        remarks.append(
            f"Positivity: {f[low.any(axis=1)].sum():g} of {f.sum():g} rows have a propensity below "
            f"{_PS_RATIO:g} x the overall share for some level (poor overlap), most for "
            f"{', '.join(worst)}; weighted comparisons with those levels rest on few comparable patients."
        )
    w_stab = w if stabilized else w * (share[a] if estimand == "ATE" else 1.0)
    big = w_stab > _W_HIGH
    if big.any():
        remarks.append(
            f"Extreme weights: {f[big].sum():g} rows have a stabilized weight above {_W_HIGH:g} "
            f"(largest {w_stab.max():.3g}); consider trim=0.99 and check the effective sample sizes."
        )
    bad = balance[balance["imbalanced"]]
    if len(bad):
        worst = bad.loc[bad["smd_after"].abs().idxmax()]
        remarks.append(
            f"Imbalance remains after weighting: {len(bad)} covariate indicator-level pairs have "
            f"|SMD| > 0.1 (worst {worst['term']} in {worst['level']}: {worst['smd_after']:.3f})."
        )
    else:
        remarks.append("Balance after weighting: every |SMD| <= 0.1.")
    return IPTWResult(
        summary=summary, title=f"IPTW ({estimand}) for {treatment}", remarks=tuple(remarks),
        weights=w_series, propensity=propensity, balance=balance, treatment=treatment,
        reference=reference, estimand=estimand, stabilized=bool(stabilized), trim=trim,
        covariates=tuple(covs), converged=fit.converged, n_dropped=n_dropped,
    )


def _resolve_propensity(data, covariates, treatment, reference, propensity, estimand, stabilized, trim,
                        weights) -> IPTWResult:
    """The IPTW weights of the weighted estimators: ``propensity`` checked against ``data``, or ``iptw()``."""
    if propensity is None:
        if covariates is None:
            raise IopstatsError("give covariates= for the propensity model or propensity=iptw(...)",
                                fix='e.g. covariates=["age_group", "sex", "primary_substance"]')
        return iptw(data, treatment, covariates, reference=reference, estimand=estimand,
                    stabilized=stabilized, trim=trim, weights=weights)
    if not isinstance(propensity, IPTWResult):
        raise IopstatsError("propensity must be the result of iptw()", value=type(propensity).__name__,
                            fix="pass propensity=iptw(data, ...)")
    if propensity.treatment != treatment:
        raise IopstatsError("propensity was computed for another treatment column", column=treatment,
                            value=propensity.treatment, fix=f"pass treatment={propensity.treatment!r}")
    if not propensity.weights.index.equals(data.index):
        raise IopstatsError("propensity weights are not aligned to the data index",
                            fix="compute iptw() on the same DataFrame (same rows, same index)")
    return propensity
