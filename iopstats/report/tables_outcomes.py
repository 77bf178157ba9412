"""Outcome report tables: rates, level-of-care comparisons (with their sentences),
the retention funnel, transitions, p-charts, cohort figures and the national
headline's cohort-by-year and adjusted-ratio tables (suppressed).

Re-exported by :mod:`iopstats.report.tables`; survival tables are in
:mod:`iopstats.report.tables_survival`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.report import privacy
from iopstats.report.tables_base import T, ReportTable, _suppressed, make_table

__all__ = [
    "rate_table",
    "relapse_table",
    "comparison_table",
    "describe_comparison",
    "adjusted_table",
    "funnel_table",
    "transition_table",
    "p_chart_table",
    "cohort_kpis",
    "filter_period",
    "cohort_year_table",
    "headline_effects_table",
    "describe_ratio",
]


# --------------------------------------------------------------------------- rates and comparisons


def rate_table(rates: pd.DataFrame, threshold: int = T, title: str = "", remarks: Sequence[str] = ()) -> ReportTable:
    """Suppress an ``iopstats.rates`` result (by, [subgroup], n, events, rate, ci_low, ci_high[, n_missing]).

    Each row's ``n`` episodes with a known outcome split into events and
    non-events, both cells of the table (so 48 of 50 is protected like 2 of
    50). ``n_missing`` (outcome not known: still open or not yet due) is not
    published here.
    """
    stats_cols = ("n", "events", "rate", "ci_low", "ci_high")
    keys = [c for c in rates.columns if c not in (*stats_cols, "n_missing")]
    t = rates.reset_index(drop=True)[keys + list(stats_cols)].copy()
    for k in keys:
        t[k] = t[k].astype(str)
    t["n"] = pd.to_numeric(t["n"]).astype(float)
    t["events"] = pd.to_numeric(t["events"]).astype(float)
    fm = {"n": "count", "events": "count", "rate": "pct", "ci_low": "pct", "ci_high": "pct"}
    v, m = _suppressed(t, ["events"], threshold, total="n")
    return make_table(v, m, formats=fm, title=title, remarks=remarks, threshold=threshold)


def relapse_table(relapse: pd.DataFrame, threshold: int = T, title: str = "") -> ReportTable:
    """Suppress ``relapse_rates(...)`` (level, method, n_due, n_responded, response_rate, rate, ...).

    The due discharges of a level split into responders who used, responders
    who did not, and non-responders; if any of these is suppressed, every
    rate of the level (all three methods) is suppressed.
    """
    need = ["level", "method", "n_due", "n_responded", "rate"]
    for c in need:
        if c not in relapse.columns:
            raise IopstatsError("relapse table needs column", column=c, fix="pass relapse_rates(...) output")
    r = relapse.reset_index(drop=True).copy()
    r["level"] = r["level"].astype(str)
    cells = []
    for lvl, part in r.groupby("level", sort=False):
        cc = part[part["method"] == "complete_case"]
        n_due = float(part["n_due"].iloc[0])
        n_resp = float(part["n_responded"].iloc[0])
        used = float(np.round(cc["rate"].iloc[0] * n_resp)) if len(cc) and n_resp and not np.isnan(cc["rate"].iloc[0]) else 0.0
        cells.append({"level": lvl, "n_due": n_due, "used": used, "no_response": n_due - n_resp})
    c = pd.DataFrame(cells)
    cm = privacy.suppression_mask(c, ["used", "no_response"], threshold, total="n_due", derived=None)
    hidden = dict(zip(c["level"], cm[["used", "no_response", "n_due"]].any(axis=1)))
    due_hidden = dict(zip(c["level"], cm["n_due"]))
    cols = [x for x in ("level", "method", "n_due", "n_responded", "response_rate", "rate", "ci_low", "ci_high")
            if x in r.columns]
    v = r[cols].copy()
    mask = pd.DataFrame(False, index=v.index, columns=cols)
    h = v["level"].map(hidden).astype(bool)
    for col in cols[2:]:
        mask[col] = h if col != "n_due" else v["level"].map(due_hidden).astype(bool)
        v[col] = v[col].astype(float).where(~mask[col])
    v["method"] = v["method"].astype(str).str.replace("_", " ")
    return make_table(v, mask, formats={"n_due": "count", "n_responded": "count", "response_rate": "pct",
                                        "rate": "pct", "ci_low": "pct", "ci_high": "pct"},
                      title=title, threshold=threshold)


_EFFECT_FORMATS = {
    "n": "count", "events": "count", "rate": "pct", "ref_n": "count", "ref_events": "count", "ref_rate": "pct",
    "risk_difference": "pp", "rd_ci_low": "pp", "rd_ci_high": "pp", "risk_ratio": "ratio", "rr_ci_low": "ratio",
    "rr_ci_high": "ratio", "odds_ratio": "ratio", "or_ci_low": "ratio", "or_ci_high": "ratio", "p_value": "p",
    "p_holm": "p", "p_bh": "p", "ni_p_value": "p", "equivalence_p_value": "p", "ni_p_holm": "p",
    "equivalence_p_holm": "p", "statistic": "ratio",
}


def comparison_table(summary: pd.DataFrame, threshold: int = T, columns: Sequence[str] | None = None,
                     title: str = "", remarks: Sequence[str] = ()) -> ReportTable:
    """Suppress a ``compare_rates(...).summary``: a row whose level or reference
    counts are suppressed loses its counts, rates and effects."""
    s = summary.reset_index(drop=True).copy()
    if "level" not in s.columns:
        raise IopstatsError("comparison summary needs a 'level' column", fix="pass compare_rates(...).summary")
    s["level"] = s["level"].astype(str)
    ref = pd.DataFrame({"level": ["__reference__"], "n": [float(s["ref_n"].iloc[0]) if len(s) else 0.0],
                        "events": [float(s["ref_events"].iloc[0]) if len(s) else 0.0]})
    counts = pd.concat([s[["level", "n", "events"]].astype({"n": float, "events": float}), ref], ignore_index=True)
    cm = privacy.suppression_mask(counts, ["events"], threshold, total="n", derived=None)
    hidden_level = (cm["n"] | cm["events"]).to_numpy()[: len(s)]
    ref_hidden = bool(cm["n"].iloc[-1] or cm["events"].iloc[-1])
    cols = [c for c in (columns or s.columns) if c in s.columns]
    v = s[cols].copy()
    mask = pd.DataFrame(False, index=v.index, columns=cols)
    for c in cols:
        if c in ("level", "test", "conclusion"):
            continue
        is_ref = c.startswith("ref_")
        if c in ("n", "events"):
            hide = cm[c].to_numpy()[: len(s)]
        elif c == "rate":
            hide = hidden_level
        elif is_ref:
            hide = np.repeat(ref_hidden, len(s))
        else:
            hide = hidden_level | ref_hidden
        mask[c] = hide
    if "conclusion" in cols:
        mask["conclusion"] = hidden_level | ref_hidden
    for c in cols:
        if mask[c].any():
            v[c] = v[c].astype(object).where(~mask[c], None)
    return make_table(v, mask, formats=_EFFECT_FORMATS, title=title, remarks=remarks, threshold=threshold)


def describe_comparison(
    row: Mapping, *, outcome: str, reference: str = "iop", adjusted_for: Sequence[str] = (),
    method: str = "", confidence: float = 0.95, margin: float | None = None, suppressed: bool = False,
    threshold: int = T, keys: Sequence[str] = ("risk_difference", "rd_ci_low", "rd_ci_high"),
) -> str:
    """One plain-language sentence stating estimand, method, estimate and interval.

    Examples
    --------
    >>> describe_comparison({"level": "outpatient", "risk_difference": 0.052, "rd_ci_low": 0.01,
    ...                      "rd_ci_high": 0.094}, outcome="completion", method="Newcombe interval")
    'Risk difference in completion, IOP minus outpatient (unadjusted; Newcombe interval): +5.2 percentage points (95% interval +1.0 to +9.4).'
    """
    level = str(row["level"])
    ref = "IOP" if reference == "iop" else reference
    adj = ("adjusted for " + ", ".join(a.replace("_", " ") for a in adjusted_for)) if adjusted_for else "unadjusted"
    how = f"{adj}; {method}" if method else adj
    head = f"Risk difference in {outcome}, {ref} minus {level} ({how})"
    vals = [row.get(k) for k in keys]
    if suppressed or any(v is None or (isinstance(v, float) and np.isnan(v)) for v in vals):
        return f"{head}: not shown, because a count it rests on is under {threshold}."
    rd, lo, hi = (100 * float(v) for v in vals)
    text = f"{head}: {rd:+.1f} percentage points ({100 * confidence:.0f}% interval {lo:+.1f} to {hi:+.1f})."
    if margin is not None and row.get("conclusion"):
        text += f" Non-inferiority with a margin of {100 * margin:.0f} points: {row['conclusion']}."
    elif margin is not None:
        verdict = "non-inferior" if lo > -100 * margin else "not shown non-inferior"
        text += (f" With a non-inferiority margin of {100 * margin:.0f} points, {ref} is {verdict} to {level}"
                 f" (the lower bound {lo:+.1f} {'is above' if lo > -100 * margin else 'is not above'}"
                 f" {-100 * margin:.0f}).")
    return text


def adjusted_table(adjusted: pd.DataFrame, raw: ReportTable, threshold: int = T, title: str = "",
                   remarks: Sequence[str] = ()) -> ReportTable:
    """Suppress ``compare_rates(..., adjust=...).adjusted`` consistently with the raw table.

    A level whose raw comparison is suppressed (see :func:`comparison_table`),
    or whose adjusted ``n`` is 1 to ``threshold - 1``, loses every number.
    """
    a = adjusted.reset_index(drop=True).copy()
    a["level"] = a["level"].astype(str)
    raw_hidden = {}
    effect = "risk_difference" if "risk_difference" in raw.mask.columns else None
    for lvl, m in zip(raw.values["level"].astype(str), raw.mask.itertuples(index=False)):
        row = m._asdict()
        raw_hidden[lvl] = bool(row.get(effect, False)) if effect else any(row.values())
    n = pd.to_numeric(a["n"], errors="coerce") if "n" in a else pd.Series(np.nan, index=a.index)
    hide = a["level"].map(raw_hidden).fillna(True).astype(bool) | ((n >= 1) & (n < threshold))
    mask = pd.DataFrame(False, index=a.index, columns=a.columns)
    for c in a.columns:
        if c != "level":
            mask[c] = hide
            a[c] = a[c].astype(object).where(~hide, None)
    fm = dict(_EFFECT_FORMATS, adj_rate="pct", ref_adj_rate="pct", adj_risk_difference="pp", ci_low="pp",
              ci_high="pp", se="pp", adj_risk_ratio="ratio", conditional_odds_ratio="ratio", cor_ci_low="ratio",
              cor_ci_high="ratio", ni_p_holm="p", equivalence_p_holm="p")
    return make_table(a, mask, formats=fm, title=title, remarks=remarks, threshold=threshold)


# --------------------------------------------------------------------------- cohort


def funnel_table(outcomes: pd.DataFrame, by: str = "level_of_care", threshold: int = T) -> ReportTable:
    """Retention funnel counts per level: admitted, retained 30/60/90 days, completed.

    Retained counts use episodes whose status at the day is known. A stage is
    suppressed when its count, its complement, or its drop from the previous
    shown stage is 1 to ``threshold - 1``; suppression then runs down each
    stage across levels (column totals public).
    """
    stages = [("admitted", None), ("retained_30", "retained_30"), ("retained_60", "retained_60"),
              ("retained_90", "retained_90"), ("completed", "completed")]
    rows = []
    for g, part in outcomes.groupby(by, observed=True):
        r = {"level": str(g), "admitted": float(len(part))}
        for name, col in stages[1:]:
            r[name] = float(part[col].fillna(False).astype(bool).sum()) if col in part else np.nan
        rows.append(r)
    t = pd.DataFrame(rows)
    names = [s for s, _ in stages if s in t.columns and t[s].notna().all()]
    M = t[names].to_numpy()
    small = lambda x: (x >= 1) & (x < threshold)  # noqa: E731
    primary = np.zeros(M.shape, dtype=bool)
    for k in range(1, M.shape[1]):
        primary[:, k] |= small(M[:, 0] - M[:, k])  # complement: admitted minus stage
        if names[k] != "completed":
            primary[:, k] |= small(M[:, k - 1] - M[:, k])  # drop from the previous stage
    s = privacy.suppress_matrix(M, threshold, rows=False, cols=len(t) > 1, primary=primary)
    mask = pd.DataFrame(False, index=t.index, columns=t.columns)
    for k, name in enumerate(names):
        mask[name] = s.cells.to_numpy()[:, k]
    v = t.copy()
    for name in names:
        v.loc[mask[name], name] = np.nan
    return make_table(v, mask, formats={n: "count" for n in names}, threshold=threshold,
                      title="Retention funnel: episodes admitted, still in treatment at 30/60/90 days, completed")


def transition_table(episodes: pd.DataFrame, threshold: int = T) -> ReportTable:
    """Counts of level of care of one episode -> the client's next episode (suppressed)."""
    need = ["client_id", "admit_date", "level_of_care"]
    for c in need:
        if c not in episodes.columns:
            raise IopstatsError("episodes need this column for transitions", column=c)
    e = episodes[need].dropna().sort_values(["client_id", "admit_date"], kind="mergesort")
    nxt = e.groupby("client_id", observed=True)["level_of_care"].shift(-1)
    pairs = pd.DataFrame({"from_level": e["level_of_care"].astype(str), "to_level": nxt.astype(object)}).dropna()
    pairs["to_level"] = pairs["to_level"].astype(str)
    if pairs.empty:
        wide = pd.DataFrame()
        return make_table(wide, title="No client has a second episode", threshold=threshold)
    wide = pd.crosstab(pairs["from_level"], pairs["to_level"]).astype(float)
    s = privacy.suppress_matrix(wide, threshold)
    v = wide.where(~s.cells)
    out = v.reset_index().rename(columns={"from_level": "from \\ to"})
    mask = pd.concat([pd.DataFrame({"from \\ to": False}, index=s.cells.index), s.cells], axis=1).reset_index(drop=True)
    out.columns = [str(c) for c in out.columns]
    return make_table(out, mask, formats={c: "count" for c in out.columns[1:]}, threshold=threshold,
                      title="Level of care of the next episode of the same client (counts)")


