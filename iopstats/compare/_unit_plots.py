"""Figures of the unit comparisons (funnel, O/E, caterpillar, control chart), internal.

Each function draws on a given matplotlib Axes (or a new figure without
pyplot) and returns the Axes, so results can be placed in a notebook grid
(``res.plot(ax=ax)``) or saved by the report layer.
"""

from __future__ import annotations

import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

__all__ = ["funnel_axes", "ratio_axes", "caterpillar_axes", "control_axes"]

_POINT = "#0072b2"
_HIGH = "#d55e00"
_LOW = "#6a3d9a"
_LIMIT = "#7f7f7f"


def _axes(ax, figsize):
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, dpi=100)
    return fig.subplots()


def _style(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _flag_colors(flags) -> list[str]:
    return [_HIGH if str(f).startswith("above") else _LOW if str(f).startswith("below") else _POINT for f in flags]


def funnel_axes(res, ax=None, title=None):
    """Funnel plot of a :class:`~iopstats.compare.funnel.FunnelResult`."""
    ax = _axes(ax, (7.5, 4.5))
    s = res.summary
    n = s["n"].to_numpy(float)
    floor = 1.0 if res.statistic == "proportion" else 0.1  # expected counts may be below 1
    lo = max(floor, float(np.nanmin(n)) * 0.8) if len(n) else 1.0
    hi = float(np.nanmax(n)) * 1.1 if len(n) else 10.0
    grid = np.geomspace(lo, hi, 200)
    if res.statistic == "proportion":  # binomial limits need whole numbers of episodes
        grid = np.unique(np.round(grid))
    lim = res.limits(grid)
    for level, style in (("95", "--"), ("998", "-")):
        label = "95% limits" if level == "95" else "99.8% limits"
        ax.plot(grid, lim[f"upper_{level}"], color=_LIMIT, linestyle=style, linewidth=1, label=label)
        ax.plot(grid, lim[f"lower_{level}"], color=_LIMIT, linestyle=style, linewidth=1)
    ax.axhline(res.target, color="#1f2933", linewidth=1, label="centre")
    ok = s["value"].notna().to_numpy()
    ax.scatter(n[ok], s["value"].to_numpy(float)[ok], c=np.array(_flag_colors(s["flag"]))[ok], s=28, zorder=3)
    for _, r in s[ok & (s["flag"] != "within").to_numpy()].iterrows():
        ax.annotate(str(r["unit"]), (r["n"], r["value"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if res.statistic == "proportion":
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        xlabel, ylabel = "episodes (denominator)", "proportion"
    else:
        xlabel, ylabel = "expected count", "observed / expected"
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    _style(ax, title if title is not None else res.title, xlabel, ylabel)
    ax.legend(frameon=False, fontsize=8)
    return ax


def ratio_axes(res, ax=None, title=None):
    """O/E ratios with intervals of a :class:`~iopstats.compare.standardize.StandardizedRatioResult`."""
    s = res.summary.sort_values("ratio", na_position="first").reset_index(drop=True)
    ax = _axes(ax, (7.0, max(2.5, 0.28 * len(s) + 1.2)))
    yy = np.arange(len(s))
    r = s["ratio"].to_numpy(float)
    err = np.vstack([r - s["ci_low"].to_numpy(float), s["ci_high"].to_numpy(float) - r])
    ax.errorbar(r, yy, xerr=err, fmt="o", color=_POINT, ecolor=_LIMIT, capsize=2, markersize=4)
    ax.axvline(1.0, color="#1f2933", linewidth=1)
    ax.set_yticks(yy, s["unit"].astype(str))
    _style(ax, title if title is not None else res.title, "observed / expected", "")
    return ax


def caterpillar_axes(res, ax=None, title=None):
    """Caterpillar plot of a :class:`~iopstats.compare.shrinkage.ShrunkenRatesResult`."""
    s = res.summary.sort_values("shrunken_rate", na_position="first").reset_index(drop=True)
    ax = _axes(ax, (7.0, max(2.5, 0.28 * len(s) + 1.2)))
    yy = np.arange(len(s))
    b = s["shrunken_rate"].to_numpy(float)
    err = np.vstack([b - s["ci_low"].to_numpy(float), s["ci_high"].to_numpy(float) - b])
    ax.errorbar(b, yy, xerr=err, fmt="o", color=_POINT, ecolor=_LIMIT, capsize=2, markersize=4,
                label="shrunken rate")
    ax.scatter(s["rate"].to_numpy(float), yy, facecolors="none", edgecolors=_HIGH, s=20, label="raw rate", zorder=3)
    ax.axvline(res.mean_rate, color="#1f2933", linewidth=1, label="typical rate")
    ax.set_yticks(yy, s["unit"].astype(str))
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    _style(ax, title if title is not None else res.title, "rate", "")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax


def control_axes(res, ax=None, unit=None, title=None):
    """Control chart of one unit of a :class:`~iopstats.compare.control_chart.ControlChartResult`."""
    s = res.summary
    units = list(dict.fromkeys(s["unit"]))
    u = units[0] if unit is None else unit
    g = s[s["unit"] == u]
    ax = _axes(ax, (8.0, 3.4))
    x = np.arange(len(g))
    ax.plot(x, g["rate"].to_numpy(float), marker="o", color=_POINT, markersize=4, label="rate")
    out = g["outside"].to_numpy(bool)
    ax.scatter(x[out], g["rate"].to_numpy(float)[out], color=_HIGH, s=36, zorder=3, label="outside 3 sigma")
    ax.step(x, g["ucl"].to_numpy(float), where="mid", color=_LIMIT, linewidth=1, label="3-sigma limits")
    ax.step(x, g["lcl"].to_numpy(float), where="mid", color=_LIMIT, linewidth=1)
    ax.step(x, g["ucl_95"].to_numpy(float), where="mid", color=_LIMIT, linewidth=0.8, linestyle="--")
    ax.step(x, g["lcl_95"].to_numpy(float), where="mid", color=_LIMIT, linewidth=0.8, linestyle="--")
    runs = res.runs.set_index("unit").loc[u] if len(res.runs) else None
    sig = bool(runs is not None and runs["runs_signal"])
    ax.axhline(float(g["center"].iloc[0]) if len(g) else 0.0, color=_HIGH if sig else "#1f2933",
               linewidth=1, linestyle="--" if sig else "-", label="centre (run signal)" if sig else "centre")
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], g["period"].astype(str).iloc[::step], rotation=30, ha="right")
    if res.chart.startswith("p"):
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    head = title if title is not None else (res.title + ("" if u == "all" else f": {u}"))
    _style(ax, head, "period", "rate")
    ax.legend(frameon=False, fontsize=7, ncol=3)
    return ax
