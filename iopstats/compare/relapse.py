"""Relapse at a follow-up window with follow-up non-response handled three ways.

Follow-up non-responders usually do worse than responders, so a rate over
responders alone is too optimistic. :func:`relapse_rates` shows, per level of
care, the same window under three stated assumptions:

* ``complete_case``: responders only. Assumes non-responders use at the same
  rate as responders (missing completely at random).
* ``missing_is_use``: every due discharge, non-responders counted as
  relapsed. A worst case, not an estimate.
* ``multiple_imputation``: non-responders' use is imputed ``m`` times from a
  logistic model fitted to responders on level of care and covariates.
  Assumes data *missing at random*: among clients alike on level and those
  covariates, non-responders use at the same rate as responders. Proper
  imputation: each imputation draws the model coefficients from their
  approximate posterior (normal, centred at the penalised maximum-likelihood
  fit, covariance the inverse penalised information; a weak normal prior with
  standard deviation 5 on the log-odds scale keeps separated fits finite),
  then draws each non-responder's use. The rate and its confidence interval
  combine the imputations with Rubin's rules and Barnard-Rubin degrees of
  freedom (complete-data df ``n_due - 1``).

When non-response is worse than MAR (non-responders use more even given the
covariates), the truth usually lies between complete case and missing = use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from iopstats.exceptions import IopstatsError
from iopstats.outcomes.definitions import COVARIATES
from iopstats.stats.rates import wilson_interval

__all__ = ["relapse_rates", "DEFAULT_COVARIATES", "METHODS"]

METHODS: tuple[str, ...] = ("complete_case", "missing_is_use", "multiple_imputation")

#: Covariates used by the imputation model when present and informative: the outcome table's
#: case-mix covariates (:data:`iopstats.outcomes.definitions.COVARIATES`).
DEFAULT_COVARIATES: tuple[str, ...] = COVARIATES

_PRIOR_SD = 5.0


def _fit_logistic(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Penalised (normal-prior) logistic fit on frequency-weighted patterns.

    Returns the posterior mode and the inverse penalised information.
    """
    k = X.shape[1]
    prec = np.full(k, 1.0 / _PRIOR_SD**2)
    prec[0] = 0.0  # flat prior on the intercept
    beta = np.zeros(k)
    for _ in range(100):
        p = special.expit(X @ beta)
        grad = X.T @ (w * (y - p)) - prec * beta
        info = (X * (w * p * (1 - p))[:, None]).T @ X + np.diag(prec)
        step = np.linalg.solve(info + 1e-10 * np.eye(k), grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    p = special.expit(X @ beta)
    info = (X * (w * p * (1 - p))[:, None]).T @ X + np.diag(prec)
    cov = np.linalg.inv(info + 1e-10 * np.eye(k))
    return beta, (cov + cov.T) / 2.0


def _design(frame: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    """Intercept + treatment-coded dummies of string columns (first level = reference)."""
    parts = [np.ones((len(frame), 1))]
    for c in cols:
        d = pd.get_dummies(frame[c], drop_first=True, dtype=float)
        if d.shape[1]:
            parts.append(d.to_numpy())
    return np.hstack(parts)


def _rubin(q: np.ndarray, u: np.ndarray, n: float, confidence: float) -> tuple[float, float, float]:
    """Rubin's rules with Barnard-Rubin degrees of freedom: (estimate, low, high)."""
    m = len(q)
    qbar = float(np.mean(q))
    ubar = float(np.mean(u))
    b = float(np.var(q, ddof=1))
    t = ubar + (1 + 1 / m) * b
    if t <= 0:
        return qbar, qbar, qbar
    lam = (1 + 1 / m) * b / t
    nu_com = max(n - 1.0, 1.0)
    nu_obs = (nu_com + 1) / (nu_com + 3) * nu_com * (1 - lam)
    nu = nu_obs if lam == 0 else 1.0 / ((lam**2) / (m - 1) + 1.0 / nu_obs)
    half = stats.t.ppf(0.5 + confidence / 2.0, nu) * np.sqrt(t)
    return qbar, max(qbar - half, 0.0), min(qbar + half, 1.0)


def relapse_rates(
    outcomes: pd.DataFrame,
    window: int = 90,
    by: str = "level_of_care",
    m: int = 20,
    seed: int = 0,
    confidence: float = 0.95,
    *,
    covariates: Sequence[str] | None = None,
    weights: str | None = None,
) -> pd.DataFrame:
    """Relapse rate at a follow-up window per group under three non-response methods.

    Parameters
    ----------
    outcomes : DataFrame
        Output of :func:`iopstats.build_outcomes` (or any frame with
        ``relapse_<window>_responded``, ``relapse_<window>_cc`` and ``by``).
        Rows whose window is not due (missing ``relapse_<window>_responded``)
        or whose group is missing are left out.
    window : int
        Follow-up window in days (a ``followup_windows`` value used to build
        the outcomes).
    by : str
        Grouping column.
    m : int
        Number of imputations (>= 2).
    seed : int
        Seed of the imputation random generator.
    confidence : float
        Confidence level of the intervals.
    covariates : sequence of str, optional
        Imputation-model covariates besides ``by``. Default: those of
        :data:`DEFAULT_COVARIATES` present with at least two distinct values
        among due rows. Missing covariate values form their own category.
    weights : str, optional
        Column of frequency weights (whole numbers), e.g. from
        :func:`iopstats.stats.counts.collapse`; results equal row level.

    Returns
    -------
    DataFrame
        One row per (level, method): level, method, n_due, n_responded,
        response_rate, rate, ci_low, ci_high, note. Complete case and
        missing = use carry Wilson intervals; multiple imputation Rubin's-rules
        t intervals.

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "level_of_care": ["iop"] * 10,
    ...     "relapse_90_responded": [True] * 6 + [False] * 4,
    ...     "relapse_90_cc": [True, True, False, False, False, False] + [None] * 4})
    >>> r = relapse_rates(df, m=5)
    >>> r[["level", "method", "n_due", "n_responded", "rate"]].round(3)
      level               method  n_due  n_responded   rate
    0   iop        complete_case     10            6  0.333
    1   iop       missing_is_use     10            6  0.600
    2   iop  multiple_imputation     10            6  0.340
    """
    if not isinstance(outcomes, pd.DataFrame):
        raise IopstatsError("outcomes must be a pandas DataFrame", value=type(outcomes).__name__,
                            fix="pass the DataFrame returned by iopstats.build_outcomes")
    resp_col, cc_col = f"relapse_{window}_responded", f"relapse_{window}_cc"
    needed = [resp_col, cc_col, by] + ([weights] if weights else [])
    missing = [c for c in needed if c not in outcomes.columns]
    if missing:
        raise IopstatsError(
            f"column(s) {', '.join(missing)} not found",
            column=missing[0],
            fix=f"build outcomes with followup_windows including {window} (iopstats.build_outcomes), "
            "or pass the right window=, by= and weights=",
        )
    if not isinstance(m, (int, np.integer)) or m < 2:
        raise IopstatsError("m (number of imputations) must be a whole number >= 2", value=m, fix="pass m=20")
    if not 0 < confidence < 1:
        raise IopstatsError("confidence must be between 0 and 1", value=confidence, fix="pass confidence=0.95")

    resp = outcomes[resp_col].astype("boolean")
    cc = outcomes[cc_col].astype("boolean")
    due = resp.notna() & outcomes[by].notna()
    bad = due & resp.fillna(False) & cc.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise IopstatsError("a responder has no use value", column=cc_col, row=i,
                            fix="rebuild the outcomes with iopstats.build_outcomes")
    if weights:
        w = pd.to_numeric(outcomes[weights], errors="coerce").to_numpy(dtype=float)
        if np.isnan(w[due.to_numpy()]).any() or (w[due.to_numpy()] < 0).any():
            raise IopstatsError("frequency weights must be non-negative numbers", column=weights,
                                fix="use a count column such as the n of iopstats.stats.counts.collapse")
    else:
        w = np.ones(len(outcomes))

    if covariates is None:
        covariates = [
            c for c in DEFAULT_COVARIATES
            if c in outcomes.columns and c != by and outcomes.loc[due, c].nunique(dropna=True) >= 2
        ]
    else:
        covariates = list(covariates)
        absent = [c for c in covariates if c not in outcomes.columns]
        if absent:
            raise IopstatsError("imputation covariate not found", column=absent[0],
                                fix="pass covariates= present in the outcomes, or None for the defaults")

    d = pd.DataFrame(
        {
            "level": outcomes[by].astype(object).astype(str),
            "responded": resp.fillna(False).astype(bool),
            "use": cc.fillna(False).astype(bool),
            "w": w,
        },
        index=outcomes.index,
    )
    for i, c in enumerate(covariates):
        d[f"x{i}"] = outcomes[c].astype(object).where(outcomes[c].notna(), "(missing)").astype(str)
    d = d[due.to_numpy()]
    xcols = [f"x{i}" for i in range(len(covariates))]
    pat = (
        d.groupby(["level", *xcols, "responded", "use"], sort=True, observed=True)["w"].sum().reset_index()
    )
    pat = pat[pat["w"] > 0].reset_index(drop=True)
    level_order = [str(v) for v in pd.Series(outcomes.loc[due, by]).astype("category").cat.categories
                   if str(v) in set(pat["level"])]

    rows = []
    rng = np.random.default_rng(seed)
    X = _design(pat.assign(level=pd.Categorical(pat["level"], categories=level_order)), ["level", *xcols])
    r_mask = pat["responded"].to_numpy()
    y = pat["use"].to_numpy(dtype=float)
    pw = pat["w"].to_numpy(dtype=float)
    nr_w = pw[~r_mask]
    if (~r_mask).any() and not np.allclose(nr_w, np.round(nr_w)):
        raise IopstatsError("frequency weights must be whole numbers for multiple imputation", column=weights,
                            fix="use counts (e.g. from iopstats.stats.counts.collapse) as weights")
    draws = None
    if r_mask.any():
        beta, cov = _fit_logistic(X[r_mask], y[r_mask], pw[r_mask])
        chol = np.linalg.cholesky(cov + 1e-12 * np.eye(len(beta)))
        draws = []
        for _ in range(m):
            b = beta + chol @ rng.standard_normal(len(beta))
            p = special.expit(X[~r_mask] @ b)
            draws.append(rng.binomial(np.round(nr_w).astype(np.int64), p))
        draws = np.array(draws, dtype=float)  # m x non-responder patterns

    z_note = f"{int(round(confidence * 100))}% CI"
    cov_text = ", ".join(covariates) if covariates else "no covariates"
    for lev in level_order:
        in_lev = (pat["level"] == lev).to_numpy()
        n_due = pw[in_lev].sum()
        n_resp = pw[in_lev & r_mask].sum()
        ev_resp = pw[in_lev & r_mask & (y == 1)].sum()
        n_nr = n_due - n_resp
        rr = n_resp / n_due if n_due > 0 else np.nan
        base = {"level": lev, "n_due": n_due, "n_responded": n_resp, "response_rate": rr}
        lo, hi = wilson_interval(np.array([ev_resp]), np.array([n_resp]), confidence)
        rows.append({**base, "method": "complete_case", "rate": ev_resp / n_resp if n_resp > 0 else np.nan,
                     "ci_low": lo[0], "ci_high": hi[0],
                     "note": "Responders only; assumes non-responders use at the responders' rate "
                             "(missing completely at random). Usually too optimistic. Wilson "
                             + z_note + "."})
        ev_mu = ev_resp + n_nr
        lo, hi = wilson_interval(np.array([ev_mu]), np.array([n_due]), confidence)
        rows.append({**base, "method": "missing_is_use", "rate": ev_mu / n_due if n_due > 0 else np.nan,
                     "ci_low": lo[0], "ci_high": hi[0],
                     "note": "All due discharges; non-responders counted as relapsed. A worst case, "
                             "not an estimate. Wilson " + z_note + "."})
        if n_resp == 0 or draws is None:
            est = lo_mi = hi_mi = np.nan
            note = "Not estimated: no responders at this level to impute from."
        else:
            imp = draws[:, in_lev[~r_mask]].sum(axis=1) if n_nr > 0 else np.zeros(m)
            q = (ev_resp + imp) / n_due
            u = q * (1 - q) / n_due
            est, lo_mi, hi_mi = _rubin(q, u, n_due, confidence)
            note = (f"Non-responders' use imputed {m} times from a logistic model on responders "
                    f"({by} and {cov_text}); assumes missing at random: among clients alike on "
                    "these, non-responders use as much as responders. Rubin's rules, Barnard-Rubin "
                    + z_note + ".")
        rows.append({**base, "method": "multiple_imputation", "rate": est, "ci_low": lo_mi, "ci_high": hi_mi,
                     "note": note})
    out = pd.DataFrame(rows, columns=["level", "method", "n_due", "n_responded", "response_rate", "rate",
                                      "ci_low", "ci_high", "note"])
    for c in ("n_due", "n_responded"):
        vals = out[c].to_numpy(dtype=float)
        out[c] = vals.astype(np.int64) if np.allclose(vals, np.round(vals)) else vals
    return out
