"""Report figures (matplotlib / seaborn, Agg backend).

Every function takes tidy, *already suppressed* tables (missing values where a
cell was suppressed) and returns a :class:`matplotlib.figure.Figure`. Colours
of the levels of care come from :data:`PALETTE`, defined once here, so a level
has the same colour in every figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import io

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from iopstats.exceptions import IopstatsError
from iopstats.io.schema import LEVELS_OF_CARE
from iopstats.report import labels as _labels

__all__ = [
    "PALETTE",
    "CAUSE_COLORS",
    "level_color",
    "km_figure",
    "cuminc_figure",
    "rate_bars",
    "forest_plot",
    "funnel_figure",
    "transition_heatmap",
    "p_chart",
    "to_png",
]

#: One colour per level of care (colour-blind safe; IOP the strongest blue).
PALETTE: dict[str, str] = dict(
    zip(
        LEVELS_OF_CARE,
        ["#8c564b", "#e377c2", "#bcbd22", "#7f7f7f", "#d55e00", "#cc79a7", "#009e73", "#0072b2",
         "#e69f00", "#56b4e9"],
    )
)
#: Colours of the ways of leaving treatment.
CAUSE_COLORS: dict[str, str] = {"completed": "#009e73", "dropped_out": "#d55e00", "transferred": "#0072b2",
                                "other": "#7f7f7f", "censored": "#bbbbbb"}
_FALLBACK = ["#332288", "#88ccee", "#44aa99", "#117733", "#999933", "#ddcc77", "#cc6677", "#882255"]


def level_color(level, i: int = 0) -> str:
    """Colour of a level of care (other labels get a stable fallback).

    Examples
    --------
    >>> level_color("iop")
    '#0072b2'
    """
    return PALETTE.get(str(level), _FALLBACK[i % len(_FALLBACK)])


def _subplots(nrows=1, ncols=1, *, figsize, dpi=100, squeeze=True, **kw):
    """Figures are built without pyplot: no global figure registry, any backend."""
    fig = Figure(figsize=figsize, dpi=dpi)
    axes = fig.subplots(nrows, ncols, squeeze=squeeze, **kw)
    return fig, axes


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    """PNG bytes of a figure, without timestamps (same figure, same bytes).

    Examples
    --------
    >>> fig, ax = _subplots(figsize=(2, 2)); _ = ax.plot([0, 1], [0, 1])
    >>> to_png(fig)[:4]
    b'\\x89PNG'
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, bbox_inches="tight")
    return buf.getvalue()


def _style(ax, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)


