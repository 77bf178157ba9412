"""Read a source table (CSV, Parquet, Excel or DataFrame) as strings.

Every cell is read as text first (``dtype=str``, no automatic missing-value
detection) so that no value is silently turned into ``NaN`` or a number.
Missing values are recognised afterwards by one explicit rule,
:func:`is_missing`: an empty or blank cell, or one of :data:`MISSING_TOKENS`
(case-insensitive). The label ``"None"`` is deliberately *not* missing: it is
a real answer in several sources ("None" prior treatments, no substance).

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

__all__ = ["MISSING_TOKENS", "RawTable", "read_source", "as_strings", "is_missing"]

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
    """

    frame: pd.DataFrame
    name: str
    notes: tuple[str, ...] = field(default=())


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
    seen: set[str] = set()
    for n in names:
        if n.strip() == "":
            raise IopstatsError(
                "the header has an empty column name", file=file,
                fix="give every column a name in the first row, or remove empty columns",
            )
        if n in seen:
            raise IopstatsError(
                "the header repeats a column name", file=file, column=n,
                fix="rename or remove the duplicated column so every column name is unique",
            )
        seen.add(n)


def _from_frame(df: pd.DataFrame, name: str, notes=()) -> RawTable:
    _check_columns([str(c) for c in df.columns], name)
    return RawTable(as_strings(df), name, tuple(notes))


def _decode(data: bytes, encoding: str | None, file: str) -> tuple[str, list[str]]:
    notes: list[str] = []
    head = data[:65536]
    if b"\x00" in head:
        raise IopstatsError(
            "the file is binary, not text (it contains NUL bytes)", file=file,
            fix="export the table as CSV, Parquet or .xlsx; if it is UTF-16 text re-save it as UTF-8",
        )
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
                fix="set the right [source] encoding in the mapping (often 'latin-1' or 'cp1252' for Windows exports)",
            ) from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
            notes.append(f"{file} is not valid UTF-8; read as latin-1 (set [source] encoding to be explicit).")
    if text:
        sample = text[:65536]
        ctrl = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\r\n\t") or 0x7F <= ord(ch) < 0xA0)
        if ctrl > max(3, len(sample) // 100):
            raise IopstatsError(
                "the file does not look like a text table (many control characters)", file=file,
                fix="check the file is a CSV export; binary formats must be Parquet or .xlsx",
            )
    return text, notes


def _sniff(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in _DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] > 0 else ","


def _read_csv(path: Path, delimiter: str | None, encoding: str | None) -> RawTable:
    file = path.name
    data = path.read_bytes()
    if not data.strip():
        raise IopstatsError("the file is empty", file=file, fix="re-export the table with a header row and data")
    text, notes = _decode(data, encoding, file)
    if not text.strip():
        raise IopstatsError("the file is empty", file=file, fix="re-export the table with a header row and data")
    sep = delimiter or _sniff(text)
    if len(sep) != 1:
        raise IopstatsError(
            "the delimiter must be one character", file=file, value=sep,
            fix="set [source] delimiter to one of ',', ';', '\\t', '|'",
        )
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=sep))
    except (csv.Error, StopIteration) as exc:
        raise IopstatsError(f"cannot read the header row: {exc}", file=file,
                            fix="check the file is a delimited text table") from None
    _check_columns(header, file)
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
            skip_blank_lines=True, engine="c",
        )
    except pd.errors.EmptyDataError:
        raise IopstatsError("the file has no header row", file=file,
                            fix="re-export the table with column names in the first row") from None
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise IopstatsError(
            f"the file is not a well-formed delimited table: {str(exc).strip().splitlines()[-1]}",
            file=file,
            fix=f"check quoting and that every row has {len(header)} fields separated by {sep!r} "
            "(or set [source] delimiter in the mapping)",
        ) from None
    return RawTable(as_strings(df.fillna("")), file, tuple(notes))


def _read_parquet(path: Path) -> RawTable:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise IopstatsError(
            f"not a readable Parquet file ({type(exc).__name__})", file=path.name,
            fix="re-export the table; if it is really CSV or Excel, rename it or set [source] format",
        ) from None
    return _from_frame(df, path.name)


def _read_excel(path: Path, sheet: str | None) -> RawTable:
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:
        raise IopstatsError(
            f"not a readable .xlsx workbook ({type(exc).__name__})", file=path.name,
            fix="open and re-save it as .xlsx, or export the sheet as CSV",
        ) from None
    with book:
        sheets = list(book.sheet_names)
        if sheet is None:
            sheet_name: Any = 0
        elif sheet in sheets:
            sheet_name = sheet
        else:
            raise IopstatsError(
                f"no sheet named {sheet!r} in the workbook; sheets are {sheets}", file=path.name,
                value=sheet, fix="set [source] sheet in the mapping to one of the sheets listed",
            )
        try:
            df = book.parse(sheet_name, dtype=str, keep_default_na=False, na_filter=False)
        except Exception as exc:
            raise IopstatsError(f"cannot read the sheet ({type(exc).__name__}: {exc})", file=path.name,
                                fix="export the sheet as CSV and load that") from None
    return _from_frame(df, path.name)


def read_source(
    source: Any,
    *,
    format: str | None = None,
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
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
        CSV options.

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
        return _read_by_format(path, fmt, sheet, delimiter, encoding)
    except IopstatsError as exc:
        if format and by_ext and by_ext != format:
            raise IopstatsError(
                exc.message + f"; the mapping's [source] format is {format!r} but the file extension "
                f"says {by_ext!r}", file=exc.file, column=exc.column, value=exc.value,
                fix=f"set [source] format = {by_ext!r} (or remove it) in the mapping",
            ) from None
        raise


def _read_by_format(path: Path, fmt: str, sheet, delimiter, encoding) -> RawTable:
    if fmt == "csv":
        return _read_csv(path, delimiter, encoding)
    if fmt == "parquet":
        return _read_parquet(path)
    if fmt == "excel":
        return _read_excel(path, sheet)
    raise IopstatsError(f"unknown format {fmt!r}", file=path.name, fix="use 'csv', 'parquet' or 'excel'")
