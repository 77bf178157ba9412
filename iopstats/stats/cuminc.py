"""Cumulative incidence with competing risks (Aalen-Johansen) and Gray's test.

Leaving treatment by completion, drop-out or transfer are competing events: the
Kaplan-Meier complement of one of them overstates it. The Aalen-Johansen
estimate ``F_k(t) = sum_{s <= t} S(s-) d_k(s) / n(s)`` handles several causes at
the same (whole-day) time exactly, without jitter, as R's ``cmprsk::cuminc`` and
``survfit`` with a multi-state status do.

Variances are those of ``cmprsk::cuminc`` (Fortran ``cinc``), reported as its
step function, i.e. what ``cmprsk::timepoints`` returns at each time. Gray's
(1988) k-sample test follows cmprsk's ``crstm``/``crst`` with rho = 0, vectorised
over event times. Everything is computed from collapsed (group, time) counts, so
``weights=`` (frequency weights) on a collapsed table gives the same numbers as
the row-level data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from iopstats._results import Result
from iopstats.exceptions import IopstatsError
from iopstats.stats._surv_utils import count_table, integer_counts, prepare

__all__ = ["cumulative_incidence", "CumIncResult"]

_COLS = ["estimate", "variance", "ci_low", "ci_high"]
_CHUNK = 2_000_000  # elements of the (times x groups x groups) work arrays per chunk


@dataclass(frozen=True, repr=False)
class CumIncResult(Result):
    """Aalen-Johansen cumulative incidence per group and cause.

    Attributes
    ----------
    summary : DataFrame
        Per group and cause at the group's last observed time: group, cause, n,
        events, time, estimate, ci_low, ci_high.
    table : DataFrame
        One row per group, cause and distinct observed time: group, cause, time,
        estimate, variance, ci_low, ci_high.
    gray : DataFrame or None
        Gray's test per cause (cause, statistic, df, p_value) when there are two or
        more groups.
    """

    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    gray: pd.DataFrame | None = None
    confidence: float = 0.95

    def plot(self, ax=None, causes=None, ci: bool = True, **kw):
        """Cumulative incidence curves per group and cause (:func:`iopstats.plots.cif`); returns the Axes."""
        from iopstats.plots import cif

        return cif(self.table, ax=ax, causes=causes, ci=ci, title=kw.pop("title", self.title), **kw)

    def incidence_at(self, times: float | Iterable[float]) -> pd.DataFrame:
        """Cumulative incidence at given times (``cmprsk::timepoints``).

        0 (variance 0) before a group's first observed time; NaN after its last.

        Examples
        --------
        >>> df = pd.DataFrame({"t": [1, 2, 2, 3], "why": ["done", "drop", "done", 0]})
        >>> ci = cumulative_incidence(df, "t", "why")
        >>> ci.incidence_at([0, 2])[["cause", "time", "estimate"]]
          cause  time  estimate
        0  done   0.0      0.00
        1  done   2.0      0.50
        2  drop   0.0      0.00
        3  drop   2.0      0.25
        """
        at = np.atleast_1d(np.asarray(list(times) if not np.isscalar(times) else [times], dtype=float))
        if np.isnan(at).any():
            raise IopstatsError("incidence_at() got a missing time", fix="pass numeric times")
        parts = []
        for (g, k), tab in self.table.groupby(["group", "cause"], sort=False, observed=True):
            t = tab["time"].to_numpy()
            idx = np.searchsorted(t, at, side="right") - 1
            vals = tab[_COLS].to_numpy()
            out = np.empty((len(at), 4))
            out[idx < 0] = [0.0, 0.0, np.nan, np.nan]
            out[idx >= 0] = vals[idx[idx >= 0]]
            out[at > t[-1]] = np.nan
            part = pd.DataFrame(out, columns=_COLS)
            part.insert(0, "time", at)
            part.insert(0, "cause", k)
            part.insert(0, "group", g)
            parts.append(part)
        return pd.concat(parts, ignore_index=True)


def _loglog_ci(est: np.ndarray, var: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """``F ** exp(-/+ z * sqrt(var) / (F log F))``: the log(-log) transform."""
    with np.errstate(divide="ignore", invalid="ignore"):
        se_g = np.sqrt(var) / (est * np.log(est))
        return est ** np.exp(-z * se_g), est ** np.exp(z * se_g)


def _cinc(n: np.ndarray, s_left: np.ndarray, s: np.ndarray, d1: np.ndarray, d_all: np.ndarray):
    """Estimate and cmprsk ``cinc`` variance for one cause in one group.

    ``n`` at risk, ``s_left``/``s`` all-cause KM just before/at each time,
    ``d1`` events of the cause, ``d_all`` events of any cause.
    """
    f = np.cumsum(s_left * d1 / n)
    nd2 = d_all - d1
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(s > 0, 1.0 / s, 0.0)
        t5 = np.where(nd2 > 1, 1 - (nd2 - 1) / (n - 1), 1.0)
        t6 = np.where((nd2 > 0) & (s > 0), s_left**2 * t5 * nd2 / n**2, 0.0)
        t5b = np.where(d1 > 1, 1 - (d1 - 1) / (n - 1), 1.0)
        t6b = np.where(d1 > 0, s_left**2 * t5b * d1 / n**2, 0.0)
    t4, t4b = f * inv, 1 + inv * f
    v1 = np.cumsum(t4 * t4 * t6 + t4b * t4b * t6b)
    v2 = np.cumsum(inv * t4 * t6 + inv * t4b * t6b)
    v3 = np.cumsum(inv * inv * (t6 + t6b))
    at_jump = v1 + f * f * v3 - 2 * f * v2
    last = np.maximum.accumulate(np.where(d1 > 0, np.arange(len(d1)), -1))
    var = np.where(last >= 0, at_jump[np.maximum(last, 0)], 0.0)
    return f, var


def _gray_stratum(d1: np.ndarray, d2: np.ndarray, rs: np.ndarray):
    """Score and variance of Gray's test in one stratum (cmprsk ``crst``, rho = 0).

    Arrays are (event times x groups): cause-of-interest events, other-cause
    events, at risk. Returns the score (groups) and variance (groups x groups)
    for all groups; the caller drops the last group.
    """
    n_t, n_g = d1.shape
    nd1 = d1.sum(axis=1)
    pos = rs > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        skm = np.cumprod(np.where(pos, (rs - d1 - d2) / rs, 1.0), axis=0)
        skmm = np.vstack([np.ones((1, n_g)), skm[:-1]])
        f1 = np.cumsum(np.where(pos, skmm * d1 / rs, 0.0), axis=0)
        f1m = np.vstack([np.zeros((1, n_g)), f1[:-1]])
        t1 = np.where(pos, rs / skmm, 0.0)
        tr = t1.sum(axis=1)
        tq = np.where(pos, rs * (1 - f1m) / skmm, 0.0).sum(axis=1)
        f = np.cumsum(nd1 / tr)
        fm = np.concatenate([[0.0], f[:-1]])
        score = (d1 - np.where(pos, nd1[:, None] * rs * (1 - f1m) / (skmm * tq[:, None]), 0.0)).sum(axis=0)
        # cause of interest: t4, t3 per (time, group k)
        t4 = np.where(skm > 0, 1 - (1 - f)[:, None] / skm, 1.0)
        t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
        t3 = np.where(pos & (nd1[:, None] > 0), t5 * skmm * nd1[:, None] / (tr[:, None] * rs), 0.0)
        # other causes
        ok2 = (skm > 0) & (d2 > 0)
        u4 = np.where(ok2, (1 - f)[:, None] / skm, 0.0)
        u5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
        u3 = np.where(ok2, u5 * skmm**2 * d2 / rs**2, 0.0)
        cfac = np.where(nd1 > 0, nd1 / (tr * (1 - fm)), 0.0)
    v3 = (t4 * t4 * t3 + u4 * u4 * u3).sum(axis=0)
    v2 = np.zeros((n_g, n_g))
    v = np.zeros((n_g, n_g))
    c_prev = np.zeros((n_g, n_g))
    step = max(1, _CHUNK // (n_g * n_g))
    for lo in range(0, n_t, step):
        sl = slice(lo, min(n_t, lo + step))
        tt1, tr_c = t1[sl], tr[sl]
        a = np.einsum("ti,ij->tij", tt1, np.eye(n_g)) - tt1[:, :, None] * tt1[:, None, :] / tr_c[:, None, None]
        a = np.where(np.isfinite(a), a, 0.0)
        c = c_prev + np.cumsum(a * cfac[sl, None, None], axis=0)
        c_prev = c[-1]
        b = a - t4[sl, None, :] * c  # (t, i, k)
        v2 += np.einsum("tik,tk->ik", b, t4[sl] * t3[sl])
        v += np.einsum("tik,tjk,tk->ij", b, b, t3[sl])
        v2 -= np.einsum("tik,tk->ik", c, u4[sl] ** 2 * u3[sl])
        v += np.einsum("tik,tjk,tk->ij", c, c, u4[sl] ** 2 * u3[sl])
    c = c_prev
    v += (c * v3[None, :]) @ c.T + c @ v2.T + v2 @ c.T
    return score, v


def _dense(key_t: np.ndarray, key_g: np.ndarray, w: np.ndarray, n_t: int, n_g: int) -> np.ndarray:
    return np.bincount(key_t * n_g + key_g, weights=w, minlength=n_t * n_g).reshape(n_t, n_g)


def _gray(sg, t, cnt, n_groups: int, cause: int) -> tuple[float, int, bool]:
    """Gray's test for cause code ``cause`` (1-based column of ``cnt``)."""
    stratum, group = sg // n_groups, sg % n_groups
    score = np.zeros(n_groups)
    var = np.zeros((n_groups, n_groups))
    for s in np.unique(stratum):
        rows = stratum == s
        tv, ti = np.unique(t[rows], return_inverse=True)
        g = group[rows]
        c = cnt[rows]
        d1 = _dense(ti, g, c[:, cause], len(tv), n_groups)
        d2 = _dense(ti, g, c[:, 1:].sum(axis=1) - c[:, cause], len(tv), n_groups)
        tot = _dense(ti, g, c.sum(axis=1), len(tv), n_groups)
        rs = np.cumsum(tot[::-1], axis=0)[::-1]
        ev = (d1 + d2).sum(axis=1) > 0
        sc, vv = _gray_stratum(d1[ev], d2[ev], rs[ev])
        score += sc
        var += vv
    s1, v1 = score[:-1], var[:-1, :-1]
    df = n_groups - 1
    if not np.all(np.isfinite(v1)):
        return float("nan"), df, False
    sv = np.linalg.svd(v1, compute_uv=False)
    if sv[0] == 0 or sv[-1] <= 1e-7 * sv[0]:  # rank-deficient, as cmprsk's qr(tol = 1e-7)
        return float("nan"), df, False
    return float(s1 @ np.linalg.solve(v1, s1)), df, True


