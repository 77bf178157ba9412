"""Case-mix adjustment: standardized (g-computation) rates and inverse probability weighting.

Patients are placed by severity, so raw level-of-care comparisons are
confounded (DOMAIN.md: raw completion gaps are not effectiveness gaps). Two
standard adjustments, which rest on the same assumption (no unmeasured
confounding given the covariates) but on different models:

* :func:`standardized_rates`, **g-computation** (outcome model): a logistic
  model ``outcome ~ treatment + covariates`` predicts every row's risk under
  each level; a level's adjusted rate is the average over all rows used. The
  numbers are those of ``compare_rates(..., adjust=covariates).adjusted``
  (same model, same delta-method standard errors), with every level shown.
* :func:`iptw`, **inverse probability of treatment weighting** (placement
  model, :mod:`iopstats.compare.propensity`): generalized propensity scores
  ``P(level | covariates)`` from a multinomial logistic model, weights
  ``1 / P(own level | covariates)`` (stabilized by the level's share), a
  balance table before / after weighting and positivity checks. The weights
  then feed weighted rates (:func:`iptw_rates`, here), Kaplan-Meier curves
  (:func:`iptw_kaplan_meier`) and Cox models (:func:`iptw_cox`), the latter two
  in :mod:`iopstats.compare.adjust_survival`.

Every one of these functions is importable from this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from iopstats._checks import (binary_outcome, check_confidence, check_frame, column_list, frequency_weights,
                              treatment_levels)
from iopstats.compare.adjust_survival import iptw_cox, iptw_kaplan_meier
from iopstats.compare.propensity import IPTWResult, _resolve_propensity, iptw
from iopstats.exceptions import IopstatsError
from iopstats.stats._logistic_patterns import _Standardizer

__all__ = [
    "standardized_rates",
    "iptw",
    "IPTWResult",
    "iptw_rates",
    "iptw_kaplan_meier",
    "iptw_cox",
]


# ----------------------------------------------------------------------------
# g-computation
# ----------------------------------------------------------------------------


def standardized_rates(
    data: pd.DataFrame,
    outcome: str,
    covariates: str | Sequence[str],
    treatment: str = "level_of_care",
    reference: object = "iop",
    confidence: float = 0.95,
    weights: str | None = None,
) -> pd.DataFrame:
    """Case-mix standardized rates by g-computation (the g-formula).

    A logistic model ``outcome ~ treatment + covariates`` is fitted (on
    collapsed covariate patterns, :func:`iopstats.logistic`); every row's
    risk is predicted with its treatment set to each level in turn and averaged
    over all rows used by the model. That average is the rate the whole
    population would have had at that level.

    Parameters
    ----------
    data : DataFrame
        One row per episode (e.g. :func:`iopstats.build_outcomes`) or a
        collapsed count table with ``weights``. Not modified.
    outcome : str
        Binary column (bool, pandas ``boolean`` or 0/1). Rows with a missing
        outcome or covariate are left out (complete-case model).
    covariates : str or list of str
        Case-mix covariates (categorical columns become indicators, numeric
        columns enter linearly).
    treatment : str
        Level-of-care column.
    reference : object
        Level the others are compared with; ``adj_risk_difference`` is
        reference minus level (IOP minus other, as in :func:`compare_rates`).
    confidence : float
        Level of the intervals.
    weights : str, optional
        Column of frequency weights; results equal the row level.

    Returns
    -------
    DataFrame
        One row per level (reference first): ``level``, ``n`` (rows of that
        level used), ``adj_rate``, ``ci_low``, ``ci_high``,
        ``adj_risk_difference``, ``rd_ci_low``, ``rd_ci_high``, ``se`` (of the
        difference), ``p_value`` (two-sided Wald test of no difference).
        Difference columns are NaN on the reference row.

    Notes
    -----
    Standard errors are delta-method (influence-function) errors: the model
    uncertainty plus the sampling variability of the covariate mix, as in
    :func:`iopstats.compare.rates.compare_rates`, whose ``.adjusted`` table
    holds the same differences and p-values. Rate intervals are Wald
    intervals on the logit scale (they stay inside 0-1); difference intervals
    are Wald on the difference scale.

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop"] * 6 + ["op"] * 6,
    ...                    "sev": ["hi", "lo", "lo", "lo", "hi", "lo",
    ...                            "hi", "hi", "hi", "lo", "hi", "hi"],
    ...                    "done": [0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]})
    >>> out = standardized_rates(df, "done", ["sev"], treatment="loc")
    >>> out[["level", "n", "adj_rate", "adj_risk_difference"]].round(4)
      level  n  adj_rate  adj_risk_difference
    0   iop  6    0.5695                  NaN
    1    op  6    0.5945               -0.025
    """
    conf = check_confidence(confidence)
    covs = column_list(covariates, "covariates")
    if not covs:
        raise IopstatsError("give at least one covariate", fix='e.g. covariates=["age_group", "sex"]')
    if not isinstance(treatment, str):
        raise IopstatsError("treatment must be a column name", value=treatment)
    check_frame(data, [outcome, treatment, *covs] + ([weights] if weights else []))
    levels = treatment_levels(data, treatment, reference)
    gc = _Standardizer(data, outcome, treatment, covs, reference, weights)
    m, N, V = gc.m, gc.N, gc.fit.cov
    q = stats.norm.ppf(0.5 + conf / 2.0)
    if 0 not in gc.observed:
        raise IopstatsError("the reference level has no complete rows for the model", column=treatment,
                            value=reference, fix="check the outcome and covariates for missing values")
    p_ref, r_ref, g_ref = gc.risk(0)
    rows = []
    for lev in [reference] + [lv for lv in levels if lv != reference]:
        code = gc.code(lev)
        if code < 0:
            continue  # level without complete rows: not estimable, reported below
        p_l, r_l, g_l = gc.risk(code)
        var_r = float(g_l @ V @ g_l + np.dot(m, (p_l - r_l) ** 2) / N**2)
        se_logit = np.sqrt(var_r) / (r_l * (1.0 - r_l))
        row = {"level": lev, "n": float(m[gc.pat.codes[:, 0] == code].sum()), "adj_rate": r_l,
               "ci_low": special.expit(special.logit(r_l) - q * se_logit),
               "ci_high": special.expit(special.logit(r_l) + q * se_logit)}
        if code == 0:
            row.update(adj_risk_difference=np.nan, rd_ci_low=np.nan, rd_ci_high=np.nan, se=np.nan,
                       p_value=np.nan)
        else:
            dvec = g_ref - g_l
            rd = r_ref - r_l
            se = float(np.sqrt(dvec @ V @ dvec + np.dot(m, ((p_ref - p_l) - rd) ** 2) / N**2))
            row.update(adj_risk_difference=rd, rd_ci_low=rd - q * se, rd_ci_high=rd + q * se, se=se,
                       p_value=float(2.0 * stats.norm.sf(abs(rd / se))))
        rows.append(row)
    out = pd.DataFrame(rows)
    if weights is None:
        out["n"] = out["n"].astype(np.int64)
    missing = [lv for lv in levels if lv not in set(out["level"])]
    if missing:
        raise IopstatsError("a level has no rows with a complete outcome and covariates", column=treatment,
                            value=missing[0], fix="drop that level from the data or check its missing values")
    return out


def iptw_rates(
    data: pd.DataFrame,
    outcome: str,
    covariates: str | Sequence[str] | None = None,
    treatment: str = "level_of_care",
    reference: object = "iop",
    propensity: IPTWResult | None = None,
    estimand: str = "ATE",
    stabilized: bool = True,
    trim: float | None = None,
    weights: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """IPTW-weighted rates of a binary outcome by level and differences from the reference.

    The weighted (Hajek) share of events in each level, with the weights of
    :func:`iptw`. Without ``propensity`` the placement model is fitted on the
    rows whose outcome is known, so the target population is the one
    :func:`standardized_rates` standardizes to and the two estimates can be
    set side by side.

    Parameters
    ----------
    data : DataFrame
        Not modified. Rows with a missing outcome are left out.
    outcome : str
        Binary column (bool, pandas ``boolean`` or 0/1).
    covariates : str or list of str, optional
        Propensity-model covariates (needed unless ``propensity`` is given).
    treatment, reference, estimand, stabilized, trim :
        Passed to :func:`iptw`.
    propensity : IPTWResult, optional
        Precomputed ``iptw(data, ...)`` on the same rows (same index).
    weights : str, optional
        Frequency weights (collapsed table); results equal the row level.
    confidence : float
        Level of the intervals.

    Returns
    -------
    DataFrame
        One row per level (reference first): ``level``, ``n`` (rows),
        ``ess`` (effective sample size), ``rate``, ``ci_low``, ``ci_high``,
        ``risk_difference`` (reference minus level), ``rd_ci_low``,
        ``rd_ci_high``, ``se`` (of the difference), ``p_value``.

    Notes
    -----
    Standard errors are robust (sandwich, HC0) and treat the weights as
    known: ``var(rate_a) = sum f w^2 (y - rate_a)^2 / (sum f w)^2``. Rate
    intervals are Wald on the logit scale, difference intervals Wald.

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop"] * 6 + ["op"] * 6,
    ...                    "sev": ["hi", "lo", "lo", "lo", "hi", "lo",
    ...                            "hi", "hi", "hi", "lo", "hi", "hi"],
    ...                    "done": [0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]})
    >>> iptw_rates(df, "done", ["sev"], treatment="loc")[["level", "rate", "risk_difference"]].round(4)
      level    rate  risk_difference
    0   iop  0.6042              NaN
    1    op  0.6500          -0.0458
    """
    conf = check_confidence(confidence)
    if not isinstance(data, pd.DataFrame):
        raise IopstatsError("data must be a pandas DataFrame", value=type(data).__name__)
    check_frame(data, [outcome, treatment] + ([weights] if weights else []))
    y_all = binary_outcome(data, outcome)
    known = ~np.isnan(y_all)
    if propensity is None:
        sub = data.loc[known] if not known.all() else data
        prop = _resolve_propensity(sub, covariates, treatment, reference, None, estimand, stabilized, trim,
                                   weights)
        w_all = np.full(len(data), np.nan)
        w_all[np.flatnonzero(known)] = prop.weights.to_numpy()
    else:
        prop = _resolve_propensity(data, covariates, treatment, reference, propensity, estimand, stabilized,
                                   trim, weights)
        w_all = prop.weights.to_numpy(dtype=float)
    f_all = frequency_weights(data, weights)
    f_all = np.ones(len(data)) if f_all is None else f_all
    levels = list(prop.propensity.columns)
    a_all = data[treatment].map({lv: i for i, lv in enumerate(levels)}).to_numpy(dtype=float, na_value=np.nan)
    ok = known & ~np.isnan(w_all) & ~np.isnan(a_all) & (f_all > 0)
    y, w, f, a = y_all[ok], w_all[ok], f_all[ok], a_all[ok].astype(np.int64)
    q = stats.norm.ppf(0.5 + conf / 2.0)
    est, var = {}, {}
    rows = []
    for j, lv in enumerate(levels):
        s = a == j
        fw = f[s] * w[s]
        if fw.sum() <= 0:
            continue
        r = float(fw @ y[s] / fw.sum())
        v = float((f[s] * w[s] ** 2) @ (y[s] - r) ** 2 / fw.sum() ** 2)
        est[lv], var[lv] = r, v
        with np.errstate(divide="ignore", invalid="ignore"):
            se_logit = np.sqrt(v) / (r * (1.0 - r))
            lo, hi = special.expit(special.logit(r) + np.array([-q, q]) * se_logit)
        if r in (0.0, 1.0):
            lo = hi = np.nan
        rows.append({"level": lv, "n": f[s].sum(), "ess": fw.sum() ** 2 / (f[s] @ w[s] ** 2), "rate": r,
                     "ci_low": lo, "ci_high": hi})
    if reference not in est:
        raise IopstatsError("the reference level has no rows with a known outcome and a weight",
                            column=treatment, value=reference, fix="check the outcome column")
    for row in rows:
        lv = row["level"]
        if lv == reference:
            row.update(risk_difference=np.nan, rd_ci_low=np.nan, rd_ci_high=np.nan, se=np.nan, p_value=np.nan)
            continue
        rd = est[reference] - est[lv]
        se = float(np.sqrt(var[reference] + var[lv]))
        with np.errstate(divide="ignore", invalid="ignore"):
            pv = float(2.0 * stats.norm.sf(abs(rd / se))) if se > 0 else np.nan
        row.update(risk_difference=rd, rd_ci_low=rd - q * se, rd_ci_high=rd + q * se, se=se, p_value=pv)
    out = pd.DataFrame(rows)
    if weights is None:
        out["n"] = out["n"].astype(np.int64)
    return out
