"""Survival report tables: Kaplan-Meier summaries, numbers at risk and truncated
curves, from row-level data or from a fit's step table (suppressed).

Re-exported by :mod:`iopstats.report.tables`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.report import privacy
from iopstats.report.tables_base import T, ReportTable, _suppressed, make_table

__all__ = ["km_summary_table", "at_risk_table", "truncate_curve", "km_curve_from_table", "km_at_risk_from_table"]


# --------------------------------------------------------------------------- row-level data


def km_summary_table(summary: pd.DataFrame, threshold: int = T, title: str = "") -> ReportTable:
    """Suppress a Kaplan-Meier summary (group, n, events, median, ..., rmean, rmean_se)."""
    t = summary.reset_index(drop=True).copy()
    t["group"] = t["group"].astype(str)
    t["n"] = t["n"].astype(float)
    t["events"] = t["events"].astype(float)
    v, m = _suppressed(t, ["events"], threshold, total="n")
    fm = {"n": "count", "events": "count", "median": "days", "median_ci_low": "days", "median_ci_high": "days",
          "rmean": "days", "rmean_se": "days", "tau": "days"}
    return make_table(v, m, formats=fm, title=title, threshold=threshold,
                      remarks=("Median and restricted mean in days; a blank median was not reached.",))


def at_risk_table(data: pd.DataFrame, time: str, by: str, times: Sequence[float], threshold: int = T,
                  weights: str | None = None) -> pd.DataFrame:
    """Numbers at risk (time >= t) per group at the given times, suppressed (text)."""
    w = data[weights].astype(float) if weights else pd.Series(1.0, index=data.index)
    rows = []
    for g, idx in data.groupby(by, observed=True).groups.items():
        tt = data.loc[idx, time].astype(float)
        for t in times:
            rows.append({"group": str(g), "time": t, "n_at_risk": float(w.loc[idx][tt >= t].sum())})
    return privacy.suppress_at_risk(pd.DataFrame(rows), threshold)


def truncate_curve(curve: pd.DataFrame, data: pd.DataFrame, time: str, by: str, threshold: int = T,
                   group_col: str = "group", weights: str | None = None) -> pd.DataFrame:
    """Drop curve steps where fewer than ``threshold`` remain at risk in the group
    (each step there would reveal single events)."""
    w = data[weights].astype(float) if weights else pd.Series(1.0, index=data.index)
    keep = []
    for g, part in curve.groupby(group_col, observed=True, sort=False):
        sel = data[by].astype(str) == str(g)
        tt = np.sort(data.loc[sel, time].astype(float).to_numpy())
        ww = w[sel].to_numpy()[np.argsort(data.loc[sel, time].astype(float).to_numpy())]
        # at risk at t = weight with time >= t
        cum_from_end = np.cumsum(ww[::-1])[::-1]
        pos = np.searchsorted(tt, part["time"].astype(float).to_numpy(), side="left")
        at = np.where(pos < len(tt), cum_from_end[np.minimum(pos, len(tt) - 1)], 0.0)
        keep.append(part[at >= threshold])
    return pd.concat(keep, ignore_index=True) if keep else curve.iloc[0:0]


# --------------------------------------------------------------------------- national headline (Kaplan-Meier step tables)


def km_curve_from_table(km_table: pd.DataFrame, threshold: int = T) -> pd.DataFrame:
    """Kaplan-Meier steps where at least ``threshold`` episodes are at risk (from ``KaplanMeierResult.table``).

    The number at risk of a step is a column of the fit's table, so curves
    fitted on a collapsed count table are truncated without the rows: each
    step after fewer than ``threshold`` remain would reveal single events.

    Examples
    --------
    >>> k = pd.DataFrame({"group": ["iop"] * 3, "time": [1.0, 5.0, 9.0], "n_at_risk": [40, 12, 6],
    ...                   "survival": [0.9, 0.6, 0.3], "ci_low": [0.8, 0.4, 0.1], "ci_high": [1.0, 0.8, 0.6]})
    >>> km_curve_from_table(k)["time"].tolist()
    [1.0, 5.0]
    """
    if "n_at_risk" not in km_table.columns:
        raise IopstatsError("the Kaplan-Meier table needs n_at_risk", column="n_at_risk",
                            fix="pass KaplanMeierResult.table")
    keep = km_table["n_at_risk"].astype(float) >= threshold
    cols = [c for c in ("group", "time", "survival", "ci_low", "ci_high") if c in km_table.columns]
    return km_table.loc[keep, cols].reset_index(drop=True)


def km_at_risk_from_table(km_table: pd.DataFrame, times: Sequence[float], threshold: int = T) -> pd.DataFrame:
    """Numbers at risk per group at ``times`` from a Kaplan-Meier step table, suppressed (text).

    At risk at ``t`` = at risk at the first step at or after ``t`` (nobody
    leaves between steps); 0 after the last step.

    Examples
    --------
    >>> k = pd.DataFrame({"group": ["a", "a", "b", "b"], "time": [10.0, 40.0, 5.0, 50.0],
    ...                   "n_at_risk": [60, 30, 80, 25]})
    >>> km_at_risk_from_table(k, [0, 30, 60])["n_at_risk"].tolist()
    ['60', '30', '0', '80', '25', '0']
    """
    for c in ("group", "time", "n_at_risk"):
        if c not in km_table.columns:
            raise IopstatsError("the Kaplan-Meier table needs this column", column=c, fix="pass KaplanMeierResult.table")
    rows = []
    for g, part in km_table.groupby("group", observed=True, sort=False):
        tt = part["time"].to_numpy(float)
        order = np.argsort(tt, kind="mergesort")
        tt, nr = tt[order], part["n_at_risk"].to_numpy(float)[order]
        for t in times:
            i = int(np.searchsorted(tt, float(t), side="left"))
            rows.append({"group": str(g), "time": t, "n_at_risk": float(nr[i]) if i < len(tt) else 0.0})
    return privacy.suppress_at_risk(pd.DataFrame(rows, columns=["group", "time", "n_at_risk"]), threshold)
