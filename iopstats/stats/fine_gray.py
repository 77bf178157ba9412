"""Fine-Gray proportional subdistribution hazards regression, as R ``cmprsk::crr``.

For a cause of interest (e.g. dropout) with competing causes (completion,
transfer), the subdistribution hazard keeps clients who ended with a competing
cause in the risk set, weighted by ``G(u-) / G(T_i-)`` (``G`` the Kaplan-Meier
curve of the censoring times, left-continuous), so ``exp(coef)`` is the
subdistribution hazard ratio and the model predicts cumulative incidence
``F(t | x) = 1 - exp(-exp(x b) Lambda0(t))``.

Everything follows ``crr``'s Fortran (cmprsk 2.2): Breslow ties, the censoring
curve at ``t-``, Newton-Raphson with step halving, and the sandwich variance
``H^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') H^-1`` whose ``psi_i`` accounts
for the estimated censoring curve. Rows are first collapsed to distinct (time,
status, covariate pattern) with their frequency weights, so ``weights="n"`` on a
collapsed table equals the rows. The weight of every covariate pattern in every
risk set (a cause times x patterns matrix, cumulative sums over the sorted rows) does
not depend on the coefficients, so each Newton step is a few matrix products of
size (cause times x patterns x covariates^2), whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from iopstats._checks import check_confidence, check_frame, column_list, frequency_weights
from iopstats._results import Result
from iopstats.exceptions import IopstatsError
from iopstats.stats.design import Design, design_matrix

__all__ = ["fine_gray", "FineGrayResult"]


@dataclass(frozen=True, repr=False)
class FineGrayResult(Result):
    """Fine-Gray fit.

    Attributes
    ----------
    summary : DataFrame
        term, coef, se, z, p_value, shr (subdistribution hazard ratio), shr_ci_low, shr_ci_high.
    vcov : DataFrame
        Sandwich variance of the coefficients (crr's ``var``).
    baseline : DataFrame
        time, jump (baseline cumulative subdistribution hazard increments, crr's ``bfitj``).
    loglik : float
        Log pseudo-partial likelihood at the estimate (crr's ``loglik``).
    converged : bool
    cause, n, n_events : settings and counts.
    """

    vcov: pd.DataFrame = field(default_factory=pd.DataFrame)
    baseline: pd.DataFrame = field(default_factory=pd.DataFrame)
    loglik: float = float("nan")
    converged: bool = True
    cause: Any = None
    n: float = 0.0
    n_events: float = 0.0
    design: Design | None = field(default=None, repr=False)

    def plot(self, ax=None, **kw):
        """Forest plot of the subdistribution hazard ratios; returns the Axes."""
        from iopstats.plots import forest

        return forest(self.summary.set_index("term"), ax=ax, estimate="shr", ci_low="shr_ci_low",
                      ci_high="shr_ci_high", xlabel=kw.pop("xlabel", "subdistribution hazard ratio (95% interval)"),
                      title=kw.pop("title", self.title), **kw)

    def predict(self, newdata: pd.DataFrame, times: Sequence[float] | None = None) -> pd.DataFrame:
        """Cumulative incidence of the cause for each row of ``newdata`` (R ``predict.crr``).

        Returns a DataFrame with one column per row of ``newdata`` (its index) and one
        row per time (default: the event times of the fit).
        """
        X = self.design.matrix_for(newdata)
        b = self.summary["coef"].to_numpy()
        cum = np.cumsum(self.baseline["jump"].to_numpy())
        t_fit = self.baseline["time"].to_numpy()
        at = t_fit if times is None else np.asarray(list(times), dtype=float)
        idx = np.searchsorted(t_fit, at, side="right") - 1
        lam = np.where(idx >= 0, cum[np.maximum(idx, 0)], 0.0)
        cif = 1.0 - np.exp(-np.outer(lam, np.exp(X @ b)))
        return pd.DataFrame(cif, index=pd.Index(at, name="time"), columns=newdata.index)

    def adjusted_cif(self, data: pd.DataFrame, by: str, times: Sequence[float] | None = None,
                     weights: str | None = None) -> pd.DataFrame:
        """Standardized (covariate-adjusted) cumulative incidence for each level of ``by``.

        Every row of ``data`` is given each level in turn; the predicted incidences are
        averaged (frequency-weighted with ``weights``). Tidy: group, time, cif.
        """
        check_frame(data, list(self.design.covariates) + ([weights] if weights else []))
        block = next((b for b in self.design.blocks if b.name == by), None)
        if block is None or block.kind != "categorical":
            raise IopstatsError("by must be a categorical covariate of the model", column=by,
                                fix=f"use one of {list(self.design.covariates)}")
        f = frequency_weights(data, weights)
        rows = data[list(self.design.covariates)].dropna()
        f = np.ones(len(rows)) if f is None else f[data.index.get_indexer(rows.index)]
        out = []
        for lev in block.levels:
            pred = self.predict(rows.assign(**{by: lev}), times)
            out.append(pd.DataFrame({"group": lev, "time": pred.index.to_numpy(),
                                     "cif": pred.to_numpy() @ f / f.sum()}))
        return pd.concat(out, ignore_index=True)


def _status_codes(s: pd.Series, cause: Any, censor_code: Any, col: str) -> np.ndarray:
    missing = s.isna().to_numpy()
    is_cause = (s == cause).fillna(False).to_numpy(dtype=bool)
    is_cens = (s == censor_code).fillna(False).to_numpy(dtype=bool)
    if not is_cause.any():
        shown = list(pd.unique(s.dropna()))[:8]
        raise IopstatsError("the cause of interest does not occur in the cause column", column=col,
                            value=cause, fix=f"pass cause= one of {shown}")
    st = np.where(is_cause, 1, np.where(is_cens, 0, 2)).astype(np.int64)
    st[missing] = -1
    return st


def _censoring_left(t: np.ndarray, st: np.ndarray, f: np.ndarray) -> np.ndarray:
    """G(t_i-): Kaplan-Meier of the censoring times just before each row's time (rows sorted)."""
    ut, idx = np.unique(t, return_inverse=True)
    nc = np.bincount(idx, weights=f * (st == 0), minlength=len(ut))
    y = np.cumsum(np.bincount(idx, weights=f, minlength=len(ut))[::-1])[::-1]
    g = np.cumprod(1.0 - nc / y)
    g_left = np.concatenate(([1.0], g[:-1]))
    return g_left[idx]


@dataclass
class _Data:
    t: np.ndarray  # sorted times of the collapsed rows
    st: np.ndarray  # 1 cause, 2 competing, 0 censored
    f: np.ndarray
    X: np.ndarray
    G: np.ndarray  # G(t_i-)
    u: np.ndarray  # distinct cause times
    first: np.ndarray  # for each u, first row with t >= u
    d: np.ndarray  # weight of cause events at u
    sx: np.ndarray  # sum of f x over cause events at u
    Gu: np.ndarray  # G(u-)
    Xp: np.ndarray  # distinct covariate patterns
    M: np.ndarray  # (cause times, patterns): weight of each pattern in the risk set at u


def _prepare(t, st, f, X, pat, Xp) -> _Data:
    order = np.lexsort((st, t))
    t, st, f, X, pat = t[order], st[order], f[order], X[order], pat[order]
    G = _censoring_left(t, st, f)
    ev = st == 1
    u, inv = np.unique(t[ev], return_inverse=True)
    d = np.bincount(inv, weights=f[ev], minlength=len(u))
    sx = np.zeros((len(u), X.shape[1]))
    np.add.at(sx, inv, f[ev, None] * X[ev])
    first = np.searchsorted(t, u, side="left")
    Gu = G[first]  # G(u-) is the same for every row at time u
    if len(u) * Xp.shape[0] > 50_000_000:
        raise IopstatsError(
            f"fine_gray() would need a {len(u):,} x {Xp.shape[0]:,} risk-set matrix (event times x covariate patterns)",
            fix="group numeric covariates (e.g. age in bands) or round the times (e.g. to whole days)")
    M = _risk_weights(t, st, f, G, pat, u, Gu, Xp.shape[0])
    return _Data(t, st, f, X, G, u, first, d, sx, Gu, Xp, M)


def _risk_weights(t, st, f, G, pat, u, Gu, P) -> np.ndarray:
    """``M[u, p]``: weight of pattern p in the risk set at cause time u (b-free).

    Rows still at risk (t_j >= u) count f_j; rows ended by a competing cause before u
    count f_j G(u-) / G(t_j-). With it every risk-set sum is ``M @ (pattern values)``.
    """
    U = len(u)
    k = np.searchsorted(u, t, side="right")  # cause times <= t_j; at risk for u index < k
    cnt = np.bincount(k * P + pat, weights=f, minlength=(U + 1) * P).reshape(U + 1, P)
    at_risk = np.cumsum(cnt[::-1], axis=0)[::-1][1:]  # rows with k > i
    comp = st == 2
    cc = np.bincount(k[comp] * P + pat[comp], weights=f[comp] / G[comp], minlength=(U + 1) * P).reshape(U + 1, P)
    ended = np.cumsum(cc, axis=0)[:U]  # competing rows with k <= i, i.e. t_j < u_i
    return at_risk + Gu[:, None] * ended


def _risk_sums(D: _Data, b: np.ndarray, second: bool = True):
    """S0, S1 (and S2) of the subdistribution risk set at each cause time u."""
    ep = np.exp(D.Xp @ b)
    S0 = D.M @ ep
    S1 = D.M @ (ep[:, None] * D.Xp)
    S2 = None
    if second:
        k = D.Xp.shape[1]
        outer = (D.Xp[:, :, None] * D.Xp[:, None, :]).reshape(len(ep), k * k)
        S2 = (D.M @ (ep[:, None] * outer)).reshape(len(S0), k, k)
    return S0, S1, S2


def _loglik_score_info(D: _Data, b: np.ndarray):
    S0, S1, S2 = _risk_sums(D, b)
    xbar = S1 / S0[:, None]
    ll = float(np.sum(D.sx @ b) - np.sum(D.d * np.log(S0)))
    score = (D.sx - D.d[:, None] * xbar).sum(axis=0)
    info = np.einsum("u,ujk->jk", D.d / S0, S2) - np.einsum("u,uj,uk->jk", D.d, xbar, xbar)
    return ll, score, info


def _newton(D: _Data, p: int, gtol: float = 1e-9, maxiter: int = 50):
    """crr's Newton-Raphson with backtracking (Armijo, step halving)."""
    b = np.zeros(p)
    converged = False
    for _ in range(maxiter + 1):
        ll, score, info = _loglik_score_info(D, b)
        if np.max(np.abs(score) * np.maximum(np.abs(b), 1)) < max(abs(ll), 1) * gtol:
            converged = True
            break
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            break
        for _half in range(21):
            bn = b + step
            ll_n = _loglik_score_info(D, bn)[0]
            if np.isfinite(ll_n) and -ll_n <= -ll - 1e-4 * float(step @ score):
                break
            step = step / 2
        else:
            break
        b = bn
    return b, converged


def _sandwich(D: _Data, b: np.ndarray, info: np.ndarray) -> np.ndarray:
    """crr's robust variance: H^-1 sum_i f_i (eta_i + psi_i)(eta_i + psi_i)' H^-1."""
    X, t, st, f = D.X, D.t, D.st, D.f
    S0, S1, _ = _risk_sums(D, b, second=False)
    xbar = S1 / S0[:, None]
    c0 = D.d / S0
    c1 = c0[:, None] * xbar
    e = np.exp(X @ b)
    # cumulative over cause times u <= t_i, and G-weighted over u > t_i
    k_le = np.searchsorted(D.u, t, side="right")  # number of cause times <= t_i
    C0 = np.concatenate(([0.0], np.cumsum(c0)))[k_le]
    C1 = np.vstack((np.zeros(X.shape[1]), np.cumsum(c1, axis=0)))[k_le]
    R0 = np.concatenate((np.cumsum((D.Gu * c0)[::-1])[::-1], [0.0]))
    R1 = np.vstack((np.cumsum((D.Gu[:, None] * c1)[::-1], axis=0)[::-1], np.zeros(X.shape[1])))
    comp = st == 2
    eta = -e[:, None] * (X * C0[:, None] - C1)
    eta[comp] -= (e[comp] / D.G[comp])[:, None] * (X[comp] * R0[k_le[comp], None] - R1[k_le[comp]])
    ev = st == 1
    kk = np.searchsorted(D.u, t[ev], side="left")
    eta[ev] += X[ev] - xbar[kk]
    eta += _psi(D, e, R0, R1)
    hinv = np.linalg.inv(info)
    meat = (f[:, None] * eta).T @ eta
    return hinv @ meat @ hinv


def _psi(D: _Data, e: np.ndarray, R0: np.ndarray, R1: np.ndarray) -> np.ndarray:
    """The censoring-curve part of each row's influence (crr's psi_i)."""
    t, st, f, X = D.t, D.st, D.f, D.X
    s, s_idx = np.unique(t, return_inverse=True)
    nc = np.bincount(s_idx, weights=f * (st == 0), minlength=len(s))
    Y = np.cumsum(np.bincount(s_idx, weights=f, minlength=len(s))[::-1])[::-1]
    comp_w = f * (st == 2) * e / D.G
    # P(s): competing rows with t_j < s
    P0 = np.concatenate(([0.0], np.cumsum(np.bincount(s_idx, weights=comp_w, minlength=len(s)))))[:-1]
    P1s = np.zeros((len(s), X.shape[1]))
    np.add.at(P1s, s_idx, comp_w[:, None] * X)
    P1 = np.vstack((np.zeros(X.shape[1]), np.cumsum(P1s, axis=0)))[:-1]
    k_ge = np.searchsorted(D.u, s, side="left")  # first cause time >= s
    q = P1 * R0[k_ge, None] - P0[:, None] * R1[k_ge]
    run = np.cumsum((nc / Y**2)[:, None] * q, axis=0)  # sum over censoring times <= s
    psi = -run[s_idx]
    cens = st == 0
    psi[cens] += q[s_idx[cens]] / Y[s_idx[cens], None]
    return psi


def fine_gray(
    data: pd.DataFrame,
    time: str,
    cause: str,
    covariates: str | Sequence[str],
    event: Any = 1,
    censor_code: Any = 0,
    weights: str | None = None,
    confidence: float = 0.95,
) -> FineGrayResult:
    """Fine-Gray subdistribution hazards regression for one cause among competing causes.

    Parameters
    ----------
    data : DataFrame
        One row per episode, or a collapsed table with ``weights=``. Not modified.
    time : str
        Follow-up time column (>= 0).
    cause : str
        Column holding the cause of the end of follow-up (e.g. "dropout", "completed",
        "transferred") and ``censor_code`` for censored rows.
    covariates : str or list of str
        Model covariates (categorical columns become indicators against their first level).
    event : object
        The cause of interest (crr's ``failcode``).
    censor_code : object
        Value of ``cause`` for censored rows (crr's ``cencode``).
    weights : str, optional
        Frequency weights of a collapsed table (same numbers as the rows).
    confidence : float
        Level of the hazard-ratio limits.

    Returns
    -------
    FineGrayResult
        ``.summary`` (coef, se, z, p_value, shr and limits), ``.vcov``, ``.baseline``,
        ``.predict(newdata, times)``, ``.adjusted_cif(data, by)``.

    Notes
    -----
    Equal to ``cmprsk::crr(ftime, fstatus, cov1 = model.matrix(...)[, -1], failcode=,
    cencode=)`` (one censoring group). Rows with a missing time, cause or covariate
    are dropped and counted in ``remarks``.

    Examples
    --------
    >>> df = pd.DataFrame({"days": [2, 3, 3, 5, 6, 8, 9, 11, 12, 15],
    ...                    "end": ["drop", "done", "drop", 0, "drop", "done", "drop", 0, "done", "drop"],
    ...                    "loc": ["iop", "op"] * 5})
    >>> fit = fine_gray(df, "days", "end", ["loc"], event="drop")
    >>> fit.summary[["term", "coef", "se"]].round(4)  # R: crr(days, end, cov1 = loc == "op")
          term    coef      se
    0  loc[op] -1.8002  0.9004
    """
    confidence = check_confidence(confidence)
    covs = column_list(covariates, "covariates")
    if not covs:
        raise IopstatsError("give at least one covariate", fix='e.g. covariates=["level_of_care"]')
    check_frame(data, [time, cause, *covs] + ([weights] if weights else []))
    f_all = frequency_weights(data, weights)
    f_all = np.ones(len(data)) if f_all is None else f_all
    if np.any(f_all != np.round(f_all)):
        raise IopstatsError(
            "fine_gray() weights must be whole-number frequency weights (counts of a collapsed table)",
            column=weights, fix="crr has no case weights; for IPTW-weighted competing risks use "
                                "cumulative_incidence on the weighted data or aggregate to counts")
    t_all = pd.to_numeric(data[time], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if (t_all[~np.isnan(t_all)] < 0).any() or np.isinf(t_all).any():
        raise IopstatsError("times must be finite and >= 0", column=time, fix="drop or fix those rows")
    st_all = _status_codes(data[cause], event, censor_code, cause)
    keep = ~np.isnan(t_all) & (st_all >= 0) & (f_all > 0)
    design = design_matrix(data, covs, keep=keep)
    rows = design.rows
    n_dropped = int((np.isnan(t_all) | (st_all < 0)).sum())
    D, n_col = _collapsed(t_all[rows], st_all[rows], f_all[rows], design)
    b, converged = _newton(D, n_col)
    ll, _, info = _loglik_score_info(D, b)
    var = _sandwich(D, b, info)
    se = np.sqrt(np.diag(var))
    z = b / se
    zc = float(norm.ppf(1 - (1 - confidence) / 2))
    cols = list(design.columns)
    summary = pd.DataFrame({
        "term": cols, "coef": b, "se": se, "z": z, "p_value": 2 * norm.sf(np.abs(z)), "shr": np.exp(b),
        "shr_ci_low": np.exp(b - zc * se), "shr_ci_high": np.exp(b + zc * se),
    })
    S0, _, _ = _risk_sums(D, b, second=False)
    baseline = pd.DataFrame({"time": D.u, "jump": D.d / S0})
    remarks = list(design.remarks)
    if n_dropped:
        remarks.append(f"{n_dropped} rows dropped: missing time or cause.")
    if not converged:
        remarks.append("The Newton-Raphson iterations did not converge: check for separation "
                       "(a covariate level with no events of the cause).")
    return FineGrayResult(
        summary=summary, vcov=pd.DataFrame(var, index=cols, columns=cols), baseline=baseline, loglik=ll,
        converged=converged, cause=event, n=float(D.f.sum()), n_events=float(D.d.sum()), design=design,
        title=f"Fine-Gray subdistribution hazards for {cause} = {event!r}", remarks=tuple(remarks),
    )


def _collapsed(t, st, f, design: Design) -> tuple[_Data, int]:
    """Collapse to distinct (time, status, pattern) rows with summed weights."""
    key = pd.MultiIndex.from_arrays([t, st, design.pattern_codes])
    codes, uniq = pd.factorize(key)
    w = np.bincount(codes, weights=f)
    ut = uniq.get_level_values(0).to_numpy(dtype=float)
    ust = uniq.get_level_values(1).to_numpy(dtype=np.int64)
    up = uniq.get_level_values(2).to_numpy(dtype=np.int64)
    Xp = design.patterns.astype(float)
    return _prepare(ut, ust, w, Xp[up], up, Xp), Xp.shape[1]