def _need(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise IopstatsError(f"{what} needs column", column=missing[0], fix=f"pass a table with columns {list(cols)}")


def _empty(fig: Figure, ax, text: str) -> Figure:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#52606d")
    ax.set_axis_off()
    return fig


def km_figure(curve: pd.DataFrame, at_risk: pd.DataFrame | None = None, *, title: str = "Retention in treatment",
              xlabel: str = "days since admission", ylabel: str = "still in treatment") -> Figure:
    """Kaplan-Meier curves with interval bands and a number-at-risk table.

    ``curve``: group, time, survival, ci_low, ci_high (steps, truncated where
    fewer than the threshold are at risk). ``at_risk``: group, time,
    n_at_risk as text, already suppressed.
    """
    _need(curve, ["group", "time", "survival", "ci_low", "ci_high"], "km_figure")
    groups = list(dict.fromkeys(curve["group"].astype(str)))
    n_rows = len(groups) if at_risk is not None else 0
    fig = Figure(figsize=(8.5, 4.6 + 0.22 * n_rows), dpi=100)
    gs = fig.add_gridspec(2, 1, height_ratios=[4.6, 0.3 + 0.22 * n_rows] if n_rows else [1, 0.001], hspace=0.35)
    ax = fig.add_subplot(gs[0])
    if curve.empty:
        return _empty(fig, ax, "Too few episodes to draw (suppressed)")
    for i, g in enumerate(groups):
        part = curve[curve["group"].astype(str) == g].sort_values("time")
        t = np.r_[0.0, part["time"].to_numpy(float)]
        s = np.r_[1.0, part["survival"].to_numpy(float)]
        lo = np.r_[1.0, part["ci_low"].to_numpy(float)]
        hi = np.r_[1.0, part["ci_high"].to_numpy(float)]
        c = level_color(g, i)
        ax.step(t, s, where="post", color=c, linewidth=1.8, label=_labels.level(g))
        ax.fill_between(t, lo, hi, step="post", color=c, alpha=0.15, linewidth=0)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    _style(ax, title, xlabel, ylabel)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if n_rows:
        tab = fig.add_subplot(gs[1])
        tab.set_xlim(ax.get_xlim())
        tab.set_ylim(-0.5, n_rows - 0.5)
        tab.set_axis_off()
        tab.set_title("Number still in treatment (at risk) on day", loc="left", fontsize=9, color="#52606d", pad=14)
        times = sorted({float(x) for x in at_risk["time"]})
        for tm in times:  # the time labels of the number-at-risk table
            if ax.get_xlim()[0] <= tm <= ax.get_xlim()[1]:
                tab.text(tm, n_rows - 0.35, f"day {tm:.0f}", ha="center", va="bottom", fontsize=7, color="#52606d")
        for r, g in enumerate(groups):
            part = at_risk[at_risk["group"].astype(str) == g]
            y = n_rows - 1 - r
            short = _labels.level(g).split(" (")[0]
            tab.text(ax.get_xlim()[0], y, short + "  ", ha="right", va="center", fontsize=7, color=level_color(g, r))
            for tm, n in zip(part["time"], part["n_at_risk"]):
                if ax.get_xlim()[0] <= tm <= ax.get_xlim()[1]:
                    tab.text(tm, y, str(n), ha="center", va="center", fontsize=7)
    return fig


def cuminc_figure(table: pd.DataFrame, *, causes: Sequence[str] = ("dropped_out", "completed", "transferred"),
                  title: str = "Ways of leaving treatment (cumulative incidence)",
                  xlabel: str = "days since admission") -> Figure:
    """Cumulative incidence of each way of leaving treatment, one panel per cause.

    ``table``: group, cause, time, estimate, ci_low, ci_high (suppressed/truncated).
    """
    _need(table, ["group", "cause", "time", "estimate"], "cuminc_figure")
    causes = [c for c in causes if c in set(table["cause"].astype(str))] or list(dict.fromkeys(table["cause"].astype(str)))
    fig, axes = _subplots(1, max(1, len(causes)), figsize=(4 * max(1, len(causes)), 3.8), sharey=True, dpi=100,
                             squeeze=False)
    axes = axes[0]
    if table.empty:
        return _empty(fig, axes[0], "Too few episodes to draw (suppressed)")
    groups = list(dict.fromkeys(table["group"].astype(str)))
    for ax, cause in zip(axes, causes):
        sub = table[table["cause"].astype(str) == cause]
        for i, g in enumerate(groups):
            part = sub[sub["group"].astype(str) == g].sort_values("time")
            if part.empty:
                continue
            t = np.r_[0.0, part["time"].to_numpy(float)]
            e = np.r_[0.0, part["estimate"].to_numpy(float)]
            ax.step(t, e, where="post", color=level_color(g, i), linewidth=1.6, label=_labels.level(g).split(" (")[0])
            if {"ci_low", "ci_high"} <= set(part.columns):
                ax.fill_between(t, np.r_[0.0, part["ci_low"].to_numpy(float)], np.r_[0.0, part["ci_high"].to_numpy(float)],
                                step="post", color=level_color(g, i), alpha=0.12, linewidth=0)
        _style(ax, _labels.label(cause).capitalize(), xlabel, "")
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes[0].set_ylabel("cumulative share of episodes")
    fig.legend(*axes[0].get_legend_handles_labels(), frameon=False, fontsize=7, loc="lower center",
               ncol=min(4, len(groups)), bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    fig.tight_layout(rect=(0, 0.1 + 0.04 * (len(groups) // 4), 1, 1))
    return fig


def rate_bars(rates: pd.DataFrame, *, by: str = "by", title: str = "Completion by level of care",
              ylabel: str = "completion") -> Figure:
    """Bars of a rate per level with interval whiskers; suppressed levels are labelled."""
    _need(rates, [by, "rate", "ci_low", "ci_high"], "rate_bars")
    fig, ax = _subplots(figsize=(7.5, 3.8), dpi=100)
    labels = rates[by].astype(str).tolist()
    x = np.arange(len(labels))
    r = rates["rate"].to_numpy(float)
    ok = ~np.isnan(r)
    ax.bar(x[ok], r[ok], color=[level_color(l, i) for i, l in enumerate(labels) if ok[i]], width=0.65)
    err = np.vstack([r - rates["ci_low"].to_numpy(float), rates["ci_high"].to_numpy(float) - r])
    ax.errorbar(x[ok], r[ok], yerr=err[:, ok], fmt="none", ecolor="#1f2933", capsize=4, linewidth=1.2)
    for xi in x[~ok]:
        ax.text(xi, 0.02, "suppressed", rotation=90, ha="center", va="bottom", fontsize=8, color="#52606d")
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    _style(ax, title, "", ylabel)
    fig.tight_layout()
    return fig


def forest_plot(effects: pd.DataFrame, *, label: str = "label", estimate: str = "estimate", low: str = "ci_low",
                high: str = "ci_high", null: float = 0.0, margin: float | None = None,
                title: str = "IOP minus each level (risk difference)", xlabel: str = "percentage points",
                scale: float = 100.0) -> Figure:
    """Forest plot of effects with intervals; ``margin`` draws the non-inferiority line at ``-margin``."""
    _need(effects, [label, estimate, low, high], "forest_plot")
    e = effects.reset_index(drop=True)
    fig, ax = _subplots(figsize=(7.5, 0.5 + 0.45 * max(2, len(e))), dpi=100)
    y = np.arange(len(e))[::-1]
    est = e[estimate].to_numpy(float) * scale
    lo = e[low].to_numpy(float) * scale
    hi = e[high].to_numpy(float) * scale
    ok = ~np.isnan(est)
    codes = e["level"] if "level" in e.columns else e[label].astype(str).str.split(" ").str[0]
    colors = [level_color(str(l), i) for i, l in enumerate(codes)]
    ax.hlines(y[ok], lo[ok], hi[ok], color=[c for c, k in zip(colors, ok) if k], linewidth=2)
    ax.scatter(est[ok], y[ok], color=[c for c, k in zip(colors, ok) if k], zorder=3, s=36, marker="s")
    for yi in y[~ok]:
        ax.text(null * scale, yi, "suppressed", ha="center", va="center", fontsize=8, color="#52606d")
    ax.axvline(null * scale, color="#1f2933", linewidth=0.8)
    if margin is not None:
        ax.axvline(-margin * scale, color="#b42318", linewidth=1, linestyle="--")
        ax.text(-margin * scale, y.max() + 0.6, " non-inferiority margin", color="#b42318", fontsize=8, va="bottom")
    ax.set_yticks(y, e[label].astype(str))
    ax.set_ylim(-0.7, y.max() + 1.0)
    _style(ax, title, xlabel, "")
    ax.grid(axis="x", color="#e5e7eb")
    fig.tight_layout()
    return fig


def funnel_figure(funnel: pd.DataFrame, *, title: str = "Retention funnel (share of admitted episodes)") -> Figure:
    """Lines of the share of admitted episodes reaching each stage, per level."""
    _need(funnel, ["level", "admitted"], "funnel_figure")
    # completion is not a later stage than 90-day retention: only the monotone stages are drawn
    stages = [c for c in funnel.columns if c not in ("level", "completed")]
    fig, ax = _subplots(figsize=(7.5, 3.8), dpi=100)
    for i, row in funnel.reset_index(drop=True).iterrows():
        vals = row[stages].to_numpy(float)
        share = vals / vals[0] if vals[0] and not np.isnan(vals[0]) else vals * np.nan
        ax.plot(np.arange(len(stages)), share, marker="o", color=level_color(row["level"], i),
                label=_labels.level(row["level"]).split(" (")[0])
    ax.set_xticks(np.arange(len(stages)), [_labels.column(s).replace("In treatment at", "in treatment,") for s in stages])
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    _style(ax, title, "", "share of admitted")
    ax.legend(frameon=False, fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def transition_heatmap(wide: pd.DataFrame, *, marker: str = "<11",
                       title: str = "Next episode's level of care") -> Figure:
    """Heatmap of (already suppressed) transition counts; suppressed cells show ``marker``."""
    import seaborn as sns

    if wide.empty:
        fig, ax = _subplots(figsize=(5, 2), dpi=100)
        return _empty(fig, ax, "No client has a second episode")
    w = wide.set_index(wide.columns[0]) if not pd.api.types.is_numeric_dtype(wide.iloc[:, 0]) else wide
    vals = w.astype(float)
    annot = vals.map(lambda v: marker if np.isnan(v) else f"{int(v):,}")
    fig, ax = _subplots(figsize=(1.2 + 0.9 * vals.shape[1], 1.0 + 0.55 * vals.shape[0]), dpi=100)
    sns.heatmap(vals, annot=annot, fmt="", cmap="Blues", cbar=False, linewidths=0.5, linecolor="white", ax=ax,
                mask=vals.isna())
    ax.set_facecolor("#f0f0f0")
    for i, j in zip(*np.nonzero(vals.isna().to_numpy())):  # seaborn leaves masked cells blank
        ax.text(j + 0.5, i + 0.5, marker, ha="center", va="center", fontsize=9, color="#52606d")
    ax.set_xlabel("next episode")
    ax.set_ylabel("episode")
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    for lab in ax.get_xticklabels():
        lab.set_rotation(30)
        lab.set_ha("right")
    fig.tight_layout()
    return fig


def p_chart(table: pd.DataFrame, *, title: str = "Monthly completion with p-chart limits",
            ylabel: str = "completion") -> Figure:
    """p-chart: monthly rate, centre line and control limits (suppressed months are gaps)."""
    _need(table, ["period", "rate", "center", "lcl", "ucl"], "p_chart")
    fig, ax = _subplots(figsize=(8.5, 3.6), dpi=100)
    x = np.arange(len(table))
    ax.plot(x, table["rate"].to_numpy(float), marker="o", color="#0072b2", label="monthly rate")
    ax.step(x, table["ucl"].to_numpy(float), where="mid", color="#b42318", linestyle="--", linewidth=1, label="limits")
    ax.step(x, table["lcl"].to_numpy(float), where="mid", color="#b42318", linestyle="--", linewidth=1)
    ax.axhline(float(np.nanmean(table["center"].to_numpy(float))) if len(table) else 0, color="#1f2933",
               linewidth=1, label="centre")
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], table["period"].astype(str).iloc[::step], rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    _style(ax, title, "admission month", ylabel)
    ax.legend(frameon=False, fontsize=8, ncol=3)
    fig.tight_layout()
    return fig
