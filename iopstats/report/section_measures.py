"""Report section "Symptoms and substance use during treatment" (repeated measures).

:func:`section_measures` builds, from canonical measures and episodes (or
``build_outcomes`` output), every table, figure and sentence of the section,
each through the page-wide suppression (:mod:`iopstats.report.privacy`):

* baseline severity bands by level of care (a two-way count table with
  complementary suppression) and the share of episodes measured only once;
* reliable-change categories by level (two-way counts);
* reliable improvement, response and remission by level with Wilson intervals
  (intention to treat: no end score = not improved; complete case beside);
* the adjusted IOP comparison (g-computation, baseline score first) with its
  plain-language sentences, when IOP and another level are present;
* mean trajectories with confidence bands (linear mixed model), a level's
  curve shown only when at least ``threshold`` episodes are measured;
* one rule for the page: a level whose number of episodes is withheld in
  any of these tables has every number withheld in all of them (the tables
  share those totals);
* weekly opioid-negative urine screens by level, when screens are present.

The notebook calls it and displays ``section.to_html()``; nothing here needs a kernel.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from iopstats.compare.rates import compare_rates
from iopstats.exceptions import IopstatsError
from iopstats.instruments.rules import RULES
from iopstats.outcomes.change import change_outcomes
from iopstats.outcomes.urine import urine_outcomes
from iopstats.report import privacy
from iopstats.report.tables_base import ReportTable, make_table
from iopstats.report.tables_outcomes import adjusted_table, comparison_table, describe_comparison, rate_table
from iopstats.stats.mixed import trajectories
from iopstats.stats.rates import rates

__all__ = ["section_measures", "MeasuresSection", "TITLE"]

TITLE = "Symptoms and substance use during treatment"
_CATEGORY_LABELS = {"recovered": "recovered", "improved": "improved", "unchanged": "no reliable change",
                    "deteriorated": "deteriorated", "single_measurement": "measured once"}


@dataclass(frozen=True)
class MeasuresSection:
    """The section's published tables, figures and sentences."""

    title: str = TITLE
    tables: dict[str, ReportTable] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    sentences: tuple[str, ...] = ()

    def to_html(self) -> str:
        parts = [f"<h2>{html.escape(self.title)}</h2>"]
        parts += [f"<p>{html.escape(s)}</p>" for s in self.sentences]
        parts += [t.to_html() for t in self.tables.values()]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()


def _level_label(v) -> str:
    return str(v).replace("_", " ")


def _two_way(frame: pd.DataFrame, row: str, col: str, order: Sequence[str], labels: dict, threshold: int,
             title: str) -> ReportTable:
    counts = pd.crosstab(frame[row].astype(str), frame[col].astype(str)).reindex(columns=list(order), fill_value=0)
    counts = counts.loc[:, counts.sum() > 0].astype(float)
    t = counts.reset_index().rename(columns={row: "level"})
    t["level"] = t["level"].map(_level_label)
    cols = [c for c in t.columns if c != "level"]
    mask = privacy.suppression_mask(t, cols, threshold, derived=None)
    values = privacy.suppress_counts(t, cols, threshold, derived=None, marker_text=None)
    return make_table(values, mask, formats={c: "count" for c in cols}, title=title, threshold=threshold,
                      rename={c: labels.get(c, c) for c in cols})


def _rates_table(change: pd.DataFrame, outcome: str, label: str, threshold: int) -> ReportTable:
    r = rates(change.assign(level=change["level_of_care"].astype(str).map(_level_label)), outcome, by="level")
    return rate_table(r, threshold, title=label)


