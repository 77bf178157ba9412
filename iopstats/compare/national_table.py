"""National discharge table: reason for discharge by type of service at discharge, as SAMHSA lays it out.

The layout of SAMHSA's TEDS-D discharge tables (e.g. TEDS 2004 discharges,
Table 2.5): one row per type of service at discharge, the number of
discharges and the row percentages completed / transferred / dropped out /
terminated / other (incarcerated, death and other reasons together), plus the
median length of stay of all discharges and of each reason.

* **Service rows** group the canonical levels as SAMHSA does: outpatient
  (TEDS 7), intensive outpatient (6), short-term residential (4), long-term
  residential (5), hospital residential (3) and detoxification (1, 2 and 8
  together). Other canonical levels (PHP, early intervention: not TEDS
  settings) are left out. ``level_of_care`` must be the setting at discharge
  for the SAMHSA layout (the :func:`iopstats.io.tedsd.read_tedsd` default).
* **Median LOS** in days. TEDS-D gives stays over 30 days only as bins, so a
  median that falls in a bin is shown as that bin (e.g. ``"61-90"``); an exact
  median is a number of days. Missing LOS bounds are left out.
* **Privacy**: no published cell may show a count of 1-10 or let one be
  derived. A row with fewer than 11 discharges is suppressed whole; a
  percentage whose count is 1-10 is suppressed, then further cells of the row
  are suppressed (smallest counts first, never the completions, which the report
  shows by level elsewhere) until the suppressed counts of the row sum to 11 or
  more and at least two are hidden; a row that cannot be protected so (a small
  completion count, or too few other discharges) is hidden whole. Medians over
  fewer than 11 stays are suppressed. Suppressed cells show ``"<11"``. No total row is shown,
  so no column total can uncover a hidden cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from iopstats._results import Result
from iopstats.exceptions import IopstatsError

__all__ = ["national_discharge_table", "national_table_from_parquet", "national_counts_from_parquet",
           "NationalDischargeTable", "SERVICE_ROWS", "REASON_COLUMNS"]
_COLUMNS = ("level_of_care", "discharge_reason", "los_min", "los_max")

#: Row label -> canonical levels of care (SAMHSA's grouping of the TEDS settings).
SERVICE_ROWS: dict[str, tuple[str, ...]] = {
    "Outpatient": ("outpatient",),
    "Intensive outpatient": ("iop",),
    "Short-term residential": ("residential_short",),
    "Long-term residential": ("residential_long",),
    "Hospital residential": ("inpatient",),
    "Detoxification": ("detox_inpatient", "detox_residential", "detox_ambulatory"),
}
#: Column label -> canonical discharge reasons.
REASON_COLUMNS: dict[str, tuple[str, ...]] = {
    "Completed": ("completed",),
    "Transferred": ("transferred",),
    "Dropped out": ("dropped_out",),
    "Terminated": ("terminated",),
    "Other": ("incarcerated", "died", "other"),
}
SUPPRESSED = "<11"
_BINS = ((31, 45), (46, 60), (61, 90), (91, 120), (121, 180), (181, 365))


@dataclass(frozen=True, repr=False)
class NationalDischargeTable(Result):
    """Row percentages by service at discharge (``summary``, publishable) and the medians of LOS."""

    counts: pd.DataFrame = None  # private: the unsuppressed counts, never publish
    threshold: int = 11


def national_discharge_table(episodes: pd.DataFrame, *, threshold: int = 11,
                             weights: str | None = None) -> NationalDischargeTable:
    """Reason for discharge by type of service at discharge (row %), with median LOS, small cells suppressed.

    Parameters
    ----------
    episodes : DataFrame
        Canonical episodes with ``level_of_care`` (setting at discharge),
        ``discharge_reason``, ``los_min`` and ``los_max`` (e.g.
        ``read_tedsd(...).data``). Not modified.
    threshold : int
        Smallest publishable count (11: no cell of 1-10). Must be at least 11.
    weights : str, optional
        Frequency column when ``episodes`` is a collapsed count table (e.g.
        ``"n"`` of :func:`national_counts_from_parquet`); default one row per
        episode.

    Returns
    -------
    NationalDischargeTable
        ``summary``: one row per service type with ``Discharges`` and the
        percentages Completed, Transferred, Dropped out, Terminated, Other
        (rounded to 0.1), then ``Median LOS, all`` and one median per reason;
        suppressed cells read ``"<11"``. ``counts`` holds the raw counts
        (private, for checks only).

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"level_of_care": ["iop"] * 40 + ["outpatient"] * 30,
    ...                    "discharge_reason": (["completed"] * 20 + ["dropped_out"] * 20
    ...                                         + ["completed"] * 15 + ["transferred"] * 15),
    ...                    "los_min": [40.0] * 70, "los_max": [40.0] * 70})
    >>> t = national_discharge_table(ep)
    >>> t.summary[["Service", "Discharges", "Completed", "Transferred", "Dropped out"]]
                    Service Discharges Completed Transferred Dropped out
    0            Outpatient         30      50.0        50.0         0.0
    1  Intensive outpatient         40      50.0         0.0        50.0
    """
    _check(episodes, threshold, weights)
    w = (pd.to_numeric(episodes[weights], errors="coerce").fillna(0).to_numpy(np.int64) if weights
         else np.ones(len(episodes), dtype=np.int64))
    level = episodes["level_of_care"].astype(object)
    reason = episodes["discharge_reason"].astype(object)
    lo = pd.to_numeric(episodes["los_min"], errors="coerce").to_numpy(float)
    hi = pd.to_numeric(episodes["los_max"], errors="coerce").to_numpy(float)
    row_of = {lv: r for r, lvs in SERVICE_ROWS.items() for lv in lvs}
    col_of = {rs: c for c, rss in REASON_COLUMNS.items() for rs in rss}
    rows = level.map(row_of)
    cols = reason.map(col_of)
    ok = rows.notna().to_numpy() & cols.notna().to_numpy()
    counts = (pd.DataFrame({"r": rows[ok].to_numpy(), "c": cols[ok].to_numpy(), "w": w[ok]})
              .groupby(["r", "c"])["w"].sum().unstack(fill_value=0)
              .reindex(index=list(SERVICE_ROWS), columns=list(REASON_COLUMNS), fill_value=0).astype(np.int64))
    counts.index.name, counts.columns.name = "service", "reason"
    counts = counts[counts.sum(axis=1) > 0]
    hidden = _suppression(counts.to_numpy(), threshold)
    out = []
    for i, svc in enumerate(counts.index):
        c = counts.loc[svc].to_numpy()
        n = int(c.sum())
        rec = {"Service": svc, "Discharges": f"{n:,}" if n >= threshold else SUPPRESSED}
        for j, col in enumerate(counts.columns):
            rec[col] = SUPPRESSED if hidden[i, j] else round(100.0 * c[j] / n, 1)
        sel = ok & (rows == svc).to_numpy()
        rec["Median LOS, all"] = _median(lo[sel], hi[sel], w[sel], threshold) if n >= threshold else SUPPRESSED
        for j, col in enumerate(counts.columns):
            s2 = sel & (cols == col).to_numpy()
            rec[f"Median LOS, {col.lower()}"] = SUPPRESSED if hidden[i, j] else _median(lo[s2], hi[s2], w[s2], threshold)
        out.append(rec)
    summary = pd.DataFrame(out, dtype=object)  # numbers and '<11' side by side, as published
    return NationalDischargeTable(summary=summary, counts=counts, threshold=threshold)


def _check(episodes, threshold, weights=None) -> None:
    if not isinstance(episodes, pd.DataFrame):
        raise IopstatsError("episodes must be a DataFrame of canonical episodes", value=type(episodes).__name__,
                            fix="pass read_tedsd(...).data or load_episodes(...).data")
    missing = [c for c in (*_COLUMNS, *([weights] if weights else [])) if c not in episodes]
    if missing:
        raise IopstatsError(f"episodes lack column(s) {', '.join(missing)}", column=missing[0],
                            fix="pass canonical episodes (read_tedsd(...).data)")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 11:
        raise IopstatsError("threshold must be an integer of at least 11 (no published count of 1-10)",
                            value=threshold, fix="use threshold=11 or more")


def _suppression(counts: np.ndarray, threshold: int) -> np.ndarray:
    """Cells to hide: counts 1-10, then complements in the row until the hidden ones sum to >= threshold.

    Complements are taken from the reasons other than completion (smallest
    first): the national report publishes completions by level elsewhere, so a
    hidden completion count could be recovered there and uncover the rest. When
    that cannot protect a row, every reason cell of the row is hidden.
    """
    hidden = (counts > 0) & (counts < threshold)
    small_row = counts.sum(axis=1) < threshold
    hidden[small_row] = True
    done = list(REASON_COLUMNS).index("Completed")
    for i in range(len(counts)):
        if not hidden[i].any() or hidden[i].all():
            continue
        others = np.ones(counts.shape[1], bool)
        others[done] = False
        while not _protected(counts[i], hidden[i], others, threshold):
            free = others & ~hidden[i]
            if not free.any():
                hidden[i] = True
                break
            j = int(np.argmin(np.where(free, counts[i], np.iinfo(np.int64).max)))
            hidden[i, j] = True
    return hidden


def _protected(row, hidden, others, threshold) -> bool:
    """At least two hidden cells among the other reasons, summing to ``threshold`` or more."""
    h = hidden & others
    return (not hidden[~others].any() or hidden.all()) and h.sum() >= 2 and row[h].sum() >= threshold


def _median(lo: np.ndarray, hi: np.ndarray, w: np.ndarray, threshold: int):
    """Median stay in days, or the LOS bin holding it; suppressed under ``threshold`` stays."""
    keep = ~np.isnan(lo) & ~np.isnan(hi) & (w > 0)
    lo, hi, w = lo[keep], hi[keep], w[keep]
    total = int(w.sum())
    if total == 0:
        return np.nan
    if total < threshold:
        return SUPPRESSED
    order = np.lexsort((hi, lo))
    lo, hi, cw = lo[order], hi[order], np.cumsum(w[order])
    mid = np.searchsorted(cw, [(total - 1) // 2, total // 2], side="right")  # rows holding the middle stays
    if all(lo[m] == hi[m] for m in mid):
        return float(np.mean([lo[m] for m in mid]))
    a, b = lo[mid[0]], hi[mid[1]]
    if np.isinf(b):
        return f"more than {int(a) - 1}"
    return f"{int(a)}-{int(b)}"


def national_counts_from_parquet(path, years=None) -> pd.DataFrame:
    """Collapsed counts (service, reason, LOS bounds, ``n``) of a Parquet episode dataset, batch by batch.

    Reads only the four columns it needs, one record batch at a time, and keeps
    only the collapsed table (a few hundred rows): the episode rows are never
    held together in memory. ``years`` filters the ``discharge_year`` partitions.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(str(path), format="parquet", partitioning="hive")
    except (OSError, ValueError, pa.ArrowInvalid) as exc:
        raise IopstatsError(f"could not open the Parquet dataset: {exc}", file=str(path),
                            fix="pass the folder written by iopstats convert / write_episodes_parquet") from None
    flt = ds.field("discharge_year").isin([int(y) for y in years]) if years else None
    parts = []
    for batch in dataset.to_batches(columns=list(_COLUMNS), filter=flt):
        t = pa.Table.from_batches([batch])
        t = t.set_column(0, "level_of_care", t.column(0).cast(pa.string()))
        t = t.set_column(1, "discharge_reason", t.column(1).cast(pa.string()))
        parts.append(t.group_by(list(_COLUMNS), use_threads=False).aggregate([([], "count_all")]))
    if not parts:
        return pd.DataFrame({**{c: [] for c in _COLUMNS}, "n": []})
    df = pa.concat_tables(parts).to_pandas().rename(columns={"count_all": "n"})
    return df.groupby(list(_COLUMNS), dropna=False, as_index=False)["n"].sum()


def national_table_from_parquet(path, years=None, *, threshold: int = 11) -> NationalDischargeTable:
    """:func:`national_discharge_table` of a Parquet episode dataset (via :func:`national_counts_from_parquet`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from iopstats.io.parquet import write_episodes_parquet
    >>> from iopstats.io.tedsd import read_tedsd
    >>> from iopstats.synthetic.tedsd import write_tedsd_csv
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> ep = read_tedsd(write_tedsd_csv(d / "t.csv", n=5000, year=2019, seed=1)).data
    >>> _ = write_episodes_parquet(ep, d / "ds")
    >>> national_table_from_parquet(d / "ds").summary.equals(national_discharge_table(ep).summary)
    True
    """
    return national_discharge_table(national_counts_from_parquet(path, years), threshold=threshold, weights="n")
