"""Load repeated outcome measures (instruments, urine screens, TLFB) into the canonical measures table.

The canonical ``measures`` table (:data:`iopstats.io.schema.MEASURE_COLUMNS`) is
long: one row per episode, day, instrument and item. Items are instrument
responses (``phq9_1`` ... ``phq9_9``), a total score (``item = "total"``), or,
for urine screens and timeline follow-back, the substance with ``value`` 1
(positive / use day) or 0 (negative). Scoring item rows into totals is
:func:`iopstats.score_instrument`.

:func:`load_measures` has the guarantees of the other loaders: the source is
read as text, identifier columns are refused, a TOML mapping renames columns
and sets constants, and every input row is loaded or quarantined with a reason
(``report.n_loaded + report.n_quarantined == report.n_input``).

Quarantine reasons, in check order
----------------------------------

======================  ==========================================================
reason                  meaning
======================  ==========================================================
missing_required        episode_id, instrument, item or value empty; or neither
                        ``measure_date`` nor ``day`` given (nor derivable)
unparseable_date        ``measure_date`` not a date (or whole day number for day offsets)
unparseable_number      ``value`` not a finite number, ``day`` not a whole number
unknown_code            ``source`` not one of self_report, clinician, urine_test, tlfb
orphan_measure          episode_id not among the episodes given with ``episodes=``
future_date             a date after ``as_of`` (the mapping's, else today)
day_inconsistent        both ``day`` and ``measure_date`` given and they disagree with
                        the episode's admission date
duplicate_measure       a later row repeating episode, instrument, item and day (or date)
                        (the first row in input order is kept)
======================  ==========================================================

Measurements before admission (baseline screening) and after discharge
(follow-up) are valid and kept: windows are chosen by the analysis
(:func:`iopstats.change_outcomes`), not by the loader. Values are never
clipped: out-of-range item responses are quarantined when scored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.io.identifiers import check_identifier_columns, scan_identifier_values
from iopstats.io.mapping import DateRule, read_mapping, apply_mapping
from iopstats.io.readers import is_missing, read_source
from iopstats.io.result import LoadResult, make_report
from iopstats.io import validate as _v

__all__ = ["load_measures", "validate_measures", "MEASURE_CHECKS"]

MEASURE_CHECKS: tuple[str, ...] = (
    *_v._READ, "orphan_measure", "future_date", "day_inconsistent", "duplicate_measure",
)


def _derive_days(p: dict, text: pd.DataFrame, checks, eps: pd.DataFrame | None):
    """Day from admission and date, each filled from the other when the episode is known."""
    n = len(text)
    day = p.get("day", pd.Series(np.nan, index=text.index))
    date = p.get("measure_date", pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]"))
    if eps is not None:
        adm = pd.to_datetime(p["episode_id"].map(eps["admit_date"]))
        from_date = (date - adm).dt.days.astype(float)
        both = day.notna() & from_date.notna()
        checks.add("day_inconsistent", "day", (both & (day != from_date)).to_numpy(),
                   text["day"] if "day" in text.columns else None,
                   "day differs from measure_date minus the episode's admission date")
        date = date.where(date.notna(), adm + pd.to_timedelta(day, unit="D"))
        day = day.where(day.notna(), from_date)
    given_day = ~is_missing(text["day"]).to_numpy() if "day" in text.columns else np.zeros(n, bool)
    given_date = ~is_missing(text["measure_date"]).to_numpy() if "measure_date" in text.columns else np.zeros(n, bool)
    neither = ~given_day & ~given_date
    checks.add("missing_required", "measure_date", neither, None, "give measure_date or day")
    return day, date


def validate_measures(
    df: pd.DataFrame,
    source: str = "<DataFrame>",
    *,
    episodes: Any = None,
    raw: pd.DataFrame | None = None,
    dates: DateRule | None = None,
    as_of: Any = None,
    row_numbers=None,
    notes: list | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check canonical measure rows; return ``(loaded, quarantine)``.

    Parameters are those of :func:`iopstats.io.validate.validate_followups`.
    With ``episodes``, ``day`` is derived from ``measure_date`` and the
    admission date (and the reverse), and measures of unknown episodes are
    ``orphan_measure``.

    Examples
    --------
    >>> df = pd.DataFrame({"episode_id": ["e1", "e1", "e1", "e1"], "day": ["0", "14", "14", "x"],
    ...     "instrument": ["phq9", "phq9", "phq9", "phq9"], "item": ["total"] * 4,
    ...     "value": ["18", "9", "10", "7"]})
    >>> loaded, q = validate_measures(df)
    >>> loaded[["day", "value"]].to_dict("list")
    {'day': [0, 14], 'value': [18.0, 9.0]}
    >>> q.reason.tolist()
    ['duplicate_measure', 'unparseable_number']
    """
    text, raw_s, rows, checks, p = _v._start(df, "measures", source, raw, row_numbers, dates, MEASURE_CHECKS)
    eps = _v._episode_frame(episodes) if episodes is not None else None
    if eps is not None:
        _v._check_orphans(checks, "orphan_measure", p, text, eps)
    day, date = _derive_days(p, text, checks, eps)
    _v._check_future(checks, p, text, ("measure_date",), as_of)
    key = day.map(lambda v: "" if pd.isna(v) else f"d{int(v)}")
    key = key.where(key != "", date.dt.strftime("%Y-%m-%d").fillna(""))
    frame = pd.DataFrame({"e": p["episode_id"], "i": p["instrument"], "t": p["item"], "k": key})
    complete = frame.notna().all(axis=1) & (key != "")
    dup = (complete & frame.duplicated(keep="first")).to_numpy()
    checks.add("duplicate_measure", "item", dup, text["item"], "same episode, instrument, item and day; first kept")
    return _v._finish("measures", text, raw_s, rows, p, checks,
                      {"day": day.astype("Int64"), "measure_date": date})


