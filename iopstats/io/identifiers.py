"""Identifier guard (42 CFR Part 2 / HIPAA Safe Harbor) for loaded tables.

Two layers:

1. **Column names.** A source column whose *name* looks like a direct
   identifier (see :data:`IDENTIFIER_COLUMN_PATTERNS`: names, SSN, phone, fax,
   email, street address, date of birth, medical record number, 5-digit ZIP)
   is refused by :func:`check_identifier_columns` unless the mapping's
   ``drop`` list removes it. The data never enters iopstats.
2. **Values.** :func:`scan_identifier_values` looks through the remaining text
   columns for values shaped like SSNs, email addresses or US phone numbers and
   returns counts per column and kind (``report.identifier_flags``). The
   values themselves are never returned or printed.

Ages over 89 are top-coded to 90 by the loaders (Safe Harbor: "90 or older").
These are plain functions so other readers (TEDS-D) can reuse them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from iopstats.exceptions import IopstatsError

__all__ = [
    "IDENTIFIER_COLUMN_PATTERNS",
    "IDENTIFIER_VALUE_PATTERNS",
    "identifier_columns",
    "check_identifier_columns",
    "scan_identifier_values",
    "AGE_TOP_CODE",
    "MAX_SCAN_CHARS",
]

#: Ages above this are reported as ``AGE_TOP_CODE + 1`` (= 90, "90 or older").
AGE_TOP_CODE = 89

#: kind -> regular expression matched against the column name normalised to
#: lower-case letters and digits only ("Date of Birth" -> "dateofbirth").
IDENTIFIER_COLUMN_PATTERNS: dict[str, str] = {
    "name": r"(patient|client|member|person|full|first|last|middle|given|family|maiden|legal)?name|surname|[fl]name",
    "ssn": r".*(ssn|socialsecurity|socsec).*",
    "phone": r".*(phone|telephone|mobile|cellnumber|faxnumber|fax).*",
    "email": r".*(email|emailaddress).*",
    "address": r".*(address|street|addr[0-9]?).*",
    "date_of_birth": r"(.*dob.*|.*dateofbirth.*|.*birthdate.*|.*birthday.*|.*birthdt.*)",
    "medical_record_number": r"(.*mrn.*|.*medicalrecord.*|medrecno?)",
    "zip5": r"(zip|zip5|zipcode|postalcode|postcode|zip5digit)",
}

#: kind -> regular expression searched in cell values. Each runs in linear time:
#: the e-mail local part may start only where a run of its characters starts
#: (the look-behind), so a long run without "@" is read once, not once per
#: position (the unanchored pattern was quadratic: 19 s for 100,000 characters).
IDENTIFIER_VALUE_PATTERNS: dict[str, str] = {
    "ssn": r"(?<!\d)\d{3}[- ]\d{2}[- ]\d{4}(?!\d)",
    "email": r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "phone": r"(?<!\d)(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\d)",
}

#: Only the first this many characters of a cell are scanned; longer cells are
#: counted as kind ``too_long_to_scan`` (never shown), so the scan is bounded.
MAX_SCAN_CHARS = 100_000

_COMPILED_NAMES = {k: re.compile(v) for k, v in IDENTIFIER_COLUMN_PATTERNS.items()}


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def identifier_columns(columns: Iterable[str]) -> dict[str, str]:
    """Columns whose names look like direct identifiers, with the kind.

    Examples
    --------
    >>> identifier_columns(["client_id", "Last Name", "DOB", "zip3", "Phone #", "program_name"])
    {'Last Name': 'name', 'DOB': 'date_of_birth', 'Phone #': 'phone'}
    """
    found: dict[str, str] = {}
    for col in columns:
        norm = _normalise(col)
        for kind, rx in _COMPILED_NAMES.items():
            if rx.fullmatch(norm):
                found[col] = kind
                break
    return found


def check_identifier_columns(columns: Iterable[str], drop: Iterable[str] = (), file: str | None = None) -> None:
    """Refuse identifier-like columns that the mapping does not drop.

    Raises
    ------
    IopstatsError
        Naming every offending column and telling to add it to ``drop``.

    Examples
    --------
    >>> check_identifier_columns(["client_id", "ssn"], drop=["ssn"])
    >>> check_identifier_columns(["client_id", "ssn"])
    Traceback (most recent call last):
    ...
    iopstats.exceptions.IopstatsError: the source has columns that look like direct identifiers (42 CFR Part 2): 'ssn' (ssn) (column 'ssn'). Fix: add them to the mapping's drop list, e.g. drop = ["ssn"]; identifiers must not enter iopstats
    """
    dropped = set(drop)
    bad = {c: k for c, k in identifier_columns(columns).items() if c not in dropped}
    if bad:
        listing = ", ".join(f"{c!r} ({k})" for c, k in bad.items())
        quoted = ", ".join(f'"{c}"' for c in bad)
        raise IopstatsError(
            f"the source has columns that look like direct identifiers (42 CFR Part 2): {listing}",
            file=file,
            column=next(iter(bad)),
            fix=f"add them to the mapping's drop list, e.g. drop = [{quoted}]; identifiers must not enter iopstats",
        )


def scan_identifier_values(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Count values that look like SSNs, emails or phone numbers, per column.

    Only counts are returned; values are never included. Each cell is scanned
    up to :data:`MAX_SCAN_CHARS` characters; longer cells are also counted as
    kind ``too_long_to_scan`` (review that column: free text rarely belongs in
    an outcome extract).

    Parameters
    ----------
    df : DataFrame
        Table of text (or mixed) columns. Not modified.
    columns : iterable of str, optional
        Columns to scan (all object/string columns by default).

    Returns
    -------
    DataFrame
        Columns ``column``, ``kind``, ``n_values`` (rows with a match), only
        for combinations with at least one match.

    Examples
    --------
    >>> df = pd.DataFrame({"note": ["call 555-123-4567", "ok", "x@y.org"], "site": ["A", "B", "C"]})
    >>> scan_identifier_values(df)
      column   kind  n_values
    0   note  email         1
    1   note  phone         1
    """
    if columns is None:
        columns = [c for c in df.columns if df[c].dtype == object or isinstance(df[c].dtype, pd.StringDtype)]
    rows = []
    for col in columns:
        s = df[col]
        s = s[s.notna()].astype(str)
        if s.empty:
            continue
        counts = s.value_counts()
        full = pd.Series(counts.index, dtype=object)
        uniq = full.str.slice(0, MAX_SCAN_CHARS)
        for kind, rx in IDENTIFIER_VALUE_PATTERNS.items():
            hit = uniq.str.contains(rx, regex=True).to_numpy()
            n = int(counts.to_numpy()[hit].sum())
            if n:
                rows.append({"column": str(col), "kind": kind, "n_values": n})
        long_ = (full.str.len() > MAX_SCAN_CHARS).to_numpy()
        if long_.any():
            rows.append({"column": str(col), "kind": "too_long_to_scan", "n_values": int(counts.to_numpy()[long_].sum())})
    out = pd.DataFrame(rows, columns=["column", "kind", "n_values"])
    return out.sort_values(["column", "kind"], ignore_index=True)
