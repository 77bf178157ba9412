"""Infinitesimal-jackknife (robust) variance of a Kaplan-Meier curve and its restricted mean.

The same variance R ``survfit(..., robust=TRUE)`` reports (with ``id=`` /
``cluster=`` the row influences are summed within a client before squaring).
For a row i with time T_i, event d_i and case weight w_i, the derivative of
``log S(t_k)`` with respect to ``w_i`` is

    D_i(k) = H(t_k)                          for t_k <  T_i   (still at risk)
    D_i(k) = H(T_i) - d_i / (n(T_i) - d(T_i))  for t_k >= T_i

with ``H(t) = sum_{s <= t} d(s) / (n(s) (n(s) - d(s)))`` (weighted counts). The
variance of log S(t_k) is ``sum_c (sum_{i in c} w_i D_i(k))^2`` over clusters c.
Per cluster the inner sum is ``H_k A_c(k) + B_c(k)`` with ``A_c(k)`` the weight of
its rows still at risk after t_k and ``B_c(k)`` the weighted constants of the
rows that ended; the sums over clusters of ``A^2``, ``AB`` and ``B^2`` change only
where a row ends, so the whole curve costs one sort of the rows.

The restricted mean ``RMST = sum_k Delta_k S(t_k)`` (plus the first interval)
has derivative ``sum_k Delta_k S(t_k) D_i(k)``: one number per row, summed per
cluster and squared. Frequency weights (a collapsed table) enter as the number
``mult`` of independent copies of a row when rows are their own clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["IJCurve", "ij_curve"]


@dataclass(frozen=True)
class IJCurve:
    """Robust variance of one Kaplan-Meier curve at its distinct times (``var_log``)
    and of its restricted mean up to ``tau`` (``rmst_var``; NaN without tau)."""

    time: np.ndarray
    var_log: np.ndarray
    rmst: float
    rmst_var: float
    rmst_row: np.ndarray | None = None  # each row's weighted derivative of the RMST


def _step_parts(time, status, weight):
    ut, idx = np.unique(time, return_inverse=True)
    d = np.bincount(idx, weights=weight * status, minlength=len(ut))
    n = np.cumsum(np.bincount(idx, weights=weight, minlength=len(ut))[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(n > d, 1.0 / (n * (n - d)), 0.0)
        surv = np.cumprod(np.where(n > 0, 1.0 - d / n, 1.0))
    H = np.cumsum(d * c)
    return ut, idx, d, n, c, H, surv


def ij_curve(
    time: np.ndarray,
    status: np.ndarray,
    case_w: np.ndarray,
    mult: np.ndarray,
    cluster: np.ndarray | None = None,
    tau: float | None = None,
) -> IJCurve:
    """Robust variance of log S at each distinct time and of the RMST (one group).

    ``case_w`` are the case weights (IPT weights times frequency weights when
    rows are collapsed within a cluster), ``mult`` the number of independent
    copies of each row (frequency weights when each row is its own cluster;
    ones with ``cluster``). ``cluster`` holds integer cluster codes or None
    (every row its own cluster).
    """
    weight = case_w * mult
    ut, idx, d, n, c, H, surv = _step_parts(time, status, weight)
    const = H[idx] - status * n[idx] * c[idx]  # H(T_i) - d_i / (n - d)
    K = len(ut)
    if cluster is None:
        q = mult * case_w * case_w
        at_risk_after = np.concatenate((np.cumsum(np.bincount(idx, weights=q, minlength=K)[::-1])[::-1][1:], [0.0]))
        ended = np.cumsum(np.bincount(idx, weights=q * const * const, minlength=K))
        var_log = H * H * at_risk_after + ended
    else:
        var_log = _clustered_var(idx, case_w * mult, const, cluster, H, K)
    rmst, rmst_var, row = float("nan"), float("nan"), None
    if tau is not None:
        rmst, infl = _rmst_influence(ut, idx, surv, H, const, tau)
        row = case_w * infl
        if cluster is None:
            rmst_var = float(np.sum(mult * row * row))
        else:
            per = np.bincount(cluster, weights=mult * row)
            rmst_var = float(per @ per)
    return IJCurve(time=ut, var_log=np.maximum(var_log, 0.0), rmst=rmst, rmst_var=rmst_var, rmst_row=row)


def _clustered_var(idx, s, const, cluster, H, K):
    """``sum_c (H_k A_c(k) + B_c(k))^2`` at every distinct time k (see module notes)."""
    order = np.argsort(idx, kind="stable")
    ci, ki, si, bi = cluster[order], idx[order], s[order], s[order] * const[order]
    n_c = int(cluster.max()) + 1
    a_tot = np.bincount(cluster, weights=s, minlength=n_c)
    # running sums within each cluster in time order
    by_c = np.lexsort((np.arange(len(ci)), ci))
    cum_s = np.empty(len(ci))
    cum_b = np.empty(len(ci))
    cs = _group_cumsum(ci[by_c], si[by_c])
    cb = _group_cumsum(ci[by_c], bi[by_c])
    cum_s[by_c], cum_b[by_c] = cs, cb
    a_after = a_tot[ci] - cum_s
    a_before = a_after + si
    b_after = cum_b
    b_before = cum_b - bi
    d_aa = np.bincount(ki, weights=a_after**2 - a_before**2, minlength=K)
    d_ab = np.bincount(ki, weights=a_after * b_after - a_before * b_before, minlength=K)
    d_bb = np.bincount(ki, weights=b_after**2 - b_before**2, minlength=K)
    saa = a_tot @ a_tot + np.cumsum(d_aa)
    sab = np.cumsum(d_ab)
    sbb = np.cumsum(d_bb)
    return H * H * saa + 2 * H * sab + sbb


def _group_cumsum(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting where the (sorted) ``keys`` change."""
    total = np.cumsum(values)
    start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    offset = np.repeat(np.r_[0.0, total[start[1:] - 1]], np.diff(np.r_[start, len(keys)]))
    return total - offset


def _rmst_influence(ut, idx, surv, H, const, tau):
    """RMST up to ``tau`` and each row's derivative of it (before its case weight)."""
    keep = ut <= tau
    tt = ut[keep]
    nxt = np.append(tt[1:], tau)
    delta = nxt - tt  # width of the rectangle after each kept time
    a = np.zeros(len(ut))
    a[keep] = delta * surv[keep]
    first = tt[0] if len(tt) else tau
    rmst = float(first + a.sum())
    cum_aH = np.concatenate(([0.0], np.cumsum(a * H)))  # sum_{k < j} a_k H_k
    tail_a = np.concatenate((np.cumsum(a[::-1])[::-1], [0.0]))  # sum_{k >= j} a_k
    infl = cum_aH[idx] + const * tail_a[idx]
    return rmst, infl
