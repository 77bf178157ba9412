"""E-values for unmeasured confounding (VanderWeele & Ding 2017, Ann Intern Med 167:268-274).

The E-value of a risk ratio RR (> 1) is ``RR + sqrt(RR (RR - 1))``: the minimum
strength of association, on the risk-ratio scale, that an unmeasured confounder
would need with both the level of care and the outcome, beyond the measured
covariates, to fully explain away the estimate. For RR < 1 the reciprocal is used.
The E-value of the confidence interval is that of the limit nearer the null
(1 when the interval includes the null).

Odds and hazard ratios are first converted to approximate risk ratios
(VanderWeele 2017/2020): with a rare outcome (under about 15% by the end of
follow-up) they approximate the risk ratio; with a common outcome
``RR ~ sqrt(OR)`` and ``RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``.
Retention outcomes (dropout, completion) are usually common: pass ``rare=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from iopstats._results import Result
from iopstats.exceptions import IopstatsError

__all__ = ["e_value", "add_e_values", "EValueResult"]

_MEASURES = ("RR", "OR", "HR")


@dataclass(frozen=True, repr=False)
class EValueResult(Result):
    """E-values: ``summary`` has one row per estimate.

    Columns: measure, estimate, ci_low, ci_high, rare, rr, rr_ci_limit (the converted
    limit nearer the null), e_value, e_value_ci.
    """


def _as_array(x, name: str) -> np.ndarray:
    if x is None:
        return None
    arr = np.atleast_1d(np.asarray(x, dtype=float))
    if np.any(arr[~np.isnan(arr)] <= 0) or np.isinf(arr).any():
        raise IopstatsError(f"{name} must be positive ratios", value=arr[(arr <= 0) | np.isinf(arr)][0],
                            fix="pass risk, odds or hazard ratios (not log ratios or differences)")
    return arr


def _to_rr(x: np.ndarray, measure: str, rare: bool) -> np.ndarray:
    if measure == "RR" or rare:
        return x
    if measure == "OR":
        return np.sqrt(x)
    return (1 - 0.5 ** np.sqrt(x)) / (1 - 0.5 ** np.sqrt(1 / x))


def _e(rr: np.ndarray) -> np.ndarray:
    r = np.where(rr < 1, 1 / rr, rr)
    return r + np.sqrt(r * (r - 1))


def e_value(
    estimate: float | Sequence[float],
    ci_low: float | Sequence[float] | None = None,
    ci_high: float | Sequence[float] | None = None,
    measure: str = "RR",
    rare: bool | None = None,
    true: float = 1.0,
) -> EValueResult:
    """E-value of a ratio estimate and of its confidence interval.

    Parameters
    ----------
    estimate : float or sequence of float
        Risk ratio, odds ratio or hazard ratio (several at once for a table).
    ci_low, ci_high : float or sequence, optional
        Confidence limits on the same scale.
    measure : {"RR", "OR", "HR"}
    rare : bool
        Required for OR and HR: whether the outcome is rare (< 15%) by the end of
        follow-up, which decides how the ratio approximates a risk ratio.
    true : float
        The value to be explained away to (default 1, the null); the E-value is then
        computed for ``estimate / true`` (converted the same way).

    Returns
    -------
    EValueResult

    Examples
    --------
    VanderWeele & Ding (2017), breastfeeding and infant mortality, RR 3.9 (1.8 to 8.7):

    >>> e_value(3.9, 1.8, 8.7).summary[["rr", "e_value", "e_value_ci"]].round(2)
        rr  e_value  e_value_ci
    0  3.9     7.26         3.0
    >>> e_value(0.8, 0.6, 1.1, measure="HR", rare=False).summary["e_value_ci"].tolist()
    [1.0]
    """
    if measure not in _MEASURES:
        raise IopstatsError("unknown measure", value=measure, fix=f"use one of {list(_MEASURES)}")
    if measure != "RR" and rare is None:
        raise IopstatsError(f"say whether the outcome is rare for an {measure}", value=None,
                            fix="pass rare=True when under about 15% have the outcome by the end of "
                                "follow-up, else rare=False (dropout and completion are usually common)")
    rare = bool(rare) if rare is not None else True
    est = _as_array(estimate, "estimate")
    lo = _as_array(ci_low, "ci_low")
    hi = _as_array(ci_high, "ci_high")
    t = _as_array(true, "true")
    for name, lim in (("ci_low", lo), ("ci_high", hi)):
        if lim is not None and len(lim) != len(est):
            raise IopstatsError(f"{name} must have one value per estimate", fix="pass aligned sequences")
    outside = np.zeros(len(est), dtype=bool)
    if lo is not None:
        outside |= lo > est
    if hi is not None:
        outside |= hi < est
    if outside.any():
        raise IopstatsError("the estimate must lie inside its confidence interval",
                            value=float(est[outside][0]), fix="check the order of estimate, ci_low, ci_high")
    rr = _to_rr(est, measure, rare) / _to_rr(t, measure, rare)
    e_est = np.where(np.isnan(rr), np.nan, _e(rr))
    e_est = np.where(rr == 1, 1.0, e_est)
    limit = np.full(len(est), np.nan)
    e_ci = np.full(len(est), np.nan)
    for i in range(len(est)):
        limit[i], e_ci[i] = _ci_part(rr[i], lo, hi, i, measure, rare, _to_rr(t, measure, rare)[0])
    summary = pd.DataFrame({
        "measure": measure, "estimate": est, "ci_low": np.nan if lo is None else lo,
        "ci_high": np.nan if hi is None else hi, "rare": rare if measure != "RR" else np.nan,
        "rr": rr, "rr_ci_limit": limit, "e_value": e_est, "e_value_ci": e_ci,
    })
    remarks = ["E-value: the minimum risk ratio an unmeasured confounder would need with both the level "
               "of care and the outcome, beyond the measured covariates, to explain the estimate away "
               "(VanderWeele & Ding 2017); for the interval, to move its limit nearer the null to the null."]
    if measure != "RR":
        remarks.append(f"{measure} converted to an approximate risk ratio for a "
                       f"{'rare' if rare else 'common'} outcome.")
    return EValueResult(summary=summary, title=f"E-values ({measure})", remarks=tuple(remarks))


def _ci_part(rr, lo, hi, i, measure, rare, t_rr) -> tuple[float, float]:
    """The converted limit nearer the null and its E-value (1 when the interval holds the null)."""
    if np.isnan(rr):
        return np.nan, np.nan
    if rr >= 1:
        if lo is None:
            return np.nan, np.nan
        lim = _to_rr(np.array([lo[i]]), measure, rare)[0] / t_rr
        return lim, 1.0 if lim <= 1 else float(_e(np.array([lim]))[0])
    if hi is None:
        return np.nan, np.nan
    lim = _to_rr(np.array([hi[i]]), measure, rare)[0] / t_rr
    return lim, 1.0 if lim >= 1 else float(_e(np.array([lim]))[0])


def add_e_values(
    frame: pd.DataFrame,
    estimate: str,
    ci_low: str,
    ci_high: str,
    measure: str,
    rare: bool | None = None,
    prefix: str | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` with the E-values of its ratio columns added (for report tables).

    Adds ``<prefix>_e_value`` and ``<prefix>_e_value_ci`` (prefix defaults to ``estimate``);
    rows with a missing estimate (e.g. the reference level) get NaN.

    Examples
    --------
    >>> t = pd.DataFrame({"level": ["iop", "op"], "hazard_ratio": [np.nan, 1.6],
    ...                   "hr_ci_low": [np.nan, 1.4], "hr_ci_high": [np.nan, 1.8]})
    >>> out = add_e_values(t, "hazard_ratio", "hr_ci_low", "hr_ci_high", "HR", rare=False)
    >>> out[["hazard_ratio_e_value", "hazard_ratio_e_value_ci"]].round(3)
       hazard_ratio_e_value  hazard_ratio_e_value_ci
    0                   NaN                      NaN
    1                 2.113                    1.838
    """
    for c in (estimate, ci_low, ci_high):
        if c not in frame.columns:
            raise IopstatsError("column not found", column=c, fix="name the ratio and its limits")
    out = frame.copy()
    name = prefix or estimate
    ok = frame[estimate].notna().to_numpy()
    ev = np.full(len(frame), np.nan)
    ev_ci = np.full(len(frame), np.nan)
    if ok.any():
        res = e_value(frame.loc[ok, estimate].to_numpy(float), frame.loc[ok, ci_low].to_numpy(float),
                      frame.loc[ok, ci_high].to_numpy(float), measure=measure, rare=rare).summary
        ev[ok] = res["e_value"].to_numpy()
        ev_ci[ok] = res["e_value_ci"].to_numpy()
    out[f"{name}_e_value"] = ev
    out[f"{name}_e_value_ci"] = ev_ci
    return out