def p_chart_table(outcomes: pd.DataFrame, outcome: str, period: str = "admit_period", threshold: int = T,
                  sigma: float = 3.0) -> ReportTable:
    """Monthly rate with p-chart centre line and 3-sigma limits (suppressed).

    Centre ``p = sum(events) / sum(n)``; limits ``p +/- sigma * sqrt(p (1 - p) / n_i)``
    clipped to [0, 1]; ``signal`` marks months outside the limits.
    """
    d = outcomes[[period, outcome]].dropna()
    g = d.groupby(period, observed=True)[outcome]
    t = pd.DataFrame({"n": g.size().astype(float), "events": g.apply(lambda s: float(s.astype(bool).sum()))})
    t = t.reset_index().rename(columns={period: "period"}).sort_values("period", ignore_index=True)
    t["period"] = t["period"].astype(str)
    t["rate"] = t["events"] / t["n"]
    p = t["events"].sum() / t["n"].sum() if t["n"].sum() else np.nan
    half = sigma * np.sqrt(p * (1 - p) / t["n"])
    t["center"] = p
    t["lcl"] = (p - half).clip(lower=0)
    t["ucl"] = (p + half).clip(upper=1)
    t["signal"] = ((t["rate"] < t["lcl"]) | (t["rate"] > t["ucl"])).astype(float)
    v, m = _suppressed(t, ["events"], threshold, total="n", derived={"rate": ["events", "n"], "lcl": ["n"],
                                                                  "ucl": ["n"], "signal": ["events", "n"]})
    v["signal"] = v["signal"].map(lambda x: np.nan if pd.isna(x) else ("outside limits" if x else ""))
    return make_table(v, m, formats={"n": "count", "events": "count", "rate": "pct", "center": "pct", "lcl": "pct",
                                     "ucl": "pct"}, threshold=threshold,
                      title=f"Monthly {outcome.replace('_', ' ')} rate with p-chart limits ({sigma:g} sigma)")


