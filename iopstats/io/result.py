"""Results of a load: the canonical table, the quarantine and the load report.

Every input row ends in exactly one of ``data`` or ``quarantine``:
``report.n_loaded + report.n_quarantined == report.n_input`` always.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["QUARANTINE_META", "LoadReport", "LoadResult", "make_report"]

#: Leading columns of every quarantine table; the raw input fields follow.
QUARANTINE_META = ("row", "reason", "column", "value", "detail")


@dataclass(frozen=True)
class LoadReport:
    """What happened to every input row of one load.

    Attributes
    ----------
    source : str
        File name (or ``"<DataFrame>"``).
    table : str
        ``"episodes"``, ``"followups"`` or ``"sessions"``.
    n_input, n_loaded, n_quarantined : int
        Row counts; ``n_loaded + n_quarantined == n_input``.
    reasons : DataFrame
        Quarantine counts by ``reason`` and ``column`` (columns: reason, column, n).
    identifier_flags : DataFrame
        Text columns holding values that look like identifiers
        (columns: column, kind, n_values). Values themselves are never shown.
    dropped_columns : tuple of str
        Columns dropped by the mapping (identifiers, unused fields).
    notes : tuple of str
        Remarks the evaluator should read (top-coded ages, nominal dates, ...).
    repairs : DataFrame
        Values loaded after a stated change, counted per column (columns: kind,
        column, n): ``unknown_code`` (an optional covariate's code not in the
        code set, kept as ``"unknown"``), ``whitespace_trimmed``.
    encoding_fallback_rows : tuple of int
        1-based data rows that were not valid UTF-8 and were decoded as cp1252.
    """

    source: str
    table: str
    n_input: int
    n_loaded: int
    n_quarantined: int
    reasons: pd.DataFrame
    identifier_flags: pd.DataFrame
    dropped_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    repairs: pd.DataFrame = field(default_factory=lambda: _empty_repairs())
    encoding_fallback_rows: tuple[int, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """Counts as a one-row-per-measure table."""
        return pd.DataFrame(
            {
                "measure": ["input rows", "loaded", "quarantined"],
                "n": [self.n_input, self.n_loaded, self.n_quarantined],
            }
        )

    def to_html(self) -> str:
        ok = self.n_loaded + self.n_quarantined == self.n_input
        parts = [
            f"<h4>Load report: {html.escape(self.table)} from {html.escape(self.source)}</h4>",
            f"<p>{self.n_input:,} input rows: {self.n_loaded:,} loaded, "
            f"{self.n_quarantined:,} quarantined{'' if ok else ' (COUNTS DO NOT ADD UP)'}.</p>",
        ]
        if len(self.reasons):
            parts.append("<p>Quarantined rows by reason:</p>")
            parts.append(self.reasons.to_html(index=False, border=0))
        if len(self.repairs):
            parts.append("<p>Values loaded after a stated change:</p>")
            parts.append(self.repairs.to_html(index=False, border=0))
        if len(self.identifier_flags):
            parts.append("<p>Identifier-like values found (values not shown):</p>")
            parts.append(self.identifier_flags.to_html(index=False, border=0))
        if self.dropped_columns:
            parts.append(
                "<p>Columns dropped by the mapping: "
                + html.escape(", ".join(self.dropped_columns))
                + "</p>"
            )
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        lines = [
            f"Load report: {self.table} from {self.source}",
            f"  {self.n_input:,} input rows: {self.n_loaded:,} loaded, {self.n_quarantined:,} quarantined",
        ]
        for r in self.reasons.itertuples(index=False):
            lines.append(f"  - {r.reason} ({r.column}): {r.n:,}")
        for r in self.repairs.itertuples(index=False):
            lines.append(f"  ~ {r.kind} ({r.column}): {r.n:,}")
        for r in self.identifier_flags.itertuples(index=False):
            lines.append(f"  ! identifier-like values: {r.column} looks like {r.kind} in {r.n_values:,} rows")
        if self.dropped_columns:
            lines.append("  dropped columns: " + ", ".join(self.dropped_columns))
        lines += [f"  * {n}" for n in self.notes]
        return "\n".join(lines)


def make_report(
    source: str,
    table: str,
    n_input: int,
    data: pd.DataFrame,
    quarantine: pd.DataFrame,
    identifier_flags: pd.DataFrame | None = None,
    dropped_columns=(),
    notes=(),
    repairs=(),
    encoding_fallback_rows=(),
) -> LoadReport:
    """Build a :class:`LoadReport` from the two output tables."""
    if len(quarantine):
        reasons = (
            quarantine.groupby(["reason", "column"], dropna=False, observed=True)
            .size()
            .rename("n")
            .reset_index()
            .sort_values(["n", "reason"], ascending=[False, True], ignore_index=True)
        )
    else:
        reasons = pd.DataFrame({"reason": pd.Series([], dtype=object), "column": pd.Series([], dtype=object), "n": pd.Series([], dtype=int)})
    if identifier_flags is None:
        identifier_flags = pd.DataFrame({"column": [], "kind": [], "n_values": []})
    return LoadReport(
        source=str(source),
        table=table,
        n_input=int(n_input),
        n_loaded=len(data),
        n_quarantined=len(quarantine),
        reasons=reasons,
        identifier_flags=identifier_flags,
        dropped_columns=tuple(dropped_columns),
        notes=tuple(notes),
        repairs=_repairs_frame(repairs),
        encoding_fallback_rows=tuple(int(r) for r in encoding_fallback_rows),
    )


def _empty_repairs() -> pd.DataFrame:
    return pd.DataFrame({"kind": pd.Series([], dtype=object), "column": pd.Series([], dtype=object),
                         "n": pd.Series([], dtype="int64")})


def _repairs_frame(repairs) -> pd.DataFrame:
    """Sum repair records ``{"kind", "column", "n"}`` per kind and column."""
    rows = list(repairs)
    if not rows:
        return _empty_repairs()
    df = pd.DataFrame(rows, columns=["kind", "column", "n"])
    return df.groupby(["kind", "column"], sort=True, as_index=False)["n"].sum().astype({"n": "int64"})


@dataclass(frozen=True)
class LoadResult:
    """A canonical table, its quarantine and the load report.

    Unpacks as ``data, report = result`` is *not* supported on purpose: use
    the attributes, so code reads the same everywhere.
    """

    data: pd.DataFrame
    quarantine: pd.DataFrame
    report: LoadReport
    extras: dict = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return self.report.to_html()

    def __repr__(self) -> str:
        return str(self.report)
