"""IOP against each other level of care on a binary outcome.

:func:`compare_rates` puts one row per non-reference level beside the
reference (IOP by default) with the effect measures evaluators ask for, the
test they expect, multiplicity-adjusted p-values and, with a margin,
non-inferiority and equivalence. All differences are *reference minus level*
("IOP minus other").

Methods (each also stated in the result's ``remarks``):

* **Risk difference interval**: Newcombe's hybrid score interval (method 10 of
  Newcombe 1998, no continuity correction), built from the two Wilson
  intervals. It keeps close to nominal coverage for the small groups and rates
  near 0 or 1 where the Wald interval fails; checked against Newcombe's
  published example (56/70 vs 48/80: 0.0524 to 0.3339).
* **Risk ratio** (reference / level): log-scale (Katz) interval.
* **Odds ratio**: Woolf (log-scale) interval. When a 2 x 2 cell is zero,
  0.5 is added to every cell (Haldane-Anscombe) for the risk and odds ratios
  and their intervals.
* **Test**: Pearson chi-square without continuity correction (R's
  ``prop.test(correct = FALSE)``), or Fisher's exact test (R's
  ``fisher.test``) when any expected count of the 2 x 2 table is below 5. With
  Fisher's test the summary also carries the conditional maximum-likelihood odds
  ratio and its exact interval (``fisher_odds_ratio``, ``fisher_or_ci_low``,
  ``fisher_or_ci_high``; R ``fisher.test()$estimate`` and ``$conf.int``, two-sided
  at ``confidence``), from ``scipy.stats.contingency.odds_ratio(kind="conditional")``.
  One-sided alternatives refer to the reference rate: ``"greater"`` means
  IOP's rate is higher. p-values are adjusted across the comparisons by Holm
  (family-wise error) and Benjamini-Hochberg (false discovery rate).
* **Omnibus**: Pearson chi-square test of independence over all levels.
* **Non-inferiority** with ``margin``: Farrington-Manning score test (the
  restricted maximum-likelihood variance under the null boundary). For
  ``better="higher"``, H0: ``p_ref - p_level <= -margin``; for
  ``better="lower"`` (bad outcomes such as relapse) H0:
  ``p_ref - p_level >= margin``. **Equivalence** is two one-sided
  Farrington-Manning tests (TOST) at ``-margin`` and ``+margin``; its p-value
  is the larger of the two. Claims (the ``conclusion`` column) use Holm-adjusted
  one-sided p-values at level ``(1 - confidence) / 2``, the level that matches
  a two-sided ``confidence`` interval (CONSORT convention).
* **Case-mix adjustment** with ``adjust=[covariates]``: g-computation. A
  logistic model ``outcome ~ level + covariates`` (fitted on collapsed
  patterns, :mod:`iopstats.stats.logistic`) predicts every row's risk under
  each level; the adjusted rate of a level is the average over *all* rows
  (standardized to the whole population). Intervals use the delta method with
  the influence function of the standardized mean (model uncertainty plus the
  sampling variability of the covariate mix), so they agree with a
  nonparametric bootstrap. A covariate level without events or without
  non-events (separation) is merged with its neighbour or pooled into
  "other", or the covariate is left out
  (:func:`iopstats.compare.sparse_levels.merge_sparse_levels`); a level of
  ``by`` without events or non-events gets no adjusted row. Each such change
  is stated in ``remarks`` (``sparse_levels="raise"`` keeps the error).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from iopstats._checks import (binary_outcome, check_confidence, check_frame, column_list, frequency_weights,
                              group_order)
from iopstats._results import Result
from iopstats.compare.multiplicity import benjamini_hochberg, holm
from iopstats.compare.noninferiority import farrington_manning, newcombe_interval
from iopstats.compare.sparse_levels import merge_sparse_levels
from iopstats.exceptions import IopstatsError
from iopstats.stats._logistic_patterns import _Standardizer, _vdot
from iopstats.stats.rates import wilson_interval

__all__ = ["compare_rates", "RateComparison", "newcombe_interval", "farrington_manning"]

_ALTERNATIVES = ("two-sided", "greater", "less")


@dataclass(frozen=True)
class RateComparison(Result):
    """Comparison of a reference level (IOP) with each other level.

    Attributes
    ----------
    summary : DataFrame
        One row per non-reference level (see :func:`compare_rates`).
    omnibus : DataFrame
        One row: ``test``, ``statistic``, ``df``, ``p_value``, ``min_expected``.
    rates : DataFrame
        Rate and Wilson interval of every level (``level``, ``n``, ``events``,
        ``rate``, ``ci_low``, ``ci_high``, ``n_missing``).
    adjusted : DataFrame or None
        Case-mix adjusted comparison (g-computation) when ``adjust`` is given.
    reference : str
    margin : float or None
    """

    omnibus: pd.DataFrame = field(default_factory=pd.DataFrame)
    rates: pd.DataFrame = field(default_factory=pd.DataFrame)
    adjusted: pd.DataFrame | None = None
    reference: object = None
    margin: float | None = None

    def plot(self, ax=None, adjusted: bool = False, **kw):
        """Risk differences (reference minus level) with their intervals (:func:`iopstats.plots.comparison`).

        ``adjusted=True`` draws the case-mix adjusted differences. Returns the Axes.
        """
        from iopstats.plots import comparison

        if adjusted:
            if self.adjusted is None:
                raise IopstatsError("no adjusted comparison in this result", fix="call compare_rates(..., adjust=[...])")
            return comparison(self.adjusted, ax=ax, estimate="adj_risk_difference", ci_low="ci_low",
                              ci_high="ci_high", title=kw.pop("title", self.title + " (adjusted)"), **kw)
        return comparison(self.summary, ax=ax, title=kw.pop("title", self.title), **kw)


# ----------------------------------------------------------------------------
# building blocks (vectorized over comparisons)
# ----------------------------------------------------------------------------


def _one_sided(z: np.ndarray, upper: bool) -> np.ndarray:
    return stats.norm.sf(z) if upper else stats.norm.cdf(z)


def _fisher_odds_ratio(a, n1, c, n2, conf: float) -> tuple[float, float, float]:
    """Conditional MLE odds ratio (reference over level) and exact interval, as R fisher.test."""
    from scipy.stats.contingency import odds_ratio

    table = np.round(np.array([[a, n1 - a], [c, n2 - c]])).astype(np.int64)
    res = odds_ratio(table, kind="conditional")
    ci = res.confidence_interval(confidence_level=conf)
    return float(res.statistic), float(ci.low), float(ci.high)


def _two_by_two_test(a, n1, c, n2, alternative: str) -> tuple[str, float, float]:
    """Chi-square (uncorrected) or Fisher's exact test on one 2 x 2 table."""
    b, d = n1 - a, n2 - c
    N = n1 + n2
    col1 = a + c
    expected = np.array([n1 * col1, n1 * (N - col1), n2 * col1, n2 * (N - col1)]) / N
    if expected.min() < 5:
        cells = np.array([a, b, c, d])
        if not np.allclose(cells, np.round(cells)):
            raise IopstatsError(
                "Fisher's exact test needs whole counts but the frequency weights are fractional",
                value=cells.tolist(),
                fix="use integer frequency weights (counts of episodes)",
            )
        table = np.round(cells).astype(np.int64).reshape(2, 2)
        res = stats.fisher_exact(table, alternative=alternative)
        return "fisher", float("nan"), float(res.pvalue)
    p1, p2 = a / n1, c / n2
    pbar = col1 / N
    z = (p1 - p2) / np.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    if alternative == "two-sided":
        p = stats.chi2.sf(z * z, 1)
    else:
        p = _one_sided(z, upper=alternative == "greater")
    return "chi-square", float(z * z), float(p)


