'''TOML mappings from a site's export to the canonical tables.

A mapping tells the loader how to read one source table and turn its column
names and codes into the canonical ones of :mod:`iopstats.io.schema`. Without a
mapping the source must already use canonical column names and codes.

Full example (see also ``iopstats/io/mappings/example_ehr.toml``)::

    table = "episodes"              # episodes | followups | sessions (optional check)
    drop = ["Patient Name", "SSN", "DOB", "Phone"]   # identifier columns to discard
    as_of = "2024-06-30"            # dates after this are future_date (default: today)

    [source]
    format = "excel"                # csv | parquet | excel (default: from the extension)
    sheet = "Episodes"              # Excel sheet (default: the first)
    delimiter = ";"                 # CSV delimiter (default: sniffed)
    encoding = "cp1252"             # CSV encoding (default: UTF-8, else cp1252 line by line)
    header_row = 3                  # 1-based row of the column names (title rows above)

    [columns]                       # canonical name = "source column"
    client_id = "PatientKey"
    episode_id = "EncounterID"
    level_of_care = "ASAM Level"
    admit_date = "Admit Dt"
    discharge_date = "Disch Dt"
    discharge_reason = "Disch Reason"
    age = "Age"

    [codes.level_of_care]           # "source value" = "canonical value"
    crosswalk = "asam3"             # or "asam4" / "teds": codes not listed below
    "IOP" = "iop"                   #   go through iopstats.io.crosswalk

    [codes.discharge_reason]
    "Completed Tx" = "completed"
    "AMA" = "dropped_out"

    [dates]
    format = "%m/%d/%Y"             # strptime format of every date column
    # kind = "day_offset"           # or: day numbers from a per-client anchor
    # anchor_date = "2000-01-01"    #     placed on a nominal calendar

    [constants]                     # canonical column = one value for every row
    program = "Main St IOP"
    site = "Main St"

Rules
-----
* A canonical column not named in ``[columns]`` is taken from a source column
  of the same name when there is one.
* Code lookups try the exact source value, then a case-insensitive match; a
  value that is already a canonical code passes. Anything else is
  ``unknown_code``: quarantined in the required and outcome columns
  (level_of_care, discharge_reason, use_freq_discharge, follow-up source, yes/no
  columns, ordered covariates), but kept as ``"unknown"`` in the nominal
  optional covariates (sex, race, ethnicity, primary_substance, referral_source,
  payer, employment, living_arrangement, modality), counted per column in
  ``report.repairs``. A target of ``""`` means "treat as missing" (e.g.
  ``"Refused/missing" = ""``); a missing required value is then
  ``missing_required``. Boolean columns (``attended``, ``responded``, ...) may
  have code tables too, with targets ``true``/``false``.
* One source column feeds one canonical column (except ``client_id`` and
  ``episode_id``, which may share a column when every client has one episode);
  a column in ``drop`` cannot be mapped back in.
* ``[source] header_row`` (a whole number, 1-based) is the row of the column
  names when an export has title rows above them.
* A bad mapping (unknown key or canonical column, a source column missing from
  the file, a code target outside the code set, the two rules above) raises
  :class:`~iopstats.IopstatsError` naming the mapping file, the key and the fix.
'''

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.io import crosswalk as cw
from iopstats.io.readers import check_header_row
from iopstats.io.schema import TABLES

__all__ = ["Mapping", "DateRule", "read_mapping", "apply_mapping", "BOOLEAN_TRUE", "BOOLEAN_FALSE", "MAPPINGS_DIR"]

#: Folder of the mappings shipped with iopstats.
MAPPINGS_DIR = Path(__file__).parent / "mappings"

BOOLEAN_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
BOOLEAN_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})

_TOP_KEYS = {"table", "drop", "as_of", "source", "columns", "codes", "dates", "constants"}
_SOURCE_KEYS = {"format", "sheet", "delimiter", "encoding", "header_row"}


@dataclass(frozen=True)
class DateRule:
    """How date columns are written in the source.

    ``kind="calendar"``: dates, ISO 8601 unless ``format`` (strptime) is given.
    ``kind="day_offset"``: integer day numbers added to ``anchor``.
    """

    kind: str = "calendar"
    format: str | None = None
    anchor: pd.Timestamp | None = None