def cumulative_incidence(
    data: pd.DataFrame,
    time: str,
    cause: str,
    by: str | None = None,
    censor_code: Any = 0,
    confidence: float = 0.95,
    weights: str | None = None,
    strata: str | None = None,
) -> CumIncResult:
    """Cumulative incidence of each cause in the presence of the others.

    Parameters
    ----------
    data : DataFrame
        One row per episode, or a collapsed count table with ``weights=``. Not modified.
    time : str
        Column of times (>= 0) to the first event or censoring.
    cause : str
        Column naming how the episode ended (strings or integers, e.g.
        "completed", "dropped_out", "transferred"); ``censor_code`` marks censored rows.
    by : str, optional
        Column of groups; one set of curves per group and Gray's test between them.
    censor_code : scalar
        Value of ``cause`` meaning censored (still in treatment / lost). Default 0.
    confidence : float
        Confidence level of the pointwise limits.
    weights : str, optional
        Column of frequency weights.
    strata : str, optional
        Column of strata for Gray's test (as ``cmprsk::cuminc(strata=)``); the
        estimates are per group regardless.

    Returns
    -------
    CumIncResult
        ``.table`` (group, cause, time, estimate, variance, ci_low, ci_high),
        ``.summary`` (final estimate per group and cause), ``.gray`` (Gray's test
        per cause, or None with fewer than two groups), ``.incidence_at(times)``.

    Notes
    -----
    ``estimate`` and ``variance`` equal ``cmprsk::cuminc`` / ``timepoints``; the
    variance is cmprsk's, updated at the cause's own event times and carried
    forward between them. Limits use the log(-log) transform,
    ``F ** exp(-/+ z * sqrt(variance) / (F * log F))``; they are NaN where the
    estimate is 0. Gray's statistic is NaN (with a remark) when its variance
    matrix is singular, where cmprsk reports -1. Rows with a missing time, cause
    or group are dropped and counted in ``remarks``.

    Examples
    --------
    >>> df = pd.DataFrame({"days": [2, 3, 3, 5, 8, 9, 12, 15],
    ...                    "how": ["completed", "dropped_out", "completed", "censored",
    ...                            "dropped_out", "completed", "completed", "censored"]})
    >>> ci = cumulative_incidence(df, "days", "how", censor_code="censored")
    >>> ci.summary[["cause", "events", "estimate"]].round(4)
             cause  events  estimate
    0    completed       4    0.5625
    1  dropped_out       2    0.2812
    """
    if not (isinstance(confidence, float | int) and 0 < confidence < 1):
        raise IopstatsError("confidence must be between 0 and 1", value=confidence, fix="e.g. confidence=0.95")
    s = prepare(data, time, cause, by=by, strata=strata, weights=weights, func="cumulative_incidence",
                competing=True, censor_code=censor_code)
    n_causes = len(s.status_labels)
    if n_causes == 0:
        raise IopstatsError(
            "every row is censored: there is no event to estimate the incidence of",
            column=cause, value=censor_code,
            fix="check censor_code= (the value of the cause column that marks censored rows)",
        )
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    n_groups = len(s.group_labels)
    gcode, t_all, counts = count_table(s.time, s.group, s.status, s.weight, n_causes + 1)
    bounds = np.searchsorted(gcode, np.arange(n_groups + 1))

    tables, rows = [], []
    for gi, label in enumerate(s.group_labels):
        sl = slice(bounds[gi], bounds[gi + 1])
        t, cnt = t_all[sl], counts[sl]
        n = np.cumsum(cnt.sum(axis=1)[::-1])[::-1]
        d_all = cnt[:, 1:].sum(axis=1)
        surv = np.cumprod(1 - d_all / n)
        s_left = np.concatenate([[1.0], surv[:-1]])
        for k, klabel in enumerate(s.status_labels, start=1):
            est, var = _cinc(n, s_left, surv, cnt[:, k], d_all)
            lo, hi = _loglog_ci(est, var, z)
            tables.append(pd.DataFrame({"group": label, "cause": klabel, "time": t, "estimate": est,
                                        "variance": var, "ci_low": lo, "ci_high": hi}))
            rows.append({"group": label, "cause": klabel, "n": n[0], "events": cnt[:, k].sum(),
                         "time": t[-1], "estimate": est[-1], "ci_low": lo[-1], "ci_high": hi[-1]})
    table = pd.concat(tables, ignore_index=True)
    summary = pd.DataFrame(rows)
    integer_counts(summary, ("n", "events"))

    remarks = list(s.remarks)
    if not (s.status == 0).any():
        remarks.append(
            f"No row has {cause} == {censor_code!r}: every episode is counted as an event. "
            "If some are censored, pass their code as censor_code=."
        )
    gray = None
    if n_groups >= 2:
        sg = s.strata * n_groups + s.group
        sg_c, t_c, cnt_c = count_table(s.time, sg, s.status, s.weight, n_causes + 1)
        out = []
        for k, klabel in enumerate(s.status_labels, start=1):
            stat, df, ok = _gray(sg_c, t_c, cnt_c, n_groups, k)
            if not ok:
                remarks.append(f"Gray's test for cause {klabel!r} not computed: singular variance matrix.")
            out.append({"cause": klabel, "statistic": stat, "df": df, "p_value": float(chi2.sf(stat, df))})
        gray = pd.DataFrame(out)
    elif by is not None:
        remarks.append(f"Only one group in {by!r}: Gray's test needs two or more.")
    remarks.append("Limits use the log(-log) transform of cmprsk's variance.")
    what = f" by {by}" if by else ""
    return CumIncResult(
        summary=summary, table=table, gray=gray, confidence=confidence, remarks=tuple(remarks),
        title=f"Cumulative incidence of {cause} over {time}{what} (Aalen-Johansen)",
    )