def filter_period(outcomes: pd.DataFrame, start: str | None = None, end: str | None = None,
                  period: str = "admit_period") -> pd.DataFrame:
    """Episodes admitted in months ``start`` to ``end`` (YYYY-MM, inclusive); a copy.

    Examples
    --------
    >>> o = pd.DataFrame({"admit_period": ["2023-12", "2024-01", "2024-02"]})
    >>> filter_period(o, "2024-01")["admit_period"].tolist()
    ['2024-01', '2024-02']
    """
    if period not in outcomes.columns:
        raise IopstatsError("outcomes need an admission period column", column=period)
    p = outcomes[period].astype("string")
    keep = pd.Series(True, index=outcomes.index)
    if start:
        keep &= (p >= start).fillna(False)
    if end:
        keep &= (p <= end).fillna(False)
    return outcomes.loc[keep].reset_index(drop=True)


def cohort_kpis(outcomes: pd.DataFrame, threshold: int = T) -> list[tuple[str, str]]:
    """Headline numbers (label, text) for the report's first screen, suppressed."""
    n = len(outcomes)
    kp = [("episodes", privacy.marker(threshold) if 0 < n < threshold else f"{n:,}")]
    if "client_id" in outcomes:
        c = outcomes["client_id"].nunique()
        kp.append(("clients", privacy.marker(threshold) if 0 < c < threshold else f"{c:,}"))
    if "level_of_care" in outcomes:
        kp.append(("levels of care", f"{outcomes['level_of_care'].nunique()}"))
    if "admit_period" in outcomes and outcomes["admit_period"].notna().any():
        p = outcomes["admit_period"].dropna().astype(str)
        kp.append(("admissions", f"{p.min()} to {p.max()}"))
    return kp


