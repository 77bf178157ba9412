"""Read a source table (CSV, Parquet, Excel or DataFrame) as strings.

Every cell is read as text first (``dtype=str``, no automatic missing-value
detection) so that no value is silently turned into ``NaN`` or a number.
Missing values are recognised afterwards by one explicit rule,
:func:`is_missing`: an empty or blank cell, or one of :data:`MISSING_TOKENS`
(case-insensitive). The label ``"None"`` is deliberately *not* missing: it is
a real answer in several sources ("None" prior treatments, no substance).

CSV rules (each one has a test in ``tests/io/test_malformed_input.py``):

* **Encoding.** Without a mapping ``encoding``, each line is UTF-8 when it is
  valid UTF-8 and cp1252 (Windows-1252) when it is not; the rows that needed
  the fallback are listed in the load report. One stray Windows byte so
  changes one row, never the whole file. A NUL byte anywhere is an error.
* **Row lengths.** Empty fields after the last column (a trailing delimiter)
  are removed; a row with fewer fields than the header, or with extra values,
  is quarantined as ``malformed_row`` (never padded into an open episode).
* **Header.** ``header_row`` names the line of the column names (title rows
  above it are skipped). A column without a name is ignored when every cell
  is empty and an error otherwise; a repeated name is an error naming both
  columns.

Anything that cannot be read raises :class:`~iopstats.IopstatsError` naming
the file and what to do; a bare pandas or Python traceback never escapes for
bad input.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError

__all__ = ["MISSING_TOKENS", "RawTable", "read_source", "as_strings", "is_missing", "check_header_row"]

#: Cell values read as missing (compared after stripping, case-insensitive).
#: "None" is not among them on purpose.
MISSING_TOKENS: frozenset[str] = frozenset({"", "na", "n/a", "nan", "null", "#n/a", "."})

_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
}
_DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class RawTable:
    """A source table with every cell as a Python ``str`` (missing = ``""``).

    Attributes
    ----------
    frame : DataFrame
        Object columns of strings, original column names, RangeIndex.
    name : str
        File name, or ``"<DataFrame>"``.
    notes : tuple of str
        Remarks for the load report (encoding fallback, ...).
    row_flags : tuple
        ``(row index, reason, column, value, detail)`` of rows the reader could
        not take as they are (``malformed_row``, ``formula_without_value``): the
        validators quarantine them.
    fallback_rows : tuple of int
        1-based data rows decoded by the cp1252 fallback (CSV).
    float_columns : tuple of str
        Columns stored as floating-point numbers (Parquet, DataFrame).
    """

    frame: pd.DataFrame
    name: str
    notes: tuple[str, ...] = field(default=())
    row_flags: tuple[tuple[int, str, str, str, str], ...] = field(default=())
    fallback_rows: tuple[int, ...] = field(default=())
    float_columns: tuple[str, ...] = field(default=())


def is_missing(values: pd.Series) -> pd.Series:
    """Boolean mask of cells that count as missing under the explicit rule.

    Examples
    --------
    >>> is_missing(pd.Series(["", " NA ", "null", ".", "None", "0"])).tolist()
    [True, True, True, True, False, False]
    """
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    tokens = np.array([str(u).strip().lower() in MISSING_TOKENS for u in uniques] + [True], dtype=bool)
    return pd.Series(tokens[codes], index=values.index)  # code -1 (NA) picks the trailing True


def _cell_to_str(v: Any) -> str:
    if v is None or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, float) and np.isnan(v):
        return ""
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(v).isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    return str(v)


def as_strings(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every cell as ``str`` (missing -> ``""``).

    The input is never modified. Column names become strings.

    Examples
    --------
    >>> out = as_strings(pd.DataFrame({"a": [1, None], "b": [pd.Timestamp("2024-01-02"), pd.NaT]}))
    >>> out.to_dict("list")
    {'a': ['1.0', ''], 'b': ['2024-01-02T00:00:00', '']}
    """
    cols = {}
    for i, c in enumerate(df.columns):
        s = df.iloc[:, i]
        if s.dtype == object and pd.api.types.infer_dtype(s, skipna=False) == "string":
            cols[str(c)] = s.to_numpy(dtype=object, copy=True)  # already all str: fast path
        else:
            cols[str(c)] = [_cell_to_str(v) for v in s.tolist()]
    out = pd.DataFrame(cols, columns=[str(c) for c in df.columns], dtype=object)
    out.index = pd.RangeIndex(len(df))
    return out


def _check_columns(names: list[str], file: str) -> None:
    """Every column named, no name twice (the error names both positions)."""
    seen: dict[str, int] = {}
    for i, n in enumerate(names, start=1):
        if n.strip() == "":
            raise IopstatsError(
                f"column {i} of the header has no name", file=file,
                fix="give every column a name in the header row, or remove empty columns",
            )
        if n in seen:
            raise IopstatsError(
                f"the header repeats a column name: columns {seen[n]} and {i} are both named {n!r}",
                file=file, column=n,
                fix="rename or remove one of the two columns so every column name is unique",
            )
        seen[n] = i


