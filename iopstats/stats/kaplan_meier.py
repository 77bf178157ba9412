"""Kaplan-Meier survival curves with Greenwood standard errors, as R's ``survfit``.

Numbers match R ``survival`` (3.5): ``summary(survfit(...), censored=TRUE)`` for the
step table, ``print(fit, rmean="common")`` for medians (R's midpoint rule when the
curve sits at exactly 0.5) and restricted means, and ``summary(fit, times=)`` for
:meth:`KaplanMeierResult.survival_at`. The work is done on collapsed
(group, time) counts, so ``weights=`` (frequency weights) on a collapsed table
gives the same numbers as the row-level data.

With ``cluster=`` (clients with several episodes) or non-integer ``weights=``
(case weights, e.g. IPTW) the standard errors are the robust infinitesimal-jackknife
ones of R ``survfit(..., id=, robust=TRUE)`` (R's default in both cases); Greenwood's
formula is used only for frequency weights (whole numbers) without clusters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from iopstats._checks import two_sided_z
from iopstats._results import Result
from iopstats.exceptions import IopstatsError
from iopstats.stats._km_ij import ij_curve
from iopstats.stats._surv_utils import count_table, integer_counts, prepare

__all__ = ["kaplan_meier", "KaplanMeierResult"]

_CONF_TYPES = ("log", "log-log", "plain")
_TOL = float(np.sqrt(np.finfo(float).eps))  # R: sqrt(.Machine$double.eps)
_TABLE_COLUMNS = [
    "group", "time", "n_at_risk", "n_events", "n_censored", "survival", "std_err", "ci_low", "ci_high",
]


@dataclass(frozen=True, repr=False)
class KaplanMeierResult(Result):
    """Kaplan-Meier fit: ``summary`` per group and the step ``table``.

    Attributes
    ----------
    summary : DataFrame
        group, n, events, median, median_ci_low, median_ci_high, rmean, rmean_se, tau
        (``rmean`` is the restricted mean survival time up to ``tau``).
    table : DataFrame
        One row per distinct time per group: group, time, n_at_risk, n_events,
        n_censored, survival, std_err (standard error of the survival, Greenwood),
        ci_low, ci_high.
    conf_type, confidence : str, float
        Settings the confidence limits were computed with.
    variance : {"greenwood", "robust"}
        Greenwood's formula, or the robust infinitesimal jackknife (clusters, case weights).
    """

    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    conf_type: str = "log"
    confidence: float = 0.95
    variance: str = "greenwood"

    def plot(self, ax=None, at_risk: bool = True, ci: bool = True, times=None, suppress_below: int | None = 11,
             **kw):
        """Curves with interval bands and the number-at-risk table under the axis (:func:`iopstats.plots.km`).

        Returns the matplotlib Axes. Counts 1-10 are shown as "<11" and curves stop where
        fewer than 11 are at risk unless ``suppress_below=None``.
        """
        from iopstats.plots import km

        return km(self.table, ax=ax, at_risk=at_risk, ci=ci, times=times, suppress_below=suppress_below,
                  title=kw.pop("title", self.title), **kw)

    def survival_at(self, times: float | Iterable[float]) -> pd.DataFrame:
        """Survival and its confidence limits at given times (R ``summary(fit, times=)``).

        Before a group's first observed time the survival is 1 with standard error
        0 and limits (1, 1); after its last observed time (event or censoring) the
        curve is unknown and the row holds NaN (R drops such times).

        Parameters
        ----------
        times : float or iterable of float

        Returns
        -------
        DataFrame
            group, time, survival, std_err, ci_low, ci_high; one row per group and time.

        Examples
        --------
        >>> df = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 1, 0, 1, 0]})
        >>> kaplan_meier(df, "t", "e").survival_at([0, 2, 5])[["time", "survival"]]
           time  survival
        0   0.0       1.0
        1   2.0       0.6
        2   5.0       NaN
        """
        at = np.atleast_1d(np.asarray(list(times) if not np.isscalar(times) else [times], dtype=float))
        if np.isnan(at).any():
            raise IopstatsError("survival_at() got a missing time", fix="pass numeric times")
        cols = ["survival", "std_err", "ci_low", "ci_high"]
        codes, labels = pd.factorize(self.table["group"], sort=False)
        starts = np.searchsorted(codes, np.arange(len(labels) + 1))
        t_all = self.table["time"].to_numpy(dtype=float)
        vals = self.table[cols].to_numpy(dtype=float)
        out = np.empty((len(labels), len(at), 4))
        for gi in range(len(labels)):
            t = t_all[starts[gi]:starts[gi + 1]]
            idx = np.searchsorted(t, at, side="right") - 1
            block = vals[starts[gi]:starts[gi + 1]][np.maximum(idx, 0)]
            block[idx < 0] = [1.0, 0.0, 1.0, 1.0]
            block[at > t[-1]] = np.nan
            out[gi] = block
        res = pd.DataFrame(out.reshape(-1, 4), columns=cols)
        res.insert(0, "time", np.tile(at, len(labels)))
        res.insert(0, "group", np.asarray(labels).repeat(len(at)))
        return res


def _confint(surv: np.ndarray, se_log: np.ndarray, conf_type: str, z: float) -> tuple[np.ndarray, np.ndarray]:
    """R survival:::survfit_confint with logse=TRUE, ulimit=TRUE."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = se_log * surv * z
            return np.maximum(surv - half, 0.0), np.minimum(surv + half, 1.0)
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            return np.exp(np.log(xx) - z * se_log), np.minimum(np.exp(np.log(xx) + z * se_log), 1.0)
        xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
        se2 = z * se_log / np.log(xx)
        return np.exp(-np.exp(np.log(-np.log(xx)) - se2)), np.exp(-np.exp(np.log(-np.log(xx)) + se2))


