"""Load episodes, follow-ups and sessions into canonical tables.

Each loader reads the source as text (:mod:`iopstats.io.readers`), refuses
identifier columns (:mod:`iopstats.io.identifiers`), applies the mapping
(:mod:`iopstats.io.mapping`) and splits the rows into loaded data and a
quarantine (:mod:`iopstats.io.validate`). The result is a
:class:`~iopstats.io.result.LoadResult`; ``report.n_loaded +
report.n_quarantined == report.n_input`` always.
"""

from __future__ import annotations

from typing import Any

import pandas as pd  # noqa: F401 (used by the doctests)

from iopstats.exceptions import IopstatsError
from iopstats.io.identifiers import check_identifier_columns, scan_identifier_values
from iopstats.io.mapping import Mapping, apply_mapping, read_mapping
from iopstats.io.readers import RawTable, read_source
from iopstats.io.result import LoadResult, make_report
from iopstats.io.schema import TABLES
from iopstats.io.validate import validate_episodes, validate_followups, validate_sessions

__all__ = ["load_episodes", "load_followups", "load_sessions", "LoadResult"]


#: Canonical id columns: text exactly as the source shows it.
ID_COLUMNS = ("client_id", "episode_id")


def _check_float_ids(raw: RawTable, m: Mapping, table: str) -> None:
    """Refuse ids stored as floating-point numbers (``101.0``): the text the site wrote is lost."""
    for canon in ID_COLUMNS:
        if canon not in {c.name for c in TABLES[table]}:
            continue
        src = m.columns.get(canon, canon)
        if src in raw.float_columns:
            s = raw.frame[src]
            shown = next((v for v in s if v != ""), "")
            raise IopstatsError(
                f"{canon} is stored as floating-point numbers (e.g. {shown}); ids must be text exactly as the "
                "site wrote them (a float loses leading zeros and, past 2**53, digits)",
                file=raw.name, column=src, value=shown,
                fix="store the id column as strings in the export (in pandas: df[col] = df[col].astype('Int64')"
                ".astype('string') before to_parquet, if the ids really are whole numbers)",
            )


def _load(table: str, source: Any, mapping: Any, episodes: Any = None, header_row: int | None = None) -> LoadResult:
    m: Mapping = read_mapping(mapping, table)
    raw = read_source(
        source,
        format=m.source.get("format"),
        sheet=m.source.get("sheet"),
        delimiter=m.source.get("delimiter"),
        encoding=m.source.get("encoding"),
        header_row=header_row if header_row is not None else m.source.get("header_row"),
    )
    frame = raw.frame
    check_identifier_columns(frame.columns, m.drop, file=raw.name)
    canonical, dropped, notes = apply_mapping(frame, m, table, file=raw.name)
    _check_float_ids(raw, m, table)
    notes = list(raw.notes) + notes
    repairs: list[dict] = []

    required = [c.name for c in TABLES[table] if c.required]
    if table == "followups" and "followup_date" in canonical.columns:
        required.remove("days_after_discharge")
    missing = [c for c in required if c not in canonical.columns]
    if missing:
        found = list(frame.columns)
        hint = ""
        if len(found) == 1 and any(d in found[0] for d in ",;\t|"):
            hint = " The file has a single column whose name contains a delimiter: set [source] delimiter."
        raise IopstatsError(
            f"required {table} column(s) missing: {', '.join(missing)}; columns found: {found[:30]}.{hint}",
            file=raw.name,
            column=missing[0],
            fix="rename the columns to the canonical names (iopstats dictionary) or load with a mapping "
            "whose [columns] section names them",
        )
    if m.dates.kind == "day_offset":
        notes.append(
            f"dates are day numbers placed on a nominal calendar from {m.dates.anchor.date()}: "
            "calendar periods (admission month, year) are nominal, only intervals are real."
        )
    kept = frame.drop(columns=list(dropped))
    kwargs = dict(raw=kept, dates=m.dates, as_of=m.as_of, notes=notes, repairs=repairs, row_flags=raw.row_flags)
    if table == "episodes":
        data, quarantine = validate_episodes(canonical, raw.name, **kwargs)
    elif table == "followups":
        data, quarantine = validate_followups(canonical, raw.name, episodes=episodes, **kwargs)
    else:
        data, quarantine = validate_sessions(canonical, raw.name, episodes=episodes, **kwargs)
    flags = scan_identifier_values(kept)  # every remaining source column, all rows
    report = make_report(
        raw.name, table, len(frame), data, quarantine, identifier_flags=flags,
        dropped_columns=dropped, notes=notes, repairs=repairs, encoding_fallback_rows=raw.fallback_rows,
    )
    if report.n_loaded + report.n_quarantined != report.n_input:  # pragma: no cover - invariant
        raise IopstatsError("internal error: loaded + quarantined rows differ from input rows", file=raw.name,
                            fix="report this as an iopstats bug with the file's shape")
    return LoadResult(data, quarantine, report, extras={"mapping": m.name})


