"""Cox proportional hazards model, exact against R's ``survival::coxph``.

:func:`cox` fits the model by Newton-Raphson on the partial likelihood with
Efron (default, as R) or Breslow ties, optional strata, case/frequency weights and a
robust (sandwich) variance clustered on an id column. The numerical core
(:mod:`iopstats.stats._cox_fit`) works on risk-set sums per distinct time and on
covariate patterns, so a model with categorical covariates on millions of episodes
with whole-day times costs a few passes over the rows per iteration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from scipy import stats

from iopstats._results import Result
from iopstats.exceptions import IopstatsError
from iopstats.stats._cox_fit import CoxData, newton, score_residual_crossprod
from iopstats.stats.design import Design, design_matrix, with_interactions

__all__ = ["CoxResult", "cox"]


@dataclass(frozen=True)
class CoxFitData:
    """What :func:`iopstats.stats.cox_zph.cox_zph` needs from a fit (internal)."""

    data: CoxData
    state: Any
    slot_time: np.ndarray
    tie_count: str
    design: Design


@dataclass(frozen=True, repr=False)
class CoxResult(Result):
    """Fitted Cox model.

    Attributes
    ----------
    summary : DataFrame
        Indexed by ``term`` (model column, e.g. ``"level_of_care[residential_short]"``):
        ``coef`` (log hazard ratio), ``se``, ``hr``, ``ci_low``, ``ci_high`` (hazard
        ratio scale), ``z``, ``p_value``; with a robust variance ``se`` is the robust
        standard error and ``naive_se`` the model-based one.
    variance : DataFrame
        Covariance matrix of the coefficients (robust when ``robust``).
    tests : DataFrame
        Global tests indexed by ``test``: ``likelihood_ratio``, ``wald``, ``score``
        (log-rank) and, with a robust variance, ``robust_score``; columns
        ``statistic``, ``df``, ``p_value``. The Wald test uses the reported variance.
    loglik_null, loglik : float
        Log partial likelihood at 0 and at the estimate.
    n, n_events : float
        Rows and events used (sums of the weights when they are frequency weights).
    n_iter : int
    converged : bool
    ties : str
    robust : bool
    terms : dict
        Covariate -> its model columns.
    """

    variance: pd.DataFrame = field(default_factory=pd.DataFrame)
    tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    loglik_null: float = float("nan")
    loglik: float = float("nan")
    n: float = 0.0
    n_events: float = 0.0
    n_iter: int = 0
    converged: bool = False
    ties: str = "efron"
    robust: bool = False
    terms: dict = field(default_factory=dict)
    _fit: CoxFitData | None = field(default=None, compare=False)

    def plot(self, ax=None, **kw):
        """Forest plot of the hazard ratios with their intervals (:func:`iopstats.plots.forest`); returns the Axes."""
        from iopstats.plots import forest

        return forest(self.summary, ax=ax, estimate="hr", title=kw.pop("title", self.title), **kw)

    def predict_linear(self, data: pd.DataFrame) -> pd.Series:
        """Linear predictor ``X beta`` (log relative hazard against the reference levels, 0 for
        numeric covariates at 0) for new ``data`` with the fitted covariates.

        Unlike R's ``predict(type="lp")`` it is not centred on the sample means.
        """
        if self._fit is None:
            raise IopstatsError("this result carries no design", fix="refit with cox()")
        X = self._fit.design.matrix_for(data)
        return pd.Series(X @ self.summary["coef"].to_numpy(), index=data.index, name="linear_predictor")


def _require(data: Any, cols: dict[str, Any]) -> None:
    if not isinstance(data, pd.DataFrame):
        raise IopstatsError(f"cox() needs a pandas DataFrame, got {type(data).__name__}",
                            fix="pass a DataFrame with one row per episode (or a count table with weights=)")
    if len(data) == 0:
        raise IopstatsError("cox() got an empty DataFrame", fix="pass data with at least one row")
    for role, col in cols.items():
        if col is None:
            continue
        if not isinstance(col, str) or col not in data.columns:
            raise IopstatsError(f"{role} column not found", column=str(col),
                                fix=f"pass {role}= one of the columns: {list(map(str, data.columns[:15]))}")


def _time_values(s: pd.Series, col: str) -> np.ndarray:
    if is_bool_dtype(s.dtype) or not is_numeric_dtype(s.dtype):
        raise IopstatsError("time column must be numeric (days or weeks)", column=col,
                            value=str(s.dtype), fix="convert it with pd.to_numeric or compute days first")
    t = s.to_numpy(dtype="float64", na_value=np.nan)
    if np.isinf(t).any():
        raise IopstatsError("time column has infinite values", column=col,
                            fix="record open episodes with their follow-up so far and event 0")
    if (t < 0).any():
        raise IopstatsError("time column has negative values", column=col, value=float(t[t < 0][0]),
                            fix="check the admission and discharge dates of those rows")
    return t


def _event_values(s: pd.Series, col: str) -> tuple[np.ndarray, np.ndarray]:
    if is_bool_dtype(s.dtype):
        miss = s.isna().to_numpy()
        return s.fillna(False).to_numpy(dtype=bool), miss
    if not is_numeric_dtype(s.dtype):
        raise IopstatsError("event column must be 0/1 or boolean", column=col, value=str(s.dtype),
                            fix="code the event as 1 and censoring as 0")
    v = s.to_numpy(dtype="float64", na_value=np.nan)
    miss = np.isnan(v)
    bad = ~miss & (v != 0) & (v != 1)
    if bad.any():
        raise IopstatsError("event column must hold 0 (censored) or 1 (event)", column=col,
                            value=float(v[bad][0]), fix="recode it; for competing causes use one cause at a time")
    return v == 1, miss


def _weight_values(s: pd.Series, col: str) -> np.ndarray:
    if is_bool_dtype(s.dtype) or not is_numeric_dtype(s.dtype):
        raise IopstatsError("weights column must be numeric", column=col, fix="pass a column of counts or weights")
    w = s.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isnan(w) & (~np.isfinite(w) | (w < 0))
    if bad.any():
        raise IopstatsError("weights must be finite and non-negative", column=col, value=float(w[bad][0]),
                            fix="fix or drop those rows")
    return w


def _group_codes(frame: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Combined integer codes (sorted order) of one or more columns; missing -> flagged."""
    n = len(frame)
    key = np.zeros(n, dtype=np.int64)
    miss = np.zeros(n, dtype=bool)
    for c in cols:
        s = frame[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes, card = np.asarray(s.cat.codes, dtype=np.int64), len(s.cat.categories)
        else:
            try:
                codes, uniq = pd.factorize(s, sort=True)
            except TypeError:
                codes, uniq = pd.factorize(s.astype("string"), sort=True)
            codes, card = np.asarray(codes, dtype=np.int64), len(uniq)
        miss |= codes < 0
        key = key * max(card, 1) + np.maximum(codes, 0)
        if len(cols) > 1:
            key, _ = pd.factorize(key, sort=True)
            key = np.asarray(key, dtype=np.int64)
    return key, miss


def _dense_codes(key: np.ndarray, span: int) -> tuple[np.ndarray, int]:
    """Codes 0..m-1 of non-negative integer keys in sorted order (O(n + span))."""
    present = np.bincount(key, minlength=span) > 0
    remap = np.cumsum(present) - 1
    return remap[key], int(present.sum())


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of values in sorted order and the sorted distinct values."""
    n = values.size
    lo, hi = values.min(), values.max()
    if np.all(values == np.floor(values)) and hi - lo <= 4 * n + 1_000_000:
        off = (values - lo).astype(np.int64)
        span = int(hi - lo) + 1
        present = np.bincount(off, minlength=span) > 0
        remap = np.cumsum(present) - 1
        return remap[off], np.flatnonzero(present) + lo
    uniq, inv = np.unique(values, return_inverse=True)
    return inv.astype(np.int64), uniq


def cox(
    data: pd.DataFrame,
    time: str,
    event: str,
    covariates: Sequence[str] | str,
    ties: str = "efron",
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    confidence: float = 0.95,
    robust: bool | None = None,
    max_iter: int = 30,
    interactions: Sequence[tuple[str, str]] | None = None,
) -> CoxResult:
    """Cox proportional hazards regression (partial likelihood), as R's ``coxph``.

    Parameters
    ----------
    data : DataFrame
        One row per episode, or a collapsed count table with ``weights=``. Not modified.
    time, event : str
        Follow-up time (>= 0) and event indicator (1/True = event, 0/False = censored).
    covariates : str or sequence of str
        Categorical columns (category, object/string, bool) are expanded to indicators
        against their first level (category order, else sorted), named
        ``"<covariate>[<level>]"``; numeric columns enter as they are, named
        ``"<covariate>"``.
    ties : {"efron", "breslow"}
        Tie handling; Efron is R's default.
    strata : str or sequence of str, optional
        Columns whose combinations get their own baseline hazard (R's ``strata()``).
    cluster : str, optional
        Id column (e.g. client id for repeated episodes): robust sandwich variance from
        the dfbeta residuals summed per cluster, as ``coxph(..., cluster=)``.
    weights : str, optional
        Column of weights. Integer weights are frequency weights: the fit equals the fit
        on the expanded rows (a collapsed table gives the row-level numbers).
        Non-integer weights (e.g. IPTW) are case weights as in ``coxph(weights=)``
        (Efron's tie correction counts rows); use ``robust=True`` for them.
    confidence : float
        Level of the Wald confidence intervals.
    robust : bool, optional
        Robust variance; default (as R): True when ``cluster`` is given or the weights
        are not all integers. ``robust=True``
        without ``cluster`` treats each row as its own cluster (each of w units of a
        frequency-weighted row).
    max_iter : int
        Newton-Raphson iterations allowed.
    interactions : list of (str, str), optional
        Pairs of covariates whose interaction enters the model (both must be in
        ``covariates``), e.g. ``[("level_of_care", "sex")]`` for R's
        ``level_of_care * sex``; terms are named as in
        :func:`iopstats.stats.design.with_interactions` (factor-by-factor
        ``"a:b[x:y]"``). See :func:`iopstats.effect_modification` for the
        effect of one covariate within levels of another and the interaction test.

    Returns
    -------
    CoxResult
        ``summary`` (coef, se, hr, ci_low, ci_high, z, p_value by term), ``tests``,
        ``variance``, ``loglik``, ``n``, ``n_events`` and more.

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "days": [5, 8, 8, 12, 15, 20, 22, 30, 31, 40, 41, 60],
    ...     "left": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0],
    ...     "loc": ["op", "op", "iop", "op", "iop", "op", "iop", "op", "iop", "iop", "op", "iop"]})
    >>> fit = cox(df, "days", "left", ["loc"])
    >>> fit.summary[["coef", "hr", "p_value"]].round(4)  # R: coxph(Surv(days, left) ~ loc)
              coef      hr  p_value
    term                           
    loc[op]  0.679  1.9718   0.3775
    >>> fit.tests.round(4)
                      statistic  df  p_value
    test                                    
    likelihood_ratio     0.7892   1   0.3744
    wald                 0.7789   1   0.3775
    score                0.8079   1   0.3687
    """
    if ties not in ("efron", "breslow"):
        raise IopstatsError("unknown ties method", value=ties, fix='use ties="efron" (R default) or "breslow"')
    if not 0 < confidence < 1:
        raise IopstatsError("confidence must be between 0 and 1", value=confidence, fix="e.g. confidence=0.95")
    strata_cols = [] if strata is None else ([strata] if isinstance(strata, str) else list(strata))
    _require(data, {"time": time, "event": event, "cluster": cluster, "weights": weights})
    for s in strata_cols:
        _require(data, {"strata": s})
    cov_list = [covariates] if isinstance(covariates, str) else list(covariates)
    for c in cov_list:
        if c in (time, event, weights, cluster) or c in strata_cols:
            raise IopstatsError("a covariate is also used as time, event, weights, strata or cluster",
                                column=str(c), fix="use each column in one role only")
    data, cov_list, _ = with_interactions(data, cov_list, interactions)
    if cluster is not None and robust is False:
        raise IopstatsError("cluster= asks for a robust variance but robust=False",
                            column=cluster, fix="drop robust=False, or drop cluster= for model-based errors")

    t_all = _time_values(data[time], time)
    e_all, e_miss = _event_values(data[event], event)
    miss = {time: np.isnan(t_all), event: e_miss}
    w_all = _weight_values(data[weights], weights) if weights else None
    if w_all is not None:
        miss[weights] = np.isnan(w_all)
    if strata_cols:
        s_all, s_miss = _group_codes(data, strata_cols)
        miss["strata"] = s_miss
    if cluster is not None:
        cl_all, cl_miss = _group_codes(data, [cluster])
        miss[cluster] = cl_miss
    keep = np.ones(len(data), dtype=bool)
    for m in miss.values():
        keep &= ~m
    remarks: list[str] = []
    n_rows_all = len(data)
    n_missing = n_rows_all - int(keep.sum())
    if n_missing:
        detail = ", ".join(f"{int(m.sum())} in {c}" for c, m in miss.items() if m.any())
        remarks.append(f"{n_missing} of {n_rows_all} rows dropped for missing values ({detail}).")
    if w_all is not None:
        zero = keep & (w_all == 0)
        if zero.any():
            remarks.append(f"{int(zero.sum())} rows with zero weight ignored.")
            keep &= ~zero
    if not keep.any():
        raise IopstatsError("no usable rows: every row has a missing time, event, weight, stratum or cluster",
                            column=time, fix="check the column names and the missing values")
    design = design_matrix(data, cov_list, keep=keep)
    remarks.extend(design.remarks)
    rows = design.rows
    n = rows.size
    full = n == n_rows_all
    t = t_all if full else t_all[rows]
    dead = e_all if full else e_all[rows]
    w = np.ones(n) if w_all is None else (w_all if full else w_all[rows])
    integer_w = bool(np.all(w == np.rint(w)))
    tie_count = "weight" if integer_w else "rows"
    robust = (cluster is not None or not integer_w) if robust is None else bool(robust)
    if not integer_w:
        remarks.append("Non-integer weights are case weights as in R's coxph (Efron's tie correction "
                       "counts rows)" + ("; robust standard errors." if robust else
                                         "; model-based standard errors understate IPTW uncertainty."))
    n_events = float(w @ dead) if integer_w else float(np.count_nonzero(dead))
    n_used = float(w.sum()) if integer_w else float(n)
    if n_events == 0:
        raise IopstatsError("no events in the data used: the model cannot be fitted", column=event,
                            fix="check the event coding (1 = event) and the filters applied")

    tcode, tvalues = _sorted_codes(t)
    T = tvalues.size
    if strata_cols:
        scode = s_all if full else s_all[rows]
        scode, S = _dense_codes(scode, int(scode.max()) + 1)
    else:
        scode, S = np.zeros(n, dtype=np.int64), 1
    skey = scode * T + tcode
    if S * T <= 4 * n + 1_000_000:
        slot, J = _dense_codes(skey, S * T)
        uk = np.flatnonzero(np.bincount(skey, minlength=S * T) > 0)
    else:
        uk, slot = np.unique(skey, return_inverse=True)
        J = uk.size
    slot = np.asarray(slot, dtype=np.int64)
    slot_stratum, slot_tcode = uk // T, uk % T
    first = np.r_[0, np.flatnonzero(np.diff(slot_stratum)) + 1]
    bounds = np.r_[first, J]
    seg = np.repeat(np.arange(first.size), np.diff(bounds))
    slot_start, slot_next = first[seg], bounds[seg + 1]

    P = design.n_patterns
    pattern = design.pattern_codes
    if cluster is not None:
        ccode = cl_all if full else cl_all[rows]
        ccode, C = _dense_codes(ccode, int(ccode.max()) + 1)
    else:
        ccode, C = None, 0
    span = P * J * 2 * max(C, 1)
    if span <= 2 * n:
        key = (pattern * J + slot) * 2 + dead
        if ccode is not None:
            key = key * C + ccode
        cell, m = _dense_codes(key, span)
        rep = np.empty(m, dtype=np.int64)
        rep[cell] = np.arange(n)
        u_w, u_w2 = np.bincount(cell, w, minlength=m), np.bincount(cell, w * w, minlength=m)
        u_n = np.bincount(cell, minlength=m).astype(float)
        u_pat, u_slot, u_dead = pattern[rep], slot[rep], dead[rep]
        u_cl = None if ccode is None else ccode[rep]
    else:
        u_w, u_w2, u_n = w, w * w, np.ones(n)
        u_pat, u_slot, u_dead, u_cl = pattern, slot, dead, ccode
    collapsed = span <= 2 * n

    Xp = design.patterns.copy()
    blocks = []
    pos = 0
    for b in design.blocks:
        sl = slice(pos, pos + len(b.columns))
        if b.kind == "categorical":
            pc = np.zeros(P, dtype=np.int64)
            pc[pattern] = b.codes
            blocks.append(("cat", pc, b.n_levels, sl))
        else:
            Xp[:, pos] -= np.average(b.values, weights=w)
            blocks.append(("num", None, 0, sl))
        pos += len(b.columns)
    cd = CoxData(slot=u_slot, dead=u_dead.astype(bool), w=u_w, w2=u_w2, nrows=u_n, pattern=u_pat,
                 cluster=u_cl, n_clusters=C, Xp=Xp, blocks=tuple(blocks), n_slots=J,
                 slot_start=slot_start, slot_next=slot_next, efron=ties == "efron", tie_count=tie_count,
                 unit_codes=None if collapsed else tuple(b.codes for b in design.blocks))
    res = newton(cd, max_iter=max_iter)
    cols = list(design.columns)
    if res.singular is not None:
        col = cols[res.singular]
        cov = next(b.name for b in design.blocks if col in b.columns)
        raise IopstatsError(
            f"model column {col!r} is constant or collinear with earlier columns"
            + (" within strata" if strata_cols else ""),
            column=cov, value=col,
            fix=f"drop covariate {cov!r}, or merge its sparse levels (or levels that coincide with another covariate)",
        )
    if not res.converged:
        raise IopstatsError(
            f"Cox model did not converge in {max_iter} iterations", value=f"loglik {res.state.loglik:.6g}",
            fix="look for levels with no or all events (merge them), rescale large numeric covariates, "
                "or raise max_iter=",
        )
    st = res.state
    beta = res.beta
    naive = np.linalg.inv(st.imat)
    naive = (naive + naive.T) / 2
    var = naive
    k = beta.size
    U0, I0 = res.null_state.U, res.null_state.imat
    score = float(U0 @ np.linalg.solve(I0, U0))
    lr = 2 * (st.loglik - res.null_state.loglik)
    test_rows = {"likelihood_ratio": lr, "score": score}
    if robust:
        G, _ = score_residual_crossprod(cd, st, tie_count)
        var = naive @ G @ naive
        var = (var + var.T) / 2
        G0, u0 = score_residual_crossprod(cd, res.null_state, tie_count)
        try:
            test_rows["robust_score"] = float(u0 @ np.linalg.solve(G0, u0))
        except np.linalg.LinAlgError:
            test_rows["robust_score"] = float("nan")
    test_rows["wald"] = float(beta @ np.linalg.solve(var, beta))
    order = ["likelihood_ratio", "wald", "score"] + (["robust_score"] if robust else [])
    tests = pd.DataFrame({
        "statistic": [test_rows[o] for o in order],
        "df": [k] * len(order),
    }, index=pd.Index(order, name="test"))
    tests["p_value"] = stats.chi2.sf(tests["statistic"], tests["df"])

    se = np.sqrt(np.diag(var))
    zq = stats.norm.ppf(0.5 + confidence / 2)
    z = beta / se
    with np.errstate(over="ignore"):  # infinite estimates give infinite limits
        summ = pd.DataFrame({"coef": beta, "se": se, "hr": np.exp(beta),
                             "ci_low": np.exp(beta - zq * se), "ci_high": np.exp(beta + zq * se),
                             "z": z, "p_value": 2 * stats.norm.sf(np.abs(z))},
                            index=pd.Index(cols, name="term"))
    if robust:
        summ["naive_se"] = np.sqrt(np.diag(naive))
    if res.infinite.any():
        bad = [cols[i] for i in np.flatnonzero(res.infinite)]
        remarks.append("Log-likelihood converged before " + ", ".join(bad) + "; the coefficient may be "
                       "infinite (monotone likelihood: e.g. a level with no events). Merge or drop that level.")
    variance = pd.DataFrame(var, index=pd.Index(cols, name="term"), columns=cols)
    title = (f"Cox model ({ties} ties{', stratified' if strata_cols else ''}"
             f"{', robust SE' if robust else ''}): {event} over {time}")
    fitdata = CoxFitData(cd, st, tvalues[slot_tcode], tie_count, design)
    return CoxResult(
        summary=summ, title=title, remarks=tuple(remarks), variance=variance, tests=tests,
        loglik_null=float(res.null_state.loglik), loglik=float(st.loglik), n=n_used, n_events=n_events,
        n_iter=res.n_iter, converged=res.converged, ties=ties, robust=robust,
        terms={b.name: list(b.columns) for b in design.blocks}, _fit=fitdata,
    )