def _drop_unnamed_empty(names: list[str], rows: list[list[str]], file: str, notes: list[str]):
    """Drop columns with no header name when every cell is empty; refuse them otherwise."""
    unnamed = [j for j, n in enumerate(names) if n.strip() == ""]
    if not unnamed:
        return names, rows
    for j in unnamed:
        if any(r[j].strip() for r in rows):
            raise IopstatsError(
                f"column {j + 1} of the header has no name but holds data", file=file,
                fix="give the column a name in the header row (or delete it in the export)",
            )
    keep = [j for j in range(len(names)) if j not in set(unnamed)]
    notes.append(f"{file}: {len(unnamed)} column(s) without a header name and without data ignored "
                 f"(column {', '.join(str(j + 1) for j in unnamed)}).")
    return [names[j] for j in keep], [[r[j] for j in keep] for r in rows]


def _float_columns(df: pd.DataFrame) -> tuple[str, ...]:
    return tuple(str(c) for i, c in enumerate(df.columns) if pd.api.types.is_float_dtype(df.iloc[:, i].dtype))


def _from_frame(df: pd.DataFrame, name: str, notes=()) -> RawTable:
    _check_columns([str(c) for c in df.columns], name)
    return RawTable(as_strings(df), name, tuple(notes), float_columns=_float_columns(df))


def _nul_check(data: bytes, file: str) -> None:
    at = data.find(b"\x00")
    if at >= 0:
        raise IopstatsError(
            "the file is binary, not text: it contains a NUL byte", file=file, row=data.count(b"\n", 0, at) + 1,
            fix="export the table as CSV (UTF-8), Parquet or .xlsx; if it is UTF-16 text re-save it as UTF-8; "
            "a NUL byte inside a cell must be removed in the source system",
        )


def _decode_line(line: bytes) -> tuple[str, bool]:
    try:
        return line.decode("utf-8"), False
    except UnicodeDecodeError:
        try:
            return line.decode("cp1252"), True
        except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
            return line.decode("latin-1"), True