def _omnibus(events: np.ndarray, n: np.ndarray) -> pd.DataFrame:
    N, E = n.sum(), events.sum()
    obs = np.column_stack([events, n - events])
    exp = np.column_stack([n * E / N, n * (N - E) / N])
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = float(np.sum((obs - exp) ** 2 / exp)) if 0 < E < N else float("nan")
    df = len(n) - 1
    return pd.DataFrame(
        {
            "test": ["chi-square"],
            "statistic": [stat],
            "df": [df],
            "p_value": [float(stats.chi2.sf(stat, df)) if np.isfinite(stat) else float("nan")],
            "min_expected": [float(exp.min())],
        }
    )


def _ratio_intervals(a, n1, c, n2, q):
    """Risk ratio (Katz) and odds ratio (Woolf); Haldane 0.5 on zero cells."""
    b, d = n1 - a, n2 - c
    zero = (np.minimum.reduce([a, b, c, d]) <= 0)
    add = np.where(zero, 0.5, 0.0)
    a_, b_, c_, d_ = a + add, b + add, c + add, d + add
    m1, m2 = a_ + b_, c_ + d_
    with np.errstate(invalid="ignore", divide="ignore"):
        log_rr = np.log(a_ / m1) - np.log(c_ / m2)
        se_rr = np.sqrt(1 / a_ - 1 / m1 + 1 / c_ - 1 / m2)
        log_or = np.log(a_) + np.log(d_) - np.log(b_) - np.log(c_)
        se_or = np.sqrt(1 / a_ + 1 / b_ + 1 / c_ + 1 / d_)
    return (
        np.exp(log_rr), np.exp(log_rr - q * se_rr), np.exp(log_rr + q * se_rr),
        np.exp(log_or), np.exp(log_or - q * se_or), np.exp(log_or + q * se_or),
        zero,
    )


