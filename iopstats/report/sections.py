"""Sections of the outcomes page, each registering its counts with the run's ledger.

Every count a section prints (tables, sentences, figure annotations, numbers
at risk, the steps of the drawn curves) is registered with
:class:`~iopstats.report.ledger.Ledger` under a canonical key, so the same
count shown twice is one count, and all of them are protected jointly.
Called by :func:`iopstats.report.pages.build_run`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

import iopstats
from iopstats.exceptions import IopstatsError
from iopstats.report import labels
from iopstats.report.blocks import Count, Derived, Figure, Section, Table, Text
from iopstats.report.ledger import Ledger

__all__ = ["Context", "rate_rows", "rate_table", "cohort_section", "outcome_rates_section", "comparison_section",
           "ni_verdict", "GRID"]

#: Time grid (days) of the drawn curves and the number-at-risk rows.
GRID = (0, 30, 60, 90, 180, 365)


class Context:
    """Outcome rows, their place in the ledger's universe and the page parameters."""

    def __init__(self, outcomes: pd.DataFrame, ledger: Ledger, positions: np.ndarray, *, reference: str,
                 margin: float, adjust: Sequence[str], seed: int):
        self.o = outcomes.reset_index(drop=True)
        self.led = ledger
        self.pos = np.asarray(positions)
        self.reference = reference
        self.margin = margin
        self.adjust = list(adjust)
        self.seed = seed
        self.t = ledger.threshold
        lv = self.o["level_of_care"]
        self.all_levels = [str(x) for x in (lv.cat.categories if hasattr(lv, "cat") else pd.unique(lv))
                           if (lv.astype(str) == str(x)).any()]
        #: levels too small for outcome tables (fewer than 5 x threshold episodes): cohort table only
        self.min_level = 5 * self.t
        size = lv.astype(str).value_counts()
        self.small_levels = [x for x in self.all_levels if size.get(x, 0) < self.min_level and x != reference]
        self.levels = [x for x in self.all_levels if x not in self.small_levels]

    def mask(self, rows) -> np.ndarray:
        """Universe mask of a boolean over outcome rows."""
        m = np.zeros(self.led.n_units, dtype=bool)
        r = pd.Series(rows).fillna(False).astype(bool).to_numpy()
        m[self.pos[r]] = True
        return m

    def count(self, key: str, rows, priority: int = 1) -> str:
        self.led.count(key, self.mask(rows), priority=priority)
        return key

    def level_rows(self, level: str) -> pd.Series:
        return self.o["level_of_care"].astype(str) == level


# --------------------------------------------------------------------------- rates


def rate_rows(ctx: Context, outcome: str, by: str = "level_of_care", subgroup: str | None = None,
              merge_small: bool = True) -> tuple[list, list[str]]:
    """Rows (level[, subgroup], n, events, rate, CI) of a rate table and its remarks.

    Subgroup values with fewer than ``threshold`` known outcomes within a level
    are merged into one "other values" row first (coarsening before
    suppression); rows with n = 0 are dropped.
    """
    o = ctx.o
    known = o[outcome].notna()
    ev = o[outcome].fillna(False).astype(bool)
    rows, remarks, merged = [], [], []
    for lvl in ctx.levels:
        at = ctx.level_rows(lvl) & known
        if not at.any():
            continue
        groups: list[tuple[str, pd.Series]] = [("", at)]
        if subgroup:
            vals = o.loc[at, subgroup].astype(str)
            groups, small = [], pd.Series(False, index=o.index)
            for v, k in vals.value_counts().items():
                sel = at & (o[subgroup].astype(str) == v)
                e = int((sel & ev).sum())
                if merge_small and (k < ctx.t or 0 < e < ctx.t or 0 < k - e < ctx.t):
                    small |= sel
                    merged.append(f"{labels.label(v)} in {labels.level(lvl)}")
                else:
                    groups.append((labels.label(v), sel))
            if small.any():
                groups.append(("other values (merged)", small))
        for name, sel in groups:
            base = f"{outcome}|{lvl}" + (f"|{subgroup}={name}" if subgroup else "")
            pr = 2 if subgroup else 1
            kn = ctx.count(base + "|n", sel, pr)
            ke = ctx.count(base + "|events", sel & ev, pr)
            n, e = int(sel.sum()), int((sel & ev).sum())
            rate = e / n if n else np.nan
            lo, hi = _wilson(e, n)
            row = [labels.level(lvl)] + ([name] if subgroup else [])
            rows.append(row + [Count(kn), Count(ke), Derived(rate, (kn, ke), "pct"), Derived((lo, hi), (kn, ke), "pct")])
    if merged:
        remarks.append(f"Merged into 'other values (merged)' before suppression, because each has fewer than "
                       f"{ctx.t} episodes, events or non-events: {', '.join(merged)}.")
    return rows, remarks