def _decode(data: bytes, encoding: str | None, file: str) -> tuple[list[str], list[int]]:
    """Text lines (with their line ends) and the 1-based lines decoded by the cp1252 fallback.

    Rule: with a mapping ``encoding`` the whole file is decoded with it (strict).
    Otherwise each line is UTF-8 when it is valid UTF-8 (a BOM is dropped) and
    cp1252 (Windows-1252; latin-1 for its five undefined bytes) when it is not,
    so one stray Windows byte changes one line, never the whole file.
    """
    _nul_check(data, file)
    fallback: list[int] = []
    if encoding:
        try:
            text = data.decode(encoding)
        except LookupError:
            raise IopstatsError(
                "unknown text encoding in the mapping", file=file, value=encoding,
                fix="use a Python codec name such as 'utf-8', 'latin-1' or 'cp1252' in [source] encoding",
            ) from None
        except UnicodeDecodeError as exc:
            raise IopstatsError(
                f"the file is not valid {encoding} text (byte {exc.start})", file=file,
                fix="set the right [source] encoding in the mapping (often 'latin-1' or 'cp1252' for Windows exports), "
                "or remove it to decode line by line (UTF-8, else cp1252)",
            ) from None
        lines = io.StringIO(text, newline="").readlines()
    else:
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            lines = io.StringIO(data.decode("utf-8"), newline="").readlines()
        except UnicodeDecodeError:
            lines = []
            for i, raw_line in enumerate(data.splitlines(keepends=True), start=1):
                s, fell = _decode_line(raw_line)
                lines.append(s)
                if fell:
                    fallback.append(i)
    sample = "".join(lines[:2000])[:65536]
    ctrl = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\r\n\t") or 0x7F <= ord(ch) < 0xA0)
    if ctrl > max(3, len(sample) // 100):
        raise IopstatsError(
            "the file does not look like a text table (many control characters)", file=file,
            fix="check the file is a CSV export; binary formats must be Parquet or .xlsx",
        )
    return lines, fallback


def _sniff(lines: list[str]) -> str:
    sample = [ln for ln in lines[:50] if ln.strip()]
    if not sample:
        return ","
    try:
        return csv.Sniffer().sniff("".join(sample), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample[0].count(d) for d in _DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] > 0 else ","


def _records(lines: list[str], sep: str, file: str):
    """(fields, first line, last line) of every record; blank lines skipped."""
    reader = csv.reader(lines, delimiter=sep, strict=True)
    out = []
    last = 0
    try:
        for rec in reader:
            out.append((rec, last + 1, reader.line_num))
            last = reader.line_num
    except csv.Error as exc:
        raise IopstatsError(
            f"the file is not a well-formed delimited table: {exc} (near line {reader.line_num})", file=file,
            row=reader.line_num,
            fix=f"check the quoting around line {reader.line_num} (a quote opened and not closed, or text "
            f"after a closing quote), or set [source] delimiter in the mapping",
        ) from None
    return out


def _header_index(records, header_row: int | None, file: str) -> int:
    if header_row is None:
        for k, (rec, _, _) in enumerate(records):
            if rec:
                return k
        raise IopstatsError("the file has no header row", file=file,
                            fix="re-export the table with column names in the first row")
    for k, (rec, first, last) in enumerate(records):
        if first <= header_row <= last:
            if not rec or not any(f.strip() for f in rec):
                break
            return k
    raise IopstatsError(
        f"header_row {header_row} is not a row with column names", file=file, value=header_row,
        fix="set [source] header_row (or header_row=) to the line number of the column names, counted from 1",
    )


def _fit_rows(records, names: list[str], sep: str, file: str, notes: list[str]):
    """Rows of exactly len(names) fields; trailing delimiters removed; wrong lengths flagged."""
    n = len(names)
    rows, lines, flags = [], [], []
    trailing = 0
    for rec, first, last in records:
        if not rec or (len(rec) == 1 and not rec[0].strip()):  # blank or whitespace-only line
            continue
        i = len(rows)
        if len(rec) > n:
            extra = rec[n:]
            if all(e == "" for e in extra):
                trailing += 1
            else:
                flags.append((i, "malformed_row", "<extra fields>", sep.join(extra),
                              f"the row has {len(rec)} fields, the header {n}: an unquoted delimiter inside a "
                              "value, or values shifted"))
            rec = rec[:n]
        elif len(rec) < n:
            flags.append((i, "malformed_row", names[len(rec)], "",
                          f"the row has {len(rec)} of {n} fields (truncated, or delimiters missing)"))
            rec = rec + [""] * (n - len(rec))
        rows.append(rec)
        lines.append((first, last))
    if trailing:
        notes.append(f"{file}: {trailing} data row(s) ended with a trailing delimiter (an empty field after the last "
                     "column); the empty field was removed and every value kept in its column.")
    return rows, lines, flags


def _fallback_rows(lines: list[tuple[int, int]], fallback: list[int]) -> tuple[int, ...]:
    if not fallback:
        return ()
    bad = set(fallback)
    return tuple(i for i, (a, b) in enumerate(lines, start=1) if any(k in bad for k in range(a, b + 1)))


def fallback_note(file: str, rows: tuple[int, ...], header: bool = False) -> str:
    """The load-report sentence naming the rows decoded as cp1252."""
    shown = ", ".join(str(r) for r in rows[:20]) + (", ..." if len(rows) > 20 else "")
    what = f"{len(rows)} data row(s) (row {shown})" if rows else ""
    if header:
        what = "the header row" + (" and " + what if what else "")
    return (f"{file}: {what} were not valid UTF-8 and were decoded as cp1252 (Windows-1252); every other row is "
            "UTF-8. Set [source] encoding to be explicit.")


def _read_csv(path: Path, delimiter: str | None, encoding: str | None, header_row: int | None) -> RawTable:
    file = path.name
    data = path.read_bytes()
    if not data.strip():
        raise IopstatsError("the file is empty", file=file, fix="re-export the table with a header row and data")
    lines, fallback = _decode(data, encoding, file)
    if not "".join(lines).strip():
        raise IopstatsError("the file is empty", file=file, fix="re-export the table with a header row and data")
    sep = delimiter or _sniff(lines[(header_row or 1) - 1:])
    if len(sep) != 1:
        raise IopstatsError(
            "the delimiter must be one character", file=file, value=sep,
            fix="set [source] delimiter to one of ',', ';', '\\t', '|'",
        )
    records = _records(lines, sep, file)
    h = _header_index(records, header_row, file)
    names = list(records[h][0])
    notes: list[str] = []
    while len(names) > 1 and names[-1].strip() == "":  # a trailing delimiter on the header too
        names.pop()
    rows, spans, flags = _fit_rows(records[h + 1:], names, sep, file, notes)
    names, rows = _drop_unnamed_empty(names, rows, file, notes)
    _check_columns(names, file)
    frame = pd.DataFrame(rows, columns=names, dtype=object) if rows else pd.DataFrame(
        {c: pd.Series([], dtype=object) for c in names})
    frame.index = pd.RangeIndex(len(frame))
    fb_rows = _fallback_rows(spans, fallback)
    head_fb = any(records[h][1] <= k <= records[h][2] for k in fallback)
    if fb_rows or head_fb:
        notes.append(fallback_note(file, fb_rows, head_fb))
    return RawTable(frame, file, tuple(notes), row_flags=tuple(flags), fallback_rows=fb_rows)


def _read_parquet(path: Path) -> RawTable:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise IopstatsError(
            f"not a readable Parquet file ({type(exc).__name__})", file=path.name,
            fix="re-export the table; if it is really CSV or Excel, rename it or set [source] format",
        ) from None
    return _from_frame(df, path.name)


def read_source(
    source: Any,
    *,
    format: str | None = None,
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    header_row: int | None = None,
) -> RawTable:
    """Read a table from a path or DataFrame with every cell as a string.

    Parameters
    ----------
    source : str, path or DataFrame
        ``.csv``/``.txt``/``.tsv`` (delimiter sniffed unless given; UTF-8 with a
        latin-1 fallback unless ``encoding`` is given), ``.parquet``, ``.xlsx``,
        or a DataFrame (copied, never modified).
    format : {"csv", "parquet", "excel"}, optional
        Overrides the file extension.
    sheet : str, optional
        Excel sheet name (the first sheet by default).
    delimiter, encoding : str, optional
        CSV options. Without ``encoding`` each line is decoded as UTF-8, or as
        cp1252 when it is not valid UTF-8 (the rows are listed in the notes).
    header_row : int, optional
        1-based row (line) number of the column names, for exports with title
        rows above them (CSV and Excel). Default: the first non-empty row.

    Returns
    -------
    RawTable

    Examples
    --------
    >>> raw = read_source(pd.DataFrame({"episode_id": ["e1"], "age": [34]}))
    >>> raw.frame.to_dict("list"), raw.name
    ({'episode_id': ['e1'], 'age': ['34']}, '<DataFrame>')
    """
    if isinstance(source, pd.DataFrame):
        return _from_frame(source, "<DataFrame>")
    if not isinstance(source, (str, os.PathLike)):
        raise IopstatsError(
            f"cannot read a {type(source).__name__}",
            fix="pass a file path (CSV, Parquet, .xlsx) or a pandas DataFrame",
        )
    path = Path(source)
    if not path.exists():
        raise IopstatsError("file not found", file=str(path),
                            fix="check the path (relative paths are from the current working directory)")
    if path.is_dir():
        raise IopstatsError("expected a file but got a folder", file=str(path),
                            fix="pass the path of the table file inside the folder")
    fmt = format or _FORMATS.get(path.suffix.lower())
    if fmt is None:
        if path.suffix.lower() == ".xls":
            raise IopstatsError("old .xls workbooks are not supported", file=path.name,
                                fix="re-save the workbook as .xlsx or export the sheet as CSV")
        raise IopstatsError(
            f"cannot tell the format of a {path.suffix or 'extension-less'} file", file=path.name,
            fix="use a .csv, .parquet or .xlsx file, or set [source] format in the mapping",
        )
    if path.stat().st_size == 0:
        raise IopstatsError("the file is empty", file=path.name, fix="re-export the table with a header row and data")
    by_ext = _FORMATS.get(path.suffix.lower())
    try:
        return _read_by_format(path, fmt, sheet, delimiter, encoding, check_header_row(header_row, path.name))
    except IopstatsError as exc:
        if format and by_ext and by_ext != format:
            raise IopstatsError(
                exc.message + f"; the mapping's [source] format is {format!r} but the file extension "
                f"says {by_ext!r}", file=exc.file, column=exc.column, value=exc.value,
                fix=f"set [source] format = {by_ext!r} (or remove it) in the mapping",
            ) from None
        raise


def check_header_row(header_row: Any, file: str | None = None) -> int | None:
    """``header_row`` as a positive int (or None); anything else is an IopstatsError."""
    if header_row is None:
        return None
    if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
        raise IopstatsError(
            "header_row must be a whole number of 1 or more", file=file, column="source.header_row",
            value=header_row, fix="write header_row = 3 (no quotes) for column names on the third row",
        )
    return header_row


def _read_by_format(path: Path, fmt: str, sheet, delimiter, encoding, header_row) -> RawTable:
    if fmt == "csv":
        return _read_csv(path, delimiter, encoding, header_row)
    if fmt == "parquet":
        if header_row not in (None, 1):
            raise IopstatsError("header_row does not apply to Parquet files", file=path.name, value=header_row,
                                fix="remove header_row: Parquet stores column names apart from the rows")
        return _read_parquet(path)
    if fmt == "excel":
        from iopstats.io.excel import read_excel  # excel builds on this module's helpers

        return read_excel(path, sheet, header_row)
    raise IopstatsError(f"unknown format {fmt!r}", file=path.name, fix="use 'csv', 'parquet' or 'excel'")