def _conclusions(
    levels, rd, p_holm, ni_holm, eq_holm, ci_low, ci_high, margin, better, conf, reference
) -> list[str]:
    alpha = 1.0 - conf
    out = []
    for i, lev in enumerate(levels):
        sig = p_holm[i] < alpha
        if margin is None:
            if sig:
                out.append(f"{reference} rate {'higher' if rd[i] > 0 else 'lower'} than {lev}")
            else:
                out.append(f"no significant difference from {lev}")
            continue
        favours = rd[i] > 0 if better == "higher" else rd[i] < 0
        worse_beyond = ci_high[i] < -margin if better == "higher" else ci_low[i] > margin
        if sig and favours and ni_holm[i] < alpha / 2:
            out.append(f"{reference} better than {lev}")
        elif eq_holm[i] < alpha / 2:
            out.append(f"{reference} equivalent to {lev} within +/-{margin:g}")
        elif ni_holm[i] < alpha / 2:
            out.append(f"{reference} non-inferior to {lev} (margin {margin:g})")
        elif worse_beyond:
            out.append(f"{reference} worse than {lev} by more than the margin {margin:g}")
        else:
            out.append(f"inconclusive: non-inferiority to {lev} not shown (margin {margin:g})")
    return out


# ----------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------


def compare_rates(
    data: pd.DataFrame,
    outcome: str,
    by: str = "level_of_care",
    reference: object = "iop",
    adjust: Sequence[str] | None = None,
    margin: float | None = None,
    better: str = "higher",
    alternative: str = "two-sided",
    confidence: float = 0.95,
    weights: str | None = None,
    sparse_levels: str = "merge",
) -> RateComparison:
    """Compare the reference level's rate (IOP) with every other level.

    Parameters
    ----------
    data : DataFrame
        One row per episode (e.g. :func:`iopstats.build_outcomes`) or a
        collapsed count table with ``weights``.
    outcome : str
        Binary outcome column (bool, pandas ``boolean`` or 0/1); rows with a
        missing outcome are excluded (counted in ``.rates["n_missing"]``).
    by : str
        Grouping column (level of care).
    reference : object
        The level every other level is compared with.
    adjust : list of str, optional
        Covariates for case-mix adjustment by g-computation (``.adjusted``).
    margin : float, optional
        Positive non-inferiority / equivalence margin on the risk-difference
        scale (e.g. 0.05 = 5 percentage points).
    better : {"higher", "lower"}
        Whether a higher rate is good (completion, retention) or bad
        (relapse, readmission). Used by the non-inferiority test and the
        wording of ``conclusion``.
    alternative : {"two-sided", "greater", "less"}
        Alternative of the difference test; ``"greater"``: the reference rate
        is higher.
    confidence : float
        Level of all two-sided intervals.
    weights : str, optional
        Column of frequency weights; results equal the row level.
    sparse_levels : {"merge", "raise"}
        What the adjusted model does with a covariate level that has no events
        or no non-events (separation): ``"merge"`` merges it with its nearest
        level (ordered covariates) or pools it into "other" (unordered), or
        leaves the covariate out when it cannot be saved, and leaves a level of
        ``by`` without events or non-events out of the adjusted table; every
        change is a sentence in ``remarks``. ``"raise"`` raises the separation
        error instead.

    Returns
    -------
    RateComparison
        ``.summary`` columns: ``level``, ``n``, ``events``, ``rate``,
        ``ref_n``, ``ref_events``, ``ref_rate``, ``risk_difference``
        (reference minus level), ``rd_ci_low``, ``rd_ci_high`` (Newcombe),
        ``risk_ratio`` (reference / level), ``rr_ci_low``, ``rr_ci_high``,
        ``odds_ratio``, ``or_ci_low``, ``or_ci_high``, ``test``,
        ``statistic``, ``p_value``, ``p_holm``, ``p_bh``, ``fisher_odds_ratio``,
        ``fisher_or_ci_low``, ``fisher_or_ci_high`` (conditional MLE odds ratio and exact
        interval where Fisher's test is used, NaN otherwise); with ``margin`` also
        ``ni_p_value``, ``ni_p_holm``, ``equivalence_p_value``,
        ``equivalence_p_holm``; and ``conclusion`` in plain words: without a
        margin, whether the rates differ (``p_holm`` below ``1 - confidence``);
        with a margin, in this order: "better" (significant difference in the
        good direction), "equivalent", "non-inferior", "worse ... by more than
        the margin" (interval beyond the margin) or "inconclusive".

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "level_of_care": ["iop"] * 150 + ["outpatient"] * 200,
    ...     "completed": [1] * 90 + [0] * 60 + [1] * 100 + [0] * 100})
    >>> res = compare_rates(df, "completed", margin=0.1)
    >>> row = res.summary.iloc[0]
    >>> row["level"], row["test"], round(float(row["risk_difference"]), 3)
    ('outpatient', 'chi-square', 0.1)
    >>> round(float(row["rd_ci_low"]), 4), round(float(row["rd_ci_high"]), 4)
    (-0.0054, 0.2016)
    >>> row["conclusion"]
    'iop non-inferior to outpatient (margin 0.1)'
    """
    conf = check_confidence(confidence)
    if alternative not in _ALTERNATIVES:
        raise IopstatsError("unknown alternative", value=alternative,
                            fix=f"use one of {', '.join(_ALTERNATIVES)}")
    if sparse_levels not in ("merge", "raise"):
        raise IopstatsError("sparse_levels must be 'merge' or 'raise'", value=sparse_levels,
                            fix="'merge' merges covariate levels that break the adjusted model; 'raise' stops")
    if better not in ("higher", "lower"):
        raise IopstatsError("better must be 'higher' or 'lower'", value=better,
                            fix="'higher' for good outcomes (completion), 'lower' for bad ones (relapse)")
    if margin is not None:
        try:
            margin = float(margin)
        except (TypeError, ValueError):
            margin = float("nan")
        if not 0.0 < margin < 1.0:
            raise IopstatsError("margin must be a positive risk difference below 1",
                                value=margin, fix="e.g. margin=0.05 for 5 percentage points")
    if not isinstance(by, str):
        raise IopstatsError("by must be one column name", value=by)
    adj = column_list(adjust, "adjust")
    check_frame(data, [outcome, by, *adj] + ([weights] if weights else []))
    if outcome == by or outcome in adj or by in adj:
        raise IopstatsError("outcome, by and adjust columns must be different columns",
                            value=[outcome, by, *adj])

    y = binary_outcome(data, outcome)
    w = frequency_weights(data, weights)
    w = np.ones(len(y)) if w is None else w
    group = data[by]
    present_levels = group_order(group)
    if not any(lev == reference for lev in present_levels):
        raise IopstatsError(
            "reference level absent from the data", column=by, value=reference,
            fix=f"pass reference= one of {present_levels[:12]}",
        )
    if len(present_levels) < 2:
        raise IopstatsError("only one level present: nothing to compare", column=by,
                            value=present_levels, fix="use data with at least two levels")
    codes = pd.Categorical(group, categories=present_levels).codes
    ok = (codes >= 0) & ~np.isnan(y)
    L = len(present_levels)
    n = np.bincount(codes[ok], weights=w[ok], minlength=L)
    ev = np.bincount(codes[ok], weights=(y[ok] * w[ok]), minlength=L)
    miss_y = (codes >= 0) & np.isnan(y)
    n_missing = np.bincount(codes[miss_y], weights=w[miss_y], minlength=L)
    n_missing_by = float(w[codes < 0].sum())
    empty = [present_levels[i] for i in range(L) if n[i] <= 0]
    if empty:
        raise IopstatsError(
            "a level has no rows with a known outcome (n = 0)", column=by, value=empty[0],
            fix="drop that level from the data or check the outcome column for missing values",
        )
    ref_i = next(i for i, lev in enumerate(present_levels) if lev == reference)
    other = [i for i in range(L) if i != ref_i]
    q = stats.norm.ppf(0.5 + conf / 2.0)

    lo, hi = wilson_interval(ev, n, conf)
    rate_tab = pd.DataFrame({"level": present_levels, "n": n, "events": ev, "rate": ev / n,
                             "ci_low": lo, "ci_high": hi, "n_missing": n_missing})
    if weights is None:
        for c in ("n", "events", "n_missing"):
            rate_tab[c] = rate_tab[c].astype(np.int64)

    a, n1 = ev[ref_i], n[ref_i]
    c, n2 = ev[other], n[other]
    p1, p2 = a / n1, c / n2
    rd = p1 - p2
    rd_lo, rd_hi = newcombe_interval(a, n1, c, n2, conf)
    rr, rr_lo, rr_hi, orr, or_lo, or_hi, zero = _ratio_intervals(
        np.full(len(other), a), np.full(len(other), n1), c, n2, q
    )
    tests = [_two_by_two_test(a, n1, ci, n2i, alternative) for ci, n2i in zip(c, n2)]
    pvals = np.array([t[2] for t in tests])
    fisher_or = np.full((len(other), 3), np.nan)
    for i, t in enumerate(tests):
        if t[0] == "fisher":
            fisher_or[i] = _fisher_odds_ratio(a, n1, c[i], n2[i], conf)
    summary = pd.DataFrame(
        {
            "level": [present_levels[i] for i in other],
            "n": n2, "events": c, "rate": p2,
            "ref_n": n1, "ref_events": a, "ref_rate": p1,
            "risk_difference": rd, "rd_ci_low": rd_lo, "rd_ci_high": rd_hi,
            "risk_ratio": rr, "rr_ci_low": rr_lo, "rr_ci_high": rr_hi,
            "odds_ratio": orr, "or_ci_low": or_lo, "or_ci_high": or_hi,
            "test": [t[0] for t in tests], "statistic": [t[1] for t in tests],
            "p_value": pvals, "p_holm": holm(pvals), "p_bh": benjamini_hochberg(pvals),
            "fisher_odds_ratio": fisher_or[:, 0], "fisher_or_ci_low": fisher_or[:, 1],
            "fisher_or_ci_high": fisher_or[:, 2],
        }
    )
    if weights is None:
        for col in ("n", "events", "ref_n", "ref_events"):
            summary[col] = summary[col].astype(np.int64)
    ni_h = eq_h = np.full(len(other), np.nan)
    if margin is not None:
        z_lo = farrington_manning(a, n1, c, n2, -margin)  # H0: d <= -margin
        z_hi = farrington_manning(a, n1, c, n2, margin)  # H0: d >= +margin
        p_lo, p_hi = _one_sided(z_lo, True), _one_sided(z_hi, False)
        ni = p_lo if better == "higher" else p_hi
        eq = np.maximum(p_lo, p_hi)
        ni_h, eq_h = holm(ni), holm(eq)
        summary["ni_p_value"] = ni
        summary["ni_p_holm"] = ni_h
        summary["equivalence_p_value"] = eq
        summary["equivalence_p_holm"] = eq_h
    summary["conclusion"] = _conclusions(
        summary["level"].tolist(), rd, summary["p_holm"].to_numpy(), ni_h, eq_h,
        rd_lo, rd_hi, margin, better, conf, reference,
    )

    remarks = [
        f"Differences are {reference} minus each level; risk and odds ratios are {reference} "
        "over the level.",
        f"Risk-difference intervals: Newcombe hybrid score (method 10), {conf:.0%}. "
        "Risk ratio: log (Katz) interval; odds ratio: Woolf interval.",
        "Test per comparison: Pearson chi-square without continuity correction, or Fisher's "
        "exact test when an expected count is below 5"
        + ("" if alternative == "two-sided" else f"; one-sided alternative '{alternative}' "
           f"({reference} rate {'higher' if alternative == 'greater' else 'lower'})")
        + f". p-values adjusted across the {len(other)} comparisons by Holm (p_holm) and "
        "Benjamini-Hochberg (p_bh).",
    ]
    if zero.any():
        remarks.append(
            "A 2 x 2 table has a zero cell for "
            + ", ".join(str(present_levels[other[i]]) for i in np.flatnonzero(zero))
            + ": 0.5 was added to every cell (Haldane-Anscombe) for its risk and odds ratios."
        )
    if (summary["test"] == "fisher").any():
        remarks.append("Fisher's exact test used for: "
                       + ", ".join(map(str, summary.loc[summary["test"] == "fisher", "level"]))
                       + f"; for these the conditional maximum-likelihood odds ratio with its exact {conf:.0%} "
                       "interval is in fisher_odds_ratio (as R fisher.test).")
    omnibus = _omnibus(ev, n)
    if omnibus["min_expected"].iloc[0] < 5:
        remarks.append("The omnibus chi-square has an expected count below 5: its p-value is "
                       "approximate.")
    if margin is not None:
        good = "better" if better == "higher" else "worse"
        remarks.append(
            f"Non-inferiority (margin {margin:g}, a higher rate is {good}): "
            "Farrington-Manning score test; equivalence: two one-sided Farrington-Manning tests. "
            f"Conclusions use Holm-adjusted one-sided p-values at {(1 - conf) / 2:g}."
        )
    miss_total = float(n_missing.sum())
    if miss_total or n_missing_by:
        remarks.append(f"Excluded: {miss_total:g} rows with a missing outcome and "
                       f"{n_missing_by:g} with a missing {by}.")

    adjusted = None
    if adj:
        fit = _adjusted if sparse_levels == "raise" else _adjusted_merging_sparse
        adjusted, adj_remarks = fit(
            data, outcome, by, reference, adj, weights, present_levels, ref_i, other,
            margin, better, alternative, conf,
        )
        remarks.extend(adj_remarks)

    return RateComparison(
        summary=summary,
        title=f"{outcome}: {reference} vs other levels of {by}",
        remarks=tuple(remarks),
        omnibus=omnibus,
        rates=rate_tab,
        adjusted=adjusted,
        reference=reference,
        margin=margin,
    )