def _trajectory_figure(curves: pd.DataFrame, hidden: set, instrument: str):
    from iopstats.report.figures import _subplots, level_color

    fig, ax = _subplots(figsize=(7.5, 3.8), dpi=100)
    for i, (lev, g) in enumerate(curves.groupby("level", sort=False)):
        if lev in hidden:
            continue
        ax.plot(g["week"], g["mean"], color=level_color(lev, i), label=_level_label(lev))
        ax.fill_between(g["week"], g["ci_low"], g["ci_high"], color=level_color(lev, i), alpha=0.2)
    ax.set_xlabel("weeks since admission")
    ax.set_ylabel(f"mean {RULES[instrument].name if instrument in RULES else instrument} score")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def section_measures(
    measures,
    episodes,
    instrument: str = "phq9",
    *,
    adjust: Sequence[str] = (),
    threshold: int = privacy.DEFAULT_THRESHOLD,
    reference: str = "iop",
    substance: str = "opioid",
    sd: float | None = None,
) -> MeasuresSection:
    """Build the "Symptoms and substance use during treatment" section.

    Parameters
    ----------
    measures : DataFrame or LoadResult
        Canonical measures.
    episodes : DataFrame or LoadResult
        Canonical episodes or :func:`iopstats.build_outcomes` output.
    instrument : str
        The symptom instrument reported (PHQ-9 by default).
    adjust : sequence of str
        Case-mix covariates after the baseline score for the adjusted comparison.
    threshold : int
        Smallest publishable count (default 11).
    reference : str
        Level every other level is compared with.
    substance : str
        Substance of the urine-screen table.
    sd : float, optional
        Standard deviation for the reliable change index (default: baseline SD).

    Returns
    -------
    MeasuresSection
        ``.tables`` (ReportTable by name), ``.figures`` (matplotlib by name),
        ``.sentences``; ``.to_html()``.
    """
    data = getattr(measures, "data", measures)
    eps = getattr(episodes, "data", episodes)
    if not isinstance(data, pd.DataFrame) or "instrument" not in data.columns:
        raise IopstatsError("measures must be canonical measures", fix="pass load_measures(...)")
    tables: dict[str, ReportTable] = {}
    figures: dict = {}
    sentences: list[str] = []
    if not (data["instrument"] == instrument).any():
        sentences.append(f"No {instrument} measurements were recorded.")
    else:
        change = change_outcomes(data, eps, instrument, sd=sd)
        change = change[change["category"] != "no_baseline"]
        _symptom_tables(change, instrument, threshold, tables, sentences)
        adj = _comparison(change, adjust, reference, threshold, tables, sentences)
        fit_curves = _trajectories(data, eps, instrument, threshold, tables, sentences)
    if (data["instrument"] == "uds").any():
        _urine(data, eps, substance, threshold, tables, sentences)
    hidden = _page_wide(tables, _level_label(reference), threshold)
    if (data["instrument"] == instrument).any():
        _comparison_sentences(tables, adj, reference, threshold, sentences)
        if fit_curves is not None:
            figures["trajectories"] = _trajectory_figure(fit_curves, hidden, instrument)
    if hidden:
        sentences.append(f"Not shown for {', '.join(sorted(hidden))}: the number of episodes is under "
                         f"{threshold} in one of this section's tables, so every number of the level is withheld "
                         "across the section.")
    sentences = [privacy.suppress_text_counts(s, threshold) for s in sentences]
    return MeasuresSection(tables=tables, figures=figures, sentences=tuple(sentences))


def _symptom_tables(change, instrument, threshold, tables, sentences) -> None:
    rule = RULES.get(instrument)
    a = change.attrs["rci"]
    if rule is not None and rule.bands:
        band = change["baseline_score"].map(rule.band)
        order = [b for _, b in rule.bands]
        tables["baseline_severity"] = _two_way(change.assign(band=band), "level_of_care", "band", order, {},
                                               threshold, f"Baseline {rule.name} severity by level of care")
    once = change.assign(once=change["category"] == "single_measurement")
    tables["measured_once"] = _rates_table(once, "once", "Share of episodes measured only once", threshold)
    tables["categories"] = _two_way(change, "level_of_care", "category", list(_CATEGORY_LABELS), _CATEGORY_LABELS,
                                    threshold, "Reliable change (Jacobson-Truax) by level of care")
    tables["reliable_improvement"] = _rates_table(
        change, "reliable_improvement_itt", "Reliable improvement (no second score counted as not improved)", threshold)
    tables["reliable_improvement_cc"] = _rates_table(
        change, "reliable_improvement_cc", "Reliable improvement among episodes measured again", threshold)
    if not change["response_itt"].isna().all():
        tables["response"] = _rates_table(change, "response_itt", f"Response (>= {rule.response_reduction:.0%} "
                                          "reduction; no second score = no response)", threshold)
        tables["remission"] = _rates_table(change, "remission_itt", f"Remission (score below {rule.remission_below:g}"
                                           "; no second score = not in remission)", threshold)
    sentences.append(
        f"Reliable change: a change of at least {a['threshold_points']:.1f} points (Jacobson and Truax reliable change "
        f"index; SD {a['sd']:.2f}, reliability {a['reliability']:.2f}); recovered = reliably improved and below "
        f"{a['cutoff']:g}. Baseline: first score from {a['baseline_window'][0]:g} to {a['baseline_window'][1]:g} days of "
        "admission; end: last score during treatment.")


def _comparison(change, adjust, reference, threshold, tables, sentences) -> None:
    levels = set(change["level_of_care"].astype(str))
    if str(reference) not in levels or len(levels) < 2:
        sentences.append(f"No comparison with {_level_label(reference)}: it is not among the levels measured.")
        return ()
    d = change.assign(level_of_care=change["level_of_care"].astype(str).map(_level_label))
    reference = _level_label(reference)
    y = d["reliable_improvement_itt"].astype(float)
    ev = y.groupby(d["level_of_care"]).agg(["sum", "count"])
    ok = ev[(ev["sum"] > 0) & (ev["sum"] < ev["count"])].index
    left = sorted(set(ev.index) - set(ok))
    if left:
        sentences.append(f"Not compared (every episode improved, or none did, often because stays were too short "
                         f"for a second measurement): {', '.join(map(_level_label, left))}.")
    d = d[d["level_of_care"].isin(ok)]
    if reference not in set(ok) or len(ok) < 2:
        return ()
    adj = ["baseline_score", *[c for c in adjust if c != "baseline_score"]]
    res = compare_rates(d, "reliable_improvement_itt", reference=reference, adjust=adj)
    raw = comparison_table(res.summary, threshold, title="Reliable improvement, IOP against each level (unadjusted)")
    tables["comparison"] = raw
    tables["comparison_adjusted"] = adjusted_table(res.adjusted, raw, threshold,
                                                   title="Reliable improvement, adjusted for baseline severity")
    return adj