def _r_median(y: np.ndarray, x: np.ndarray) -> float:
    """R print.survfit's median rule (survival:::survmean, ``minmin``).

    First time the curve is at or below 0.5; if it sits at exactly 0.5, the
    midpoint between that time and the next time the curve drops.
    """
    keep = ~np.isnan(y) & (y < 0.5 + _TOL)
    if not keep.any():
        return float("nan")
    x, y = x[keep], y[keep]
    lower = y < y[0]
    if abs(y[0] - 0.5) < _TOL and lower.any():
        return float((x[0] + x[np.argmax(lower)]) / 2)
    return float(x[0])


def _rmean(time: np.ndarray, surv: np.ndarray, n_risk: np.ndarray, n_event: np.ndarray, tau: float):
    """Restricted mean and its standard error as survival:::survmean (start time 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n_risk - n_event == 0, 0.0, n_event / (n_risk * (n_risk - n_event)))
    keep = time <= tau
    if not keep.any():
        return float(tau), 0.0
    tt = np.append(time[keep], tau)
    ss = np.append(surv[keep], surv[keep][-1])
    hh = np.append(hh[keep], 0.0)
    delta = np.diff(np.concatenate(([0.0], tt)))
    rect = delta * np.concatenate(([1.0], ss[:-1]))
    after = np.cumsum(rect[1:][::-1])  # area beyond each time, last time first
    var = float(np.sum(after**2 * hh[::-1][1:]))
    return float(np.sum(rect)), float(np.sqrt(var))


_ROBUST_REMARK = {
    "cluster": "Robust (infinitesimal jackknife) standard errors with episodes clustered within {cluster!r}, "
               "as R survfit(id=, robust=TRUE).",
    "case": "Non-integer weights are case weights, not counts: robust (infinitesimal jackknife) standard "
            "errors, as R survfit's default.",
    "rows": "Robust (infinitesimal jackknife) standard errors, each row its own cluster.",
}


def _robust_choice(w: np.ndarray, weights: str | None, cluster: str | None, robust: bool | None) -> str | None:
    """None (Greenwood) or how the robust variance treats the rows: "cluster", "case" or "rows"."""
    if robust is not None and not isinstance(robust, bool | np.bool_):
        raise IopstatsError("robust must be True, False or None", value=robust)
    fractional = weights is not None and bool(np.any(w != np.round(w)))
    if robust is False and (fractional or cluster is not None):
        why = f"cluster={cluster!r} is given" if cluster is not None else f"the weights in {weights!r} are not whole numbers"
        raise IopstatsError(
            f"robust=False would give Greenwood standard errors, which are wrong because {why}",
            column=cluster or weights,
            fix="leave robust unset (robust variance), or pass whole-number frequency weights without cluster=",
        )
    if cluster is not None:
        return "cluster"
    if fractional:
        return "case"
    return "rows" if robust else None


def _robust_group(s, gi: int, how: str, tau: float) -> tuple[np.ndarray, float, float]:
    """Robust variance of log S at the group's distinct times, its RMST and RMST standard error."""
    sel = s.group == gi
    t, st, w = s.time[sel], s.status[sel].astype(float), s.weight[sel]
    ones = np.ones(len(t))
    if how == "cluster":
        ij = ij_curve(t, st, w, ones, s.strata[sel], tau)
    elif how == "case":
        ij = ij_curve(t, st, w, ones, None, tau)
    else:  # whole-number weights: w independent copies of each row
        ij = ij_curve(t, st, ones, w, None, tau)
    return ij.var_log, ij.rmst, float(np.sqrt(ij.rmst_var))


