"""Survival and cumulative incidence curves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter
from matplotlib.transforms import blended_transform_factory

from iopstats.plots._base import axes, masked_count, need, style

__all__ = ["km", "cif"]


def _steps(part: pd.DataFrame, y: str, start: float) -> tuple[np.ndarray, np.ndarray]:
    return np.r_[0.0, part["time"].to_numpy(float)], np.r_[start, part[y].to_numpy(float)]


def km(
    table: pd.DataFrame,
    ax: Any = None,
    at_risk: bool = True,
    ci: bool = True,
    times: Sequence[float] | None = None,
    suppress_below: int | None = 11,
    title: str = "",
    xlabel: str = "time",
    ylabel: str = "still in treatment",
):
    """Kaplan-Meier curves (a ``KaplanMeierResult.table``) with the number-at-risk table under the axis.

    Parameters
    ----------
    table : DataFrame
        group, time, n_at_risk, n_events, survival, ci_low, ci_high (``km.table``).
    ax : matplotlib Axes, optional
    at_risk : bool
        Draw the number at risk at ``times`` (default: the axis ticks) under the axis,
        one row per group, as survminer's ``risk.table``.
    ci : bool
        Draw the pointwise confidence bands.
    suppress_below : int or None
        Counts from 1 to ``suppress_below - 1`` are shown as ``"<suppress_below"`` and
        each curve stops where fewer than ``suppress_below`` are at risk.
    title, xlabel, ylabel : str

    Returns
    -------
    matplotlib Axes
    """
    need(table, ["group", "time", "n_at_risk", "survival", "ci_low", "ci_high"], "km plot")
    groups = list(dict.fromkeys(table["group"]))
    ax = axes(ax, (8, 4.5 + (0.25 * len(groups) if at_risk else 0)))
    for g in groups:
        part = table[table["group"] == g].sort_values("time")
        if suppress_below is not None:
            part = part[part["n_at_risk"] >= suppress_below]
        t, s = _steps(part, "survival", 1.0)
        (line,) = ax.step(t, s, where="post", linewidth=1.8, label=str(g))
        if ci:
            _, lo = _steps(part, "ci_low", 1.0)
            _, hi = _steps(part, "ci_high", 1.0)
            ax.fill_between(t, np.nan_to_num(lo), np.nan_to_num(hi, nan=1.0), step="post",
                            color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    style(ax, title, xlabel, ylabel)
    ax.legend(frameon=False, fontsize=8)
    if at_risk:
        _risk_table(ax, table, groups, times, suppress_below)
    return ax


def _n_at_risk(part: pd.DataFrame, t: float) -> float:
    """Number at risk at time t: those with follow-up >= t (survfit's n.risk at the next time)."""
    tt = part["time"].to_numpy(float)
    nr = part["n_at_risk"].to_numpy(float)
    i = np.searchsorted(tt, t, side="left")
    return float(nr[i]) if i < len(tt) else 0.0


def _risk_table(ax, table: pd.DataFrame, groups: list, times, suppress_below) -> None:
    ticks = np.asarray(times if times is not None else ax.get_xticks(), dtype=float)
    lo, hi = ax.get_xlim()
    ticks = ticks[(ticks >= lo) & (ticks <= hi)]
    ax.set_xticks(ticks)
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    label_trans = ax.transAxes
    base = -0.22
    step = 0.075
    ax.text(0.0, base + 0.05, "Number at risk", transform=label_trans, fontsize=8, ha="left",
            color="#52606d")
    colors = [ln.get_color() for ln in ax.get_lines()]
    for r, g in enumerate(groups):
        part = table[table["group"] == g].sort_values("time")
        y = base - step * (r + 1) + 0.03
        color = colors[r] if r < len(colors) else "black"
        ax.text(-0.05, y, str(g), transform=label_trans, ha="right", va="center", fontsize=8, color=color)
        for t in ticks:
            ax.text(t, y, masked_count(_n_at_risk(part, t), suppress_below), transform=trans,
                    ha="center", va="center", fontsize=8)
    fig = ax.figure
    fig.subplots_adjust(bottom=min(0.5, 0.18 + 0.06 * len(groups)))


def cif(
    table: pd.DataFrame,
    ax: Any = None,
    causes: Sequence[Any] | None = None,
    ci: bool = True,
    estimate: str = "estimate",
    title: str = "",
    xlabel: str = "time",
    ylabel: str = "cumulative incidence",
):
    """Cumulative incidence curves: one colour per group, one line style per cause.

    ``table``: group, time, ``estimate`` (default "estimate"; "cif" for
    ``FineGrayResult.adjusted_cif``) and optionally cause, ci_low, ci_high.
    """
    need(table, ["group", "time", estimate], "cif plot")
    ax = axes(ax, (8, 4.5))
    has_cause = "cause" in table.columns
    cause_list = list(dict.fromkeys(table["cause"])) if has_cause else [None]
    if causes is not None:
        cause_list = [c for c in cause_list if c in set(causes)]
    styles = ["-", "--", ":", "-."]
    color_of: dict = {}
    for ci_, cause in enumerate(cause_list):
        sub = table if cause is None else table[table["cause"] == cause]
        for g in dict.fromkeys(sub["group"]):
            part = sub[sub["group"] == g].sort_values("time")
            t, e = _steps(part, estimate, 0.0)
            label = str(g) if cause is None else f"{g}: {cause}"
            kw = {"color": color_of[g]} if g in color_of else {}
            (line,) = ax.step(t, e, where="post", linestyle=styles[ci_ % 4], linewidth=1.8, label=label, **kw)
            color_of.setdefault(g, line.get_color())
            if ci and {"ci_low", "ci_high"} <= set(part.columns):
                _, lo = _steps(part, "ci_low", 0.0)
                _, hi = _steps(part, "ci_high", 0.0)
                ax.fill_between(t, np.nan_to_num(lo), np.nan_to_num(hi), step="post", color=line.get_color(),
                                alpha=0.12, linewidth=0)
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    style(ax, title, xlabel, ylabel)
    ax.legend(frameon=False, fontsize=8)
    return ax
