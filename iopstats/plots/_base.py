"""Shared plotting helpers (internal)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from iopstats.exceptions import IopstatsError


def axes(ax: Any, figsize: tuple[float, float]):
    """``ax`` as given, or a new pyplot figure's Axes (shown inline by Jupyter)."""
    if ax is not None:
        if not hasattr(ax, "figure") or not hasattr(ax, "plot"):
            raise IopstatsError("ax must be a matplotlib Axes", value=type(ax).__name__,
                                fix="pass ax=fig.add_subplot() or leave it out")
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize)
    return new


def need(frame: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise IopstatsError(f"{what} needs columns {cols}", column=missing[0],
                            fix="pass the result's table (e.g. km.table) or a frame with those columns")


def style(ax, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(alpha=0.25, linewidth=0.6)


def masked_count(n: float, suppress_below: int | None) -> str:
    """A count as text, '<k' when 1 <= n < k (private by default)."""
    if suppress_below is not None and 0 < n < suppress_below:
        return f"<{suppress_below}"
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.1f}"