# --------------------------------------------------------------------------- national headline (count tables)


def cohort_year_table(counts: pd.DataFrame, threshold: int = T, *, level: str = "level", year: str = "year",
                      n: str = "n") -> ReportTable:
    """Episodes by level of care (rows) and discharge year (columns), with an all-years column.

    ``counts`` is tidy (one row per level and year, e.g. from per-year
    headline results). Row totals (all years) and column totals are treated as
    public, so suppression is complementary in both directions.

    Examples
    --------
    >>> c = pd.DataFrame({"level": ["iop", "iop", "outpatient", "outpatient"], "year": [2019, 2020] * 2,
    ...                   "n": [120, 4, 300, 310]})
    >>> cohort_year_table(c).summary.to_dict("list")
    {'level': ['iop', 'outpatient'], '2019': ['<11', '<11'], '2020': ['<11', '<11'], 'all years': ['124', '610']}
    """
    for c in (level, year, n):
        if c not in counts.columns:
            raise IopstatsError("cohort counts need this column", column=c, fix="pass level, year and n columns")
    t = counts[[level, year, n]].copy()
    t[level] = t[level].astype(str)
    t[year] = t[year].astype(int).astype(str)
    wide = t.pivot_table(index=level, columns=year, values=n, aggfunc="sum", fill_value=0, sort=False).astype(float)
    wide = wide.reindex(index=list(dict.fromkeys(t[level])), columns=sorted(wide.columns))
    s = privacy.suppress_matrix(wide, threshold)
    v = wide.where(~s.cells)
    total = wide.sum(axis=1)
    tot_mask = s.row_totals if s.row_totals is not None else pd.Series(False, index=wide.index)
    v["all years"] = total.where(~tot_mask.to_numpy())
    mask = pd.concat([s.cells, pd.DataFrame({"all years": tot_mask.to_numpy()}, index=wide.index)], axis=1)
    out = v.reset_index().rename(columns={level: "level"})
    out.columns = [str(c) for c in out.columns]
    mask = pd.concat([pd.DataFrame({"level": False}, index=wide.index), mask], axis=1).reset_index(drop=True)
    return make_table(out, mask, formats={c: "count" for c in out.columns[1:]}, threshold=threshold,
                      title="Episodes by level of care and discharge year")


