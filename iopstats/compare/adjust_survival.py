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
from iopstats.stats._km_ij import ij_curve
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
    tau: float | None = None,
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
    conf_type, confidence, tau :
        As :func:`iopstats.kaplan_meier` (``tau``: horizon of the restricted mean).

    Returns
    -------
    KaplanMeierResult
        Weighted curves per level (``n_at_risk`` and counts are sums of
        weights); ``std_err``, ``ci_low``, ``ci_high``, the median limits and
        ``rmean_se`` (of the restricted mean up to ``tau``) use the robust variance.

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
                      weights=_W_COL, tau=tau)
    # robust (IJ) standard errors on the same rows kaplan_meier used
    iw = work.copy()
    used = iw[_W_COL].to_numpy() > 0
    iw["__w"] = np.where(used, np.nan_to_num(w), 0.0)
    iw["__f"] = np.where(used, f, 0.0)
    s_w = prepare(iw, time, event, by=treatment, weights="__w", func="iptw_kaplan_meier")
    s_f = prepare(iw, time, event, by=treatment, weights="__f", func="iptw_kaplan_meier")
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    table = km.table.copy()
    summary = km.summary.copy()
    for gi, label in enumerate(s_w.group_labels):
        sel = (table["group"] == label).to_numpy()
        g = s_w.group == gi  # f frequency copies of each row, each with IPT weight w
        ij = ij_curve(s_w.time[g], s_w.status[g].astype(float), s_w.weight[g], s_f.weight[g], None,
                      float(summary["tau"].iloc[gi]))
        se_log = np.sqrt(ij.var_log)
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
        summary.loc[srow, "rmean_se"] = float(np.sqrt(ij.rmst_var))
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