def load_episodes(source: Any, mapping: Any = None, *, header_row: int | None = None) -> LoadResult:
    """Load treatment episodes into the canonical episodes table.

    Parameters
    ----------
    source : path or DataFrame
        CSV (delimiter sniffed; each line UTF-8, else cp1252), Parquet, ``.xlsx``
        or a DataFrame (never modified). Without a mapping, columns must have
        canonical names (``iopstats dictionary --table episodes``).
    mapping : path to a TOML file, dict, or None
        See :mod:`iopstats.io.mapping`.
    header_row : int, optional
        1-based row of the column names when title rows sit above them (CSV,
        Excel); overrides the mapping's ``[source] header_row``.

    Returns
    -------
    LoadResult
        ``.data`` canonical episodes, ``.quarantine`` rejected rows with reason
        codes (:mod:`iopstats.io.validate`), ``.report`` counts and notes.

    Raises
    ------
    IopstatsError
        Unreadable file (a NUL byte, bad quoting, a repeated or missing column
        name), identifier columns not dropped, missing required columns, ids
        stored as floating-point numbers, bad mapping.

    Examples
    --------
    >>> src = pd.DataFrame({"client_id": ["c1", "c2"], "episode_id": ["e1", "e2"],
    ...     "level_of_care": ["iop", "residential"], "admit_date": ["2024-01-02", "2024-01-03"]})
    >>> res = load_episodes(src)
    >>> res.report.n_input, res.report.n_loaded, res.report.n_quarantined
    (2, 1, 1)
    >>> res.quarantine[["row", "reason", "column", "value"]]
       row        reason         column        value
    0    2  unknown_code  level_of_care  residential
    """
    return _load("episodes", source, mapping, header_row=header_row)


def load_followups(source: Any, mapping: Any = None, episodes: Any = None, *,
                   header_row: int | None = None) -> LoadResult:
    """Load post-discharge follow-ups (self-report contacts, urine screens).

    Parameters
    ----------
    source, mapping
        As in :func:`load_episodes`.
    episodes : LoadResult or DataFrame, optional
        Canonical episodes: follow-ups of other episodes are quarantined as
        ``orphan_followup``; ``days_after_discharge`` may then be derived from
        ``followup_date``. Urine screens taken before discharge are quarantined
        as ``in_treatment_screen`` (out of scope, not errors).

    Examples
    --------
    >>> fu = pd.DataFrame({"episode_id": ["e1"], "days_after_discharge": [30],
    ...                    "responded": ["yes"], "any_use": ["no"], "source": ["self_report"]})
    >>> load_followups(fu).data.dtypes["responded"]
    BooleanDtype
    """
    return _load("followups", source, mapping, episodes, header_row)


def load_sessions(source: Any, mapping: Any = None, episodes: Any = None, *,
                  header_row: int | None = None) -> LoadResult:
    """Load scheduled/attended treatment sessions.

    Parameters are those of :func:`load_followups`. With ``episodes``,
    sessions of other episodes are ``orphan_session`` and sessions before
    admission or after discharge + 1 day are ``session_outside_episode``.

    Examples
    --------
    >>> s = pd.DataFrame({"episode_id": ["e1", "e1"], "session_date": ["2024-01-02", "2024-13-01"],
    ...                   "attended": ["1", "0"]})
    >>> res = load_sessions(s)
    >>> res.report.n_loaded, res.quarantine.reason.tolist()
    (1, ['unparseable_date'])
    """
    return _load("sessions", source, mapping, episodes, header_row)