def _adjusted_merging_sparse(data, outcome, by, reference, adj, weights, levels, ref_i, other,
                             margin, better, alternative, conf):
    """:func:`_adjusted` after merging sparse covariate levels; drops what still separates, saying so."""
    model, kept, notes = merge_sparse_levels(data, outcome, adj, by=by, weights=weights)
    other = list(other)
    for _ in range(len(adj) + len(levels)):
        if not kept:
            return None, notes + ["No adjustment covariate could be kept, so no adjusted comparison is shown."]
        if not other:
            return None, notes + ["No level could be compared with the adjusted model."]
        try:
            out, remarks = _adjusted(model, outcome, by, reference, kept, weights, levels, ref_i, other,
                                     margin, better, alternative, conf)
            return out, notes + remarks
        except IopstatsError as exc:
            if not exc.message.startswith("separation"):
                raise
            if exc.column in kept:
                kept = [c for c in kept if c != exc.column]
                notes.append(f"{exc.column}: together with the other covariates it predicts {outcome} perfectly "
                             "for some rows (separation), so it was left out of the adjustment.")
                continue
            lev = exc.value
            hit = [i for i in other if levels[i] == lev]
            if exc.column != by or not hit:
                raise
            other = [i for i in other if i not in hit]
            model = model.loc[(model[by] != lev).to_numpy()]
            notes.append(f"{lev}: the level has no events or only events of {outcome}, so it has no adjusted "
                         "comparison (the model cannot be estimated with it) and the adjusted rates are "
                         "standardized to the rows of the other levels; its raw comparison is shown.")
    raise IopstatsError("the adjusted model could not be made estimable", fix="adjust for fewer covariates")


