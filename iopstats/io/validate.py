"""Row checks that split a table into loaded rows and a quarantine.

Each canonical column is parsed cell by cell (never by a bulk conversion that
raises on the first bad value); rows that fail a check are *quarantined* with
a machine-readable reason instead of stopping the load. Every input row ends
in exactly one of the two outputs. A row failing several checks is
quarantined once, under the first failing check in the order below; the
``detail`` column lists every failure (``reason(column)``).

Quarantine reasons, in check order
----------------------------------

======================  =========  ==========================================================
reason                  tables     meaning
======================  =========  ==========================================================
malformed_row           all        the reader found fewer fields than the header (a truncated
                                   row) or extra values (``RawTable.row_flags``)
formula_without_        all        an Excel formula cell without a calculated (cached) value
value
missing_required        all        a required column is empty (missing tokens: readers.MISSING_TOKENS)
unparseable_date        all        not a date (ISO 8601 or the mapping's [dates] format), or
                                   not a whole day number for ``kind = "day_offset"``
invalid_date            all        a placeholder "zero" date (:data:`ZERO_DATES`: 1899-12-30,
                                   1899-12-31, 1900-01-01) standing for an empty cell
unparseable_number      all        not a number (ages and day counts must be whole numbers)
non_finite_number       all        infinite or too large for a float (``1e400``, ``inf``) in any
                                   numeric column (``los_max`` accepts ``inf``: an open bound)
unknown_code            all        value not in the column's code set after mapping (yes/no
                                   columns accept true/false/yes/no/y/n/1/0); in a nominal
                                   optional covariate (sex, race, payer, ...) the episode is
                                   kept instead, with the code ``"unknown"`` (below)
age_out_of_range        episodes   age below 12 or above 120 (TEDS covers ages 12+)
orphan_followup         followups  episode_id not among the episodes given with ``episodes=``
orphan_session          sessions   episode_id not among the episodes given with ``episodes=``
future_date             all        a date after ``as_of`` (the mapping's, else today)
discharge_before_       episodes   discharge_date earlier than admit_date
admission
los_inconsistent        episodes   los_days negative, outside [los_min, los_max], or more than
                                   1 day from the dates (a stay under one day counts as 1 day)
reason_without_         episodes   a discharge_reason on an open episode (no discharge_date):
discharge                          the record contradicts itself
duplicate_episode_id    episodes   a later row repeating an episode_id (the first row in input
                                   order is kept, even when that row itself is quarantined)
in_treatment_screen     followups  a urine screen (``source = "urine_test"``) taken before discharge
                                   (days_after_discharge < 0): monitoring during treatment, out of
                                   scope for post-discharge follow-ups, *not* a data error
                                   (:data:`OUT_OF_SCOPE_REASONS`)
negative_followup_day   followups  any other follow-up before discharge (days_after_discharge < 0)
use_without_response    followups  any_use given although responded is false
negative_hours          sessions   hours below 0
session_outside_episode sessions   session before admission or after discharge + 1 day
======================  =========  ==========================================================

Repairs that do *not* quarantine (each counted in the load notes):

* ``unknown_code`` in a nominal optional covariate (a column whose code set
  ends with ``"unknown"``): the value becomes ``"unknown"``, counted per column
  in ``report.repairs``; the source codes are named in a note.
* ``whitespace_trimmed``: spaces around text cells (ids) are removed, counted
  per column in ``report.repairs``; a repeated ``episode_id`` that differs only
  in those spaces is a ``duplicate_episode_id`` saying so.

* ``discharge_without_reason``: a closed episode without a reason gets
  ``discharge_reason = "other"`` (left, reason unknown: it is not a completion).
* ``los_days`` is filled from the dates for closed episodes, and
  ``los_min``/``los_max`` from an exact ``los_days``.
* ages over 89 are top-coded to 90 (HIPAA Safe Harbor); ``age_group`` is
  derived from ``age`` where missing.
* follow-ups without ``days_after_discharge`` get it from ``followup_date`` and
  the episode's discharge date when ``episodes=`` is given.

The functions take a DataFrame with canonical column names (text or already
typed cells) and return ``(loaded, quarantine)``; they are reused by the
TEDS-D reader. The input is never modified.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.io.identifiers import AGE_TOP_CODE
from iopstats.io.mapping import BOOLEAN_FALSE, BOOLEAN_TRUE, DateRule, Mapping, map_codes
from iopstats.io.readers import as_strings, is_missing
from iopstats.io.result import QUARANTINE_META
from iopstats.io.schema import TABLES, UNKNOWN_CODE, age_to_group, coerce_dtypes

__all__ = [
    "EPISODE_CHECKS",
    "FOLLOWUP_CHECKS",
    "SESSION_CHECKS",
    "AGE_RANGE",
    "parse_dates",
    "parse_numbers",
    "parse_booleans",
    "non_finite_numbers",
    "ZERO_DATES",
    "validate_episodes",
    "validate_followups",
    "validate_sessions",
    "quarantine_frame",
    "OUT_OF_SCOPE_REASONS",
]

_READ = ("malformed_row", "formula_without_value", "missing_required", "unparseable_date", "invalid_date",
         "unparseable_number", "non_finite_number", "unknown_code")
EPISODE_CHECKS: tuple[str, ...] = (
    *_READ, "age_out_of_range",
    "future_date", "discharge_before_admission", "los_inconsistent", "reason_without_discharge",
    "duplicate_episode_id",
)
FOLLOWUP_CHECKS: tuple[str, ...] = (
    *_READ, "orphan_followup",
    "future_date", "in_treatment_screen", "negative_followup_day", "use_without_response",
)
SESSION_CHECKS: tuple[str, ...] = (
    *_READ, "orphan_session",
    "future_date", "negative_hours", "session_outside_episode",
)
#: Quarantine reasons that mark valid rows outside the table's scope (not data errors);
#: reports should show them apart from the errors.
OUT_OF_SCOPE_REASONS: frozenset[str] = frozenset({"in_treatment_screen"})
#: Whole-number columns (age, day counts) above this in absolute value are unparseable.
MAX_INTEGER = 10**9
#: Accepted ages in years (inclusive).
AGE_RANGE = (12, 120)

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
#: Dates outside these years are unparseable (typos such as 0202 or 20224).
YEAR_RANGE = (1800, 2200)
#: "Zero" dates: what Excel (serial 0 and 1, and the 1904 system's day -1) and many
#: databases show for an empty date cell. Quarantined as ``invalid_date``.
ZERO_DATES: tuple[pd.Timestamp, ...] = tuple(pd.Timestamp(d) for d in ("1899-12-30", "1899-12-31", "1900-01-01"))
_INF_TOKENS = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
#: Largest accepted day offset from a ``day_offset`` anchor (about 100 years).
MAX_DAY_OFFSET = 36_525


# --------------------------------------------------------------------------- parsing
def _text(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    miss = is_missing(values).to_numpy()
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    stripped = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    s = pd.Series(stripped[codes], index=values.index, dtype=object)  # one strip per distinct value
    s[miss] = ""
    return s, miss


def _parse_number(v: str, allow_inf: bool) -> float | None:
    if _NUMBER.fullmatch(v):
        f = float(v)
        return f if np.isfinite(f) else None  # 1e400 overflows to infinity: not a number we accept
    if allow_inf and v.lower() in ("inf", "+inf", "infinity"):
        return float("inf")
    return None


def non_finite_numbers(values: pd.Series, *, allow_inf: bool = False) -> np.ndarray:
    """Cells holding a number too large for a float (``1e400``) or an infinity token.

    ``allow_inf`` accepts the tokens ``inf``/``+inf``/``infinity`` (an open
    upper bound such as ``los_max``) but never an overflowing number.

    Examples
    --------
    >>> non_finite_numbers(pd.Series(["1e400", "-inf", "3", "", "nan", "1e308"])).tolist()
    [True, True, False, False, False, False]
    """
    s, miss = _text(values)
    out = np.zeros(len(s), dtype=bool)
    for v in pd.unique(s[~miss]):
        low = v.lower()
        hit = (low in _INF_TOKENS and not (allow_inf and low in ("inf", "+inf", "infinity"))) or (
            bool(_NUMBER.fullmatch(v)) and not np.isfinite(float(v)))
        if hit:
            out |= (s == v).to_numpy()
    return out


def parse_numbers(values: pd.Series, *, integer: bool = False, allow_inf: bool = False):
    """Parse numbers cell by cell.

    Returns ``(parsed, bad)``: a float Series (NaN where missing or bad) and a
    boolean array of non-missing cells that are not numbers (or not whole
    numbers within +-MAX_INTEGER when ``integer=True``). Thousands separators
    are not accepted, nor are non-finite values (``1e400``, ``inf``; see
    :func:`non_finite_numbers`) unless ``allow_inf`` for the ``inf`` tokens.

    Examples
    --------
    >>> p, bad = parse_numbers(pd.Series(["3", " 4.5 ", "", "1,000", "1e2"]), integer=True)
    >>> p.tolist(), bad.tolist()
    ([3.0, nan, nan, nan, 100.0], [False, True, False, True, False])
    """
    s, miss = _text(values)
    uniq = {}
    for v in pd.unique(s[~miss]):
        f = _parse_number(v, allow_inf)
        if f is not None and integer and not (float(f).is_integer() and abs(f) <= MAX_INTEGER):
            f = None
        uniq[v] = f
    parsed = s.map(lambda v: uniq.get(v) if v else None)
    bad = (~miss) & parsed.isna().to_numpy()
    return pd.Series(parsed.to_numpy(dtype=float, na_value=np.nan), index=values.index), bad


_TYPED_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?")


def _one_date(v: str, fmt: str | None) -> pd.Timestamp | None:
    try:
        d = dt.datetime.strptime(v, fmt) if fmt else dt.datetime.fromisoformat(v)
    except (ValueError, TypeError):
        if not (fmt and _TYPED_DATE.fullmatch(v)):
            return None
        try:  # a typed date cell (Excel, Parquet, DataFrame) rendered by the reader
            d = dt.datetime.fromisoformat(v)
        except ValueError:
            return None
    if not YEAR_RANGE[0] <= d.year <= YEAR_RANGE[1]:
        return None
    return pd.Timestamp(d.replace(tzinfo=None)).normalize()


def parse_dates(values: pd.Series, rule: DateRule | None = None):
    """Parse dates cell by cell under a :class:`~iopstats.io.mapping.DateRule`.

    Calendar dates are ISO 8601 (``2024-03-01``, time parts allowed and
    dropped) unless the rule has a strptime ``format``. Full timestamps
    (``2024-03-01 00:00:00``, how typed Excel/Parquet/DataFrame date cells are
    rendered) are accepted whatever the format. Day offsets are whole day
    numbers added to the rule's anchor. Returns ``(parsed, bad)``.

    Examples
    --------
    >>> p, bad = parse_dates(pd.Series(["2024-03-01", "03/01/2024", "", "2024-02-30"]))
    >>> p.dt.strftime("%Y-%m-%d").tolist(), bad.tolist()
    (['2024-03-01', nan, nan, nan], [False, True, False, True])
    >>> rule = DateRule("day_offset", anchor=pd.Timestamp("2000-01-01"))
    >>> parse_dates(pd.Series(["0", "31", "1.5"]), rule)[0].dt.strftime("%Y-%m-%d").tolist()
    ['2000-01-01', '2000-02-01', nan]
    """
    rule = rule or DateRule()
    if rule.kind == "day_offset":
        days, bad = parse_numbers(values, integer=True)
        too_far = days.abs().to_numpy() > MAX_DAY_OFFSET
        days = days.where(~too_far)
        bad = bad | too_far
        parsed = rule.anchor + pd.to_timedelta(days, unit="D")
        return pd.Series(pd.DatetimeIndex(parsed).as_unit("ns"), index=values.index), bad
    s, miss = _text(values)
    uniq = {v: _one_date(v, rule.format) for v in pd.unique(s[~miss])}
    parsed = s.map(lambda v: uniq.get(v) if v else None)
    bad = (~miss) & parsed.isna().to_numpy()
    out = pd.to_datetime(pd.Series(parsed.tolist(), index=values.index, dtype=object)).astype("datetime64[ns]")
    return out, bad


def parse_booleans(values: pd.Series):
    """Parse yes/no cells (true/false, yes/no, y/n, t/f, 1/0). Returns ``(parsed, bad)``.

    Examples
    --------
    >>> p, bad = parse_booleans(pd.Series(["Yes", "0", "", "maybe"]))
    >>> p.tolist(), bad.tolist()
    ([True, False, <NA>, <NA>], [False, False, False, True])
    """
    s, miss = _text(values)
    low = s.str.lower()
    t = low.isin(BOOLEAN_TRUE).to_numpy()
    f = low.isin(BOOLEAN_FALSE).to_numpy()
    out = pd.array([pd.NA] * len(s), dtype="boolean")
    out[t] = True
    out[f] = False
    bad = (~miss) & ~t & ~f
    return pd.Series(out, index=values.index), bad


# --------------------------------------------------------------------------- machinery
class _Checks:
    """Collects failing rows per check; resolves the first reason per row."""

    def __init__(self, n: int, order: tuple[str, ...]):
        self.n = n
        self.order = order
        self.items: list[tuple[str, str, np.ndarray, pd.Series | None, str]] = []

    def add(self, reason: str, column: str, mask, values: pd.Series | None = None, detail: str = ""):
        if reason not in self.order:
            raise ValueError(f"unregistered check {reason}")  # programming error, not user input
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.items.append((reason, column, mask, values, detail))

    @property
    def bad(self) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for _, _, m, _, _ in self.items:
            out |= m
        return out

    def resolve(self):
        rank = {r: i for i, r in enumerate(self.order)}
        items = sorted(self.items, key=lambda it: rank[it[0]])  # stable: column order kept
        reason = np.full(self.n, None, dtype=object)
        column = np.full(self.n, None, dtype=object)
        value = np.full(self.n, None, dtype=object)
        details: dict[int, list[str]] = {}
        for r, c, m, vals, d in items:
            idx = np.flatnonzero(m)
            new = idx[reason[idx] == None]  # noqa: E711 (object array comparison)
            reason[new] = r
            column[new] = c
            if vals is not None:
                value[new] = vals.to_numpy(dtype=object)[new]
            for i in idx:
                details.setdefault(int(i), []).append(f"{r}({c})" + (f": {d}" if d else ""))
        return reason, column, value, details


def quarantine_frame(raw: pd.DataFrame, rows: np.ndarray, reason, column, value, detail) -> pd.DataFrame:
    """Assemble a quarantine table: QUARANTINE_META columns then the raw fields.

    Raw fields whose names clash with a meta column (or with a field renamed
    so) get ``input_`` prefixes until every column name is unique.
    """
    meta = pd.DataFrame(
        {
            "row": pd.Series(rows, dtype="int64"),
            "reason": pd.Series(reason, dtype=object),
            "column": pd.Series(column, dtype=object),
            "value": pd.Series(["" if v is None else str(v) for v in value], dtype=object),
            "detail": pd.Series(detail, dtype=object),
        }
    )
    taken = set(QUARANTINE_META)
    names = []
    for c in reversed([str(c) for c in raw.columns]):  # a later "input_x" keeps its name, "x" is renamed
        name = c
        while name in taken:
            name = f"input_{name}"
        taken.add(name)
        names.append(name)
    fields = raw.reset_index(drop=True).set_axis(names[::-1], axis=1)
    return pd.concat([meta, fields], axis=1)


def _prepare(df: pd.DataFrame, table: str, raw: pd.DataFrame | None, row_numbers, source: str):
    if not isinstance(df, pd.DataFrame):
        raise IopstatsError(f"expected a DataFrame, got {type(df).__name__}", file=source,
                            fix="pass a pandas DataFrame with canonical column names")
    cols = {c.name: c for c in TABLES[table]}
    missing = [c for c, spec in cols.items() if spec.required and c not in df.columns]
    if table == "followups" and "days_after_discharge" in missing and "followup_date" in df.columns:
        missing.remove("days_after_discharge")
    if missing:
        raise IopstatsError(
            f"required {table} column(s) missing: {', '.join(missing)}; columns found: {list(df.columns)[:30]}",
            file=source, column=missing[0],
            fix="rename the source columns to the canonical names or load with a mapping ([columns] section)",
        )
    text = as_strings(df[[c for c in df.columns if c in cols]])
    raw_s = as_strings(df) if raw is None else raw.reset_index(drop=True)
    if len(raw_s) != len(text):
        raise IopstatsError("raw and canonical tables differ in length", file=source,
                            fix="pass the raw table the canonical one was mapped from")
    rows = np.arange(1, len(text) + 1) if row_numbers is None else np.asarray(row_numbers, dtype="int64")
    return text, raw_s, rows, cols


def _repair(repairs: list | None, kind: str, column: str, n: int) -> None:
    if repairs is not None and n:
        repairs.append({"kind": kind, "column": column, "n": int(n)})


def _parse_text(s: pd.Series, name: str, miss: np.ndarray, repairs, notes) -> pd.Series:
    t, _ = _text(s)
    trimmed = int(((s.astype(str) != t) & ~miss).sum())
    if trimmed:
        _repair(repairs, "whitespace_trimmed", name, trimmed)
        _note(notes, f"{trimmed} {name} value(s) had spaces around them, trimmed (' e001 ' is read as 'e001').")
    return t.where(~miss, None)


def _parse_number_column(s, name, spec, checks):
    allow_inf = name == "los_max"
    parsed, bad = parse_numbers(s, integer=spec.dtype == "Int64", allow_inf=allow_inf)
    infinite = non_finite_numbers(s, allow_inf=allow_inf)
    checks.add("non_finite_number", name, infinite, s, "not a finite number (infinite or too large for a float)")
    checks.add("unparseable_number", name, bad & ~infinite, s)
    return parsed


def _parse_date_column(s, name, dates, checks):
    parsed, bad = parse_dates(s, dates)
    checks.add("unparseable_date", name, bad, s)
    if (dates or DateRule()).kind == "calendar":
        zero = parsed.isin(ZERO_DATES).to_numpy()
        checks.add("invalid_date", name, zero, s,
                   "a placeholder 'zero' date (1899-12-30, 1899-12-31 or 1900-01-01) standing for an empty cell")
        parsed = parsed.where(~zero)
    return parsed


def _parse_category(s, name, spec, table, checks, miss, repairs, notes):
    t, _ = _text(map_codes(s, name, table, Mapping(table=table)))
    ok = t.isin(spec.codes).to_numpy()
    unknown = ~miss & ~ok
    if unknown.any() and not spec.required and UNKNOWN_CODE in spec.codes:
        _repair(repairs, "unknown_code", name, int(unknown.sum()))
        codes = pd.unique(s[unknown].astype(str).str.strip())
        shown = ", ".join(repr(c) for c in codes[:5]) + (" ..." if len(codes) > 5 else "")
        _note(notes, f"{int(unknown.sum())} {name} value(s) not in the code set ({shown}) kept as "
                     f"'{UNKNOWN_CODE}'; map them in [codes.{name}] to keep their meaning.")
        return t.where(ok & ~miss, None).where(~unknown, UNKNOWN_CODE)
    checks.add("unknown_code", name, unknown, s)
    return t.where(ok & ~miss, None)


def _parse_columns(text: pd.DataFrame, cols, table: str, checks: _Checks, dates: DateRule | None,
                   repairs: list | None = None, notes: list | None = None):
    parsed: dict[str, pd.Series] = {}
    empty = Mapping(table=table)
    for name, spec in cols.items():
        if name not in text.columns:
            continue
        s = text[name]
        miss = is_missing(s).to_numpy()
        if spec.required:
            checks.add("missing_required", name, miss, s)
        if spec.dtype == "string":
            parsed[name] = _parse_text(s, name, miss, repairs, notes)
        elif spec.dtype == "datetime":
            parsed[name] = _parse_date_column(s, name, dates, checks)
        elif spec.dtype in ("float", "Int64"):
            parsed[name] = _parse_number_column(s, name, spec, checks)
        elif spec.dtype == "boolean":
            parsed[name], bad = parse_booleans(map_codes(s, name, table, empty))
            checks.add("unknown_code", name, bad, s)
        else:  # category
            parsed[name] = _parse_category(s, name, spec, table, checks, miss, repairs, notes)
    return parsed


def _add_row_flags(checks: _Checks, row_flags, n: int) -> None:
    """Quarantine the rows the reader flagged (malformed rows, formulas without values)."""
    groups: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    for i, reason, column, value, detail in row_flags or ():
        groups.setdefault((reason, column, detail), []).append((int(i), value))
    for (reason, column, detail), items in groups.items():
        mask = np.zeros(n, dtype=bool)
        vals = np.full(n, None, dtype=object)
        for i, v in items:
            mask[i] = True
            vals[i] = v
        checks.add(reason, column, mask, pd.Series(vals), detail)


def _finish(table, text, raw_s, rows, parsed, checks, extra=None):
    reason, column, value, details = checks.resolve()
    bad = reason != None  # noqa: E711
    detail = ["; ".join(details[i]) for i in np.flatnonzero(bad)]
    quarantine = quarantine_frame(raw_s[bad], rows[bad], reason[bad], column[bad], value[bad], detail)
    good = pd.DataFrame({k: v for k, v in parsed.items()}, index=text.index)
    for k, v in (extra or {}).items():
        good[k] = v
    loaded = coerce_dtypes(good[~bad], table)
    return loaded, quarantine


def _as_of(as_of) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp.today().normalize()
    try:
        return pd.Timestamp(as_of).normalize()
    except (ValueError, TypeError):
        raise IopstatsError("as_of is not a date", value=as_of, fix="pass as_of='YYYY-MM-DD'") from None


def _episode_frame(episodes: Any) -> pd.DataFrame:
    data = getattr(episodes, "data", episodes)
    if not isinstance(data, pd.DataFrame) or "episode_id" not in data.columns:
        raise IopstatsError("episodes= must be a LoadResult or canonical episodes DataFrame",
                            fix="pass the result of load_episodes(...)")
    out = pd.DataFrame({"episode_id": data["episode_id"].astype("string").str.strip()})
    for c in ("admit_date", "discharge_date"):
        out[c] = pd.to_datetime(data[c], errors="coerce") if c in data.columns else pd.NaT
    return out.dropna(subset=["episode_id"]).drop_duplicates("episode_id").set_index("episode_id")


def _note(notes: list | None, text: str) -> None:
    if notes is not None:
        notes.append(text)


def _start(df, table: str, source: str, raw, row_numbers, dates: DateRule | None, order: tuple[str, ...],
           row_flags=None, repairs=None, notes=None):
    """Shared first steps of every validator: text cells, check collector, parsed columns."""
    text, raw_s, rows, cols = _prepare(df, table, raw, row_numbers, source)
    checks = _Checks(len(text), order)
    _add_row_flags(checks, row_flags, len(text))
    parsed = _parse_columns(text, cols, table, checks, dates, repairs, notes)
    return text, raw_s, rows, checks, parsed


def _check_orphans(checks: _Checks, reason: str, parsed, text: pd.DataFrame, eps: pd.DataFrame) -> np.ndarray:
    """Flag rows whose episode_id is not among ``eps`` (missing ids are missing_required)."""
    ids = parsed["episode_id"]
    orphan = ids.notna().to_numpy() & ~ids.isin(eps.index).to_numpy()
    checks.add(reason, "episode_id", orphan, text["episode_id"], "episode_id not among the loaded episodes")
    return orphan


def _check_future(checks: _Checks, parsed, text: pd.DataFrame, columns: tuple[str, ...], as_of) -> None:
    """Flag dates after ``as_of`` (resolved, and so checked, even when no date column is present)."""
    limit = _as_of(as_of)
    for name in columns:
        if name in parsed:
            checks.add("future_date", name, (parsed[name] > limit).to_numpy(), text[name], f"after {limit.date()}")


# --------------------------------------------------------------------------- episodes
def validate_episodes(
    df: pd.DataFrame,
    source: str = "<DataFrame>",
    *,
    raw: pd.DataFrame | None = None,
    dates: DateRule | None = None,
    as_of: Any = None,
    row_numbers=None,
    notes: list | None = None,
    repairs: list | None = None,
    row_flags=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check canonical episode rows; return ``(loaded, quarantine)``.

    Parameters
    ----------
    df : DataFrame
        Canonical column names, text or typed cells. Not modified.
    source : str
        Name used in error messages.
    raw : DataFrame, optional
        The source rows (same length) to copy into the quarantine; ``df`` by default.
    dates : DateRule, optional
        How dates are written (ISO 8601 by default).
    as_of : date-like, optional
        Dates after it are ``future_date`` (default today).
    row_numbers : array of int, optional
        1-based input row numbers (default 1..n).
    notes : list, optional
        Repairs made (top-coding, filled reasons) are appended as sentences.
    repairs : list, optional
        Counted repairs are appended as ``{"kind", "column", "n"}`` dicts:
        ``unknown_code`` (an optional covariate's code outside its code set, kept
        as ``"unknown"``) and ``whitespace_trimmed`` (text cells with spaces around).
    row_flags : sequence, optional
        ``(row index, reason, column, value, detail)`` rows to quarantine as the
        reader found them (``RawTable.row_flags``).

    Returns
    -------
    loaded : DataFrame
        Canonical episodes (:func:`~iopstats.io.schema.coerce_dtypes`).
    quarantine : DataFrame
        ``row, reason, column, value, detail`` then the raw fields.

    Examples
    --------
    >>> df = pd.DataFrame({"client_id": ["c1", "c2", "c3"], "episode_id": ["e1", "e2", "e1"],
    ...     "level_of_care": ["iop", "IOP", "outpatient"],
    ...     "admit_date": ["2024-01-05", "2024-02-01", "2024-01-09"],
    ...     "discharge_date": ["2024-02-20", "2024-01-15", ""],
    ...     "discharge_reason": ["completed", "dropped_out", ""]})
    >>> loaded, q = validate_episodes(df, as_of="2024-06-30")
    >>> loaded[["episode_id", "level_of_care", "los_days"]]
      episode_id level_of_care  los_days
    0         e1           iop      46.0
    >>> q[["row", "reason", "column", "value"]]
       row                      reason          column       value
    0    2  discharge_before_admission  discharge_date  2024-01-15
    1    3        duplicate_episode_id      episode_id          e1
    """
    text, raw_s, rows, checks, p = _start(df, "episodes", source, raw, row_numbers, dates, EPISODE_CHECKS,
                                          row_flags, repairs, notes)
    nat = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    nan = pd.Series(np.nan, index=text.index)
    adm, dis = p.get("admit_date", nat), p.get("discharge_date", nat)
    los, lmin, lmax = p.get("los_days", nan), p.get("los_min", nan), p.get("los_max", nan)

    if "age" in p:
        age = p["age"]
        out = ((age < AGE_RANGE[0]) | (age > AGE_RANGE[1])).to_numpy()
        checks.add("age_out_of_range", "age", out, text["age"], f"accepted {AGE_RANGE[0]}-{AGE_RANGE[1]}")
    _check_future(checks, p, text, ("admit_date", "discharge_date"), as_of)
    if "discharge_date" in text.columns:
        checks.add("discharge_before_admission", "discharge_date", (dis < adm).to_numpy(), text["discharge_date"])
    stay = (dis - adm).dt.days.clip(lower=1).astype(float)
    if "los_days" in text.columns:
        incons = (los < 0) | ((los - stay).abs() > 1)
        checks.add("los_inconsistent", "los_days", incons.to_numpy(), text["los_days"],
                   "length of stay disagrees with the dates by more than 1 day or is negative")
        bounds = (los < lmin) | (los > lmax)
        checks.add("los_inconsistent", "los_days", bounds.to_numpy(), text["los_days"], "outside [los_min, los_max]")
    if "los_min" in text.columns or "los_max" in text.columns:
        checks.add("los_inconsistent", "los_min", ((lmin > lmax) | (lmin < 0)).to_numpy(),
                   text["los_min"] if "los_min" in text.columns else None, "los_min above los_max or negative")
    if "discharge_reason" in p:
        no_date = (is_missing(text["discharge_date"]) if "discharge_date" in text.columns
                   else pd.Series(True, index=text.index))  # an unparseable date is reported as such
        contradict = p["discharge_reason"].notna() & no_date
        checks.add("reason_without_discharge", "discharge_reason", contradict.to_numpy(), text["discharge_reason"],
                   "an open episode (no discharge_date) cannot have a discharge reason")
    ids = p["episode_id"]
    dup = (ids.notna() & ids.duplicated(keep="first")).to_numpy()
    exact = text["episode_id"].duplicated(keep="first").to_numpy()
    checks.add("duplicate_episode_id", "episode_id", dup & exact, text["episode_id"], "first occurrence kept")
    checks.add("duplicate_episode_id", "episode_id", dup & ~exact, text["episode_id"],
               "a duplicate only after trimming the spaces around the id; first occurrence kept")

    bad = checks.bad
    extra: dict[str, pd.Series] = {}
    closed = dis.notna() & adm.notna()
    fill_los = los.isna() & closed
    los = los.where(~fill_los, stay)
    extra["los_days"] = los
    extra["los_min"] = lmin.where(lmin.notna() | los.isna(), los)
    extra["los_max"] = lmax.where(lmax.notna() | los.isna(), los)
    reason_ = p.get("discharge_reason", pd.Series(None, index=text.index, dtype=object))
    no_reason = reason_.isna() & dis.notna()
    if (no_reason & ~bad).any():
        _note(notes, f"{int((no_reason & ~bad).sum())} closed episode(s) had no discharge reason: set to 'other' "
                     "(not counted as completed).")
    extra["discharge_reason"] = reason_.where(~no_reason, "other")
    if "age" in p:
        age = p["age"]
        top = (age > AGE_TOP_CODE) & ~bad
        if top.any():
            _note(notes, f"{int(top.sum())} age(s) over {AGE_TOP_CODE} top-coded to {AGE_TOP_CODE + 1} (90 or older).")
        age = age.where(~(age > AGE_TOP_CODE), AGE_TOP_CODE + 1)
        extra["age"] = age.astype("Int64")
        grp = p.get("age_group", pd.Series(None, index=text.index, dtype=object))
        derived = age_to_group(age).astype(object).where(age.notna(), None)
        fill = grp.isna() & pd.Series(derived, index=text.index).notna()
        if (fill & ~bad).any():
            _note(notes, f"age_group derived from age for {int((fill & ~bad).sum())} episode(s).")
        extra["age_group"] = grp.where(~fill, derived)
    return _finish("episodes", text, raw_s, rows, p, checks, extra)