def _wilson(e: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    if n == 0:
        return np.nan, np.nan
    p = e / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


RATE_HEADERS = ["Episodes with a known outcome", "Events", "Rate", "95% CI (Wilson)"]


def rate_table(ctx: Context, outcome: str, title: str, subgroup: str | None = None) -> Table:
    rows, remarks = rate_rows(ctx, outcome, subgroup=subgroup)
    head = ["Level of care"] + ([labels.label(subgroup).capitalize()] if subgroup else []) + RATE_HEADERS
    return Table(title, head, rows, remarks=remarks, empty=f"No episode has a known {labels.label(outcome)}.")


# --------------------------------------------------------------------------- cohort


def cohort_section(ctx: Context) -> Section:
    o = ctx.o
    kall = ctx.count("episodes|all", pd.Series(True, index=o.index), priority=0)
    rows = [[labels.level(lvl), Count(ctx.count(f"episodes|{lvl}", ctx.level_rows(lvl)))] for lvl in ctx.all_levels]
    rows.append(["All levels", Count(kall)])
    rem = []
    if ctx.small_levels:
        rem.append("Too small for the outcome tables (fewer than " + f"{ctx.min_level} episodes), so listed here "
                   "only: " + ", ".join(labels.level(x) for x in ctx.small_levels) + ".")
    blocks = [Table("Episodes by level of care", ["Level of care", "Episodes"], rows, remarks=rem),
              Text("The cohort is one row per treatment episode (a client may have several). Quarantined rows failed "
                   "validation and are left out; the data-quality page lists why.")]
    return Section("cohort", "1. Cohort", blocks)


def outcome_rates_section(ctx: Context, has_sessions: bool) -> Section:
    o = ctx.o
    blocks = []
    specs = [("completed", "Completion (discharge reason 'completed') by level of care"),
             ("completed_or_transferred", "Completed or transferred by level of care"),
             ("retained_or_completed_90" if "retained_or_completed_90" in o else "retained_90",
              "Still in treatment (or completed) at 90 days, by level of care"),
             ("readmit_90", "Readmitted within 90 days of discharge, by level of care")]
    if has_sessions:
        specs.append(("engaged", "Early engagement (reached the 4th session) by level of care"))
    for outcome, title in specs:
        if outcome not in o or o[outcome].notna().sum() == 0:
            blocks.append(Text(f"{title}: not reported, because no episode has this outcome recorded."))
            continue
        blocks.append(rate_table(ctx, outcome, title))
    blocks.append(Text("Completion is the share of discharged episodes whose discharge reason is 'completed'; "
                       "episodes still open are not counted. Completion is structurally lower in outpatient "
                       "settings, so raw gaps are not effectiveness gaps."))
    return Section("outcomes", "2. Outcomes by level of care", blocks)


# --------------------------------------------------------------------------- comparisons


def ni_verdict(lo: float, hi: float, margin: float) -> str:
    """Non-inferiority conclusion read from the interval of IOP minus the level (proportions).

    Examples
    --------
    >>> ni_verdict(-0.072, 0.071, 0.10), ni_verdict(-0.2, -0.12, 0.10), ni_verdict(-0.15, 0.02, 0.10)
    ('non-inferior', 'worse by more than the margin', 'inconclusive')
    """
    if lo > -margin:
        return "non-inferior"
    if hi < -margin:
        return "worse by more than the margin"
    return "inconclusive"


def comparison_blocks(ctx: Context, outcome: str, label: str) -> tuple[list, list[dict]]:
    """Raw and adjusted comparison tables of one outcome, and the headline findings."""
    o, ref, m = ctx.o, ctx.reference, ctx.margin
    present = [a for a in ctx.adjust if a in o and o[a].notna().any() and o[a].nunique(dropna=True) > 1]
    left = [a for a in ctx.adjust if a not in present]
    why_not = ""
    try:
        cmp = iopstats.compare_rates(o, outcome, by="level_of_care", reference=ref, adjust=present or None, margin=m)
    except IopstatsError as e:  # e.g. separation: say so and publish the unadjusted comparison
        why_not = str(e).split(" Fix:")[0]
        cmp = iopstats.compare_rates(o, outcome, by="level_of_care", reference=ref, margin=m)
    s = cmp.summary.copy()
    s["level"] = s["level"].astype(str)
    ref_rows = ctx.level_rows(ref) & o[outcome].notna()
    ev = o[outcome].fillna(False).astype(bool)
    rn = ctx.count(f"{outcome}|{ref}|n", ref_rows)
    re_ = ctx.count(f"{outcome}|{ref}|events", ref_rows & ev)
    ref_rate = ev[ref_rows].mean() if ref_rows.any() else np.nan
    rows, findings = [], []
    adj = cmp.adjusted.set_index(cmp.adjusted["level"].astype(str)) if getattr(cmp, "adjusted", None) is not None \
        and len(cmp.adjusted) else None
    adj_rows = []
    cc = o[present].notna().all(axis=1) if present else pd.Series(True, index=o.index)
    for r in s.itertuples(index=False):
        lvl = r.level
        if lvl not in ctx.levels:
            continue
        sel = ctx.level_rows(lvl) & o[outcome].notna()
        kn = ctx.count(f"{outcome}|{lvl}|n", sel)
        ke = ctx.count(f"{outcome}|{lvl}|events", sel & ev)
        deps = (kn, ke, rn, re_)
        verdict = ni_verdict(r.rd_ci_low, r.rd_ci_high, m)
        rows.append([labels.level(lvl), Count(kn), Count(ke), Derived(r.rate, (kn, ke), "pct"),
                     Derived(r.risk_difference, deps, "pp"), Derived((r.rd_ci_low, r.rd_ci_high), deps, "pp"),
                     Derived(r.p_holm, deps, "p"), Derived(verdict, deps)])
        f = {"level": lvl, "raw": (r.risk_difference, r.rd_ci_low, r.rd_ci_high), "raw_verdict": verdict,
             "deps": deps, "adj": None}
        if adj is not None and lvl in adj.index:
            a = adj.loc[lvl]
            kan = ctx.count(f"{outcome}|{lvl}|n_complete_covariates", sel & cc)
            adeps = deps + (kan,)
            av = ni_verdict(a["ci_low"], a["ci_high"], m)
            adj_rows.append([labels.level(lvl), Count(kan), Derived(a["adj_rate"], adeps, "pct"),
                             Derived(a["ref_adj_rate"], adeps, "pct"), Derived(a["adj_risk_difference"], adeps, "pp"),
                             Derived((a["ci_low"], a["ci_high"]), adeps, "pp"), Derived(av, adeps),
                             *_e_value_cells(a, adeps)])
            f.update(adj=(a["adj_risk_difference"], a["ci_low"], a["ci_high"]), adj_verdict=av, adeps=adeps)
        findings.append(f)
    ref_l = labels.level(ref)
    unit = f"margin {100 * m:.0f} percentage points"
    head_raw = ["Level of care", "Episodes with a known outcome", "Events", "Rate",
                "IOP minus level (points)", "95% CI, Newcombe (points)", "p-value (Holm-adjusted)",
                f"Non-inferiority of IOP ({unit})"]
    t_raw = Table(f"{label.capitalize()}: {ref_l} minus each level, unadjusted", head_raw, rows, remarks=[
        lambda led: _ref_note(led, rn, re_, ref_rate, ref_l),
        f"The non-inferiority column is read from the 95% interval shown beside it (a one-sided 2.5% test, not "
        f"adjusted for multiplicity): non-inferior when the lower bound is above -{100 * m:.0f} points, worse by more "
        f"than the margin when the upper bound is below it, inconclusive otherwise. The p-value column tests for any "
        f"difference, Holm-adjusted across levels.",
        "Positive differences mean IOP did better."])
    blocks = [t_raw, *_adjusted_blocks(ctx, cmp, outcome, label, adj_rows, present, left, cc, why_not, unit)]
    return blocks, findings


def _adjusted_blocks(ctx: Context, cmp, outcome: str, label: str, adj_rows: list, present: list, left: list,
                     cc: pd.Series, why_not: str, unit: str) -> list:
    """The adjusted comparison table of one outcome, or the sentence saying why there is none."""
    o, ref_l = ctx.o, labels.level(ctx.reference)
    blocks: list = []
    if adj_rows:
        kleft = ctx.count(f"{outcome}|missing_covariates", o[outcome].notna() & ~cc)
        rem = [f"g-computation from a logistic model of {label} on level of care and "
               + ", ".join(labels.label(a) for a in present) + "; Wald 95% intervals with delta-method standard errors. "
               "The non-inferiority column is read from the adjusted interval shown beside it.",
               lambda led: _left_out(led, kleft)]
        if left:
            rem.append("Left out of the adjustment because absent or constant in these data: "
                       + ", ".join(labels.label(a) for a in left) + ".")
        rem.extend(_sparse_level_remarks(cmp))
        rem.append(E_VALUE_NOTE)
        blocks.append(Table(f"{label.capitalize()}: {ref_l} minus each level, adjusted for case mix",
                            ["Level of care", "Episodes with complete covariates", "Adjusted rate", "IOP adjusted rate",
                             "Adjusted difference (points)", "95% CI (points)", f"Non-inferiority of IOP ({unit})",
                             "Adjusted risk ratio, IOP over level (95% CI)", "E-value: estimate / CI limit"],
                            adj_rows, remarks=rem))
    elif why_not:
        blocks.append(Text(f"No adjusted comparison of {label}: the case-mix model cannot be fitted ({why_not})."))
    elif left or not present:
        blocks.append(Text("No adjusted comparison: " + ("the adjustment covariates "
                           + ", ".join(labels.label(a) for a in left) + " are absent or constant." if left else
                           "no adjustment covariates were configured.")))
    return blocks


E_VALUE_NOTE = ("E-value (VanderWeele and Ding 2017): the smallest risk ratio an unmeasured confounder would need "
                "with both the level of care and the outcome, beyond the covariates adjusted for, to explain the "
                "adjusted risk ratio away; after the slash, the same for the interval limit nearer 1 (1.00 when the "
                "interval already holds 1).")


def _e_value_cells(a, adeps) -> list:
    """Adjusted (standardized) risk ratio with its interval, and its E-values, as table cells."""
    rr, lo, hi = (float(a[k]) for k in ("adj_risk_ratio", "rr_ci_low", "rr_ci_high"))
    if not (np.isfinite(rr) and np.isfinite(lo) and np.isfinite(hi) and rr > 0 and lo <= rr <= hi):
        return [Derived(None, adeps, why="not estimable"), Derived(None, adeps, why="not estimable")]
    ev = iopstats.e_value(rr, lo, hi).summary.iloc[0]
    ratio = f"{rr:.2f} ({lo:.2f} to {hi:.2f})"
    return [Derived(ratio, adeps), Derived(f"{ev['e_value']:.2f} / {ev['e_value_ci']:.2f}", adeps)]


def _sparse_level_remarks(cmp) -> list[str]:
    """The adjustment's own sentences on merged or dropped sparse covariate levels (they carry no counts)."""
    return [r for r in cmp.remarks if "among the rows of the adjusted model" in r or "left out of the adjustment" in r]


def _ref_note(led, rn, re_, rate, ref_l):
    n, e = led.shown(rn), led.shown(re_)
    if n is None or e is None:
        return f"{ref_l}: counts not shown (a count of 1-{led.threshold - 1} would follow)."
    return f"{ref_l}: {e:,} of {n:,} episodes ({100 * rate:.1f}%)."


def _left_out(led, key):
    v = led.shown(key)
    if v is None:
        return "Episodes left out of the adjustment for a missing covariate: " + (
            f"<{led.threshold}." if led.primary(key) else "n/p (not published, to protect another cell).")
    return f"Episodes left out of the adjustment for a missing covariate: {v:,}."


def comparison_section(ctx: Context) -> tuple[Section, dict]:
    o = ctx.o
    if ctx.reference not in ctx.levels:
        return Section("compare", "3. IOP against each level of care", [], empty=(
            f"There are no episodes at the reference level ({labels.level(ctx.reference)}) in these data, so no "
            "comparison can be made. Set [analysis] reference to a level present.")), {}
    ret90 = "retained_or_completed_90" if "retained_or_completed_90" in o else "retained_90"
    blocks, findings = [], {}
    for outcome, label in [("completed", "completion"), (ret90, "retention (in treatment or completed) at 90 days")]:
        if o[outcome].notna().sum() == 0:
            blocks.append(Text(f"No comparison of {label}: no episode has it recorded."))
            continue
        b, f = comparison_blocks(ctx, outcome, label)
        blocks.extend(b)
        findings[label] = f
    blocks.append(Figure(lambda led: _forest(led, findings, ctx), alt="forest plot of adjusted differences",
                         empty="No adjusted difference to draw (no adjusted comparison, or all suppressed)."))
    blocks.append(Text("Adjusted differences assume no unmeasured confounding given the covariates named: levels are "
                       "assigned by clinical need, so residual confounding is likely; read them as descriptive."))
    return Section("compare", "3. IOP against each level of care", blocks), findings


def _forest(led, findings, ctx):
    from iopstats.report import figures

    rows = []
    for label, fs in findings.items():
        for f in fs:
            if f["adj"] is None or led.is_hidden(*f["adeps"]):
                continue
            rows.append({"label": f"{labels.level(f['level'])} ({label.split(' ')[0]})", "estimate": f["adj"][0],
                         "ci_low": f["adj"][1], "ci_high": f["adj"][2], "level": f["level"]})
    if not rows:
        return None
    return figures.forest_plot(pd.DataFrame(rows), margin=ctx.margin,
                               title="IOP minus each level, adjusted difference (95% interval)")