def kaplan_meier(
    data: pd.DataFrame,
    time: str,
    event: str,
    by: str | None = None,
    conf_type: str = "log",
    confidence: float = 0.95,
    weights: str | None = None,
    tau: float | None = None,
    cluster: str | None = None,
    robust: bool | None = None,
) -> KaplanMeierResult:
    """Kaplan-Meier survival curves, optionally by group.

    Parameters
    ----------
    data : DataFrame
        One row per episode, or a collapsed count table with ``weights=``.
        Not modified.
    time : str
        Column of follow-up times (>= 0, e.g. days in treatment).
    event : str
        Column coded 1/True for the event (e.g. left treatment) and 0/False for censored.
    by : str, optional
        Column defining groups (e.g. ``"level_of_care"``); one curve per value.
    conf_type : {"log", "log-log", "plain"}
        Transform for the pointwise confidence limits (R's ``conf.type``; "log" is R's default).
    confidence : float
        Confidence level of the limits, e.g. 0.95.
    weights : str, optional
        Column of weights, as R's ``survfit(weights=)``. Whole numbers are frequency
        weights (a collapsed table gives the row-level numbers); non-integer weights are
        case weights and get the robust variance (R's default; ``robust=False`` is refused).
    tau : float, optional
        Upper limit of the restricted mean. Default: the largest observed time over
        all groups (R's ``rmean="common"``).
    cluster : str, optional
        Column identifying the client when clients have several episodes: robust
        variance summing each client's influence, as ``survfit(id=client, robust=TRUE)``.
        Rows with a missing cluster are dropped (counted in ``remarks``).
    robust : bool, optional
        Force the robust (infinitesimal jackknife) variance (each row its own cluster
        without ``cluster=``). Default: robust with ``cluster=`` or non-integer weights.

    Returns
    -------
    KaplanMeierResult
        ``.summary`` per group (n, events, median with its confidence limits,
        restricted mean and its standard error), ``.table`` step table,
        ``.survival_at(times)``.

    Notes
    -----
    Standard errors are Greenwood's unless the variance is robust (then
    ``rmean_se`` is the infinitesimal-jackknife standard error of the restricted mean,
    the derivative of the area under the curve; R's ``print.survfit`` keeps the
    Greenwood-type formula there). Limits follow R ``survfit``: with "log" the
    limits are ``S * exp(+/- z * se(log S))`` (upper capped at 1); with "log-log"
    they are undefined (NaN) where S is 0 or 1; all limits are NaN where S = 0.
    The median is R's: the first time S <= 0.5, or the midpoint to the next drop
    when S equals 0.5 exactly; its limits are the same rule applied to the lower
    and upper confidence curves (NaN when a curve never reaches 0.5). Rows with a
    missing time, event or group are dropped and counted in ``remarks``.

    Examples
    --------
    >>> df = pd.DataFrame({"days": [5, 8, 8, 12, 20, 30], "left": [1, 1, 0, 1, 0, 1],
    ...                    "loc": ["iop", "iop", "iop", "op", "op", "op"]})
    >>> km = kaplan_meier(df, "days", "left", by="loc")
    >>> km.summary[["group", "n", "events", "median"]]
      group  n  events  median
    0   iop  3       2     8.0
    1    op  3       2    30.0
    >>> km.table[["group", "time", "n_at_risk", "survival"]].round(4)
      group  time  n_at_risk  survival
    0   iop   5.0          3    0.6667
    1   iop   8.0          2    0.3333
    2    op  12.0          3    0.6667
    3    op  20.0          2    0.6667
    4    op  30.0          1    0.0000
    """
    if conf_type not in _CONF_TYPES:
        raise IopstatsError(
            "unknown conf_type", value=conf_type, fix=f"use one of {list(_CONF_TYPES)}"
        )
    if not (isinstance(confidence, float | int) and 0 < confidence < 1):
        raise IopstatsError("confidence must be between 0 and 1", value=confidence, fix="e.g. confidence=0.95")
    if tau is not None and not (np.isfinite(tau) and tau > 0):
        raise IopstatsError("tau must be a positive number", value=tau, fix="e.g. tau=90 for the first 90 days")
    s = prepare(data, time, event, by=by, strata=cluster, weights=weights, func="kaplan_meier")
    how = _robust_choice(s.weight, weights, cluster, robust)
    z = two_sided_z(confidence)
    gcode, t_all, counts = count_table(s.time, s.group, s.status, s.weight, 2)
    bounds = np.searchsorted(gcode, np.arange(len(s.group_labels) + 1))
    end_time = float(tau) if tau is not None else float(t_all.max())

    parts: list[list[np.ndarray]] = []
    rows, remarks = [], list(s.remarks)
    for gi, label in enumerate(s.group_labels):
        sl = slice(bounds[gi], bounds[gi + 1])
        t, cens, d = t_all[sl], counts[sl, 0], counts[sl, 1]
        n_risk = np.cumsum((d + cens)[::-1])[::-1]
        surv = np.cumprod(1.0 - d / n_risk)
        if how is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                gw = np.cumsum(np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0))
            rmean, rmean_se = _rmean(t, surv, n_risk, d, end_time)
        else:
            gw, rmean, rmean_se = _robust_group(s, gi, how, end_time)
        se_log = np.where(surv == 0, np.nan, np.sqrt(gw))
        lo, hi = _confint(surv, se_log, conf_type, z)
        std_err = surv * se_log if how is None else np.where(surv == 0, 0.0, surv * se_log)  # as R
        parts.append([t, n_risk, d, cens, surv, std_err, lo, hi])
        med = _r_median(surv, t)
        rows.append({
            "group": label, "n": n_risk[0], "events": d.sum(), "median": med,
            "median_ci_low": _r_median(lo, t), "median_ci_high": _r_median(hi, t),
            "rmean": rmean, "rmean_se": rmean_se, "tau": end_time,
        })
        if np.isnan(med):
            remarks.append(f"Median not reached in group {label!r}: survival stays above 0.5.")
    table = pd.DataFrame(
        {col: np.concatenate([p[i] for p in parts]) for i, col in enumerate(_TABLE_COLUMNS[1:])}
    )
    table.insert(0, "group", pd.Series(list(s.group_labels)).repeat(np.diff(bounds)).to_numpy())
    summary = pd.DataFrame(rows)
    integer_counts(table, ("n_at_risk", "n_events", "n_censored"))
    integer_counts(summary, ("n", "events"))
    if tau is None:
        remarks.append(f"Restricted mean up to the largest observed time, {end_time:g} (R rmean='common').")
    if how is not None:
        remarks.append(_ROBUST_REMARK[how].format(cluster=cluster))
    what = f" by {by}" if by else ""
    return KaplanMeierResult(
        summary=summary, table=table, conf_type=conf_type, confidence=confidence,
        variance="greenwood" if how is None else "robust", title=f"Kaplan-Meier estimate of {time} ({event}){what}", remarks=tuple(remarks),
    )
