"""Data-quality report tables: rows loaded and quarantined, quarantine reasons,
identifier-like values and missingness (counts suppressed).

Re-exported by :mod:`iopstats.report.tables`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.io.validate import OUT_OF_SCOPE_REASONS
from iopstats.report.tables_base import T, ReportTable, _suppressed, make_table

__all__ = ["load_summary", "quarantine_reasons", "identifier_flags", "missingness"]


def load_summary(results: Mapping[str, object], threshold: int = T) -> ReportTable:
    """Rows read, loaded and quarantined per input table (counts suppressed).

    ``results`` maps table name to a :class:`~iopstats.io.result.LoadResult`
    (or ``None`` for a table not supplied).
    """
    rows, masks = [], []
    for name, res in results.items():
        if res is None:
            continue
        r = res.report
        one = pd.DataFrame({"table": [name], "input_rows": [r.n_input], "loaded": [r.n_loaded],
                            "quarantined": [r.n_quarantined]})
        v, m = _suppressed(one, ["loaded", "quarantined"], threshold, total="input_rows")
        rows.append(v)
        masks.append(m)
    if not rows:
        raise IopstatsError("no load results to summarise", fix="load the episodes first")
    return make_table(pd.concat(rows, ignore_index=True), pd.concat(masks, ignore_index=True),
                      formats={"input_rows": "count", "loaded": "count", "quarantined": "count"},
                      title="Rows read, loaded and quarantined", threshold=threshold)


def quarantine_reasons(report, threshold: int = T) -> ReportTable:
    """Quarantined rows by reason and column (never the values)."""
    r = report.reasons[["reason", "column", "n"]].copy() if len(report.reasons) else pd.DataFrame(
        {"reason": [], "column": [], "n": []})
    r["n"] = pd.to_numeric(r["n"]).astype(float)
    # rows that are valid but outside the table's scope (e.g. urine screens taken during
    # treatment offered as follow-ups) are listed apart from errors
    r.insert(0, "kind", np.where(r["reason"].isin(OUT_OF_SCOPE_REASONS), "out of scope", "error"))
    v, m = _suppressed(r, ["n"], threshold)
    return make_table(v, m, formats={"n": "count"}, title=f"Quarantined {report.table} rows by reason",
                      threshold=threshold)


def identifier_flags(report, threshold: int = T) -> ReportTable:
    """Columns holding identifier-like values, with counts (values never shown)."""
    f = report.identifier_flags
    f = f[["column", "kind", "n_values"]].copy() if len(f) else pd.DataFrame({"column": [], "kind": [], "n_values": []})
    f["n_values"] = pd.to_numeric(f["n_values"]).astype(float)
    v, m = _suppressed(f, ["n_values"], threshold)
    return make_table(v, m, formats={"n_values": "count"},
                      title=f"Identifier-like values in {report.table} (values not shown)", threshold=threshold)


def missingness(data: pd.DataFrame, threshold: int = T, columns: Sequence[str] | None = None) -> ReportTable:
    """Missing values by column: count and share (counts suppressed)."""
    cols = [c for c in (columns or data.columns) if c in data.columns]
    n = len(data)
    t = pd.DataFrame({"column": cols, "n": float(n),
                      "n_missing": [float(data[c].isna().sum()) for c in cols]})
    t["pct_missing"] = t["n_missing"] / n if n else np.nan
    parts_v, parts_m = [], []
    for i in range(len(t)):  # each column is its own 2-cell table: missing / present
        v, m = _suppressed(t.iloc[[i]], ["n_missing"], threshold, total="n")
        parts_v.append(v)
        parts_m.append(m)
    v = pd.concat(parts_v, ignore_index=True) if parts_v else t
    m = pd.concat(parts_m, ignore_index=True) if parts_m else pd.DataFrame(False, index=t.index, columns=t.columns)
    return make_table(v, m, formats={"n": "count", "n_missing": "count", "pct_missing": "pct"},
                      title="Missing values by column", threshold=threshold)
