"""IPTW-weighted survival: adjusted Kaplan-Meier curves and marginal Cox hazard ratios.

Both estimators weight each row by its inverse probability of treatment
weight (:func:`iopstats.compare.propensity.iptw`) and report robust standard
errors that treat the weights as known, as R's ``survfit`` / ``coxph`` do with
case weights. Both are also importable from :mod:`iopstats.compare.adjust`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from iopstats._checks import check_frame, frequency_weights
from iopstats.compare.propensity import IPTWResult, _resolve_propensity
from iopstats.exceptions import IopstatsError
from iopstats.stats._surv_utils import prepare
from iopstats.stats.kaplan_meier import KaplanMeierResult, _confint, _r_median, kaplan_meier

__all__ = ["iptw_kaplan_meier", "iptw_cox"]


_W_COL = "__iptw_weight"  # column of the working copy holding the weights


def _weights_for(data, columns, weights, covariates, treatment, reference, propensity, estimand, stabilized,
                 trim, extra=()) -> IPTWResult:
    """Check ``data`` holds ``columns`` (+ ``weights``, ``extra``) and return its IPTW weights."""
    if not isinstance(data, pd.DataFrame):
        raise IopstatsError("data must be a pandas DataFrame", value=type(data).__name__)
    check_frame(data, list(columns) + ([weights] if weights else []) + list(extra))
    return _resolve_propensity(data, covariates, treatment, reference, propensity, estimand, stabilized,
                               trim, weights)


def _weighted_frame(data: pd.DataFrame, columns: list[str], treatment: str, prop: IPTWResult,
                    f: np.ndarray | None = None) -> pd.DataFrame:
    """Copy of ``data[columns]`` with the IPT weight (times ``f``; 0 without one) in :data:`_W_COL`.

    The treatment becomes a categorical with the propensity model's levels
    (reference first), so the weighted estimators use the reference as baseline.
    """
    w = prop.weights.to_numpy(dtype=float)
    work = data[columns].copy()
    work[_W_COL] = np.where(np.isnan(w), 0.0, w if f is None else w * f)
    work[treatment] = pd.Categorical(work[treatment], categories=list(prop.propensity.columns))
    return work


def _propensity_warnings(prop: IPTWResult) -> list[str]:
    """The positivity, extreme-weight and imbalance remarks of ``prop``, for the weighted result."""
    return [r for r in prop.remarks if r.startswith(("Positivity", "Extreme", "Imbalance"))]


def _km_robust(time, status, group, w, f, n_groups):
    """Infinitesimal-jackknife standard error of the weighted Kaplan-Meier survival.

    R ``survfit(weights=)`` with non-integer weights (robust variance). For row
    i with time T_i, event d_i and case weight w_i, the derivative of log S(t)
    with respect to w_i is ``d_i 1(T_i <= t) g(T_i) - H(min(t, T_i))`` with
    ``g = 1 / (n - d)`` and ``H(t) = sum_{s <= t} d(s) / (n(s) (n(s) - d(s)))``;
    the variance of S(t) is ``S(t)^2 sum_i f_i (w_i dlogS_i)^2``, ``f_i`` being
    frequency weights (one collapsed row = f_i independent rows).
    Returns per group the standard error of log S at the group's distinct times.
    """
    out = []
    for gi in range(n_groups):
        s = group == gi
        t, d_i, wi, fi = time[s], status[s], w[s], f[s]
        ut, idx = np.unique(t, return_inverse=True)
        cw = wi * fi
        d = np.bincount(idx, weights=cw * d_i, minlength=len(ut))
        tot = np.bincount(idx, weights=cw, minlength=len(ut))
        n = np.cumsum(tot[::-1])[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(n > d, 1.0 / (n * (n - d)), 0.0)
        g = n * c
        H = np.cumsum(d * c)
        q = fi * wi * wi  # f_i units each with squared case weight w_i^2
        # rows still at risk after t_k contribute H(t_k)^2; rows ended at or before t_k a constant
        q_by_t = np.bincount(idx, weights=q, minlength=len(ut))
        after = np.concatenate((np.cumsum(q_by_t[::-1])[::-1][1:], [0.0]))
        const = q * (d_i * g[idx] - H[idx]) ** 2
        done = np.cumsum(np.bincount(idx, weights=const, minlength=len(ut)))
        var_log = H * H * after + done
        out.append(np.sqrt(var_log))
    return out


def iptw_kaplan_meier(
    data: pd.DataFrame,
    time: str,
    event: str,
    covariates: str | Sequence[str] | None = None,
    treatment: str = "level_of_care",
    reference: object = "iop",
    propensity: IPTWResult | None = None,
    estimand: str = "ATE",
    stabilized: bool = True,
    trim: float | None = None,
    weights: str | None = None,
    conf_type: str = "log",
    confidence: float = 0.95,
) -> KaplanMeierResult:
    """Kaplan-Meier curves by level of care, weighted by IPTW (adjusted survival curves).

    Calls :func:`iopstats.kaplan_meier` with the weights of
    :func:`iptw` (times the frequency weights) and replaces Greenwood's
    standard errors by the robust infinitesimal-jackknife ones, as R's
    ``survfit(Surv(time, event) ~ treatment, weights = w)`` does for
    non-integer weights.

    Parameters
    ----------
    data : DataFrame
        Not modified.
    time, event : str
        Follow-up time and event (1/True) columns.
    covariates : str or list of str, optional
        Propensity-model covariates (needed unless ``propensity`` is given).
    treatment, reference, estimand, stabilized, trim :
        Passed to :func:`iptw`.
    propensity : IPTWResult, optional
        Precomputed ``iptw(data, ...)`` on the same rows (same index).
    weights : str, optional
        Frequency weights (collapsed table); results equal the row level.
    conf_type, confidence :
        As :func:`iopstats.kaplan_meier`.

    Returns
    -------
    KaplanMeierResult
        Weighted curves per level (``n_at_risk`` and counts are sums of
        weights); ``std_err``, ``ci_low``, ``ci_high`` and the median limits
        use the robust variance; ``rmean_se`` is NaN (Greenwood's formula does
        not apply to IPT weights).

    Notes
    -----
    The robust variance treats the weights as known; ignoring the estimation
    of the propensity model usually makes it slightly conservative.
    Rows without a weight (missing covariates) are left out.

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop"] * 6 + ["op"] * 6,
    ...                    "sev": ["hi", "lo", "lo", "lo", "hi", "lo",
    ...                            "hi", "hi", "hi", "lo", "hi", "hi"],
    ...                    "days": [5, 30, 40, 20, 10, 60, 3, 8, 12, 50, 9, 15],
    ...                    "left": [1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0]})
    >>> km = iptw_kaplan_meier(df, "days", "left", ["sev"], treatment="loc")
    >>> km.summary[["group", "n", "median"]]
      group  n  median
    0   iop  6    10.0
    1    op  6     NaN
    """
    columns = [time, event, treatment]
    prop = _weights_for(data, columns, weights, covariates, treatment, reference, propensity, estimand,
                        stabilized, trim)
    f = frequency_weights(data, weights)
    f = np.ones(len(data)) if f is None else f
    w = prop.weights.to_numpy(dtype=float)
    work = _weighted_frame(data, columns, treatment, prop, f)
    km = kaplan_meier(work, time, event, by=treatment, conf_type=conf_type, confidence=confidence,
                      weights=_W_COL)
    # robust (IJ) standard errors on the same rows kaplan_meier used
    iw = work.copy()
    used = iw[_W_COL].to_numpy() > 0
    iw["__w"] = np.where(used, np.nan_to_num(w), 0.0)
    iw["__f"] = np.where(used, f, 0.0)
    s_w = prepare(iw, time, event, by=treatment, weights="__w", func="iptw_kaplan_meier")
    s_f = prepare(iw, time, event, by=treatment, weights="__f", func="iptw_kaplan_meier")
    robust = _km_robust(s_w.time, s_w.status.astype(float), s_w.group, s_w.weight, s_f.weight,
                        len(s_w.group_labels))
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    table = km.table.copy()
    summary = km.summary.copy()
    for gi, label in enumerate(s_w.group_labels):
        sel = (table["group"] == label).to_numpy()
        se_log = robust[gi]
        surv = table.loc[sel, "survival"].to_numpy()
        se_log = np.where(surv == 0, np.nan, se_log)
        lo, hi = _confint(surv, se_log, conf_type, z)
        table.loc[sel, "std_err"] = np.where(surv == 0, 0.0, surv * se_log)
        table.loc[sel, "ci_low"] = lo
        table.loc[sel, "ci_high"] = hi
        tg = table.loc[sel, "time"].to_numpy()
        srow = (summary["group"] == label).to_numpy()
        summary.loc[srow, "median_ci_low"] = _r_median(lo, tg)
        summary.loc[srow, "median_ci_high"] = _r_median(hi, tg)
    summary["rmean_se"] = np.nan
    remarks = list(km.remarks) + [
        f"Weighted by {prop.estimand} inverse probability of treatment weights "
        f"(propensity model on {' + '.join(prop.covariates)}); standard errors and limits are robust "
        "(infinitesimal jackknife, as R survfit with case weights) and treat the weights as known.",
    ] + _propensity_warnings(prop)
    return replace(km, table=table, summary=summary, remarks=tuple(remarks),
                   title=f"IPTW-weighted Kaplan-Meier estimate of {time} ({event}) by {treatment}")


def iptw_cox(
    data: pd.DataFrame,
    time: str,
    event: str,
    covariates: str | Sequence[str] | None = None,
    treatment: str = "level_of_care",
    reference: object = "iop",
    propensity: IPTWResult | None = None,
    estimand: str = "ATE",
    stabilized: bool = True,
    trim: float | None = None,
    weights: str | None = None,
    ties: str = "efron",
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    confidence: float = 0.95,
):
    """Marginal hazard ratios of each level vs the reference: IPTW-weighted Cox model.

    Fits ``cox(data, time, event, [treatment], weights=iptw, robust=True)``,
    as R's ``coxph(Surv(time, event) ~ treatment, weights = w, robust = TRUE)``
    (add ``cluster=`` for repeated episodes of the same client), with the
    reference level as the baseline, so terms read ``"<treatment>[<level>]"``
    and ``hr`` is the hazard of that level relative to the reference.

    Parameters
    ----------
    data : DataFrame
        Not modified.
    time, event : str
        Follow-up time and event (1/True) columns.
    covariates : str or list of str, optional
        Propensity-model covariates (needed unless ``propensity`` is given).
        They are *not* put in the Cox model: the weighted model estimates the
        marginal (population-averaged) hazard ratio.
    treatment, reference, estimand, stabilized, trim :
        Passed to :func:`iptw`.
    propensity : IPTWResult, optional
        Precomputed ``iptw(data, ...)`` on the same rows (same index).
    weights : str, optional
        Integer frequency weights (collapsed table): rows are expanded before
        the fit, so results equal the row level.
    ties, strata, cluster, confidence :
        Passed to :func:`iopstats.cox`.

    Returns
    -------
    CoxResult
        Robust (sandwich) standard errors that treat the weights as known.

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop"] * 6 + ["op"] * 6,
    ...                    "sev": ["hi", "lo", "lo", "lo", "hi", "lo",
    ...                            "hi", "hi", "hi", "lo", "hi", "hi"],
    ...                    "days": [5, 30, 40, 20, 10, 60, 3, 8, 12, 50, 9, 15],
    ...                    "left": [1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0]})
    >>> fit = iptw_cox(df, "days", "left", ["sev"], treatment="loc")
    >>> list(fit.summary.index), bool(fit.robust)
    (['loc[op]'], True)
    """
    from iopstats.stats.cox import cox

    extra = [c for c in ([strata] if isinstance(strata, str) else list(strata or [])) + [cluster] if c]
    prop = _weights_for(data, [time, event, treatment], weights, covariates, treatment, reference, propensity,
                        estimand, stabilized, trim, extra=extra)
    work = _weighted_frame(data, list(dict.fromkeys([time, event, treatment, *extra])), treatment, prop)
    if weights is not None:
        f = frequency_weights(data, weights)
        if not np.all(f == np.round(f)):
            raise IopstatsError("frequency weights must be whole numbers for iptw_cox", column=weights,
                                fix="pass counts (e.g. from iopstats.stats.counts.collapse)")
        work = work.loc[work.index.repeat(f.astype(np.int64))]
    fit = cox(work, time, event, [treatment], ties=ties, strata=strata, cluster=cluster, weights=_W_COL,
              confidence=confidence, robust=True)
    remarks = list(fit.remarks) + [
        f"Marginal hazard ratios vs {reference!r}: Cox model weighted by {prop.estimand} inverse "
        f"probability of treatment weights (propensity model on {' + '.join(prop.covariates)}), "
        "robust sandwich standard errors treating the weights as known (R coxph(weights=, robust=TRUE)).",
    ] + _propensity_warnings(prop)
    return replace(fit, remarks=tuple(remarks), title=f"IPTW-weighted Cox model of {time} ({event})")
