"""Outcomes page sections on time in treatment, subgroups, trend and the funnel.

Curves are life tables on the coarse grid :data:`~iopstats.report.sections.GRID`:
each drawn step rests on the interval's events (per way of leaving) and the
numbers at risk at its ends, all registered and protected; a curve stops at
the first interval with a count not shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import iopstats
from iopstats.report import labels
from iopstats.report.blocks import Count, Derived, Figure, Section, Table, Text
from iopstats.report.sections import GRID, Context, rate_table

__all__ = ["life_table", "time_section", "subgroup_section", "trend_section", "funnel_section"]

_Z = 1.959963984540054


def life_table(ctx: Context, causes=("completed", "dropped_out", "transferred", "other")) -> pd.DataFrame:
    """Per level and grid interval: at risk at the start, events per cause, keys (registered)."""
    o = ctx.o
    tt = o["time_in_treatment"].astype(float)
    left = o["left_treatment"].fillna(0).astype(int) == 1
    cause = o["exit_cause"].astype(str)
    rows = []
    for lvl in ctx.levels:
        at_lvl = ctx.level_rows(lvl) & tt.notna()
        for a, b in zip(GRID[:-1], GRID[1:]):
            start = at_lvl & (tt >= a) if a else at_lvl
            inside = start & (tt < b)
            r = {"level": lvl, "start": a, "end": b,
                 "k_at_risk": ctx.count(f"time|{lvl}|at_risk_{a}", start, 2), "n_at_risk": int(start.sum()),
                 "k_events": ctx.count(f"time|{lvl}|left_{a}_{b}", inside & left, 2),
                 "events": int((inside & left).sum())}
            for c in causes:
                sel = inside & left & (cause == c)
                r[f"k_{c}"] = ctx.count(f"time|{lvl}|{c}_{a}_{b}", sel, 2)
                r[c] = int(sel.sum())
            ctx.led.implied(f"time|{lvl}|censored_{a}_{b}", ctx.mask(inside & ~left))
            rows.append(r)
        ctx.count(f"time|{lvl}|at_risk_{GRID[-1]}", at_lvl & (tt >= GRID[-1]), 2)
    return pd.DataFrame(rows)


def _curves(led, lt: pd.DataFrame, causes) -> pd.DataFrame:
    """Actuarial survival and cumulative incidence per level, stopped at the first interval not shown."""
    out = []
    for lvl, part in lt.groupby("level", sort=False):
        s, var, cif = 1.0, 0.0, dict.fromkeys(causes, 0.0)
        out.append({"group": lvl, "time": 0.0, "survival": 1.0, "ci_low": 1.0, "ci_high": 1.0, **cif})
        for r in part.itertuples(index=False):
            keys = [r.k_at_risk, r.k_events, f"time|{lvl}|at_risk_{r.end}"] + [getattr(r, f"k_{c}") for c in causes]
            if led.is_hidden(*keys) or r.n_at_risk == 0:
                break
            n_end = led.shown(f"time|{lvl}|at_risk_{r.end}")
            cens = r.n_at_risk - r.events - n_end
            eff = r.n_at_risk - cens / 2.0
            if eff <= 0:
                break
            for c in causes:
                cif[c] += s * getattr(r, c) / eff
            q = r.events / eff
            if eff > r.events:
                var += r.events / (eff * (eff - r.events))
            s *= 1 - q
            se = np.sqrt(var)
            out.append({"group": lvl, "time": float(r.end), "survival": s, "ci_low": max(0.0, s * np.exp(-_Z * se)),
                        "ci_high": min(1.0, s * np.exp(_Z * se)), **cif})
    return pd.DataFrame(out)


def time_section(ctx: Context) -> Section:
    o = ctx.o
    causes = ("completed", "dropped_out", "transferred", "other")
    km = iopstats.kaplan_meier(o, "time_in_treatment", "left_treatment", by="level_of_care")
    rows = []
    for r in km.summary.itertuples(index=False):
        lvl = str(r.group)
        if lvl not in ctx.levels:
            continue
        sel = ctx.level_rows(lvl) & o["time_in_treatment"].notna()
        kn = ctx.count(f"time|{lvl}|at_risk_0", sel)
        ke = ctx.count(f"time|{lvl}|left", sel & (o["left_treatment"].fillna(0).astype(int) == 1))
        med = Derived((r.median_ci_low, r.median_ci_high), (kn, ke), "days", why="not reached")
        rows.append([labels.level(lvl), Count(kn), Count(ke),
                     Derived(r.median, (kn, ke), "days", why="not reached"), med,
                     Derived(r.rmean, (kn, ke), "days")])
    tau = float(km.summary["tau"].iloc[0]) if len(km.summary) else np.nan
    blocks = [Table("Days in treatment by level of care (Kaplan-Meier)",
                    ["Level of care", "Episodes", "Episodes that ended", "Median days in treatment",
                     "Median, 95% CI (days)", f"Restricted mean days in treatment (first {tau:.0f} days)"], rows,
                    remarks=["Open episodes are censored at the data date; a median not reached means more than half "
                             "were still in treatment at the last time observed."])]
    blocks.append(_rmst_table(ctx, {r[0]: r[1:3] for r in rows}))
    lt = life_table(ctx, causes)
    grid_rows = []
    for lvl in ctx.levels:
        grid_rows.append([labels.level(lvl)] + [Count(f"time|{lvl}|at_risk_{g}") for g in GRID])
    at_risk = Table("Number still in treatment (at risk) by day since admission", ["Level of care"] +
                    [f"Day {g}" for g in GRID], grid_rows)
    blocks.append(Figure(lambda led: _km_fig(led, lt, causes), alt="retention curves",
                         empty="No curve can be drawn: every level's first 30 days rest on a count not shown."))
    blocks.append(at_risk)
    blocks.append(Text(f"Curves are life tables on the grid of days {', '.join(str(g) for g in GRID)}: each step "
                       f"rests on counts of at least {ctx.t} (or shown as such); a curve stops at the first interval "
                       "whose counts are not shown."))
    lr = iopstats.logrank(o, "time_in_treatment", "left_treatment", by="level_of_care")
    ls = lr.summary.iloc[0]
    blocks.append(Table("Log-rank test: does time in treatment differ between levels?",
                        ["Test statistic (chi-square)", "Degrees of freedom", "p-value"],
                        [[Derived(ls["statistic"], (), "stat"), Derived(ls["df"], (), "days"),
                          Derived(ls["p_value"], (), "p")]]))
    blocks.append(Figure(lambda led: _cif_fig(led, lt, causes), alt="cumulative incidence of ways of leaving",
                         empty="No cumulative incidence can be drawn: the first interval's counts are not shown."))
    cif = iopstats.cumulative_incidence(o, "time_in_treatment", "exit_cause", by="level_of_care",
                                       censor_code="censored")
    g_rows, why = [], []
    for r in cif.gray.itertuples(index=False):
        ok = np.isfinite(r.statistic) and np.isfinite(r.p_value)
        if not ok:
            why.append(labels.label(r.cause))
        g_rows.append([labels.label(r.cause).capitalize(), Derived(r.statistic, (), "stat", why="not computable"),
                       Derived(r.df, (), "days"), Derived(r.p_value, (), "p", why="not computable")])
    rem = []
    if why:
        rem.append("Gray's test could not be computed for " + ", ".join(why) + ": its variance matrix is singular "
                   "(a level with no or all events of that kind).")
    blocks.append(Table("Gray's test per way of leaving treatment", ["Way of leaving", "Test statistic", "Degrees "
                        "of freedom", "p-value"], g_rows, remarks=rem))
    return Section("time", "4. Time in treatment", blocks)


RMST_TAU = 90  # days: the NIDA threshold near three months, as the retention outcomes


def _rmst_table(ctx: Context, counts: dict) -> Table:
    """IOP minus each level in restricted mean days in treatment over the first 90 days."""
    o, ref = ctx.o, ctx.reference
    ref_l = labels.level(ref)
    if labels.level(ref) not in counts:
        return Table(f"Restricted mean days in treatment: {ref_l} minus each level", [], [],
                     empty=f"No comparison: {ref_l} has no episodes in these data.")
    res = iopstats.rmst_difference(o, "time_in_treatment", "left_treatment", by="level_of_care", tau=RMST_TAU,
                                   reference=ref)
    ref_deps = tuple(c.key for c in counts[labels.level(ref)])
    rows = []
    for r in res.summary.itertuples(index=False):
        lvl = labels.level(str(r.group))
        if lvl not in counts:
            continue
        deps = tuple(c.key for c in counts[lvl]) + ref_deps
        rows.append([lvl, Derived(r.rmst, deps, "days"), Derived(r.rmst_reference, deps, "days"),
                     Derived(r.difference, deps, "stat"), Derived((r.ci_low, r.ci_high), deps, "stat"),
                     Derived(r.p_value, deps, "p")])
    return Table(f"Restricted mean days in treatment over the first {RMST_TAU} days: {ref_l} minus each level",
                 ["Level of care", f"Level, mean days of the first {RMST_TAU}", f"{ref_l}, mean days",
                  f"{ref_l} minus level (days)", "95% CI (days)", "p-value"], rows,
                 remarks=[f"Restricted mean time in treatment: the area under each Kaplan-Meier curve up to day "
                          f"{RMST_TAU}, the mean number of the first {RMST_TAU} days spent in treatment. Standard "
                          "errors of the estimates as R survival and survRM2 compute them; unadjusted.",
                          "Positive differences mean IOP clients stayed longer."])


def _km_fig(led, lt, causes):
    from iopstats.report import figures

    cur = _curves(led, lt, causes)
    cur = cur[cur.groupby("group")["time"].transform("size") > 1]
    if cur.empty:
        return None
    cur = cur[cur["time"] > 0]
    ar = []
    for lvl in dict.fromkeys(cur["group"]):
        for g in GRID:
            v = led.shown(f"time|{lvl}|at_risk_{g}")
            ar.append({"group": lvl, "time": g, "n_at_risk": "n/p" if v is None else f"{v:,}"})
    return figures.km_figure(cur, pd.DataFrame(ar), title="Still in treatment, by level of care (life table, 95% band)")


def _cif_fig(led, lt, causes):
    from iopstats.report import figures

    cur = _curves(led, lt, causes)
    cur = cur[cur["time"] > 0]
    if cur.empty:
        return None
    long = cur.melt(id_vars=["group", "time"], value_vars=list(causes), var_name="cause", value_name="estimate")
    return figures.cuminc_figure(long, causes=causes)


def subgroup_section(ctx: Context) -> Section:
    blocks = []
    for sub in ("age_group", "sex", "primary_substance", "psych_problem", "modality"):
        if sub not in ctx.o or ctx.o[sub].notna().sum() == 0:
            blocks.append(Text(f"No table by {labels.label(sub)}: it is not recorded in these data."))
            continue
        blocks.append(rate_table(ctx, "completed", f"Completion by level of care and {labels.label(sub)}", subgroup=sub))
    return Section("subgroups", "5. Subgroups", blocks)


def trend_section(ctx: Context) -> Section:
    o, ref, t = ctx.o, ctx.reference, ctx.t
    sel = ctx.level_rows(ref) & o["completed"].notna() & o["admit_period"].notna()
    if not sel.any():
        return Section("trend", "6. Trend", [], empty=f"No episodes at {labels.level(ref)} with a known completion.")
    month = o["admit_period"].astype(str)
    ev = o["completed"].fillna(False).astype(bool)
    per_m = pd.DataFrame({"p": month[sel], "e": ev[sel]}).groupby("p")["e"].agg(["size", "sum"])
    small = ((per_m["size"] - per_m["sum"]).between(1, t - 1) | per_m["sum"].between(1, t - 1)
             | per_m["size"].between(1, t - 1)).any()
    if small:
        y = month.str.slice(0, 4)
        q = ((month.str.slice(5, 7).astype(float) - 1) // 3 + 1).fillna(0).astype(int).astype(str)
        period, unit = y + "-Q" + q, "quarter"
    else:
        period, unit = month, "month"
    rows_t, pts = [], []
    ntot, etot = int(sel.sum()), int((sel & ev).sum())
    p = etot / ntot
    for per in sorted(period[sel].unique()):
        s = sel & (period == per)
        kn, ke = ctx.count(f"trend|{ref}|{per}|n", s, 2), ctx.count(f"trend|{ref}|{per}|events", s & ev, 2)
        n, e = int(s.sum()), int((s & ev).sum())
        half = 3 * np.sqrt(p * (1 - p) / n)
        lcl, ucl = max(0.0, p - half), min(1.0, p + half)
        sig = "outside limits" if (e / n < lcl or e / n > ucl) else ""
        rows_t.append([per, Count(kn), Count(ke), Derived(e / n, (kn, ke), "pct"), Derived(p, (), "pct"),
                       Derived((lcl, ucl), (kn,), "pct"), Derived(sig, (kn, ke))])
        pts.append((per, e / n, lcl, ucl, (kn, ke)))
    rem = [f"Pooled into quarters because some months hold fewer than {t} episodes or events."] if unit == "quarter" else []
    tab = Table(f"Completion by admission {unit}, {labels.level(ref)}, with p-chart limits (3 sigma)",
                ["Admission period", "Episodes with a known outcome", "Completed", "Rate", "Centre line",
                 "Control limits"], rows_t, remarks=rem)

    def draw(led):
        from iopstats.report import figures

        d = pd.DataFrame([{"period": a, "rate": np.nan if led.is_hidden(*k) else r, "center": p,
                           "lcl": np.nan if led.is_hidden(k[0]) else lo, "ucl": np.nan if led.is_hidden(k[0]) else hi}
                          for a, r, lo, hi, k in pts])
        if d["rate"].isna().all():
            return None
        return figures.p_chart(d, title=f"Completion by admission {unit}, {labels.level(ref)}, with p-chart limits")

    return Section("trend", "6. Trend", [Figure(draw, alt="p-chart", empty="Every period's rate rests on a count "
                                                "not shown, so no chart is drawn."), tab,
                                         Text("The centre line is the overall rate; limits are 3 standard errors for "
                                              "the period's size. The latest periods contain open episodes.")])


def funnel_section(ctx: Context) -> Section:
    o = ctx.o
    stages = [("retained_30", 30), ("retained_60", 60), ("retained_90", 90)]
    rows, vals = [], []
    for lvl in ctx.levels:
        at = ctx.level_rows(lvl)
        ka = ctx.count(f"episodes|{lvl}", at)
        row, v = [labels.level(lvl), Count(ka)], [(ka, int(at.sum()))]
        for col, _d in stages:
            k = ctx.count(f"funnel|{lvl}|{col}", at & o[col].fillna(False).astype(bool), 2)
            row.append(Count(k))
            v.append((k, int((at & o[col].fillna(False).astype(bool)).sum())))
        comp = o["completed"].fillna(False).astype(bool)
        row.append(Count(ctx.count(f"completed|{lvl}|events", at & o["completed"].notna() & comp)))
        rows.append(row)
        vals.append((lvl, v))
    tab = Table("Retention funnel: episodes admitted and still in treatment at 30, 60 and 90 days; completion "
                "(any time) beside it", ["Level of care", "Admitted", "In treatment at 30 days",
                                         "In treatment at 60 days", "In treatment at 90 days", "Completed (any time)"],
                rows, remarks=["Completion is not a stage of the funnel: an episode can complete before day 30."])

    def draw(led):
        from iopstats.report import figures

        recs = []
        for lvl, v in vals:
            shown = [led.shown(k) for k, _ in v]
            if shown[0] is None:
                continue
            recs.append({"level": lvl, "admitted": shown[0],
                         **{c: (np.nan if s is None else s) for (c, _), s in zip(stages, shown[1:])}})
        return figures.funnel_figure(pd.DataFrame(recs)) if recs else None

    blocks = [Figure(draw, alt="retention funnel", empty="Every level's admissions are not shown."), tab]
    nxt = o["next_level_of_care"] if "next_level_of_care" in o else pd.Series(np.nan, index=o.index)
    has = nxt.notna()
    if has.any():
        nx = nxt.astype(str)
        col_tot = {lv: int((has & (nx == lv)).sum()) for lv in ctx.levels}
        to_levels = [lv for lv in ctx.levels if col_tot[lv] >= 5 * ctx.t]
        other = has & ~nx.isin(to_levels)
        trows = []
        for lvl in ctx.levels:
            a = ctx.level_rows(lvl) & has
            if int(a.sum()) < 5 * ctx.t:
                continue
            cells = [Count(ctx.count(f"next|{lvl}|{b}", a & (nx == b), 2)) for b in to_levels]
            if other.any():
                cells.append(Count(ctx.count(f"next|{lvl}|other levels", a & other, 2)))
            trows.append([labels.level(lvl)] + cells + [Count(ctx.count(f"next|{lvl}|any", a, 2))])
        heads = [labels.level(b) for b in to_levels] + (["Other levels (merged)"] if other.any() else [])
        blocks.append(Table("Level of care of the client's next episode (episodes)",
                            ["Episode's level \\ next level"] + heads + ["Any"], trows,
                            remarks=[f"Next levels with fewer than {5 * ctx.t} episodes in all are merged into 'Other "
                                     f"levels (merged)'; levels with fewer than {5 * ctx.t} next episodes are not "
                                     "listed."]))
    else:
        blocks.append(Text("No client has a second episode in these data, so no transitions are shown."))
    return Section("funnel", "7. Retention funnel and next level of care", blocks)