def load_measures(source: Any, mapping: Any = None, episodes: Any = None) -> LoadResult:
    """Load repeated outcome measures into the canonical measures table.

    Parameters
    ----------
    source : path or DataFrame
        CSV, Parquet, ``.xlsx`` or a DataFrame (never modified), one row per
        measurement (long format). Without a mapping, columns must have
        canonical names (``iopstats dictionary --table measures``).
    mapping : path to a TOML file, dict, or None
        See :mod:`iopstats.io.mapping` (``table = "measures"``). Constants
        set one value for every row (``instrument = "uds"``).
    episodes : LoadResult or DataFrame, optional
        Canonical episodes: measures of other episodes are quarantined as
        ``orphan_measure`` and ``day`` (days from admission) is derived.

    Returns
    -------
    LoadResult
        ``.data`` canonical measures, ``.quarantine`` rejected rows with
        reasons (module docstring), ``.report`` counts and notes.

    Raises
    ------
    IopstatsError
        Unreadable file, identifier columns not dropped, required columns
        missing, bad mapping.

    Examples
    --------
    >>> src = pd.DataFrame({"episode_id": ["e1", "e1", "e2"], "day": ["0", "28", "0"],
    ...     "instrument": ["phq9"] * 3, "item": ["total"] * 3, "value": ["17", "6", "40"]})
    >>> res = load_measures(src)
    >>> res.report.n_input, res.report.n_loaded, res.report.n_quarantined
    (3, 3, 0)
    """
    m = read_mapping(mapping, "measures")
    raw = read_source(source, format=m.source.get("format"), sheet=m.source.get("sheet"),
                      delimiter=m.source.get("delimiter"), encoding=m.source.get("encoding"))
    frame = raw.frame
    check_identifier_columns(frame.columns, m.drop, file=raw.name)
    canonical, dropped, notes = apply_mapping(frame, m, "measures", file=raw.name)
    notes = list(raw.notes) + notes
    missing = [c for c in ("episode_id", "instrument", "item", "value") if c not in canonical.columns]
    if not {"measure_date", "day"} & set(canonical.columns):
        missing.append("measure_date or day")
    if missing:
        raise IopstatsError(
            f"required measures column(s) missing: {', '.join(missing)}; columns found: {list(frame.columns)[:30]}",
            file=raw.name, column=missing[0],
            fix="rename the columns to the canonical names (iopstats dictionary --table measures) or load with "
                "a mapping whose [columns] / [constants] sections name them")
    kept = frame.drop(columns=list(dropped))
    data, quarantine = validate_measures(canonical, raw.name, episodes=episodes, raw=kept, dates=m.dates,
                                         as_of=m.as_of, notes=notes)
    if m.dates.kind == "day_offset":
        notes.append(f"dates are day numbers placed on a nominal calendar from {m.dates.anchor.date()}: "
                     "only intervals are real.")
    report = make_report(raw.name, "measures", len(frame), data, quarantine,
                         identifier_flags=scan_identifier_values(kept), dropped_columns=dropped, notes=notes)
    if report.n_loaded + report.n_quarantined != report.n_input:  # pragma: no cover - invariant
        raise IopstatsError("internal error: loaded + quarantined rows differ from input rows", file=raw.name,
                            fix="report this as an iopstats bug with the file's shape")
    return LoadResult(data, quarantine, report, extras={"mapping": m.name})
