"""Effect estimates: forest plots of ratios, differences from a reference, trends."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from iopstats.plots._base import axes, need, style

__all__ = ["forest", "comparison", "trend"]


def _intervals(ax, labels, est, lo, hi, null: float, log: bool, xlabel: str, title: str):
    y = np.arange(len(labels))[::-1]
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color="#0072b2", ecolor="#0072b2",
                capsize=3, linewidth=1.4)
    ax.axvline(null, color="#52606d", linewidth=1, linestyle="--")
    ax.set_yticks(y)
    ax.set_yticklabels([str(x) for x in labels])
    if log:
        from matplotlib.ticker import FuncFormatter

        ax.set_xscale("log")
        plain = FuncFormatter(lambda v, _pos: f"{v:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
    style(ax, title, xlabel, "")
    return ax


def forest(
    frame: pd.DataFrame,
    ax: Any = None,
    estimate: str = "hr",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    label: str | None = None,
    log: bool = True,
    null: float = 1.0,
    xlabel: str = "hazard ratio (95% interval)",
    title: str = "",
):
    """Forest plot of ratios with intervals (one row per term; labels from ``label`` or the index)."""
    need(frame, [estimate, ci_low, ci_high], "forest plot")
    labels = frame.index if label is None else frame[label]
    ax = axes(ax, (7, max(2.5, 0.8 + 0.4 * len(frame))))
    est, lo, hi = (frame[c].to_numpy(float) for c in (estimate, ci_low, ci_high))
    return _intervals(ax, list(labels), est, lo, hi, null, log, xlabel, title)


def comparison(
    frame: pd.DataFrame,
    ax: Any = None,
    estimate: str = "risk_difference",
    ci_low: str = "rd_ci_low",
    ci_high: str = "rd_ci_high",
    label: str = "level",
    scale: float = 100.0,
    xlabel: str = "difference, reference minus level (percentage points)",
    title: str = "",
):
    """Differences from the reference with intervals (``RateComparison.summary`` by default).

    ``scale`` multiplies the values (100: proportions shown as percentage points).
    Rows whose estimate is missing (suppressed, or the reference) are left out.
    """
    need(frame, [label, estimate, ci_low, ci_high], "comparison plot")
    rows = frame[frame[estimate].notna()]
    ax = axes(ax, (7, max(2.5, 0.8 + 0.4 * len(rows))))
    est, lo, hi = (rows[c].to_numpy(float) * scale for c in (estimate, ci_low, ci_high))
    return _intervals(ax, list(rows[label]), est, lo, hi, 0.0, False, xlabel, title)


def trend(
    frame: pd.DataFrame,
    x: str,
    y: str = "rate",
    group: str | None = None,
    ax: Any = None,
    ci_low: str | None = "ci_low",
    ci_high: str | None = "ci_high",
    percent: bool = True,
    title: str = "",
    xlabel: str | None = None,
    ylabel: str = "",
):
    """A rate over time (e.g. ``rates(data, outcome, by=["discharge_year", "level_of_care"])``).

    One line per ``group`` with markers and, when the columns exist, an interval band.
    """
    need(frame, [x, y] + ([group] if group else []), "trend plot")
    ax = axes(ax, (8, 4.5))
    parts = [(None, frame)] if group is None else list(frame.groupby(group, sort=False, observed=True))
    for g, part in parts:
        part = part.sort_values(x)
        xs = part[x].to_numpy()
        (line,) = ax.plot(xs, part[y].to_numpy(float), marker="o", linewidth=1.6,
                          label=None if g is None else str(g))
        if ci_low in part.columns and ci_high in part.columns:
            ax.fill_between(xs, part[ci_low].to_numpy(float), part[ci_high].to_numpy(float),
                            color=line.get_color(), alpha=0.15, linewidth=0)
    if percent:
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    style(ax, title, x if xlabel is None else xlabel, ylabel)
    if group is not None:
        ax.legend(frameon=False, fontsize=8)
    return ax
