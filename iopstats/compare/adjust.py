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
  model): generalized propensity scores ``P(level | covariates)`` from a
  multinomial logistic model, weights ``1 / P(own level | covariates)``
  (stabilized by the level's share), a balance table before / after weighting
  and positivity checks. The weights then feed weighted rates
  (:func:`iptw_rates`), Kaplan-Meier curves (:func:`iptw_kaplan_meier`) and Cox models (:func:`iptw_cox`).

The multinomial model is fitted by Newton-Raphson on distinct covariate
patterns (counts per pattern and level), the exact maximum-likelihood fit of
R's ``nnet::multinom`` / statsmodels ``MNLogit`` on the rows, at a cost that
grows with the number of patterns, not rows. (A set of one-vs-reference binary
fits would be faster but is not the joint maximum-likelihood fit and stops on
sparse cells; the joint fit lets such cells drift to propensities near 0,
which the positivity remarks then report.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import linalg, special, stats

from iopstats._results import Result
from iopstats.compare.balance import balance_table
from iopstats.exceptions import IopstatsError
from iopstats.stats.design import design_matrix
from iopstats.stats.kaplan_meier import KaplanMeierResult, _confint, _r_median, kaplan_meier
from iopstats.stats.logistic import _collapse, _fit_patterns
from iopstats.stats._surv_utils import prepare
from iopstats.stats.rates import (
    _as_list,
    _check_confidence,
    _check_frame,
    _freq_weights,
    _group_order,
)

__all__ = [
    "standardized_rates",
    "iptw",
    "IPTWResult",
    "iptw_rates",
    "iptw_kaplan_meier",
    "iptw_cox",
]

_ESTIMANDS = ("ATE", "ATT")
_MAX_ITER = 60
_PS_RATIO = 0.1  # propensity / level share below which overlap is reported as poor
_W_HIGH = 10.0  # stabilized weight above which a weight is reported as extreme
_CHUNK = 8192


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
    conf = _check_confidence(confidence)
    covs = _as_list(covariates, "covariates")
    if not covs:
        raise IopstatsError("give at least one covariate", fix='e.g. covariates=["age_group", "sex"]')
    if not isinstance(treatment, str):
        raise IopstatsError("treatment must be a column name", value=treatment)
    _check_frame(data, [outcome, treatment, *covs] + ([weights] if weights else []))
    levels = _group_order(data[treatment])
    if reference not in levels:
        raise IopstatsError("reference level not found in the treatment column", column=treatment,
                            value=reference, fix=f"use one of {levels[:12]}")
    pat = _collapse(data, outcome, [treatment, *covs], weights, first_levels={treatment: reference},
                    categorical=[treatment])
    fit, D = _fit_patterns(pat)
    lev_labels = list(pat.levels[0])
    observed = np.unique(pat.codes[:, 0])
    m = pat.trials
    N = m.sum()
    V = fit.cov
    q = stats.norm.ppf(0.5 + conf / 2.0)

    def standardize(code: int):
        p = special.expit(D.eta(fit.beta, override={0: code}))
        r = float(np.dot(m, p) / N)
        g = D.xtv(m * p * (1.0 - p), override={0: code}) / N
        return p, r, g

    if 0 not in observed:
        raise IopstatsError("the reference level has no complete rows for the model", column=treatment,
                            value=reference, fix="check the outcome and covariates for missing values")
    p_ref, r_ref, g_ref = standardize(0)
    rows = []
    for lev in [reference] + [lv for lv in levels if lv != reference]:
        code = lev_labels.index(lev) if lev in lev_labels else -1
        if code not in observed:
            continue  # level without complete rows: not estimable, reported in remarks below
        p_l, r_l, g_l = standardize(code)
        var_r = float(g_l @ V @ g_l + np.dot(m, (p_l - r_l) ** 2) / N**2)
        se_logit = np.sqrt(var_r) / (r_l * (1.0 - r_l))
        row = {"level": lev, "n": float(m[pat.codes[:, 0] == code].sum()), "adj_rate": r_l,
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


# ----------------------------------------------------------------------------
# multinomial propensity model on patterns
# ----------------------------------------------------------------------------


@dataclass
class _MNFit:
    probs: np.ndarray  # (P, K) fitted probabilities per pattern
    loglik: float
    converged: bool
    iterations: int


def _softmax(X: np.ndarray, B: np.ndarray) -> np.ndarray:
    eta = np.zeros((X.shape[0], B.shape[1] + 1))
    eta[:, 1:] = X @ B
    eta -= eta.max(axis=1, keepdims=True)
    p = np.exp(eta)
    p /= p.sum(axis=1, keepdims=True)
    return p


def _mn_loglik(Y: np.ndarray, p: np.ndarray) -> float:
    with np.errstate(divide="ignore"):
        lp = np.log(p)
    return float(np.sum(np.where(Y > 0, Y * lp, 0.0)))


def _mn_info(X: np.ndarray, m: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Fisher information of the multinomial logit, blocks (level j, level l) of X' W_jl X."""
    P, k = X.shape
    J = p.shape[1] - 1
    info = np.zeros((J * k, J * k))
    for lo in range(0, P, _CHUNK):
        sl = slice(lo, min(P, lo + _CHUNK))
        x, mm, pp = X[sl], m[sl], p[sl, 1:]
        for j in range(J):
            info[j * k:(j + 1) * k, j * k:(j + 1) * k] += (x * (mm * pp[:, j])[:, None]).T @ x
        Bm = (np.sqrt(mm)[:, None, None] * pp[:, :, None] * x[:, None, :]).reshape(x.shape[0], J * k)
        info -= Bm.T @ Bm
    return info


def _mnlogit(X: np.ndarray, Y: np.ndarray) -> _MNFit:
    """Multinomial logit (column 0 of ``Y`` = baseline) by Newton-Raphson with step halving."""
    P, k = X.shape
    K = Y.shape[1]
    m = Y.sum(axis=1)
    share = Y.sum(axis=0) / m.sum()
    B = np.zeros((k, K - 1))
    B[0] = np.log(share[1:] / share[0])  # X[:, 0] is the intercept
    p = _softmax(X, B)
    ll = _mn_loglik(Y, p)
    converged = False
    it = 0
    for it in range(1, _MAX_ITER + 1):
        score = (X.T @ (Y[:, 1:] - m[:, None] * p[:, 1:])).T.ravel()  # level-major
        info = _mn_info(X, m, p)
        try:
            step = linalg.cho_solve(linalg.cho_factor(info, check_finite=False), score, check_finite=False)
        except linalg.LinAlgError:  # collinear covariates: any solution gives the same probabilities
            step = linalg.lstsq(info, score, check_finite=False)[0]
        step = step.reshape(K - 1, k).T
        t = 1.0
        for _ in range(30):
            nB = B + t * step
            np_ = _softmax(X, nB)
            nll = _mn_loglik(Y, np_)
            if nll >= ll - 1e-12 * abs(ll):
                break
            t /= 2.0
        size = float(np.max(np.abs(t * step)))
        gain = nll - ll
        B, p, ll = nB, np_, nll
        if size < 1e-9 * (1.0 + float(np.max(np.abs(B)))) or (0 <= gain < 1e-11 * (abs(ll) + 1.0)):
            converged = size < 1e-4 or gain < 1e-11 * (abs(ll) + 1.0)
            break
    return _MNFit(probs=p, loglik=ll, converged=converged, iterations=it)


# ----------------------------------------------------------------------------
# IPTW
# ----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class IPTWResult(Result):
    """Inverse probability of treatment weights with diagnostics.

    Attributes
    ----------
    summary : DataFrame
        One row per level: ``level``, ``n`` (rows used), ``ess`` (Kish
        effective sample size of the weighted level), ``weight_min``,
        ``weight_median``, ``weight_max``, ``sum_weights``, ``ps_min`` (smallest
        propensity of a row for its own level), ``n_trimmed``.
    weights : Series
        The weight of each row of ``data`` (same index); NaN for rows left out
        (missing treatment or covariate, zero frequency weight). Multiply by
        the frequency weights when the data are a collapsed table.
    propensity : DataFrame
        Generalized propensity scores, one column per level, same index as
        ``data`` (NaN for rows left out).
    balance : DataFrame
        :func:`iopstats.compare.balance.balance_table` before and after weighting.
    treatment, reference, estimand, stabilized, trim, covariates :
        Settings the weights were computed with.
    converged : bool
        Whether the propensity model converged (it does not when a level never
        occurs in some covariate cell: see ``remarks``).
    n_dropped : int
        Rows left out for a missing treatment or covariate.
    """

    weights: pd.Series = field(default_factory=pd.Series)
    propensity: pd.DataFrame = field(default_factory=pd.DataFrame)
    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    treatment: str = "level_of_care"
    reference: object = "iop"
    estimand: str = "ATE"
    stabilized: bool = True
    trim: float | None = None
    covariates: tuple[str, ...] = ()
    converged: bool = True
    n_dropped: int = 0


def _weighted_quantile(x: np.ndarray, f: np.ndarray, q: float) -> float:
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(f[order])
    return float(x[order][min(np.searchsorted(cw, q * cw[-1], side="left"), len(x) - 1)])


def iptw(
    data: pd.DataFrame,
    treatment: str,
    covariates: str | Sequence[str],
    reference: object = "iop",
    estimand: str = "ATE",
    stabilized: bool = True,
    trim: float | None = None,
    weights: str | None = None,
) -> IPTWResult:
    """Inverse probability of treatment weights for several levels of care.

    Parameters
    ----------
    data : DataFrame
        One row per episode, or a collapsed table with ``weights``. Not modified.
    treatment : str
        Level-of-care column (two or more levels).
    covariates : str or list of str
        Covariates of the placement (propensity) model. Categorical columns
        become indicators; numeric columns enter linearly.
    reference : object
        Reference level: listed first, the comparison level of the balance
        table and, for ``estimand="ATT"``, the target population.
    estimand : {"ATE", "ATT"}
        ``"ATE"``: weights ``1 / e_a(x)`` (``e_a`` = propensity of the row's own
        level ``a``) target the whole population. ``"ATT"``: weights
        ``e_ref(x) / e_a(x)`` (1 for the reference level) target the population
        treated at the reference level (e.g. "patients like those in IOP").
    stabilized : bool
        Multiply ATE weights by the level's share ``P(a)`` (ATT weights of other
        levels by ``P(a) / P(ref)``), so weights average about 1 within each
        level. Point estimates of weighted (Hajek) means are unchanged.
    trim : float, optional
        Truncation quantile in (0.5, 1), e.g. 0.99: weights above that quantile
        (over all rows used) are set to it (counted in ``n_trimmed``).
    weights : str, optional
        Column of frequency weights; the propensity model and the summaries
        equal those on the expanded rows.

    Returns
    -------
    IPTWResult
        ``.weights`` (Series aligned to ``data.index``), ``.propensity``,
        ``.balance`` (SMD before/after per covariate indicator and level),
        ``.summary`` (effective sample size and weight distribution by level)
        and remarks on positivity (propensities below a tenth of the level's
        share, stabilized weights above 10) and remaining imbalance (``|SMD| > 0.1``).

    Notes
    -----
    Weighted estimates are consistent when the placement model is correct and
    every level is possible for every covariate pattern (positivity). Standard
    errors that treat the weights as known (robust sandwich) are conservative
    for the ATE; use :func:`standardized_rates` as a check from the outcome
    side.

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop"] * 6 + ["op"] * 6,
    ...                    "sev": ["hi", "lo", "lo", "lo", "hi", "lo",
    ...                            "hi", "hi", "hi", "lo", "hi", "hi"]})
    >>> res = iptw(df, "loc", ["sev"])
    >>> res.propensity.round(4).iloc[:2]  # P(level | sev): hi 2 of 7 in iop, lo 4 of 5
    loc     iop      op
    0    0.2857  0.7143
    1    0.8000  0.2000
    >>> res.weights.round(3).tolist()[:3]  # P(iop) / P(iop | sev)
    [1.75, 0.625, 0.625]
    >>> res.balance[["term", "level", "smd_before"]].round(3)
          term level  smd_before
    0  sev[hi]    op       1.177
    1  sev[lo]    op      -1.177
    >>> bool(res.balance["smd_after"].abs().max() < 1e-12)
    True
    """
    covs = _as_list(covariates, "covariates")
    if not covs:
        raise IopstatsError("give at least one covariate", fix='e.g. covariates=["age_group", "sex"]')
    if not isinstance(treatment, str):
        raise IopstatsError("treatment must be a column name", value=treatment)
    _check_frame(data, [treatment, *covs] + ([weights] if weights else []))
    if estimand not in _ESTIMANDS:
        raise IopstatsError("unknown estimand", value=estimand, fix=f"use one of {list(_ESTIMANDS)}")
    if trim is not None:
        try:
            trim = float(trim)
        except (TypeError, ValueError):
            trim = float("nan")
        if not 0.5 < trim < 1.0:
            raise IopstatsError("trim must be a quantile between 0.5 and 1", value=trim,
                                fix="e.g. trim=0.99 truncates weights at their 99th percentile")
    f_all = _freq_weights(data, weights)
    f_all = np.ones(len(data)) if f_all is None else f_all
    levels = _group_order(data[treatment])
    if reference not in levels:
        raise IopstatsError("reference level not found in the treatment column", column=treatment,
                            value=reference, fix=f"use one of {levels[:12]}")
    order = [reference] + [lv for lv in levels if lv != reference]
    pos = {lv: i for i, lv in enumerate(order)}
    a_all = data[treatment].map(pos).to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(a_all) & (f_all > 0)
    n_tr_missing = int(np.isnan(a_all).sum())
    if not keep.any():
        raise IopstatsError("no rows with a level of care and a positive weight", column=treatment,
                            fix="check the treatment column")
    design = design_matrix(data, covs, keep=keep)
    rows = design.rows
    a = a_all[rows].astype(np.int64)
    f = f_all[rows]
    K = len(order)
    present = np.bincount(a, weights=f, minlength=K) > 0
    if not present[0]:
        raise IopstatsError("the reference level has no rows with complete covariates", column=treatment,
                            value=reference, fix="check the covariates for missing values")
    if present.sum() < 2:
        raise IopstatsError("only one level of care has rows with complete covariates: nothing to weight",
                            column=treatment, fix="pass data with at least two levels")
    used_levels = [lv for lv, ok in zip(order, present) if ok]
    remap = np.cumsum(present) - 1
    a = remap[a]
    K = len(used_levels)
    Xp = np.column_stack([np.ones(design.n_patterns), design.patterns])
    P = design.n_patterns
    Y = np.bincount(design.pattern_codes * K + a, weights=f, minlength=P * K).reshape(P, K)
    fit = _mnlogit(Xp, Y)
    probs = fit.probs[design.pattern_codes]  # (n_used, K)
    e_own = probs[np.arange(len(a)), a]
    share = np.bincount(a, weights=f, minlength=K) / f.sum()
    if estimand == "ATE":
        w = 1.0 / e_own
        if stabilized:
            w = w * share[a]
    else:
        w = probs[:, 0] / e_own
        if stabilized:
            w = np.where(a == 0, 1.0, w * share[a] / share[0])
    trimmed = np.zeros(len(w), dtype=bool)
    if trim is not None:
        cap = _weighted_quantile(w, f, trim)
        trimmed = w > cap
        w = np.minimum(w, cap)
    w_series = pd.Series(np.nan, index=data.index, name="iptw")
    w_series.iloc[rows] = w
    ps = np.full((len(data), K), np.nan)
    ps[rows] = probs
    propensity = pd.DataFrame(ps, index=data.index, columns=pd.Index(used_levels, name=treatment))

    summary_rows = []
    for j, lv in enumerate(used_levels):
        s = a == j
        fj, wj = f[s], w[s]
        summary_rows.append({
            "level": lv, "n": fj.sum(), "ess": (fj @ wj) ** 2 / (fj @ (wj * wj)),
            "weight_min": wj.min(), "weight_median": _weighted_quantile(wj, fj, 0.5),
            "weight_max": wj.max(), "sum_weights": fj @ wj, "ps_min": e_own[s].min(),
            "n_trimmed": fj[trimmed[s]].sum(),
        })
    summary = pd.DataFrame(summary_rows)
    if weights is None:
        summary["n"] = summary["n"].astype(np.int64)
        summary["n_trimmed"] = summary["n_trimmed"].astype(np.int64)
    balance = balance_table(data, treatment, covs, weights=weights, reference=reference,
                            balancing_weights=w_series)

    n_dropped = n_tr_missing + (int(keep.sum()) - len(rows))
    remarks = [
        f"Generalized propensity scores from a multinomial logistic model of {treatment} on "
        f"{' + '.join(covs)} (maximum likelihood on {P} covariate patterns of {len(rows)} rows); "
        f"{'stabilized ' if stabilized else ''}{estimand} weights"
        + (f", truncated at the {trim:g} quantile" if trim is not None else "") + ".",
    ]
    remarks.extend(design.remarks)
    if n_tr_missing:
        remarks.append(f"{n_tr_missing} rows with a missing {treatment} get no weight (NaN).")
    absent = [lv for lv, ok in zip(order, present) if not ok]
    if absent:
        remarks.append(f"Levels without complete rows get no weights: {absent}.")
    if not fit.converged:
        remarks.append("The propensity model did not converge: some level never occurs in some "
                       "covariate cell, so its propensity there tends to 0. Merge sparse levels or "
                       "restrict the comparison to patients every level can take.")
    # poor overlap: a propensity below a tenth of the level's share (a would-be stabilized weight > 10)
    low = probs < _PS_RATIO * share[None, :]
    if low.any():
        per = np.array([f[low[:, j]].sum() for j in range(K)])
        worst = [f"{used_levels[j]} ({per[j]:g})" for j in np.argsort(-per)[:3] if per[j] > 0]
        remarks.append(
            f"Positivity: {f[low.any(axis=1)].sum():g} of {f.sum():g} rows have a propensity below "
            f"{_PS_RATIO:g} x the overall share for some level (poor overlap), most for "
            f"{', '.join(worst)}; weighted comparisons with those levels rest on few comparable patients."
        )
    w_stab = w if stabilized else w * (share[a] if estimand == "ATE" else 1.0)
    big = w_stab > _W_HIGH
    if big.any():
        remarks.append(
            f"Extreme weights: {f[big].sum():g} rows have a stabilized weight above {_W_HIGH:g} "
            f"(largest {w_stab.max():.3g}); consider trim=0.99 and check the effective sample sizes."
        )
    bad = balance[balance["imbalanced"]]
    if len(bad):
        worst = bad.loc[bad["smd_after"].abs().idxmax()]
        remarks.append(
            f"Imbalance remains after weighting: {len(bad)} covariate indicator-level pairs have "
            f"|SMD| > 0.1 (worst {worst['term']} in {worst['level']}: {worst['smd_after']:.3f})."
        )
    else:
        remarks.append("Balance after weighting: every |SMD| <= 0.1.")
    return IPTWResult(
        summary=summary, title=f"IPTW ({estimand}) for {treatment}", remarks=tuple(remarks),
        weights=w_series, propensity=propensity, balance=balance, treatment=treatment,
        reference=reference, estimand=estimand, stabilized=bool(stabilized), trim=trim,
        covariates=tuple(covs), converged=fit.converged, n_dropped=n_dropped,
    )


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
    from iopstats.stats.rates import _binary_outcome

    conf = _check_confidence(confidence)
    if not isinstance(data, pd.DataFrame):
        raise IopstatsError("data must be a pandas DataFrame", value=type(data).__name__)
    _check_frame(data, [outcome, treatment] + ([weights] if weights else []))
    y_all = _binary_outcome(data, outcome)
    known = ~np.isnan(y_all)
    if propensity is None:
        sub = data.loc[known] if not known.all() else data
        prop = _propensity(sub, covariates, treatment, reference, None, estimand, stabilized, trim, weights)
        w_all = np.full(len(data), np.nan)
        w_all[np.flatnonzero(known)] = prop.weights.to_numpy()
    else:
        prop = _propensity(data, covariates, treatment, reference, propensity, estimand, stabilized, trim,
                           weights)
        w_all = prop.weights.to_numpy(dtype=float)
    f_all = _freq_weights(data, weights)
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


# ----------------------------------------------------------------------------
# weighted survival
# ----------------------------------------------------------------------------


def _propensity(data, covariates, treatment, reference, propensity, estimand, stabilized, trim, weights):
    if propensity is None:
        if covariates is None:
            raise IopstatsError("give covariates= for the propensity model or propensity=iptw(...)",
                                fix='e.g. covariates=["age_group", "sex", "primary_substance"]')
        return iptw(data, treatment, covariates, reference=reference, estimand=estimand,
                    stabilized=stabilized, trim=trim, weights=weights)
    if not isinstance(propensity, IPTWResult):
        raise IopstatsError("propensity must be the result of iptw()", value=type(propensity).__name__,
                            fix="pass propensity=iptw(data, ...)")
    if propensity.treatment != treatment:
        raise IopstatsError("propensity was computed for another treatment column", column=treatment,
                            value=propensity.treatment, fix=f"pass treatment={propensity.treatment!r}")
    if not propensity.weights.index.equals(data.index):
        raise IopstatsError("propensity weights are not aligned to the data index",
                            fix="compute iptw() on the same DataFrame (same rows, same index)")
    return propensity


def _km_robust(time, status, group, w, f, n_groups):
    """Infinitesimal-jackknife standard error of the weighted Kaplan-Meier survival.

    R ``survfit(weights=)`` with non-integer weights (robust variance). For row
    i with time T_i, event d_i and case weight w_i, the derivative of log S(t)
    with respect to w_i is ``d_i 1(T_i <= t) g(T_i) - H(min(t, T_i))`` with
    ``g = 1 / (n - d)`` and ``H(t) = sum_{s <= t} d(s) / (n(s) (n(s) - d(s)))``;
    the variance of S(t) is ``S(t)^2 sum_i f_i (w_i dlogS_i)^2``, ``f_i`` being
    frequency weights (one collapsed row = f_i independent rows).
    Returns per group the standard error of log S at the group's distinct times.
    """
    out = []
    for gi in range(n_groups):
        s = group == gi
        t, d_i, wi, fi = time[s], status[s], w[s], f[s]
        ut, idx = np.unique(t, return_inverse=True)
        cw = wi * fi
        d = np.bincount(idx, weights=cw * d_i, minlength=len(ut))
        tot = np.bincount(idx, weights=cw, minlength=len(ut))
        n = np.cumsum(tot[::-1])[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(n > d, 1.0 / (n * (n - d)), 0.0)
        g = n * c
        H = np.cumsum(d * c)
        q = fi * wi * wi  # f_i units each with squared case weight w_i^2
        # rows still at risk after t_k contribute H(t_k)^2; rows ended at or before t_k a constant
        q_by_t = np.bincount(idx, weights=q, minlength=len(ut))
        after = np.concatenate((np.cumsum(q_by_t[::-1])[::-1][1:], [0.0]))
        const = q * (d_i * g[idx] - H[idx]) ** 2
        done = np.cumsum(np.bincount(idx, weights=const, minlength=len(ut)))
        var_log = H * H * after + done
        out.append(np.sqrt(var_log))
    return out


def iptw_kaplan_meier(
    data: pd.DataFrame,
    time: str,
    event: str,
    covariates: str | Sequence[str] | None = None,
    treatment: str = "level_of_care",
    reference: object = "iop",
    propensity: IPTWResult | None = None,
    estimand: str = "ATE",
    stabilized: bool = True,
    trim: float | None = None,
    weights: str | None = None,
    conf_type: str = "log",
    confidence: float = 0.95,
) -> KaplanMeierResult:
    """Kaplan-Meier curves by level of care, weighted by IPTW (adjusted survival curves).

    Calls :func:`iopstats.kaplan_meier` with the weights of
    :func:`iptw` (times the frequency weights) and replaces Greenwood's
    standard errors by the robust infinitesimal-jackknife ones, as R's
    ``survfit(Surv(time, event) ~ treatment, weights = w)`` does for
    non-integer weights.

    Parameters
    ----------
    data : DataFrame
        Not modified.
    time, event : str
        Follow-up time and event (1/True) columns.
    covariates : str or list of str, optional
        Propensity-model covariates (needed unless ``propensity`` is given).
    treatment, reference, estimand, stabilized, trim :
        Passed to :func:`iptw`.
    propensity : IPTWResult, optional
        Precomputed ``iptw(data, ...)`` on the same rows (same index).
    weights : str, optional
        Frequency weights (collapsed table); results equal the row level.
    conf_type, confidence :
        As :func:`iopstats.kaplan_meier`.

    Returns
    -------
    KaplanMeierResult
        Weighted curves per level (``n_at_risk`` and counts are sums of
        weights); ``std_err``, ``ci_low``, ``ci_high`` and the median limits
        use the robust variance; ``rmean_se`` is NaN (Greenwood's formula does
        not apply to IPT weights).

    Notes
    -----
    The robust variance treats the weights as known; ignoring the estimation
    of the propensity model usually makes it slightly conservative.
    Rows without a weight (missing covariates) are left out.

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop"] * 6 + ["op"] * 6,
    ...                    "sev": ["hi", "lo", "lo", "lo", "hi", "lo",
    ...                            "hi", "hi", "hi", "lo", "hi", "hi"],
    ...                    "days": [5, 30, 40, 20, 10, 60, 3, 8, 12, 50, 9, 15],
    ...                    "left": [1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0]})
    >>> km = iptw_kaplan_meier(df, "days", "left", ["sev"], treatment="loc")
    >>> km.summary[["group", "n", "median"]]
      group  n  median
    0   iop  6    10.0
    1    op  6     NaN
    """
    if not isinstance(data, pd.DataFrame):
        raise IopstatsError("data must be a pandas DataFrame", value=type(data).__name__)
    _check_frame(data, [time, event, treatment] + ([weights] if weights else []))
    prop = _propensity(data, covariates, treatment, reference, propensity, estimand, stabilized, trim, weights)
    f = _freq_weights(data, weights)
    f = np.ones(len(data)) if f is None else f
    w = prop.weights.to_numpy(dtype=float)
    work = pd.DataFrame({time: data[time], event: data[event], treatment: data[treatment]}, index=data.index)
    w_col = "__iptw_weight"
    work[w_col] = np.where(np.isnan(w), 0.0, w * f)
    work[treatment] = pd.Categorical(work[treatment], categories=list(prop.propensity.columns))
    km = kaplan_meier(work, time, event, by=treatment, conf_type=conf_type, confidence=confidence,
                      weights=w_col)
    # robust (IJ) standard errors on the same rows kaplan_meier used
    iw = work.copy()
    used = iw[w_col].to_numpy() > 0
    iw["__w"] = np.where(used, np.nan_to_num(w), 0.0)
    iw["__f"] = np.where(used, f, 0.0)
    s_w = prepare(iw, time, event, by=treatment, weights="__w", func="iptw_kaplan_meier")
    s_f = prepare(iw, time, event, by=treatment, weights="__f", func="iptw_kaplan_meier")
    robust = _km_robust(s_w.time, s_w.status.astype(float), s_w.group, s_w.weight, s_f.weight,
                        len(s_w.group_labels))
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    table = km.table.copy()
    summary = km.summary.copy()
    for gi, label in enumerate(s_w.group_labels):
        sel = (table["group"] == label).to_numpy()
        se_log = robust[gi]
        surv = table.loc[sel, "survival"].to_numpy()
        se_log = np.where(surv == 0, np.nan, se_log)
        lo, hi = _confint(surv, se_log, conf_type, z)
        table.loc[sel, "std_err"] = np.where(surv == 0, 0.0, surv * se_log)
        table.loc[sel, "ci_low"] = lo
        table.loc[sel, "ci_high"] = hi
        tg = table.loc[sel, "time"].to_numpy()
        srow = (summary["group"] == label).to_numpy()
        summary.loc[srow, "median_ci_low"] = _r_median(lo, tg)
        summary.loc[srow, "median_ci_high"] = _r_median(hi, tg)
    summary["rmean_se"] = np.nan
    remarks = list(km.remarks) + [
        f"Weighted by {prop.estimand} inverse probability of treatment weights "
        f"(propensity model on {' + '.join(prop.covariates)}); standard errors and limits are robust "
        "(infinitesimal jackknife, as R survfit with case weights) and treat the weights as known.",
    ] + [r for r in prop.remarks if r.startswith(("Positivity", "Extreme", "Imbalance"))]
    return replace(km, table=table, summary=summary, remarks=tuple(remarks),
                   title=f"IPTW-weighted Kaplan-Meier estimate of {time} ({event}) by {treatment}")


def iptw_cox(
    data: pd.DataFrame,
    time: str,
    event: str,
    covariates: str | Sequence[str] | None = None,
    treatment: str = "level_of_care",
    reference: object = "iop",
    propensity: IPTWResult | None = None,
    estimand: str = "ATE",
    stabilized: bool = True,
    trim: float | None = None,
    weights: str | None = None,
    ties: str = "efron",
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    confidence: float = 0.95,
):
    """Marginal hazard ratios of each level vs the reference: IPTW-weighted Cox model.

    Fits ``cox(data, time, event, [treatment], weights=iptw, robust=True)``,
    as R's ``coxph(Surv(time, event) ~ treatment, weights = w, robust = TRUE)``
    (add ``cluster=`` for repeated episodes of the same client), with the
    reference level as the baseline, so terms read ``"<treatment>[<level>]"``
    and ``hr`` is the hazard of that level relative to the reference.

    Parameters
    ----------
    data : DataFrame
        Not modified.
    time, event : str
        Follow-up time and event (1/True) columns.
    covariates : str or list of str, optional
        Propensity-model covariates (needed unless ``propensity`` is given).
        They are *not* put in the Cox model: the weighted model estimates the
        marginal (population-averaged) hazard ratio.
    treatment, reference, estimand, stabilized, trim :
        Passed to :func:`iptw`.
    propensity : IPTWResult, optional
        Precomputed ``iptw(data, ...)`` on the same rows (same index).
    weights : str, optional
        Integer frequency weights (collapsed table): rows are expanded before
        the fit, so results equal the row level.
    ties, strata, cluster, confidence :
        Passed to :func:`iopstats.cox`.

    Returns
    -------
    CoxResult
        Robust (sandwich) standard errors that treat the weights as known.

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop"] * 6 + ["op"] * 6,
    ...                    "sev": ["hi", "lo", "lo", "lo", "hi", "lo",
    ...                            "hi", "hi", "hi", "lo", "hi", "hi"],
    ...                    "days": [5, 30, 40, 20, 10, 60, 3, 8, 12, 50, 9, 15],
    ...                    "left": [1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0]})
    >>> fit = iptw_cox(df, "days", "left", ["sev"], treatment="loc")
    >>> list(fit.summary.index), bool(fit.robust)
    (['loc[op]'], True)
    """
    from iopstats.stats.cox import cox

    if not isinstance(data, pd.DataFrame):
        raise IopstatsError("data must be a pandas DataFrame", value=type(data).__name__)
    extra = [c for c in ([strata] if isinstance(strata, str) else list(strata or [])) + [cluster] if c]
    _check_frame(data, [time, event, treatment] + ([weights] if weights else []) + extra)
    prop = _propensity(data, covariates, treatment, reference, propensity, estimand, stabilized, trim, weights)
    w = prop.weights.to_numpy(dtype=float)
    cols = list(dict.fromkeys([time, event, treatment, *extra]))
    work = data[cols].copy()
    w_col = "__iptw_weight"
    work[w_col] = np.where(np.isnan(w), 0.0, w)
    work[treatment] = pd.Categorical(work[treatment], categories=list(prop.propensity.columns))
    if weights is not None:
        f = _freq_weights(data, weights)
        if not np.all(f == np.round(f)):
            raise IopstatsError("frequency weights must be whole numbers for iptw_cox", column=weights,
                                fix="pass counts (e.g. from iopstats.stats.counts.collapse)")
        work = work.loc[work.index.repeat(f.astype(np.int64))]
    fit = cox(work, time, event, [treatment], ties=ties, strata=strata, cluster=cluster, weights=w_col,
              confidence=confidence, robust=True)
    remarks = list(fit.remarks) + [
        f"Marginal hazard ratios vs {reference!r}: Cox model weighted by {prop.estimand} inverse "
        f"probability of treatment weights (propensity model on {' + '.join(prop.covariates)}), "
        "robust sandwich standard errors treating the weights as known (R coxph(weights=, robust=TRUE)).",
    ] + [r for r in prop.remarks if r.startswith(("Positivity", "Extreme", "Imbalance"))]
    return replace(fit, remarks=tuple(remarks), title=f"IPTW-weighted Cox model of {time} ({event})")
