"""Shared pieces of the report tables: :class:`ReportTable`, :func:`make_table` and the cell formats.

Every report table (:mod:`iopstats.report.tables_quality`,
:mod:`iopstats.report.tables_outcomes`, :mod:`iopstats.report.tables_survival`)
is built from aggregates, passed through :mod:`iopstats.report.privacy` and
wrapped with :func:`make_table`. All of them are importable from
:mod:`iopstats.report.tables`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from iopstats._results import Result
from iopstats.report import privacy

__all__ = ["ReportTable", "make_table"]


T = privacy.DEFAULT_THRESHOLD


def _fmt(value, kind: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, str):
        return value
    if kind == "count":
        return f"{int(round(float(value))):,}"
    if kind == "pct":
        return f"{100 * float(value):.1f}%"
    if kind == "pp":  # risk difference in percentage points
        return f"{100 * float(value):+.1f} pp"
    if kind == "ratio":
        return f"{float(value):.2f}"
    if kind == "p":
        v = float(value)
        return "<0.001" if v < 0.001 else f"{v:.3f}"
    if kind == "days":
        return f"{float(value):.0f}"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3g}"
    return str(value)


@dataclass(frozen=True)
class ReportTable(Result):
    """A suppressed table ready to publish (see the module docstring)."""

    values: pd.DataFrame = field(default_factory=pd.DataFrame)
    mask: pd.DataFrame = field(default_factory=pd.DataFrame)
    threshold: int = T

    @property
    def any_suppressed(self) -> bool:
        return bool(self.mask.to_numpy().any()) if self.mask.size else False

    def to_html(self, float_format: str = "{:.4g}") -> str:
        parts = []
        if self.title:
            parts.append(f"<p class='iopstats-caption'>{html.escape(self.title)}</p>")
        parts.append(self.summary.to_html(index=False, border=0, classes="iopstats-table", na_rep=""))
        notes = list(self.remarks)
        if self.any_suppressed:
            notes.append(privacy.footnote(self.threshold))
        if notes:
            parts.append("".join(f"<p class='iopstats-footnote'>{html.escape(n)}</p>" for n in notes))
        return "\n".join(parts)


def make_table(
    values: pd.DataFrame,
    mask: pd.DataFrame | None = None,
    *,
    formats: Mapping[str, str] | None = None,
    title: str = "",
    remarks: Sequence[str] = (),
    threshold: int = T,
    rename: Mapping[str, str] | None = None,
) -> ReportTable:
    """Wrap an already-suppressed numeric table for publication.

    ``mask`` marks suppressed cells (they must already be missing in ``values``).

    Examples
    --------
    >>> v = pd.DataFrame({"level": ["iop", "op"], "n": [np.nan, 40.0]})
    >>> m = pd.DataFrame({"level": [False, False], "n": [True, False]})
    >>> make_table(v, m, formats={"n": "count"}).summary["n"].tolist()
    ['<11', '40']
    """
    privacy.check_publishable(values)
    values = privacy.redact_identifiers(values.reset_index(drop=True))
    if mask is None:
        mask = pd.DataFrame(False, index=values.index, columns=values.columns)
    mask = mask.reset_index(drop=True)
    mask.columns = values.columns
    formats = dict(formats or {})
    mk = privacy.marker(threshold)
    disp = {}
    for col in values.columns:
        kind = formats.get(col, "")
        disp[col] = [mk if m else _fmt(v, kind) for v, m in zip(values[col], mask[col])]
    summary = pd.DataFrame(disp)
    if rename:
        summary = summary.rename(columns=dict(rename))
    return ReportTable(summary=summary, title=title, remarks=tuple(remarks), values=values, mask=mask,
                       threshold=threshold)


def _suppressed(table: pd.DataFrame, count_cols, threshold, *, total=None, derived="row"):
    mask = privacy.suppression_mask(table, count_cols, threshold, total=total, derived=derived)
    values = privacy.suppress_counts(table, count_cols, threshold, total=total, derived=derived, marker_text=None)
    return values, mask