def headline_effects_table(summary: pd.DataFrame, raw: ReportTable, km_summary: pd.DataFrame | None = None, *,
                           reference: str = "iop", threshold: int = T, title: str = "",
                           remarks: Sequence[str] = ()) -> ReportTable:
    """Adjusted odds ratios and hazard ratios of ``HeadlineResult.summary``, suppressed with the raw table.

    A level loses its ratios when its raw completion comparison (see
    :func:`comparison_table`) hides the risk difference, or when its (or the
    reference's) number of episodes or of episodes that left treatment in
    ``km_summary`` (``KaplanMeierResult.summary``: group, n, events) is 1 to
    ``threshold - 1``.

    Examples
    --------
    >>> summ = pd.DataFrame({"adj_odds_ratio": [np.nan, 0.8, 1.3], "adj_or_ci_low": [np.nan, 0.6, 0.9],
    ...     "adj_or_ci_high": [np.nan, 1.1, 1.9], "hazard_ratio": [np.nan, 1.6, 0.7],
    ...     "hr_ci_low": [np.nan, 1.4, 0.5], "hr_ci_high": [np.nan, 1.8, 0.9]},
    ...     index=pd.Index(["iop", "outpatient", "inpatient"], name="level"))
    >>> cmp = pd.DataFrame({"level": ["outpatient", "inpatient"], "n": [300, 40], "events": [120, 15],
    ...     "ref_n": [200, 200], "ref_events": [80, 80], "risk_difference": [0.0, 0.025]})
    >>> km = pd.DataFrame({"group": ["iop", "outpatient", "inpatient"], "n": [200, 300, 40], "events": [190, 290, 5]})
    >>> t = headline_effects_table(summ, comparison_table(cmp), km)  # 5 inpatient episodes left treatment
    >>> t.summary[["level", "adj_odds_ratio", "hazard_ratio"]].to_dict("list")
    {'level': ['outpatient', 'inpatient'], 'adj_odds_ratio': ['0.80', '<11'], 'hazard_ratio': ['1.60', '<11']}
    """
    cols = ["adj_odds_ratio", "adj_or_ci_low", "adj_or_ci_high", "hazard_ratio", "hr_ci_low", "hr_ci_high"]
    for c in cols:
        if c not in summary.columns:
            raise IopstatsError("headline summary needs this column", column=c, fix="pass HeadlineResult.summary")
    s = summary.reset_index()
    s = s.rename(columns={s.columns[0]: "level"})
    s["level"] = s["level"].astype(str)
    s = s[s["level"] != str(reference)].reset_index(drop=True)
    hidden: dict[str, bool] = {}
    effect = "risk_difference" if "risk_difference" in raw.mask.columns else None
    for lvl, m in zip(raw.values["level"].astype(str), raw.mask.itertuples(index=False)):
        row = m._asdict()
        hidden[lvl] = bool(row.get(effect, False)) if effect else any(row.values())
    small: dict[str, bool] = {}
    if km_summary is not None:
        for lvl, n, ev in zip(km_summary["group"].astype(str), km_summary["n"].astype(float),
                              km_summary["events"].astype(float)):
            small[lvl] = bool((1 <= n < threshold) or (1 <= ev < threshold))
    ref_small = small.get(str(reference), False)
    hide = np.array([hidden.get(lvl, True) or small.get(lvl, False) or ref_small for lvl in s["level"]],
                    dtype=bool)
    v = s[["level", *cols]].copy()
    mask = pd.DataFrame(False, index=v.index, columns=v.columns)
    for c in cols:
        mask[c] = hide
        v[c] = v[c].astype(object).where(~hide, None)
    return make_table(v, mask, formats={c: "ratio" for c in cols}, title=title, remarks=remarks,
                      threshold=threshold)


