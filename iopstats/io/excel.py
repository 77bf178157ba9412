"""Read an ``.xlsx`` sheet as text, each cell as the sheet shows it.

openpyxl reads the workbook twice (read-only): once for the cached values of
formulas and once for the formulas themselves, so a formula without a cached
value (a workbook written by a program that never calculated it) is flagged
for the quarantine (``formula_without_value``) instead of loading as empty.

Cell rule
---------
* Text cells are taken as they are.
* Numbers: a cell whose number format is all zeros (``00000``) and whose value
  is whole keeps its leading zeros (``123`` -> ``"00123"``, as Excel shows
  it); any other number is written in Excel's *General* style (``101.0`` ->
  ``"101"``, ``34.5`` -> ``"34.5"``). Display rounding (``0.0``) is never
  applied: it would change the value.
* Dates are ISO timestamps (``2024-01-02T00:00:00``); Excel's "zero" dates
  (serial 0, which openpyxl reads as a bare time, shown as 1899-12-30, and
  1899-12-31, 1900-01-01) are quarantined later as ``invalid_date``.
* Booleans are ``"true"``/``"false"``; empty cells are ``""``.

The header is the first non-empty row, or row ``header_row`` (1-based, as
Excel numbers rows). Entirely empty rows are skipped.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.io.readers import RawTable, _check_columns, _drop_unnamed_empty

__all__ = ["read_excel", "excel_text"]

_ZEROS = re.compile(r"0{2,}")


def excel_text(value: Any, number_format: str | None = None) -> str:
    """A cell value as the text Excel shows for it (see the module docstring).

    Examples
    --------
    >>> excel_text(123, "00000"), excel_text(101.0, "General"), excel_text(34.5, "0"), excel_text(None)
    ('00123', '101', '34.5', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        fmt = (number_format or "").strip()
        whole = isinstance(value, int) or (math.isfinite(value) and float(value).is_integer())
        if whole and _ZEROS.fullmatch(fmt) and value >= 0:
            return str(int(value)).zfill(len(fmt))
        if whole:
            return str(int(value))
        return repr(float(value))
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, dt.time) and re.search(r"[yd]", (number_format or "").lower()):
        # serial 0 in a date-formatted cell (Excel shows 1900-01-00): openpyxl gives a bare time
        return dt.datetime.combine(dt.date(1899, 12, 30), value).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _open(path: Path, data_only: bool):
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    except Exception as exc:  # zipfile, XML and openpyxl errors for corrupt files
        raise IopstatsError(
            f"not a readable .xlsx workbook ({type(exc).__name__})", file=path.name,
            fix="open and re-save it as .xlsx, or export the sheet as CSV",
        ) from None


def _is_formula(v: Any) -> bool:
    return (isinstance(v, str) and v.startswith("=")) or type(v).__name__ in ("ArrayFormula", "DataTableFormula")


def _sheet_rows(path: Path, sheet: str | None):
    """Rows of (text, formula-without-value) pairs of the chosen sheet."""
    values, formulas = _open(path, True), _open(path, False)
    try:
        names = list(values.sheetnames)
        if sheet is not None and sheet not in names:
            raise IopstatsError(
                f"no sheet named {sheet!r} in the workbook; sheets are {names}", file=path.name,
                value=sheet, fix="set [source] sheet in the mapping to one of the sheets listed",
            )
        name = sheet if sheet is not None else names[0]
        out = []
        for vrow, frow in zip(values[name].iter_rows(), formulas[name].iter_rows(values_only=True)):
            cells = []
            for k, cell in enumerate(vrow):
                v = cell.value
                f = frow[k] if k < len(frow) else None
                if v is None and _is_formula(f):
                    cells.append((str(getattr(f, "text", f)), True))
                else:
                    cells.append((excel_text(v, getattr(cell, "number_format", None)), False))
            out.append(cells)
        return out
    except IopstatsError:
        raise
    except Exception as exc:
        raise IopstatsError(f"cannot read the sheet ({type(exc).__name__}: {exc})", file=path.name,
                            fix="export the sheet as CSV and load that") from None
    finally:
        values.close()
        formulas.close()


def read_excel(path: Path, sheet: str | None = None, header_row: int | None = None) -> RawTable:
    """Read one sheet of an ``.xlsx`` workbook as a :class:`~iopstats.io.readers.RawTable`."""
    file = path.name
    rows = _sheet_rows(path, sheet)
    filled = [i for i, r in enumerate(rows) if any(t.strip() for t, _ in r)]
    if header_row is None:
        if not filled:
            raise IopstatsError("the sheet is empty", file=file, fix="choose the sheet with the table ([source] sheet)")
        h = filled[0]
    else:
        h = header_row - 1
        if h >= len(rows) or h not in filled:
            raise IopstatsError(
                f"header_row {header_row} is not a row with column names", file=file, value=header_row,
                fix="set [source] header_row (or header_row=) to the Excel row number of the column names",
            )
    body = [rows[i] for i in filled if i > h]
    width = max([len(rows[h])] + [len(r) for r in body])
    names = [t for t, _ in rows[h]] + [""] * (width - len(rows[h]))
    texts = [[t for t, _ in r] + [""] * (width - len(r)) for r in body]
    flags = []
    for i, r in enumerate(body):
        for k, (t, formula) in enumerate(r):
            if formula:
                flags.append((i, "formula_without_value", names[k] or f"column {k + 1}", t,
                              "a formula without a calculated value: open the workbook in Excel, "
                              "recalculate and save"))
                if names[k].strip():  # in an unnamed column the formula counts as data (an error below)
                    texts[i][k] = ""
    notes: list[str] = []
    names, texts = _drop_unnamed_empty(names, texts, file, notes)
    _check_columns(names, file)
    frame = pd.DataFrame(texts, columns=names, dtype=object) if texts else pd.DataFrame(
        {c: pd.Series([], dtype=object) for c in names})
    frame.index = pd.RangeIndex(len(frame))
    return RawTable(frame, file, tuple(notes), row_flags=tuple(flags))
