"""Rates of reliable improvement, recovery, response and remission by level of care, three ways.

Episodes measured once (a baseline but no end score) are usually doing worse
than those measured again, so the complete-case rate is too optimistic.
:func:`change_rates` shows, per level of care, the same outcome under three
stated assumptions, as :func:`iopstats.relapse_rates` does for relapse:

* ``complete_case``: episodes with an end score only (missing completely at random);
* ``missing_is_not_improved``: every episode with a baseline; no end score =
  not improved (not recovered, no response, no remission; for
  ``deteriorated``, no end score = not deteriorated). A conservative bound;
* ``multiple_imputation``: missing end scores imputed ``m`` times from a
  normal linear model of the end score on the baseline score, level of care
  and covariates fitted to the complete cases (proper imputation: residual
  variance drawn from its scaled inverse chi-square posterior, coefficients
  from their normal posterior), the outcome re-derived from each imputed
  score, rates combined with Rubin's rules (Barnard-Rubin degrees of freedom).
  Assumes missing at random given those variables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

import iopstats  # noqa: F401 (used by the doctests)
from iopstats.compare.relapse import _rubin
from iopstats.exceptions import IopstatsError
from iopstats.outcomes.change import BINARY_OUTCOMES, classify_scores
from iopstats.stats.rates import wilson_interval

__all__ = ["change_rates", "CHANGE_METHODS"]

CHANGE_METHODS: tuple[str, ...] = ("complete_case", "missing_is_not_improved", "multiple_imputation")


def _design(d: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    parts = [np.ones((len(d), 1)), d[["baseline_score"]].to_numpy(dtype=float)]
    for c in cols:
        dummies = pd.get_dummies(d[c].astype(object).where(d[c].notna(), "(missing)").astype(str),
                                 drop_first=True, dtype=float)
        if dummies.shape[1]:
            parts.append(dummies.to_numpy())
    return np.hstack(parts)


def _imputations(d: pd.DataFrame, cols: Sequence[str], m: int, rng) -> np.ndarray:
    """m x n matrix of end scores, observed ones kept, missing ones drawn (proper imputation)."""
    X = _design(d, cols)
    obs = d["end_score"].notna().to_numpy()
    y = d["end_score"].to_numpy(dtype=float)
    Xo, yo = X[obs], y[obs]
    # drop aliased columns (levels with no complete case)
    q, r = np.linalg.qr(Xo)
    ok = np.abs(np.diag(r)) > 1e-8 * max(1.0, np.abs(np.diag(r)).max())
    Xo, Xm = Xo[:, ok], X[~obs][:, ok]
    xtx_inv = np.linalg.pinv(Xo.T @ Xo)
    beta = xtx_inv @ Xo.T @ yo
    dfree = len(yo) - Xo.shape[1]
    if dfree < 1:
        raise IopstatsError("too few complete cases to impute end scores", value=int(len(yo)),
                            fix="use complete_case / missing_is_not_improved, or fewer covariates")
    rss = float(np.sum((yo - Xo @ beta) ** 2))
    chol = np.linalg.cholesky(xtx_inv + 1e-12 * np.eye(len(beta)))
    out = np.tile(y, (m, 1))
    for i in range(m):
        sigma2 = rss / rng.chisquare(dfree)
        b = beta + np.sqrt(sigma2) * chol @ rng.standard_normal(len(beta))
        out[i, ~obs] = Xm @ b + np.sqrt(sigma2) * rng.standard_normal(int((~obs).sum()))
    return out


def change_rates(
    change: pd.DataFrame,
    outcome: str = "reliable_improvement",
    by: str = "level_of_care",
    m: int = 20,
    seed: int = 0,
    confidence: float = 0.95,
    *,
    covariates: Sequence[str] = (),
) -> pd.DataFrame:
    """Rate of a change outcome per level under complete case, missing = not improved and multiple imputation.

    Parameters
    ----------
    change : DataFrame
        Output of :func:`iopstats.change_outcomes`.
    outcome : {"reliable_improvement", "recovered", "deteriorated", "response", "remission"}
    by : str
        Grouping column.
    m, seed : int
        Number of imputations (>= 2) and seed.
    confidence : float
        Level of the intervals (Wilson for the first two methods, Rubin t for imputation).
    covariates : sequence of str
        Imputation-model covariates besides the baseline score and ``by``.

    Returns
    -------
    DataFrame
        level, method, n_baseline (episodes with a baseline), n_complete
        (with an end score), rate, ci_low, ci_high, note.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> b = np.clip(rng.normal(16, 4, 200).round(), 0, 27)
    >>> e = np.clip((b - 6 + rng.normal(0, 4, 200)).round(), 0, 27)
    >>> e[:60] = np.nan
    >>> eps = pd.DataFrame({"episode_id": [str(i) for i in range(200)], "level_of_care": "iop",
    ...                     "admit_date": pd.Timestamp("2024-01-01")})
    >>> m = pd.DataFrame({"episode_id": [str(i) for i in range(200)] * 2, "day": [0] * 200 + [30] * 200,
    ...     "instrument": "phq9", "item": "total", "value": np.r_[b, e]}).dropna()
    >>> t = iopstats.change_outcomes(m, eps, "phq9")
    >>> r = change_rates(t, "reliable_improvement", m=5)
    >>> r[["method", "n_baseline", "n_complete"]]
                        method  n_baseline  n_complete
    0            complete_case         200         140
    1  missing_is_not_improved         200         140
    2      multiple_imputation         200         140
    """
    if outcome not in BINARY_OUTCOMES:
        raise IopstatsError("unknown change outcome", value=outcome, fix=f"use one of {', '.join(BINARY_OUTCOMES)}")
    attrs = change.attrs.get("rci")
    if not isinstance(change, pd.DataFrame) or attrs is None:
        raise IopstatsError("change must be the DataFrame returned by iopstats.change_outcomes",
                            fix="pass change_outcomes(...) output (its attrs carry the reliable change constants)")
    if not isinstance(m, (int, np.integer)) or m < 2:
        raise IopstatsError("m (number of imputations) must be a whole number >= 2", value=m, fix="pass m=20")
    absent = [c for c in (by, *covariates) if c not in change.columns]
    if absent:
        raise IopstatsError("column not found", column=absent[0], fix="pass by= / covariates= columns of the table")
    d = change[change["baseline_score"].notna() & change[by].notna()].reset_index(drop=True)
    if d[f"{outcome}_itt"].isna().all():
        raise IopstatsError(f"{outcome} is not defined for {attrs['instrument']} {attrs['scale']}", value=outcome,
                            fix="choose reliable_improvement, recovered or deteriorated")
    rng = np.random.default_rng(seed)
    imputed = _imputations(d, [by, *covariates], m, rng)
    mi_events = np.array([classify_scores(d["baseline_score"], imputed[i], attrs)[f"{outcome}_cc"]
                          .to_numpy(dtype=float, na_value=np.nan) for i in range(m)])
    levels = [str(v) for v in pd.Series(d[by]).astype("category").cat.categories if (d[by].astype(str) == str(v)).any()]
    pct = f"{int(round(confidence * 100))}% CI"
    rows = []
    for lev in levels:
        g = (d[by].astype(str) == lev).to_numpy()
        cc = d.loc[g, f"{outcome}_cc"].dropna().astype(bool)
        itt = d.loc[g, f"{outcome}_itt"].astype(bool)
        base = {"level": lev, "n_baseline": int(g.sum()), "n_complete": int(len(cc))}
        for method, x, note in (("complete_case", cc, "Episodes with an end score only (missing completely at "
                                 "random). Usually too optimistic. Wilson " + pct + "."),
                                ("missing_is_not_improved", itt, "Every episode with a baseline; no end score = "
                                 "not improved. Wilson " + pct + ".")):
            lo, hi = wilson_interval(np.array([x.sum()]), np.array([len(x)]), confidence)
            rows.append({**base, "method": method, "rate": x.mean() if len(x) else np.nan,
                         "ci_low": lo[0], "ci_high": hi[0], "note": note})
        q = mi_events[:, g].mean(axis=1)
        est, lo, hi = _rubin(q, q * (1 - q) / g.sum(), g.sum(), confidence)
        rows.append({**base, "method": "multiple_imputation", "rate": est, "ci_low": lo, "ci_high": hi,
                     "note": f"Missing end scores imputed {m} times from a linear model on baseline score, {by}"
                             + (f", {', '.join(covariates)}" if covariates else "")
                             + "; assumes missing at random. Rubin's rules " + pct + "."})
    return pd.DataFrame(rows, columns=["level", "method", "n_baseline", "n_complete", "rate", "ci_low", "ci_high",
                                       "note"])