def describe_ratio(
    row: Mapping, *, estimand: str, keys: Sequence[str], reference: str = "iop", adjusted_for: Sequence[str] = (),
    method: str = "", confidence: float = 0.95, threshold: int = T, reading: str = "",
) -> str:
    """One plain-language sentence for a ratio (odds or hazard ratio): estimand, method, estimate, interval.

    ``reading`` is appended when given (what a ratio above 1 means).

    Examples
    --------
    >>> describe_ratio({"level": "outpatient", "hazard_ratio": 1.65, "hr_ci_low": 1.5, "hr_ci_high": 1.81},
    ...                estimand="Hazard ratio of leaving treatment", keys=("hazard_ratio", "hr_ci_low", "hr_ci_high"),
    ...                adjusted_for=["sex"], method="Cox model, Efron ties")
    'Hazard ratio of leaving treatment, IOP / outpatient (adjusted for sex; Cox model, Efron ties): 1.65 (95% interval 1.50 to 1.81).'
    """
    level = str(row["level"])
    ref = "IOP" if reference == "iop" else str(reference)
    adj = ("adjusted for " + ", ".join(a.replace("_", " ") for a in adjusted_for)) if adjusted_for else "unadjusted"
    how = f"{adj}; {method}" if method else adj
    head = f"{estimand}, {ref} / {level} ({how})"
    vals = [row.get(k) for k in keys]
    if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in vals):
        return f"{head}: not shown, because a count it rests on is under {threshold}."
    est, lo, hi = (float(v) for v in vals)
    text = f"{head}: {est:.2f} ({100 * confidence:.0f}% interval {lo:.2f} to {hi:.2f})."
    return f"{text} {reading}" if reading else text