# --------------------------------------------------------------------------- follow-ups
def validate_followups(
    df: pd.DataFrame,
    source: str = "<DataFrame>",
    *,
    episodes: Any = None,
    raw: pd.DataFrame | None = None,
    dates: DateRule | None = None,
    as_of: Any = None,
    row_numbers=None,
    notes: list | None = None,
    repairs: list | None = None,
    row_flags=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check canonical follow-up rows; return ``(loaded, quarantine)``.

    ``days_after_discharge`` may be omitted when ``followup_date`` and
    ``episodes`` (a LoadResult or canonical episodes) are given: it is then
    computed from the episode's discharge date. With ``episodes``, follow-ups
    of unknown episodes are ``orphan_followup``. A follow-up before discharge
    (``days_after_discharge < 0``) is ``in_treatment_screen`` when it is a
    urine screen (``source = "urine_test"``: monitoring during treatment, out
    of scope rather than wrong) and ``negative_followup_day`` otherwise.
    Other parameters as in :func:`validate_episodes`.

    Examples
    --------
    >>> df = pd.DataFrame({"episode_id": ["e1", "e1", "e2", "e2"], "days_after_discharge": ["30", "-3", "90", "-8"],
    ...                    "responded": ["yes", "yes", "no", "yes"], "any_use": ["no", "no", "yes", "no"],
    ...                    "source": ["self_report", "self_report", "self_report", "urine_test"]})
    >>> loaded, q = validate_followups(df)
    >>> loaded[["episode_id", "days_after_discharge", "any_use"]]
      episode_id  days_after_discharge  any_use
    0         e1                    30    False
    >>> q.reason.tolist()
    ['negative_followup_day', 'use_without_response', 'in_treatment_screen']
    """
    text, raw_s, rows, checks, p = _start(df, "followups", source, raw, row_numbers, dates, FOLLOWUP_CHECKS,
                                          row_flags, repairs, notes)
    eps = _episode_frame(episodes) if episodes is not None else None
    days = p.get("days_after_discharge", pd.Series(np.nan, index=text.index))
    have_days = "days_after_discharge" in text.columns
    day_missing = is_missing(text["days_after_discharge"]).to_numpy() if have_days else np.ones(len(text), bool)
    if eps is not None:
        orphan = _check_orphans(checks, "orphan_followup", p, text, eps)
        day_missing = day_missing & ~orphan  # the day cannot be derived because the episode is unknown
        if "followup_date" in p:
            dis = p["episode_id"].map(eps["discharge_date"])
            derived = (p["followup_date"] - pd.to_datetime(dis)).dt.days
            fill = day_missing & derived.notna().to_numpy()
            days = days.where(~fill, derived)
            day_missing = day_missing & ~fill
    checks.add("missing_required", "days_after_discharge", day_missing,
               text["days_after_discharge"] if have_days else None,
               "give days_after_discharge, or followup_date with episodes= of closed episodes")
    _check_future(checks, p, text, ("followup_date",), as_of)
    before = (days < 0).to_numpy()
    screen = before & (p["source"] == "urine_test").to_numpy(dtype=bool) if "source" in p else np.zeros_like(before)
    shown = days.map(lambda v: "" if pd.isna(v) else str(int(v)))
    checks.add("in_treatment_screen", "days_after_discharge", screen, shown,
               "urine screen taken before discharge (during treatment): out of scope for post-discharge "
               "follow-ups, not a data error")
    checks.add("negative_followup_day", "days_after_discharge", before & ~screen, shown, "follow-up before discharge")
    if "any_use" in p:
        contradict = (p["responded"] == False) & p["any_use"].notna()  # noqa: E712
        checks.add("use_without_response", "any_use", contradict.fillna(False).to_numpy(), text["any_use"],
                   "responded is false, so any_use must be empty")
    return _finish("followups", text, raw_s, rows, p, checks, {"days_after_discharge": days.astype("Int64")})


# --------------------------------------------------------------------------- sessions
def validate_sessions(
    df: pd.DataFrame,
    source: str = "<DataFrame>",
    *,
    episodes: Any = None,
    raw: pd.DataFrame | None = None,
    dates: DateRule | None = None,
    as_of: Any = None,
    row_numbers=None,
    notes: list | None = None,
    repairs: list | None = None,
    row_flags=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check canonical session rows; return ``(loaded, quarantine)``.

    With ``episodes`` (a LoadResult or canonical episodes), sessions of unknown
    episodes are ``orphan_session`` and sessions before admission or more than
    one day after discharge are ``session_outside_episode``. Other parameters
    as in :func:`validate_episodes`.

    Examples
    --------
    >>> df = pd.DataFrame({"episode_id": ["e1", "e1"], "session_date": ["2024-01-02", "2024-01-03"],
    ...                    "attended": ["yes", "no"], "hours": ["3", "-1"]})
    >>> loaded, q = validate_sessions(df)
    >>> len(loaded), q.reason.tolist()
    (1, ['negative_hours'])
    """
    text, raw_s, rows, checks, p = _start(df, "sessions", source, raw, row_numbers, dates, SESSION_CHECKS,
                                          row_flags, repairs, notes)
    if episodes is not None:
        eps = _episode_frame(episodes)
        ids = p["episode_id"]
        _check_orphans(checks, "orphan_session", p, text, eps)
        adm = pd.to_datetime(ids.map(eps["admit_date"]))
        dis = pd.to_datetime(ids.map(eps["discharge_date"]))
        d = p["session_date"]
        outside = (d < adm) | (d > dis + pd.Timedelta(days=1))
        checks.add("session_outside_episode", "session_date", outside.to_numpy(), text["session_date"],
                   "before admission or after discharge + 1 day")
    _check_future(checks, p, text, ("session_date",), as_of)
    if "hours" in p:
        checks.add("negative_hours", "hours", (p["hours"] < 0).to_numpy(), text["hours"])
    return _finish("sessions", text, raw_s, rows, p, checks)
