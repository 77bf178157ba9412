"""The "Programs and sites" report page: :func:`units_section`.

It compares the units (programs, or sites when there is one program) of one
level of care on completion and 90-day retention, with the methods of
:mod:`iopstats.compare`: funnel plots of the raw rates, observed / expected
ratios after case-mix adjustment (with their own funnel), shrunken rates
(caterpillar) and a control chart per unit. Everything published goes through
:mod:`iopstats.report.privacy`:

* units with fewer than ``threshold`` episodes are merged into one
  "smaller units (merged)" group, or left out when even the merged group is
  below the threshold (the page says how many);
* a unit whose event or non-event count is 1 to ``threshold - 1`` is left out
  of that outcome's comparison altogether (the page says how many): hiding
  only its row would not do, because the pooled centre, ``phi``, ``tau2``,
  the case-mix model and the other units' shrunken rates depend on it;
* in the control charts, periods with such a count are gaps (complementary
  suppression within the unit) and the run rules use the points shown.

The notebook ``programs_sites.ipynb`` only displays what this returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from iopstats.compare.casemix import CaseMixModel
from iopstats.compare.control_chart import control_chart, runs_analysis
from iopstats.compare.funnel import funnel
from iopstats.compare.shrinkage import shrunken_rates
from iopstats.compare.standardize import standardized_ratio
from iopstats.exceptions import IopstatsError
from iopstats.report import privacy
from iopstats.report.tables_base import ReportTable, make_table

__all__ = ["UnitsSection", "units_to_compare", "prepare_units", "units_section", "MERGED_LABEL"]

T = privacy.DEFAULT_THRESHOLD
MERGED_LABEL = "smaller units (merged)"
_OUTCOMES = {"completed": "completion", "retained_or_completed_90": "retention or completion at 90 days",
             "retained_90": "retention at 90 days"}


@dataclass(frozen=True)
class UnitsSection:
    """Everything the "Programs and sites" page shows (already suppressed).

    ``tables`` and ``figures`` are keyed ``"<outcome>/<part>"`` with parts
    ``funnel``, ``oe``, ``oe_funnel``, ``shrunken``, ``control``; ``statements``
    are the sentences of the page, in order.
    """

    unit: str
    level_of_care: str | None
    n_units: int
    merged: tuple[str, ...] = ()
    n_left_out: int = 0
    tables: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    statements: tuple[str, ...] = ()
    flags: dict = field(default_factory=dict)


def units_to_compare(outcomes: pd.DataFrame, level_of_care: str | None = "iop") -> str | None:
    """``"program"`` when the data hold more than one program (at the level), else ``"site"`` when
    more than one site, else ``None`` (no "Programs and sites" page).

    Examples
    --------
    >>> df = pd.DataFrame({"level_of_care": ["iop"] * 3, "program": ["a", "a", "a"], "site": ["x", "y", "y"]})
    >>> units_to_compare(df)
    'site'
    >>> units_to_compare(df.assign(site="x")) is None
    True
    """
    d = outcomes if level_of_care is None else outcomes[outcomes["level_of_care"] == level_of_care]
    for col in ("program", "site"):
        if col in d and d[col].dropna().nunique() > 1:
            return col
    return None


def prepare_units(outcomes: pd.DataFrame, unit: str, threshold: int = T) -> tuple[pd.DataFrame, tuple, int]:
    """Episodes with a ``_unit`` column: small units merged (or left out when the merge is still small).

    Returns the new frame, the labels merged and the number of units left out.
    """
    t = _threshold(threshold)
    if unit not in outcomes:
        raise IopstatsError("outcomes have no unit column", column=unit, fix="compare 'program' or 'site'")
    d = outcomes[outcomes[unit].notna()]
    sizes = d[unit].astype("string").value_counts()
    small = sorted(sizes[sizes < t].index)
    labels = d[unit].astype("string").to_numpy(dtype=object)
    merged: tuple = ()
    left_out = 0
    if small:
        if sizes[small].sum() >= t:
            labels = np.where(np.isin(labels, small), MERGED_LABEL, labels)
            merged = tuple(small)
        else:
            keep = ~np.isin(labels, small)
            d, labels = d[keep], labels[keep]
            left_out = len(small)
    return d.assign(_unit=labels), merged, left_out


def _threshold(threshold) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 1:
        raise IopstatsError("threshold must be a positive integer", value=threshold, fix="e.g. threshold=11")
    return int(threshold)


def _numeric_suppressed(table: pd.DataFrame, derived: dict, threshold: int):
    values = privacy.suppress_counts(table, ["events"], threshold, total="n", derived=derived, marker_text=None)
    mask = privacy.suppression_mask(table, ["events"], threshold, total="n", derived=derived)
    return values, mask


def _publish(table: pd.DataFrame, derived: dict, threshold: int, formats: dict, title: str,
             remarks: Sequence[str] = ()) -> tuple[ReportTable, pd.DataFrame]:
    """Suppress (complementary), wrap; the numeric suppressed values are returned for figures."""
    values, mask = _numeric_suppressed(table, derived, threshold)
    for col in [c for c in values.columns if not pd.api.types.is_numeric_dtype(table[c]) and c in derived]:
        values[col] = table[col].where(~mask[col], None)
    remarks = [privacy.suppress_text_counts(r, threshold) for r in remarks]
    return make_table(values, mask, formats=formats, title=title, remarks=remarks, threshold=threshold), values


def _units_word(unit: str, k: int) -> str:
    word = "program" if unit == "program" else "site"
    return f"{word}s are" if k > 1 else f"{word} is"


def _publishable(d: pd.DataFrame, outcome: str, threshold: int) -> tuple[pd.DataFrame, list]:
    """Rows of the units whose event and non-event counts can both be shown (0 or >= threshold).

    Units with a small count are left out of the whole comparison, not only hidden in the table:
    the pooled centre, phi, tau2, the case-mix model and the shrinkage estimates of the other units
    would otherwise let their counts be worked out."""
    y = d[outcome].astype("Float64")
    g = pd.DataFrame({"u": d["_unit"], "y": y}).dropna().groupby("u")["y"]
    ev, n = g.sum(), g.size()
    ok = ((ev == 0) | (ev >= threshold)) & ((n - ev == 0) | (n - ev >= threshold))
    hidden = sorted(ok.index[~ok.to_numpy()])
    return d[d["_unit"].isin(ok.index[ok.to_numpy()])], hidden


def _funnel_part(d, outcome, label, threshold):
    res = funnel(d, "_unit", outcome)
    s = res.summary.rename(columns={"value": "rate"})
    s = s[["unit", "n", "events", "rate", "lower_95", "upper_95", "lower_998", "upper_998", "flag"]]
    derived = {"rate": ["events"], "flag": ["events"]}
    table, values = _publish(s, derived, threshold,
                             {"n": "count", "events": "count", "rate": "pct", "lower_95": "pct", "upper_95": "pct",
                              "lower_998": "pct", "upper_998": "pct"},
                             f"{label.capitalize()} by unit with funnel limits (raw)", res.remarks)
    shown = res.summary.assign(value=values["rate"].to_numpy(), flag=values["flag"].fillna("within").to_numpy())
    fig_res = dataclasses.replace(res, summary=shown)
    return res, table, _figure(fig_res, f"{label.capitalize()}: funnel plot of raw rates")


def _oe_part(d, outcome, label, adjust, model, threshold):
    dropped_covs = []
    if model is not None:
        sr = standardized_ratio(d, "_unit", outcome, model=model)
    else:
        sr, dropped_covs = _fit_dropping_separated(d, outcome, list(adjust))
    fr = funnel(sr, "unit", statistic="ratio")
    s = sr.summary.assign(events=sr.summary["observed"], flag=fr.summary["flag"].to_numpy())
    s = s[["unit", "n", "events", "expected", "ratio", "ci_low", "ci_high", "adjusted_rate", "adjusted_ci_low",
           "adjusted_ci_high", "flag"]]
    derived = {c: ["events"] for c in ("ratio", "ci_low", "ci_high", "adjusted_rate", "adjusted_ci_low",
                                        "adjusted_ci_high", "flag")}
    table, values = _publish(s, derived, threshold,
                             {"n": "count", "events": "count", "expected": "ratio", "ratio": "ratio",
                              "ci_low": "ratio", "ci_high": "ratio", "adjusted_rate": "pct",
                              "adjusted_ci_low": "pct", "adjusted_ci_high": "pct"},
                             f"Observed / expected {label} after case-mix adjustment",
                             sr.remarks + fr.remarks[:2] + tuple(dropped_covs))
    shown = fr.summary.assign(value=values["ratio"].to_numpy(), flag=values["flag"].fillna("within").to_numpy())
    return sr, fr, table, _figure(dataclasses.replace(fr, summary=shown),
                                  f"{label.capitalize()}: funnel plot of observed / expected")


def _fit_dropping_separated(d, outcome, covs):
    """Pooled case-mix fit; a covariate with a level of only events or only non-events (separation) is
    left out, and the page says so."""
    notes = []
    while covs:
        try:
            return standardized_ratio(d, "_unit", outcome, covs), notes
        except IopstatsError as exc:
            if exc.column not in covs or "separation" not in str(exc):
                raise
            covs = [c for c in covs if c != exc.column]
            notes.append(f"{exc.column.replace('_', ' ')} is left out of the case mix: one of its levels has only "
                         "events or only non-events here, so its effect cannot be estimated.")
    raise IopstatsError("no case-mix covariate can be estimated for the O/E ratios", column=outcome,
                        fix="merge sparse levels of the covariates in the mapping")


def _shrunken_part(d, outcome, label, threshold, seed):
    sh = shrunken_rates(d, "_unit", outcome, seed=seed)
    s = sh.summary[["unit", "n", "events", "rate", "shrunken_rate", "ci_low", "ci_high", "expected_rank",
                    "rank_low", "rank_high"]]
    derived = {c: ["events"] for c in ("rate", "shrunken_rate", "ci_low", "ci_high", "expected_rank", "rank_low",
                                        "rank_high")}
    table, values = _publish(s, derived, threshold,
                             {"n": "count", "events": "count", "rate": "pct", "shrunken_rate": "pct",
                              "ci_low": "pct", "ci_high": "pct", "expected_rank": "days", "rank_low": "days",
                              "rank_high": "days"},
                             f"Shrunken {label} (empirical Bayes) with rank intervals", sh.remarks)
    shown = sh.summary.copy()
    for c in ("rate", "shrunken_rate", "ci_low", "ci_high"):
        shown[c] = values[c].to_numpy()
    return sh, table, _figure(dataclasses.replace(sh, summary=shown), f"{label.capitalize()}: shrunken rates")


def _control_part(d, outcome, label, threshold, period):
    """p-chart per unit; months (or quarters) with a small count are gaps, with complementary
    suppression within the unit; the run rules are applied to the points shown."""
    cc = control_chart(d, period, outcome, unit="_unit", chart="p")
    parts, runs = [], []
    for u, g in cc.summary.groupby("unit", sort=False):
        g = g.reset_index(drop=True)
        values, _ = _numeric_suppressed(g[["period", "n", "events", "rate"]], {"rate": ["events"]}, threshold)
        g = g.assign(rate=values["rate"].to_numpy(), outside=g["outside"] & values["rate"].notna())
        parts.append(g)
        shown = g[g["rate"].notna()]
        runs.append({"unit": u, **runs_analysis(shown["rate"], shown["center"]), "n_outside": int(g["outside"].sum())})
    shown = pd.concat(parts, ignore_index=True)
    runs_tab = pd.DataFrame(runs)
    res = dataclasses.replace(cc, summary=shown, runs=runs_tab)
    units = list(dict.fromkeys(shown["unit"]))
    fig = Figure(figsize=(8.5, 2.6 * len(units)), dpi=100)
    axes = fig.subplots(len(units), 1, squeeze=False)[:, 0]
    for ax, u in zip(axes, units):
        res.plot(ax=ax, unit=u, title=f"{label.capitalize()}: {u}")
    fig.tight_layout()
    table = runs_tab[["unit", "n_useful", "longest_run", "longest_run_max", "crossings", "crossings_min",
                      "runs_signal", "n_outside"]].copy()
    table["runs_signal"] = table["runs_signal"].map({True: "non-random variation", False: "none"})
    remarks = [*cc.remarks, f"Points with a count of 1-{threshold - 1} are gaps; the run rules are applied to the "
               "points shown."]
    return res, make_table(table, formats={"n_useful": "count"}, threshold=threshold, remarks=remarks,
                           title=f"Run rules (Anhoej) on the {label} control charts"), fig


_PERIODS = (("month", "M"), ("quarter", "Q"), ("half-year", "H"))


def _period_labels(dates: pd.Series, code: str) -> pd.Series:
    if code == "H":
        return (dates.dt.year.astype("Int64").astype(str) + "H" + np.where(dates.dt.month <= 6, "1", "2"))
    return dates.dt.to_period(code).astype(str)


def _publishable_share(d: pd.DataFrame, labels: pd.Series, outcomes: Sequence[str], threshold: int) -> float:
    ok = []
    for o in outcomes:
        g = pd.DataFrame({"u": d["_unit"], "p": labels, "y": d[o].astype("Float64")}).dropna().groupby(["u", "p"])["y"]
        ev, n = g.sum(), g.size()
        ok.append(((ev == 0) | (ev >= threshold)) & ((n - ev == 0) | (n - ev >= threshold)))
    return float(pd.concat(ok).mean()) if ok else 1.0


def _choose_period(d: pd.DataFrame, outcomes: Sequence[str], threshold: int):
    """Finest admission period at which at least 2/3 of the unit-period points are publishable."""
    for name, code in _PERIODS:
        labels = _period_labels(d["admit_date"], code)
        share = _publishable_share(d, labels, outcomes, threshold)
        if share >= 2 / 3:
            return d.assign(_period=labels), "_period", (
                f"Control charts use admission {name}s: the finest period at which most points can be shown.")
    return d.assign(_period=labels), "_period", (
        f"Control charts use admission {name}s; even so, many points are suppressed because the counts are small.")


def _figure(res, title: str) -> Figure:
    ax = res.plot(title=title)
    ax.figure.tight_layout()
    return ax.figure


def _level_label(level: str) -> str:
    return "intensive outpatient (IOP)" if level == "iop" else str(level).replace("_", " ")


def _statements(unit: str, level: str | None, merged, left_out, threshold, flags: dict) -> tuple[str, ...]:
    what = "programs" if unit == "program" else "sites"
    at = f" at the {_level_label(level)} level of care" if level else ""
    out = [f"The {what}{at} are compared on the same outcomes as the rest of the report. A funnel plot shows each "
           "unit's rate against its number of episodes; the limits narrow as units grow, because a small unit's "
           "rate varies more by chance alone."]
    for key, units in flags.items():
        if units:
            out.append(f"{key}: outside the 99.8% limits: {', '.join(map(str, units))}.")
    out += [
        "What a flag means: the unit's rate differs from the centre more than chance usually allows (about 1 in 500 "
        "for the 99.8% limits, if all units performed alike). What it does not mean: it is not a verdict on quality. "
        "It can come from case mix the model does not capture, from how data were recorded, or from chance across "
        "many comparisons; a unit inside the limits is not shown to be as good as the others.",
        "Observed / expected ratios compare each unit with what its own case mix predicts; shrunken rates pull "
        "small units toward the typical rate, and wide rank intervals mean rankings should not be used.",
    ]
    one = what[:-1]
    if merged:
        out.append(f"{len(merged)} {what if len(merged) > 1 else one} with fewer than {threshold} episodes "
                   f"{'are' if len(merged) > 1 else 'is'} merged into one '{MERGED_LABEL}' group.")
    if left_out:
        out.append(f"{left_out} {what if left_out > 1 else one} with fewer than {threshold} episodes (too few even "
                   f"when merged) {'are' if left_out > 1 else 'is'} not shown.")
    return tuple(out)


def units_section(
    outcomes: pd.DataFrame,
    unit: str | None = None,
    *,
    level_of_care: str | None = "iop",
    outcomes_to_compare: Sequence[str] = ("completed", "retained_or_completed_90"),
    adjust: Sequence[str] = ("age_group", "sex", "primary_substance", "psych_problem", "prior_treatment"),
    model: CaseMixModel | str | None = None,
    threshold: int = T,
    period: str = "auto",
    seed: int = 0,
) -> UnitsSection:
    """Build the "Programs and sites" page from :func:`iopstats.build_outcomes` output.

    Parameters
    ----------
    outcomes : DataFrame
        One row per episode (``build_outcomes``). Not modified.
    unit : str, optional
        ``"program"`` or ``"site"``; default :func:`units_to_compare`.
    level_of_care : str or None
        Compare units at this level (default IOP); ``None`` compares all
        levels with the level of care added to the case mix.
    outcomes_to_compare : sequence of str
        Binary outcome columns (default completion and 90-day retention or
        completion; ``retained_90`` is used when the latter is absent).
    adjust : sequence of str
        Case-mix covariates of the O/E model (those absent or empty are skipped).
    model : CaseMixModel or path, optional
        A national model (:func:`iopstats.national_model`) for the expected
        counts of completion instead of the pooled units.
    threshold : int
        Suppression threshold (counts 1 to ``threshold - 1`` hidden).
    period : str
        Period column of the control charts, or ``"auto"``: the finest of
        admission month, quarter and half-year at which at least two thirds of
        the unit-period points can be shown (the others are suppressed).
    seed : int
        Seed of the rank-interval draws.
    """
    unit = unit or units_to_compare(outcomes, level_of_care)
    if unit is None:
        raise IopstatsError("the data hold only one program and one site: nothing to compare",
                            fix="run the page only when units_to_compare(outcomes) is not None")
    d = outcomes if level_of_care is None else outcomes[outcomes["level_of_care"] == level_of_care]
    d, merged, left_out = prepare_units(d, unit, threshold)
    if d["_unit"].nunique() < 2:
        raise IopstatsError("fewer than two units are large enough to compare", column=unit,
                            fix=f"units need at least {threshold} episodes")
    period_note = None
    if period == "auto":
        d, period, period_note = _choose_period(d, [o for o in outcomes_to_compare if o in d], threshold)
    adj = [a for a in adjust if a in d and d[a].notna().any()]
    if level_of_care is None and "level_of_care" not in adj:
        adj = ["level_of_care", *adj]
    tables, figures, flags, notes = {}, {}, {}, []
    for outcome in outcomes_to_compare:
        if outcome == "retained_or_completed_90" and outcome not in d and "retained_90" in d:
            outcome = "retained_90"
        if outcome not in d or d[outcome].notna().sum() == 0:
            continue
        label = _OUTCOMES.get(outcome, outcome.replace("_", " "))
        do, hidden = _publishable(d, outcome, threshold)
        if hidden:
            notes.append(f"{label.capitalize()}: {len(hidden)} {_units_word(unit, len(hidden))} left out of the "
                         f"comparison, because a count of 1 to {threshold - 1} (events or non-events) cannot be "
                         "shown and the limits, model estimates and rankings would let it be worked out.")
        if do["_unit"].nunique() < 2:
            notes.append(f"{label.capitalize()}: fewer than two units can be shown, so there is no comparison.")
            continue
        _, tables[f"{outcome}/funnel"], figures[f"{outcome}/funnel"] = _funnel_part(do, outcome, label, threshold)
        use_model = model if (model is not None and outcome == "completed") else None
        _, _, tables[f"{outcome}/oe"], figures[f"{outcome}/oe_funnel"] = _oe_part(do, outcome, label, adj,
                                                                                 use_model, threshold)
        _, tables[f"{outcome}/shrunken"], figures[f"{outcome}/shrunken"] = _shrunken_part(do, outcome, label,
                                                                                          threshold, seed)
        _, ctab, cfig = _control_part(do, outcome, label, threshold, period)
        if ctab is not None:
            tables[f"{outcome}/control"], figures[f"{outcome}/control"] = ctab, cfig
        shown = tables[f"{outcome}/funnel"].values
        flags[label.capitalize()] = list(shown.loc[shown["flag"].astype(str).str.endswith("99.8%"), "unit"])
    statements = _statements(unit, level_of_care, merged, left_out, threshold, flags) + tuple(notes)
    if period_note:
        statements += (period_note,)
    statements = tuple(privacy.suppress_text_counts(x, threshold) for x in statements)
    return UnitsSection(unit=unit, level_of_care=level_of_care, n_units=int(d["_unit"].nunique()), merged=merged,
                        n_left_out=left_out, tables=tables, figures=figures, flags=flags, statements=statements)
