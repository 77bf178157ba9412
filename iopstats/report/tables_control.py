"""Monthly trend with a control chart and run rules: a replacement for ``p_chart_table`` / ``figures.p_chart``.

:func:`control_chart_table` returns the same columns as
:func:`iopstats.report.tables_outcomes.p_chart_table` (``period``, ``n``,
``events``, ``rate``, ``center``, ``lcl``, ``ucl``, ``signal``) plus the
2-sigma limits, built with :func:`iopstats.control_chart`: Laney's p'-chart
when the months vary more than the binomial allows (``sigma_z > 1``, where
the plain p-chart flags nearly every month of a large program), the p-chart
otherwise, and the Anhoej run rules (longest run, crossings) in ``signal`` and
the remarks. :func:`control_chart_figure` draws it (suppressed months are gaps).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from iopstats.compare.control_chart import control_chart
from iopstats.exceptions import IopstatsError
from iopstats.report import privacy
from iopstats.report.tables_base import ReportTable, make_table

__all__ = ["control_chart_table", "control_chart_figure"]

T = privacy.DEFAULT_THRESHOLD


def control_chart_table(outcomes: pd.DataFrame, outcome: str, period: str = "admit_period", threshold: int = T,
                        chart: str = "auto") -> ReportTable:
    """Monthly rate with control limits and run-rule signals (suppressed), from episode rows.

    ``chart``: ``"p"``, ``"p_prime"`` or ``"auto"`` (p' when ``sigma_z > 1``).
    """
    if chart not in ("auto", "p", "p_prime"):
        raise IopstatsError("chart must be 'auto', 'p' or 'p_prime'", value=chart, fix="e.g. chart='auto'")
    d = outcomes[[period, outcome]].dropna()
    if d.empty:
        raise IopstatsError("no rows with a period and a known outcome", column=outcome, fix="check the outcome")
    kind = chart
    if chart == "auto":
        prime = control_chart(d, period, outcome, chart="p_prime") if d[period].nunique() > 1 else None
        kind = "p_prime" if prime is not None and prime.runs["sigma_z"].iloc[0] > 1 else "p"
    cc = control_chart(d, period, outcome, chart=kind)
    t = cc.summary.drop(columns=["unit"]).assign(period=lambda x: x["period"].astype(str))
    runs = cc.runs.iloc[0]
    signal = np.where(t["outside"], "outside limits", "")
    t = t[["period", "n", "events", "rate", "center", "lcl", "ucl", "lcl_95", "ucl_95"]].assign(signal=signal)
    # limits depend on n, the centre (public totals) and, for p', the global sigma_z: only the rate and
    # its signal reveal a month's count
    derived = {"rate": ["events"], "signal": ["events"]}
    values = privacy.suppress_counts(t, ["events"], threshold, total="n", derived=derived, marker_text=None)
    mask = privacy.suppression_mask(t, ["events"], threshold, total="n", derived=derived)
    values["signal"] = t["signal"].where(~mask["signal"], None)
    name = "Laney p'-chart" if kind == "p_prime" else "p-chart"
    remarks = [
        f"{name}: centre {runs_text(runs)}.",
        *cc.remarks,
    ]
    return make_table(values, mask, threshold=threshold, remarks=remarks,
                      formats={"n": "count", "events": "count", "rate": "pct", "center": "pct", "lcl": "pct",
                               "ucl": "pct", "lcl_95": "pct", "ucl_95": "pct"},
                      title=f"Monthly {outcome.replace('_', ' ')} rate with {name} limits (3 sigma) and run rules")


def runs_text(runs: pd.Series) -> str:
    """One sentence on the Anhoej run rules of a chart."""
    if not runs["n_useful"]:
        return "no points off the centre line, so no run analysis"
    verdict = "non-random variation (a shift or trend)" if runs["runs_signal"] else "no sign of non-random variation"
    return (f"longest run {int(runs['longest_run'])} (limit {int(runs['longest_run_max'])}), "
            f"{int(runs['crossings'])} crossings (at least {int(runs['crossings_min'])} expected) over "
            f"{int(runs['n_useful'])} useful points: {verdict}")


def control_chart_figure(table: ReportTable, *, title: str = "Monthly completion with control limits",
                         ylabel: str = "completion") -> Figure:
    """Figure of :func:`control_chart_table` (suppressed months are gaps)."""
    import matplotlib.ticker

    v = table.values
    fig = Figure(figsize=(8.5, 3.6), dpi=100)
    ax = fig.subplots()
    x = np.arange(len(v))
    ax.plot(x, v["rate"].to_numpy(float), marker="o", color="#0072b2", label="monthly rate")
    out = (v["signal"] == "outside limits").to_numpy(bool)
    ax.scatter(x[out], v["rate"].to_numpy(float)[out], color="#d55e00", s=40, zorder=3, label="outside limits")
    for col, style, lab in (("ucl", "-", "3-sigma limits"), ("lcl", "-", None), ("ucl_95", "--", "2-sigma"),
                            ("lcl_95", "--", None)):
        ax.step(x, v[col].to_numpy(float), where="mid", color="#7f7f7f", linestyle=style, linewidth=1, label=lab)
    centre = v["center"].to_numpy(float)
    if len(centre) and np.isfinite(centre).any():
        ax.axhline(float(np.nanmean(centre)), color="#1f2933", linewidth=1, label="centre")
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], v["period"].astype(str).iloc[::step], rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel("admission month")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8, ncol=3)
    fig.tight_layout()
    return fig
