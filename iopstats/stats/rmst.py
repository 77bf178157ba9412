"""Restricted mean survival time (RMST) differences and ratios between groups at a stated tau.

The RMST up to ``tau`` is the area under the Kaplan-Meier curve from 0 to tau:
the mean number of days (or weeks) a client stays in treatment during the first
tau days. Its standard error is the standard error of the *estimate* (R
``survival``'s ``print(survfit, rmean=tau)`` and ``survRM2::rmst2``), not the
standard deviation of the truncated time ``min(T, tau)`` (what lifelines'
``restricted_mean_survival_time(return_variance=True)`` returns): with ``n``
uncensored clients the two differ by a factor ``sqrt(n)``.

Contrasts follow ``survRM2::rmst2`` with the package's orientation (reference minus
level, as :func:`iopstats.compare_rates`: positive means more days in treatment at the
reference, IOP): difference ``RMST_ref - RMST_g`` with standard error
``sqrt(var_g + var_ref)``; ratio ``RMST_ref / RMST_g`` with limits
``exp(log ratio +/- z sqrt(var_g / RMST_g^2 + var_ref / RMST_ref^2))``.
With case weights (IPTW, any non-integer weights) or ``cluster=`` (clients with
several episodes) the variances are the robust infinitesimal-jackknife ones,
computed from each row's (each client's) influence on the RMST, so a client
contributing to two groups enters the covariance of the contrast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from iopstats._checks import check_confidence, check_frame
from iopstats._results import Result
from iopstats.exceptions import IopstatsError
from iopstats.stats._km_ij import ij_curve
from iopstats.stats._surv_utils import count_table, prepare
from iopstats.stats.kaplan_meier import _rmean

__all__ = ["rmst_difference", "RMSTResult"]

_CW, _F = "__rmst_case_w", "__rmst_freq"


@dataclass(frozen=True, repr=False)
class RMSTResult(Result):
    """RMST contrasts against a reference group.

    Attributes
    ----------
    summary : DataFrame
        One row per non-reference group: group, reference, tau, rmst, rmst_reference,
        difference (reference minus group), se, ci_low, ci_high, p_value, ratio
        (reference / group), ratio_ci_low, ratio_ci_high, ratio_p_value.
    groups : DataFrame
        Per group: group, n, events, tau, rmst, se, ci_low, ci_high.
    tau, confidence : float
    variance : {"greenwood", "robust"}
        ``"greenwood"``: survival's / survRM2's formula (frequency weights);
        ``"robust"``: infinitesimal jackknife (case weights, clusters).
    """

    groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    tau: float = float("nan")
    confidence: float = 0.95
    variance: str = "greenwood"

    def plot(self, ax=None, **kw):
        """RMST differences (reference minus group) with their intervals; returns the Axes."""
        from iopstats.plots import comparison

        ref = self.summary["reference"].iloc[0] if len(self.summary) else ""
        return comparison(self.summary, ax=ax, estimate="difference", ci_low="ci_low", ci_high="ci_high",
                          label="group", scale=1.0, title=kw.pop("title", self.title),
                          xlabel=kw.pop("xlabel", f"restricted mean difference up to {self.tau:g}, {ref} minus level"),
                          **kw)


def _check_tau(tau: Any) -> float:
    try:
        t = float(tau)
    except (TypeError, ValueError):
        t = float("nan")
    if not (np.isfinite(t) and t > 0):
        raise IopstatsError("tau must be a positive number of days (or weeks)", value=tau,
                            fix="state the horizon, e.g. tau=90 for the first 90 days")
    return t


def _frame(data, time, event, by, weights, case_weights, propensity, cluster) -> tuple[pd.DataFrame, bool]:
    """Working copy with the case weight (w * f) and the frequency weight columns."""
    check_frame(data, [time, event, by] + [c for c in (weights, case_weights, cluster) if c])
    work = data[[c for c in dict.fromkeys([time, event, by, cluster]) if c]].copy()
    f = _weight_values(data, weights)
    w = np.ones(len(data))
    robust = cluster is not None
    if case_weights is not None:
        w = _weight_values(data, case_weights)
        robust = True
    if propensity is not None:
        pw = getattr(propensity, "weights", None)
        if not isinstance(pw, pd.Series) or not pw.index.equals(data.index):
            raise IopstatsError("propensity must be iptw() computed on the same DataFrame (same index)",
                                fix="pass propensity=iptw(data, treatment=by, covariates=...)")
        w = w * np.nan_to_num(pw.to_numpy(dtype=float), nan=0.0)
        robust = True
    if weights is not None and np.any(f != np.round(f)):
        # non-integer weights are not counts: case weights with the robust variance (R's default)
        w, f, robust = w * f, np.ones(len(data)), True
    work[_CW] = w * f
    work[_F] = np.where(w * f > 0, f, 0.0)
    return work, robust


def _weight_values(data: pd.DataFrame, col: str | None) -> np.ndarray:
    if col is None:
        return np.ones(len(data))
    s = data[col]
    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        raise IopstatsError("weights must be a numeric column", column=col, fix="pass a column of numbers >= 0")
    v = s.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(v) | (v < 0)
    if bad.any():
        raise IopstatsError(f"{int(bad.sum())} weight(s) are missing, negative or infinite", column=col,
                            value=float(v[bad][0]) if not np.isnan(v[bad][0]) else None,
                            fix="weights must be finite numbers >= 0; drop or fix those rows")
    return v


def _group_rmst(s, f, gi, tau, robust, cluster_codes):
    """RMST, variance and the per-row influence (robust only) of group ``gi``."""
    sel = s.group == gi
    t, st, cw = s.time[sel], s.status[sel].astype(float), s.weight[sel]
    last = t.max()
    if robust:
        if cluster_codes is None:
            ij = ij_curve(t, st, cw / f[sel], f[sel], None, tau)
        else:
            ij = ij_curve(t, st, cw, np.ones(sel.sum()), cluster_codes[sel], tau)
        surv_end = _surv_at_last(t, st, cw)
        return ij.rmst, ij.rmst_var, ij.rmst_row, last, surv_end
    _, tt, cnt = count_table(t, np.zeros(len(t), dtype=np.int64), st.astype(np.int64), cw, 2)
    n_risk = np.cumsum(cnt.sum(axis=1)[::-1])[::-1]
    surv = np.cumprod(1 - cnt[:, 1] / n_risk)
    r, se = _rmean(tt, surv, n_risk, cnt[:, 1], tau)
    return r, se * se, None, last, surv[-1]


def _surv_at_last(t, st, w) -> float:
    ut, idx = np.unique(t, return_inverse=True)
    d = np.bincount(idx, weights=w * st, minlength=len(ut))
    n = np.cumsum(np.bincount(idx, weights=w, minlength=len(ut))[::-1])[::-1]
    return float(np.prod(1 - d / n))


def rmst_difference(
    data: pd.DataFrame,
    time: str,
    event: str,
    by: str,
    tau: float,
    reference: object = None,
    weights: str | None = None,
    case_weights: str | None = None,
    propensity: Any = None,
    cluster: str | None = None,
    confidence: float = 0.95,
) -> RMSTResult:
    """Restricted mean survival time of each group up to ``tau``; reference minus each group and their ratio.

    Parameters
    ----------
    data : DataFrame
        One row per episode, or a collapsed table with ``weights=``. Not modified.
    time, event : str
        Follow-up time (>= 0) and event (1/True; 0/False censored) columns.
    by : str
        Group column (e.g. ``"level_of_care"``).
    tau : float
        Horizon, in the unit of ``time``. Must not exceed any group's last observed
        time unless that group's curve has reached 0 (the area beyond is unknown).
    reference : object, optional
        Reference group (default: the first in sorted order).
    weights : str, optional
        Frequency weights (counts of a collapsed table): numbers equal the row-level
        data. Non-integer values are not counts: they are treated as case weights
        with the robust variance (as R ``survfit`` does).
    case_weights : str, optional
        Column of case (sampling, balancing) weights: robust variance.
    propensity : IPTWResult, optional
        ``iptw(data, treatment=by, ...)`` on the same rows: IPTW-weighted (adjusted)
        RMSTs with robust variance treating the weights as known.
    cluster : str, optional
        Client identifier when clients have several episodes: robust variance summing
        each client's influence (R ``survfit(id=, robust=TRUE)``).
    confidence : float
        Confidence level of the intervals.

    Returns
    -------
    RMSTResult
        ``.summary`` contrasts, ``.groups`` per-group RMST.

    Examples
    --------
    >>> df = pd.DataFrame({"days": [5, 8, 8, 12, 20, 30, 3, 9, 14, 40],
    ...                    "left": [1, 1, 0, 1, 0, 1, 1, 1, 1, 0],
    ...                    "loc": ["iop"] * 6 + ["op"] * 4})
    >>> res = rmst_difference(df, "days", "left", by="loc", tau=20, reference="iop")
    >>> res.groups[["group", "rmst", "se"]].round(3)
      group    rmst     se
    0   iop  13.722  2.565
    1    op  11.500  3.132
    >>> res.summary[["group", "difference", "se", "ratio"]].round(3)  # iop minus op, iop / op
      group  difference     se  ratio
    0    op       2.222  4.049  1.193
    """
    tau = _check_tau(tau)
    confidence = check_confidence(confidence)
    if not isinstance(data, pd.DataFrame):
        raise IopstatsError("data must be a pandas DataFrame", value=type(data).__name__)
    work, robust = _frame(data, time, event, by, weights, case_weights, propensity, cluster)
    s = prepare(work, time, event, by=by, strata=cluster, weights=_CW, func="rmst_difference")
    f = prepare(work, time, event, by=by, strata=cluster, weights=_F, func="rmst_difference").weight
    labels = list(s.group_labels)
    if len(labels) < 2:
        raise IopstatsError(f"rmst_difference() needs at least 2 groups in {by!r}", column=by,
                            fix="choose a column with two or more groups")
    ref = labels[0] if reference is None else reference
    if ref not in labels:
        raise IopstatsError("reference group not found", column=by, value=ref, fix=f"use one of {labels[:12]}")
    clus = s.strata if cluster is not None else None
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    per = {}
    rows = []
    for gi, lab in enumerate(labels):
        r, v, row, last, s_end = _group_rmst(s, f, gi, tau, robust, clus)
        if tau > last and s_end > 0:
            raise IopstatsError(
                f"tau is beyond the last observed time of group {lab!r} ({last:g}): the curve is unknown there",
                column=time, value=tau, fix=f"choose tau <= {last:g} (the smallest last follow-up time of the groups)")
        per[gi] = (r, v, row)
        sel = s.group == gi
        se = float(np.sqrt(v))
        rows.append({"group": lab, "n": float(f[sel].sum()), "events": float(f[sel] @ s.status[sel]),
                     "tau": tau, "rmst": r, "se": se, "ci_low": r - z * se, "ci_high": r + z * se})
    groups = pd.DataFrame(rows)
    for col in ("n", "events"):
        if np.all(groups[col] == np.round(groups[col])):
            groups[col] = groups[col].astype(np.int64)
    g0 = labels.index(ref)
    summary = pd.DataFrame([_contrast(per, gi, g0, s, clus, z, labels, tau) for gi in range(len(labels)) if gi != g0])
    remarks = list(s.remarks)
    remarks.append(_method_remark(robust, cluster, propensity, case_weights, tau))
    return RMSTResult(summary=summary, groups=groups, tau=tau, confidence=confidence,
                      variance="robust" if robust else "greenwood", remarks=tuple(remarks),
                      title=f"Restricted mean {time} up to {tau:g} by {by} (vs {ref})")


def _contrast(per, gi, g0, s, clus, z, labels, tau) -> dict:
    r1, v1, row1 = per[gi]
    r0, v0, row0 = per[g0]
    diff = r0 - r1  # reference minus level, as compare_rates
    if clus is not None:
        n_c = int(clus.max()) + 1
        i1 = np.bincount(clus[s.group == gi], weights=row1, minlength=n_c)
        i0 = np.bincount(clus[s.group == g0], weights=row0, minlength=n_c)
        v_diff = float(np.sum((i1 - i0) ** 2))
        v_lr = float(np.sum((i1 / r1 - i0 / r0) ** 2))
    else:  # groups share no rows: independent
        v_diff = v1 + v0
        v_lr = v1 / r1**2 + v0 / r0**2
    se, lse = np.sqrt(v_diff), np.sqrt(v_lr)
    lr = np.log(r0 / r1)
    return {
        "group": labels[gi], "reference": labels[g0], "tau": tau, "rmst": r1, "rmst_reference": r0,
        "difference": diff, "se": se, "ci_low": diff - z * se, "ci_high": diff + z * se,
        "p_value": float(2 * norm.sf(abs(diff) / se)) if se > 0 else float("nan"),
        "ratio": r0 / r1, "ratio_ci_low": float(np.exp(lr - z * lse)), "ratio_ci_high": float(np.exp(lr + z * lse)),
        "ratio_p_value": float(2 * norm.sf(abs(lr) / lse)) if lse > 0 else float("nan"),
    }


def _method_remark(robust, cluster, propensity, case_weights, tau) -> str:
    if not robust:
        return (f"RMST = area under the Kaplan-Meier curve up to {tau:g}; standard errors of the estimates "
                "as R survival / survRM2.")
    why = []
    if propensity is not None:
        why.append(f"{getattr(propensity, 'estimand', 'IPTW')} inverse probability of treatment weights "
                   "(treated as known)")
    if case_weights is not None:
        why.append(f"case weights {case_weights!r}")
    if cluster is not None:
        why.append(f"episodes clustered within {cluster!r}")
    what = ", ".join(why) if why else "non-integer weights"
    return (f"RMST = area under the weighted Kaplan-Meier curve up to {tau:g}; robust (infinitesimal "
            f"jackknife) standard errors for {what}.")