def _adjusted(data, outcome, by, reference, adj, weights, levels, ref_i, other,
              margin, better, alternative, conf):
    """g-computation: standardized rates from outcome ~ by + adj, delta method."""
    gc = _Standardizer(data, outcome, by, adj, reference, weights)
    pat, fit, D = gc.pat, gc.fit, gc.design
    m, N, V = gc.m, gc.N, fit.cov
    q = stats.norm.ppf(0.5 + conf / 2.0)
    if 0 not in gc.observed:
        raise IopstatsError("the reference level has no complete rows for the adjusted model",
                            column=by, value=reference,
                            fix="check the adjustment covariates for missing values")
    p_ref, r_ref, g_ref = gc.risk(0)
    n_by_code = np.bincount(pat.codes[:, 0], weights=m, minlength=len(gc.levels))
    rows = []
    for i in other:
        lev = levels[i]
        code = gc.code(lev)
        if code < 0:
            raise IopstatsError(
                "a level has no rows with complete covariates for the adjusted model",
                column=by, value=lev, fix="check the adjustment covariates for missing values",
            )
        p_l, r_l, g_l = gc.risk(code)
        n_l = float(n_by_code[code])
        dvec = g_ref - g_l
        diff = p_ref - p_l
        rd = r_ref - r_l
        var_rd = float(dvec @ V @ dvec + _vdot(m, (diff - rd) ** 2) / N**2)
        se_rd = np.sqrt(var_rd)
        lvec = g_ref / r_ref - g_l / r_l
        ldiff = p_ref / r_ref - p_l / r_l
        var_lrr = float(lvec @ V @ lvec + _vdot(m, ldiff**2) / N**2)
        lrr = np.log(r_ref) - np.log(r_l)
        z = rd / se_rd
        if alternative == "two-sided":
            pv = 2.0 * stats.norm.sf(abs(z))
        else:
            pv = _one_sided(z, alternative == "greater")
        t = D.names.index(f"{by}[{lev}]")
        b, se_b = fit.beta[t], np.sqrt(V[t, t])
        row = {
            "level": lev, "n": n_l, "adj_rate": r_l, "ref_adj_rate": r_ref,
            "adj_risk_difference": rd, "ci_low": rd - q * se_rd, "ci_high": rd + q * se_rd,
            "se": se_rd, "p_value": pv,
            "adj_risk_ratio": np.exp(lrr), "rr_ci_low": np.exp(lrr - q * np.sqrt(var_lrr)),
            "rr_ci_high": np.exp(lrr + q * np.sqrt(var_lrr)),
            # conditional odds ratio of the reference vs the level (model coefficient)
            "conditional_odds_ratio": np.exp(-b), "cor_ci_low": np.exp(-b - q * se_b),
            "cor_ci_high": np.exp(-b + q * se_b),
        }
        if margin is not None:
            p_lo = stats.norm.sf((rd + margin) / se_rd)
            p_hi = stats.norm.cdf((rd - margin) / se_rd)
            row["ni_p_value"] = p_lo if better == "higher" else p_hi
            row["equivalence_p_value"] = max(p_lo, p_hi)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.insert(out.columns.get_loc("p_value") + 1, "p_holm", holm(out["p_value"]))
    ni_h = eq_h = np.full(len(out), np.nan)
    if margin is not None:
        ni_h, eq_h = holm(out["ni_p_value"]), holm(out["equivalence_p_value"])
        out.insert(out.columns.get_loc("ni_p_value") + 1, "ni_p_holm", ni_h)
        out["equivalence_p_holm"] = eq_h
    out["conclusion"] = _conclusions(
        out["level"].tolist(), out["adj_risk_difference"].to_numpy(), out["p_holm"].to_numpy(),
        ni_h, eq_h, out["ci_low"].to_numpy(), out["ci_high"].to_numpy(), margin, better, conf,
        reference,
    )
    if weights is None:
        out["n"] = out["n"].astype(np.int64)
    remarks = [
        "Adjusted comparison: g-computation from a logistic model of "
        f"{outcome} on {by} + {' + '.join(adj)}, standardized to all {N:g} rows with complete "
        f"covariates ({pat.n_dropped} rows left out); Wald intervals with delta-method "
        "(influence-function) standard errors; conditional_odds_ratio is the model's "
        f"{reference}-vs-level odds ratio."
        + (" Adjusted non-inferiority uses a Wald test on the adjusted difference."
           if margin is not None else "")
    ]
    return out, remarks
