"""Test of proportional hazards for a Cox model, as R's ``survival::cox.zph`` (survival >= 3.0).

For each term the coefficient is allowed to drift with a function of time,
beta(t) = beta + theta * g(t), and :func:`cox_zph` gives the score test of
theta = 0 at the fitted beta (one step of the expanded model, like ``cox.zph``):
with g centred on its mean over the events,

    u = sum_events w g(t) (x - xbar(t))          (second half of the expanded score)
    I = [[sum V_t, sum g V_t], [sum g V_t, sum g^2 V_t]]   (expanded information)

and the statistic for the columns J of a term is u_J' (I restricted to all
coefficients and the J drift terms)^-1 u_J, on len(J) degrees of freedom; GLOBAL
tests all drift terms together. V_t is the information contribution of event
time t with the fit's tie handling.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from iopstats.exceptions import IopstatsError
from iopstats.stats._cox_fit import information
from iopstats.stats.cox import CoxResult

__all__ = ["cox_zph"]

_TRANSFORMS = ("km", "identity", "log", "rank")


def _time_transform(slot_time: np.ndarray, slot: np.ndarray, dead: np.ndarray, q: np.ndarray,
                    transform: str) -> np.ndarray:
    """g(t) at each slot's time, computed over all units (unstratified, like R)."""
    tvals, tix = np.unique(slot_time, return_inverse=True)
    unit_t = tix[slot]
    n_t = np.bincount(unit_t, q, minlength=tvals.size)
    if transform == "identity":
        g = tvals
    elif transform == "log":
        if np.any(tvals <= 0):
            raise IopstatsError("transform='log' needs positive times", value=float(tvals.min()),
                                fix="use transform='km' or 'rank'")
        g = np.log(tvals)
    elif transform == "rank":
        before = np.cumsum(n_t) - n_t
        g = before + (n_t + 1) / 2
    else:  # left-continuous Kaplan-Meier: 1 - S(t-)
        d_t = np.bincount(unit_t[dead], q[dead], minlength=tvals.size)
        at_risk = np.cumsum(n_t[::-1])[::-1]
        surv = np.cumprod(1 - np.divide(d_t, at_risk, out=np.zeros_like(d_t), where=at_risk > 0))
        g = 1 - np.r_[1.0, surv[:-1]]
    return g[tix]


def cox_zph(result: CoxResult, transform: str = "km", terms: bool = True) -> pd.DataFrame:
    """Score tests of proportional hazards per term and globally, as R's ``cox.zph``.

    Parameters
    ----------
    result : CoxResult
        A fit from :func:`iopstats.stats.cox.cox` (any ties, strata, weights).
    transform : {"km", "identity", "log", "rank"}
        Function of time the coefficients may drift with; "km" (default, as R) is
        1 - the left-continuous Kaplan-Meier estimate over all rows.
    terms : bool
        True (default): one test per covariate (all indicator columns of a categorical
        covariate together); False: one per model column.

    Returns
    -------
    DataFrame
        Indexed by ``term`` (covariates or columns, then ``"GLOBAL"``) with ``chisq``,
        ``df`` and ``p_value``. A small p-value suggests the hazard ratio changes over
        follow-up time.

    Notes
    -----
    With frequency (integer) weights the time transform and its centring use the
    weights, so a collapsed table gives the same tests as its expanded rows (R's
    ``cox.zph`` ignores case weights there); with non-integer weights rows are
    counted, as R does.

    Examples
    --------
    >>> from iopstats.stats.cox import cox
    >>> df = pd.DataFrame({
    ...     "days": [5, 8, 8, 12, 15, 20, 22, 30, 31, 40, 41, 60],
    ...     "left": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0],
    ...     "loc": ["op", "op", "iop", "op", "iop", "op", "iop", "op", "iop", "iop", "op", "iop"]})
    >>> cox_zph(cox(df, "days", "left", ["loc"])).round(4)  # R: cox.zph(fit)
             chisq  df  p_value
    term                       
    loc     1.5306   1    0.216
    GLOBAL  1.5306   1    0.216
    """
    if not isinstance(result, CoxResult) or result._fit is None:
        raise IopstatsError("cox_zph() needs the result of iopstats.cox()", value=type(result).__name__,
                            fix="fit the model with iopstats.cox(...) and pass the result")
    if transform not in _TRANSFORMS:
        raise IopstatsError("unknown transform", value=transform, fix=f"use one of {list(_TRANSFORMS)}")
    fd = result._fit
    cd, st = fd.data, fd.state
    k = cd.k
    q = cd.w if fd.tie_count == "weight" else cd.nrows
    g_slot = _time_transform(fd.slot_time, cd.slot, cd.dead, q, transform)
    dead = cd.dead
    gbar = float(np.sum(q[dead] * g_slot[cd.slot[dead]]) / np.sum(q[dead]))
    gc = g_slot - gbar
    wd = np.bincount(cd.pattern[dead], cd.w[dead] * gc[cd.slot[dead]], minlength=cd.Xp.shape[0])
    a0, a1 = st.wtave * st.c0, st.wtave * st.c1
    u2 = wd @ cd.Xp - (gc * a0) @ st.S1 + (gc * a1) @ st.D1
    I11 = st.imat
    I12 = information(cd, st, c=gc)
    I22 = information(cd, st, c=gc * gc)
    imat = np.block([[I11, I12], [I12.T, I22]])
    if terms:
        groups = {}
        pos = 0
        for name, cols in result.terms.items():
            groups[name] = list(range(pos, pos + len(cols)))
            pos += len(cols)
    else:
        groups = {c: [i] for i, c in enumerate(result.summary.index)}
    out_rows = []
    names = []
    for name, jj in list(groups.items()) + [("GLOBAL", list(range(k)))]:
        kk = list(range(k)) + [k + j for j in jj]
        u = np.r_[np.zeros(k), u2[jj]]
        try:
            stat = float(u @ np.linalg.solve(imat[np.ix_(kk, kk)], u))
        except np.linalg.LinAlgError:
            stat = float("nan")
        names.append(name)
        out_rows.append((stat, len(jj)))
    out = pd.DataFrame(out_rows, columns=["chisq", "df"], index=pd.Index(names, name="term"))
    out["p_value"] = stats.chi2.sf(out["chisq"], out["df"])
    return out