@dataclass(frozen=True)
class Mapping:
    """A parsed, self-consistent mapping (see the module docstring)."""

    name: str = "<no mapping>"
    table: str | None = None
    source: dict[str, str] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    crosswalk: str | None = None
    dates: DateRule = field(default_factory=DateRule)
    constants: dict[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    as_of: pd.Timestamp | None = None


def _err(msg: str, name: str, key: str, fix: str, value: Any = None) -> IopstatsError:
    return IopstatsError(f"bad mapping: {msg}", file=name, column=key, value=value, fix=fix)


def _parse_day(value: Any, name: str, key: str) -> pd.Timestamp:
    if isinstance(value, (dt.date, dt.datetime)):
        return pd.Timestamp(value).normalize()
    try:
        return pd.Timestamp(dt.date.fromisoformat(str(value)))
    except ValueError:
        raise _err("not a date", name, key, "write the date as YYYY-MM-DD", value) from None


def _section(raw: dict, key: str, name: str, fix: str) -> dict:
    """The ``[key]`` table of a mapping (empty when absent); anything else is a bad mapping."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _err(f"[{key}] must be a table", name, key, fix, value)
    return value


def _string_entries(section: dict, key: str, name: str, allowed, unknown: str, fix: str, *,
                    what: str = "the value", allow_empty: bool = False) -> None:
    """Check that every ``[key]`` entry is an allowed key holding a string (non-empty unless allowed)."""
    for k, v in section.items():
        if k not in allowed:
            raise _err(unknown.format(k=k), name, f"{key}.{k}", fix)
        if not isinstance(v, str) or not (v or allow_empty):
            must = "must be a string" if allow_empty else "must be a non-empty string"
            raise _err(f"{what} {must}", name, f"{key}.{k}", f"quote {what}", v)


def _check_column_sources(columns: dict[str, str], drop, name: str, implicit: frozenset = frozenset()) -> None:
    """One source column feeds one canonical column, and never a dropped one.

    The one exception is ``client_id`` and ``episode_id`` from the same column:
    a source with one episode per client (CTN-0094).
    """
    by_source: dict[str, str] = {}
    for canon, src in columns.items():
        if src in drop:
            raise _err(f"source column {src!r} is in the drop list but mapped to {canon}", name, f"columns.{canon}",
                       f"remove {src!r} from drop, or map {canon} from another column; columns in drop "
                       "(identifiers) never enter iopstats", src)
        if src in by_source and {by_source[src], canon} == {"client_id", "episode_id"}:
            continue  # one episode per client (research extracts): the one allowed pair
        if src in by_source:
            how = "by the same name" if by_source[src] in implicit else "in [columns]"
            raise _err(f"{by_source[src]} ({how}) and {canon} would both come from source column {src!r}", name,
                       f"columns.{canon}", f"map {canon} from its own source column (one source column feeds one "
                       "canonical column; copy the column in the export if both really are the same)", src)
        by_source[src] = canon


def _column_kinds(table: str) -> dict[str, Any]:
    return {c.name: c for c in TABLES[table]}


def read_mapping(mapping: str | os.PathLike | dict | Mapping | None, table: str) -> Mapping:
    """Parse and check a mapping (TOML path or dict) for ``table``.

    Checks everything that does not need the data: known sections and keys,
    canonical column names, code targets in the code sets, the crosswalk
    system, date rules and constants. Source column names are checked against
    the file by :func:`apply_mapping`.

    Parameters
    ----------
    mapping : path, dict, Mapping or None
        ``None`` gives the empty mapping (canonical names expected).
    table : {"episodes", "followups", "sessions"}

    Examples
    --------
    >>> m = read_mapping({"columns": {"episode_id": "EncID"},
    ...                   "codes": {"level_of_care": {"IOP": "iop"}}}, "episodes")
    >>> m.columns, m.codes
    ({'episode_id': 'EncID'}, {'level_of_care': {'IOP': 'iop'}})
    >>> read_mapping({"columns": {"episode": "EncID"}}, "episodes")
    Traceback (most recent call last):
    ...
    iopstats.exceptions.IopstatsError: bad mapping: 'episode' is not a canonical episodes column (file '<dict>', column 'columns.episode'). Fix: use one of client_id, episode_id, level_of_care, admit_date, discharge_date, discharge_reason, los_days, los_min, los_max, program, site, modality, age, age_group, sex, race, ethnicity, primary_substance, use_freq_admit, use_freq_discharge, psych_problem, opioid_medication, prior_treatment, referral_source, payer, employment, living_arrangement
    """
    if table not in TABLES:
        raise IopstatsError(f"unknown table {table!r}", fix="use 'episodes', 'followups' or 'sessions'")
    if mapping is None:
        return Mapping(table=table)
    if isinstance(mapping, Mapping):
        if mapping.table not in (None, table):
            raise _err(f"mapping is for the {mapping.table} table, not {table}", mapping.name, "table",
                       f"use a mapping written for {table}")
        return mapping
    if isinstance(mapping, dict):
        name, raw = "<dict>", mapping
    elif isinstance(mapping, (str, os.PathLike)):
        path = Path(mapping)
        name = str(path)
        if not path.is_file():
            raise IopstatsError("mapping file not found", file=name, fix="check the path of the TOML mapping")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise IopstatsError(f"the mapping is not valid TOML: {exc}", file=name,
                                fix="fix the TOML syntax (quote source column names and values)") from None
        except OSError as exc:
            raise IopstatsError(f"cannot read the mapping: {exc.strerror or exc}", file=name,
                                fix="check the file's permissions") from None
    else:
        raise IopstatsError(f"a mapping must be a TOML path or a dict, not {type(mapping).__name__}",
                            fix="pass mapping='site.toml' or a dict with the same structure")

    unknown = set(raw) - _TOP_KEYS
    if unknown:
        k = sorted(unknown, key=str)[0]
        raise _err(f"unknown key {k!r}", name, str(k), f"use only {sorted(_TOP_KEYS)}")
    cols = _column_kinds(table)
    canon = ", ".join(cols)

    declared = raw.get("table")
    if declared is not None and declared != table:
        raise _err(f"mapping is for the {declared!r} table, not {table!r}", name, "table",
                   f"use a mapping written for {table}, or load with the matching function", declared)

    source = dict(_section(raw, "source", name, "write [source] with format/sheet/delimiter/encoding/header_row"))
    header_row = source.pop("header_row", None)
    _string_entries(source, "source", name, _SOURCE_KEYS, "unknown key {k!r} in [source]", f"use {sorted(_SOURCE_KEYS)}",
                    allow_empty=True)
    if header_row is not None:
        source["header_row"] = check_header_row(header_row, name)
    if source.get("format") not in (None, "csv", "parquet", "excel"):
        raise _err("unknown format", name, "source.format", "use 'csv', 'parquet' or 'excel'", source["format"])

    columns = _section(raw, "columns", name, 'write canonical_name = "source column"')
    not_canonical = "{k!r} is not a canonical " + table + " column"
    _string_entries(columns, "columns", name, cols, not_canonical, f"use one of {canon}", what="the source column name")
    drop = raw.get("drop", [])
    if not isinstance(drop, list) or not all(isinstance(d, str) for d in drop):
        raise _err("drop must be a list of column names", name, "drop", 'write drop = ["Name", "SSN"]', drop)
    _check_column_sources(columns, drop, name)

    codes: dict[str, dict[str, str]] = {}
    crosswalk = None
    for col, table_ in _section(raw, "codes", name, 'write [codes.<column>] tables of "source" = "canonical"').items():
        if col not in cols:
            raise _err(not_canonical.format(k=col), name, f"codes.{col}", f"use one of {canon}")
        c = cols[col]
        if c.dtype not in ("category", "boolean"):
            raise _err(f"{col!r} is not a coded column", name, f"codes.{col}",
                       "code tables apply to categorical and yes/no columns only")
        if not isinstance(table_, dict):
            raise _err("code table must be a TOML table", name, f"codes.{col}", f'write [codes.{col}] with "source" = "canonical" lines')
        entries = {}
        for src, tgt in table_.items():
            key = f"codes.{col}.{src}"
            if src == "crosswalk":
                if col != "level_of_care":
                    raise _err("a crosswalk applies to level_of_care only", name, key, "remove it")
                if tgt not in ("asam3", "asam4", "teds"):
                    raise _err("unknown crosswalk", name, key, "use 'asam3', 'asam4' or 'teds'", tgt)
                crosswalk = tgt
                continue
            tgt_s = str(tgt).strip().lower() if isinstance(tgt, (str, bool)) else None
            if tgt_s == "" and isinstance(tgt, str):
                entries[str(src)] = ""  # explicit "treat as missing"
            elif c.dtype == "boolean":
                if tgt_s not in BOOLEAN_TRUE | BOOLEAN_FALSE:
                    raise _err("a yes/no column maps to true or false", name, key, 'use "true" or "false"', tgt)
                entries[str(src)] = "true" if tgt_s in BOOLEAN_TRUE else "false"
            else:
                if not isinstance(tgt, str) or tgt not in c.codes:
                    raise _err("target is not a canonical code", name, key, f"use one of {', '.join(c.codes)}", tgt)
                entries[str(src)] = tgt
        codes[col] = entries

    dates_raw = _section(raw, "dates", name, "write [dates] with format or kind/anchor_date")
    extra = set(dates_raw) - {"format", "kind", "anchor_date"}
    if extra:
        k = sorted(extra)[0]
        raise _err(f"unknown key {k!r} in [dates]", name, f"dates.{k}", "use format, kind, anchor_date")
    kind = dates_raw.get("kind", "calendar")
    if kind not in ("calendar", "day_offset"):
        raise _err("unknown date kind", name, "dates.kind", "use 'calendar' or 'day_offset'", kind)
    fmt = dates_raw.get("format")
    if fmt is not None:
        if kind != "calendar" or not isinstance(fmt, str) or "%" not in fmt:
            raise _err("format must be a strptime pattern for calendar dates", name, "dates.format",
                       'write e.g. format = "%m/%d/%Y"', fmt)
        try:
            dt.datetime.strptime(dt.date(2001, 2, 3).strftime(fmt), fmt)
        except ValueError:
            raise _err("format is not a usable strptime pattern", name, "dates.format",
                       'write e.g. format = "%m/%d/%Y"', fmt) from None
    anchor = None
    if kind == "day_offset":
        if "anchor_date" not in dates_raw:
            raise _err("day_offset dates need an anchor_date", name, "dates.anchor_date",
                       'add anchor_date = "2000-01-01" (a nominal calendar start)')
        anchor = _parse_day(dates_raw["anchor_date"], name, "dates.anchor_date")
    elif "anchor_date" in dates_raw:
        raise _err("anchor_date only applies to kind = 'day_offset'", name, "dates.anchor_date",
                   'add kind = "day_offset" or remove anchor_date')

    constants = {}
    for k, v in _section(raw, "constants", name, 'write [constants] with canonical_column = "value"').items():
        if k not in cols:
            raise _err(not_canonical.format(k=k), name, f"constants.{k}", f"use one of {canon}")
        if not isinstance(v, (str, int, float, bool)):
            raise _err("a constant must be a single value", name, f"constants.{k}", 'write e.g. site = "Main St"', v)
        if k in columns:
            raise _err("a column cannot be both mapped and constant", name, f"constants.{k}",
                       f"remove {k} from [columns] or from [constants]")
        c = cols[k]
        val = str(v).lower() if isinstance(v, bool) else str(v)
        if c.codes and val not in c.codes:
            raise _err("constant is not a canonical code", name, f"constants.{k}", f"use one of {', '.join(c.codes)}", v)
        constants[k] = val

    as_of = _parse_day(raw["as_of"], name, "as_of") if "as_of" in raw else None
    return Mapping(
        name=name, table=table, source=dict(source), columns=dict(columns), codes=codes,
        crosswalk=crosswalk, dates=DateRule(kind, fmt, anchor), constants=constants,
        drop=tuple(drop), as_of=as_of,
    )


def _normal_code(v: str) -> str:
    return "_".join(v.strip().lower().replace("-", " ").split())


def map_codes(values: pd.Series, column: str, table: str, mapping: Mapping) -> pd.Series:
    """Translate source codes of one column to canonical codes (strings).

    Values that cannot be translated are returned unchanged, so the validator
    can quarantine them as ``unknown_code`` with the source value.

    Examples
    --------
    >>> m = read_mapping({"codes": {"level_of_care": {"crosswalk": "asam3", "IOP": "iop"}}}, "episodes")
    >>> map_codes(pd.Series(["IOP", "3.7-WM", "Outpatient", "?"]), "level_of_care", "episodes", m).tolist()
    ['iop', 'detox_residential', 'outpatient', '?']
    """
    col = _column_kinds(table)[column]
    table_ = mapping.codes.get(column, {})
    lower = {k.strip().lower(): v for k, v in table_.items()}
    xw = {str(k).upper(): v for k, v in cw._SYSTEMS[mapping.crosswalk].items()} if (
        column == "level_of_care" and mapping.crosswalk) else {}
    codes = set(col.codes or ())

    def one(v: str) -> str:
        if v in table_:
            return table_[v]
        s = v.strip()
        if s in table_:
            return table_[s]
        if s.lower() in lower:
            return lower[s.lower()]
        if xw:
            key = s.upper()
            if mapping.crosswalk == "teds":
                try:
                    f = float(s)
                    key = str(int(f)) if f.is_integer() else key
                except ValueError:
                    pass
                hit = {str(k): v for k, v in cw.TEDS_SERVICES.items()}.get(key)
            else:
                hit = xw.get(key)
            if hit is not None:
                return hit
        if col.dtype == "category":
            if s in codes:
                return s
            n = _normal_code(s)
            if n in codes:
                return n
        return v

    uniq = {v: one(v) for v in pd.unique(values)}
    return values.map(uniq)


def apply_mapping(frame: pd.DataFrame, mapping: Mapping, table: str, file: str = "<DataFrame>"):
    """Select and rename source columns to canonical names and map codes.

    Parameters
    ----------
    frame : DataFrame
        Source table of strings (:func:`iopstats.io.readers.read_source`).
    mapping : Mapping
    table : str

    Returns
    -------
    canonical : DataFrame
        Canonical column names (only those present), string cells.
    dropped : list of str
        Source columns dropped by the mapping.
    notes : list of str

    Examples
    --------
    >>> src = pd.DataFrame({"Enc": ["e1"], "Lvl": ["IOP"], "Name": ["x"]})
    >>> m = read_mapping({"drop": ["Name"], "columns": {"episode_id": "Enc", "level_of_care": "Lvl"},
    ...                   "codes": {"level_of_care": {"IOP": "iop"}}}, "episodes")
    >>> out, dropped, notes = apply_mapping(src, m, "episodes")
    >>> out.to_dict("list"), dropped
    ({'episode_id': ['e1'], 'level_of_care': ['iop']}, ['Name'])
    """
    cols = _column_kinds(table)
    notes: list[str] = []
    present = set(frame.columns)
    for canon, src in mapping.columns.items():
        if src not in present:
            raise IopstatsError(
                f"bad mapping: source column {src!r} (for {canon}) is not in the file",
                file=mapping.name, column=f"columns.{canon}", value=src,
                fix=f"use one of the file's columns {list(frame.columns)[:30]} (names are case-sensitive) in {file}",
            )
    implicit = {n: n for n in cols if n not in mapping.columns and n not in mapping.constants and n in present
                and n not in mapping.drop}
    _check_column_sources({**implicit, **mapping.columns}, mapping.drop, mapping.name, frozenset(implicit))
    dropped = [c for c in mapping.drop if c in present]
    absent = [c for c in mapping.drop if c not in present]
    if absent:
        notes.append(f"drop list columns not in the source: {', '.join(absent)}.")
    out: dict[str, pd.Series] = {}
    for name in cols:
        if name in mapping.constants:
            out[name] = pd.Series([mapping.constants[name]] * len(frame), index=frame.index, dtype=object)
            continue
        src = mapping.columns.get(name, name if (name in present and name not in mapping.drop) else None)
        if src is None:
            continue
        s = frame[src]
        if cols[name].dtype in ("category", "boolean"):
            s = map_codes(s, name, table, mapping)
        out[name] = s.astype(object)
    canonical = pd.DataFrame(out, index=frame.index)
    used = set(mapping.columns.values()) | {c for c in cols if c in present}
    unused = [c for c in frame.columns if c not in used and c not in mapping.drop]
    if unused:
        shown = ", ".join(unused[:15]) + (" ..." if len(unused) > 15 else "")
        notes.append(f"{len(unused)} source column(s) not used: {shown}.")
    return canonical, dropped, notes