def _comparison_sentences(tables, adj, reference, threshold, sentences) -> None:
    if "comparison_adjusted" not in tables:
        return
    t = tables["comparison_adjusted"]
    for row, hidden in zip(t.values.to_dict("records"), t.mask.drop(columns="level").any(axis=1)):
        sentences.append(describe_comparison(row, outcome="reliable improvement", reference=reference,
                                             adjusted_for=adj, method="g-computation", suppressed=bool(hidden),
                                             threshold=threshold,
                                             keys=("adj_risk_difference", "ci_low", "ci_high")))


def _page_wide(tables: dict, reference: str, threshold: int) -> set:
    """Withhold every number of a level in every table once any table suppresses its number of episodes.

    The per-table rules treat each level's total as public; the tables of one section share those totals
    (the episodes of a level with a baseline appear in several), so a level whose total is withheld in one
    table must not show it, or anything resting on it, in another: one rule for the page.
    """
    hidden: set = set()
    for name, t in tables.items():
        for col in ("n", "episodes screened"):
            if col in t.mask.columns and len(t.values):
                hidden |= set(t.values.loc[t.mask[col].to_numpy(), "level"].astype(str))
        if name.startswith("comparison") and "ref_n" in t.mask.columns and t.mask["ref_n"].any():
            hidden.add(reference)
    mk = privacy.marker(threshold)
    for name, t in list(tables.items()):
        if "level" not in t.values.columns or not len(t.values):
            continue
        lev = t.values["level"].astype(str)
        hide = lev.isin(hidden).to_numpy()
        if name.startswith("comparison") and reference in hidden:
            hide[:] = True
        if not hide.any():
            continue
        values, mask, summary = t.values.copy(), t.mask.copy(), t.summary.copy()
        for j, c in enumerate(values.columns):
            if c == "level":
                continue
            values[c] = values[c].astype(object).where(~hide, None)
            mask[c] = mask[c].to_numpy() | hide
            summary.iloc[hide, j] = mk
        tables[name] = replace(t, values=values, mask=mask, summary=summary)
    return hidden


def _trajectories(data, eps, instrument, threshold, tables, sentences) -> pd.DataFrame | None:
    try:
        fit = trajectories(data, eps, instrument, client="auto")
    except IopstatsError as err:
        sentences.append(f"No trajectory model: {err}")
        return None
    measured = _episodes_per_level(data, eps, instrument)
    shown = {lv for lv, n in measured.items() if n >= threshold}
    curves = fit.curves[fit.curves["level"].isin(shown)]
    v = curves.assign(level=curves["level"].map(_level_label))[["level", "week", "mean", "ci_low", "ci_high"]]
    tables["trajectories"] = make_table(v.reset_index(drop=True), formats={"week": "days"},
                                        title="Mean score by week since admission (linear mixed model, 95% band)",
                                        remarks=(fit.remarks[0],), threshold=threshold)
    hidden = sorted(set(measured) - shown)
    if hidden:
        sentences.append(f"Trajectories not shown for {', '.join(map(_level_label, hidden))}: fewer than {threshold} "
                         "episodes measured.")
    return curves.assign(level=curves["level"].map(_level_label))


def _episodes_per_level(data, eps, instrument) -> dict:
    ids = data.loc[data["instrument"] == instrument, "episode_id"].astype(str).unique()
    e = eps[eps["episode_id"].astype(str).isin(ids)]
    return e["level_of_care"].astype(str).value_counts().to_dict()


def _urine(data, eps, substance, threshold, tables, sentences) -> None:
    u = urine_outcomes(data, eps, substance)
    screened = u[u["n_screened"] > 0].assign(level=lambda t: t["level_of_care"].astype(str).map(_level_label))
    g = screened.groupby("level", sort=False, observed=True).agg(n=("episode_id", "size"), share_mp=("share_negative_mp", "mean"),
                                                 share_ig=("share_negative_ig", "mean")).reset_index()
    mask = privacy.suppression_mask(g, ["n"], threshold)
    values = privacy.suppress_counts(g, ["n"], threshold, marker_text=None)
    tables["urine"] = make_table(values, mask, formats={"n": "count", "share_mp": "pct", "share_ig": "pct"},
                                 title=f"Mean share of weeks with a {substance}-negative urine screen during treatment",
                                 rename={"n": "episodes screened", "share_mp": "missed week = positive",
                                         "share_ig": "missed weeks ignored"}, threshold=threshold)
    r = rates(screened.assign(neg_end=screened["negative_at_end_mp"]), "neg_end", by="level")
    tables["urine_end"] = rate_table(r, threshold, title=f"{substance.capitalize()}-negative in the last week of "
                                     "treatment (missed = positive)")
    sentences.append(u.attrs["conventions"])
