"""Read a SAMHSA TEDS-D public-use file (treatment discharges) into canonical episodes.

TEDS-D ships one CSV per discharge year (2015 onward) and one combined file for
2006-2014. :func:`read_tedsd` reads any of them (also a ``.zip`` holding one
CSV, whatever the delimiter) with pyarrow, only the fields it needs, with
explicit integer types, and translates codes with vectorized look-up tables.
Every input row is loaded or quarantined with a reason.

Decisions (read these before using the numbers)
-----------------------------------------------
* **Records are episodes, not people.** ``client_id = episode_id = CASEID``.
  TEDS has no client linkage, so readmission cannot be measured.
* **Dates are nominal.** TEDS-D has only the discharge year (DISYR) and no
  admission date. ``discharge_date`` is 1 July of DISYR; ``admit_date`` is
  ``discharge_date`` minus a point length of stay: the exact days for LOS
  codes 1-30, the bin midpoint rounded down for codes 31-36 (38, 53, 75,
  105, 150, 273 days) and 366 days for code 37 ("more than a year"). Use
  ``los_days`` / ``los_min`` / ``los_max`` for time in treatment and the year
  of ``discharge_date`` for periods; months are meaningless.
* **Length of stay.** LOS 1-30: ``los_days = los_min = los_max``. Codes 31-37
  are intervals: ``los_days`` missing, ``los_min``/``los_max`` the bin bounds
  (37 -> 366..inf). LOS is required: a row without it is quarantined.
* **Missing.** -9 (and an empty cell, and the 2021 label
  "Missing/unknown/not collected/invalid") is missing in every field.
  Missing CASEID, SERVICES, REASON or LOS quarantines the row
  (``missing_required``); a code outside the codebook quarantines it
  (``unknown_code``), so a mis-read file cannot pass silently.
* **Schema eras.** 2006-14 (combined file, SERVSETD instead of SERVICES;
  SERVSETD is the setting at discharge, SERVICES from 2015 the setting at
  admission): AGE codes are shifted by one (2 = 12-14 ... 13 = 65+; 1 = under
  12, loaded with a missing age group), NOPRIOR counts 0-5 (1-5 ->
  one_or_more) and FREQ1/FREQ1_D have five levels: 1 no use in the past
  month -> none; 2 1-3 times in the past month, 3 1-2 times a week, 4 3-6 times a week ->
  some; 5 daily -> daily. The era comes from ``year=`` when given, otherwise
  from the columns (SERVSETD without SERVICES = 2006-14). 2021 files carry
  text labels (latin-1); 2023 renames GENDER to SEX.
* **Codes** (substances, race, ethnicity, states, LOS bins and their 2021
  labels) are tabulated in :mod:`iopstats.io.tedsd_codes`; ``site`` is the
  state's two-letter postal code from STFIPS.
* 2021 text labels are matched case- and space-insensitively against the
  labels in :data:`TEDS_FIELDS`; integer codes inside a labelled file are
  read as codes; ``"None"`` is a label (no substance, no insurance), never
  missing. An ``AGE`` of -9 (not in the codebook) is read as missing.

Quarantine reasons
------------------
=====================  ==========================================================
``missing_required``   CASEID, SERVICES/SERVSETD, REASON or LOS is -9/empty, or
                       DISYR is missing and no ``year=`` was given
``duplicate_episode_id``  CASEID repeats an earlier row (the first one is kept)
``unknown_code``       a value outside the codebook of the file's era (the
                       ``column`` and raw ``value`` are recorded)
``malformed_row``      a line with the wrong number of fields
=====================  ==========================================================
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from iopstats.exceptions import IopstatsError
from iopstats.io.result import QUARANTINE_META, LoadResult, make_report
from iopstats.io.schema import CODE_SETS, coerce_dtypes
from iopstats.io.tedsd_codes import (  # re-exported: the code tables used to live here
    _OPTIONAL_ORDER,
    LOS_BINS,
    MISSING,
    MISSING_LABEL,
    STATES,
    TEDS_FIELDS,
    UNPARSED,
    _norm,
    field_codes,
)

__all__ = ["read_tedsd", "TEDS_FIELDS", "STATES", "LOS_BINS", "MISSING_LABEL", "field_codes"]


# --------------------------------------------------------------------------- file access


class _Source:
    """A CSV file or the one CSV inside a zip, with its sniffed header and encoding."""

    def __init__(self, path):
        self.path = Path(path)
        self.label = str(path)
        if not self.path.exists():
            raise IopstatsError("file not found", file=self.label, fix="check the path to the TEDS-D CSV or zip")
        if self.path.is_dir():
            raise IopstatsError("expected a file, got a folder", file=self.label, fix="pass the TEDS-D CSV or zip file itself")
        self.member = None
        if zipfile.is_zipfile(self.path):
            with zipfile.ZipFile(self.path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/") and not n.startswith("__MACOSX")]
            data = [n for n in names if n.lower().endswith((".csv", ".tsv", ".txt", ".dat"))] or names
            if len(data) != 1:
                raise IopstatsError(
                    f"the zip holds {len(data)} data files ({', '.join(data[:5])}); expected exactly one CSV",
                    file=self.label, fix="extract the TEDS-D CSV and pass its path",
                )
            self.member = data[0]
        head = self._head(1 << 16)
        if not head.strip():
            raise IopstatsError("the file is empty", file=self.label, fix="download the TEDS-D file again")
        if b"\x00" in head:
            raise IopstatsError(
                "the file is binary, not a CSV (SAS/Stata/SPSS or compressed?)", file=self.label,
                fix="download the CSV version of TEDS-D (or a zip holding one CSV)",
            )
        try:
            text = head.decode("utf-8")
            self.encoding = "utf8"
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the end of the sample is still UTF-8
            if exc.start >= len(head) - 4:
                text = head[: exc.start].decode("utf-8")
                self.encoding = "utf8"
            else:
                text = head.decode("latin-1")
                self.encoding = "latin-1"
        text = text.lstrip("\ufeff")
        first = text.splitlines()[0] if text.splitlines() else ""
        counts = {d: first.count(d) for d in (",", "\t", "|", ";")}
        self.delimiter = max(counts, key=counts.get)
        raw_names = next(iter(_split_lines([first], self.delimiter)))
        self.header = [n.strip().strip('"').upper() for n in raw_names]
        self.sample_rows = list(_split_lines(text.splitlines()[1:51], self.delimiter))

    def _head(self, n: int) -> bytes:
        with self.open() as fh:
            return fh.read(n)

    def open(self):
        if self.member is None:
            return open(self.path, "rb")
        zf = zipfile.ZipFile(self.path)
        return _ZipStream(zf, zf.open(self.member))


class _ZipStream(io.RawIOBase):
    def __init__(self, zf, fh):
        self._zf, self._fh = zf, fh

    def readable(self):
        return True

    def readinto(self, b):
        data = self._fh.read(len(b))
        b[: len(data)] = data
        return len(data)

    def read(self, n=-1):
        return self._fh.read(n)

    def close(self):
        self._fh.close()
        self._zf.close()
        super().close()


def _split_lines(lines, delimiter):
    return csv.reader(lines, delimiter=delimiter)


# --------------------------------------------------------------------------- reading


def _read_table(src: _Source, names: list[str], extra: list[str], text: bool, bad_rows: list,
                use_threads: bool = True):
    """Read the needed columns: typed integers (fast path) or strings (text labels)."""
    names = list(dict.fromkeys([*names, *extra]))
    types = {}
    for n in names:
        if text:  # labels repeat: dictionary-encode while parsing (4 bytes a cell)
            types[n] = pa.string() if n == "CASEID" else pa.dictionary(pa.int32(), pa.string())
        elif n == "CASEID":
            types[n] = pa.int64()
        elif n == "DISYR" or n in extra:
            types[n] = pa.int32()
        else:
            types[n] = pa.int16()

    def on_invalid(row):
        bad_rows.append((row.number, row.text))
        return "skip"

    read_opts = pacsv.ReadOptions(
        column_names=_unique(src.header),
        skip_rows=1,
        encoding="latin-1" if src.encoding == "latin-1" else "utf8",
        block_size=1 << 24,
        use_threads=use_threads,
    )
    parse_opts = pacsv.ParseOptions(delimiter=src.delimiter, invalid_row_handler=on_invalid)
    conv_opts = pacsv.ConvertOptions(
        column_types=types,
        include_columns=names,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    with src.open() as fh:
        return pacsv.read_csv(fh, read_options=read_opts, parse_options=parse_opts, convert_options=conv_opts)


def _unique(header):
    seen, out = {}, []
    for h in header:
        k = seen.get(h, 0)
        out.append(h if k == 0 else f"{h}.{k}")
        seen[h] = k + 1
    return out


def _looks_text(src: _Source, cols: list[str]) -> bool:
    """True when sample rows hold non-integer values in coded fields (2021 labels)."""
    idx = [src.header.index(c) for c in cols if c in src.header and c != "CASEID"]
    for row in src.sample_rows:
        for i in idx:
            if i < len(row):
                v = row[i].strip()
                if v and not re.fullmatch(r"-?\d+", v):
                    return True
    return False


def _codes_from_text(col: pa.ChunkedArray, labels: dict[str, int]) -> np.ndarray:
    """Integer codes from a text column: integers as is, known labels via ``labels``.

    Works chunk by chunk on the dictionary of distinct values, so the Python
    work is per distinct label, never per row.
    """
    parts = []
    for chunk in col.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        dictionary = pc.cast(chunk.dictionary, pa.string()).to_pylist()
        lut = np.empty(len(dictionary) + 1, dtype=np.int32)
        for i, s in enumerate(dictionary):
            t = s.strip()
            if re.fullmatch(r"[+-]?\d{1,9}", t):
                lut[i] = int(t)
            else:
                lut[i] = labels.get(_norm(t), UNPARSED)
        lut[-1] = MISSING  # null cells
        idx = chunk.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
        parts.append(lut[idx])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def _int_codes(table: pa.Table, name: str, text: bool, labels: dict[str, int]) -> np.ndarray:
    col = table.column(name)
    if text:
        return _codes_from_text(col, labels)
    return pc.fill_null(col, MISSING).to_numpy().astype(np.int32, copy=False)


def _lookup(codes: np.ndarray, table: dict[int, tuple], values: list) -> tuple[np.ndarray, np.ndarray]:
    """Map codes to indices into ``values`` (-1 = missing, -2 = unknown code) and an unknown mask.

    One clip and one ``np.take`` on a small table: slot 0 catches codes below
    -9, slot 1 is -9 (missing), the last slot catches codes above the table.
    """
    hi = max(table)
    lut = np.full(hi + 12, -2, dtype=np.int16)
    lut[1] = -1
    for code, (val, _label) in table.items():
        lut[code + 10] = -1 if val is None else values.index(val)
    out = np.take(lut, np.clip(codes, -10, hi + 1) + 10)
    return out, out == -2


def read_tedsd(path, *, year: int | None = None, columns: list[str] | None = None) -> LoadResult:
    """Read a SAMHSA TEDS-D public-use CSV (any year 2006-2023) into canonical episodes.

    Parameters
    ----------
    path : str or Path
        The TEDS-D CSV, or a ``.zip`` holding one CSV (comma, tab or pipe
        separated: the delimiter is sniffed; text may be UTF-8 or latin-1).
    year : int, optional
        Codebook year. Decides the schema era (before 2015: shifted AGE codes,
        NOPRIOR 0-5, five-level FREQ1) and stands in for DISYR when the file
        lacks it. By default the era is taken from the columns.
    columns : list of str, optional
        Extra TEDS-D fields to carry through unchanged, as ``tedsd_<field>``
        columns after the canonical ones (integers with -9 as missing, or text
        for labelled files), e.g. ``["DAYWAIT", "ARRESTS"]``.

    Returns
    -------
    LoadResult
        ``data`` (canonical episodes), ``quarantine`` (rows not loaded, with
        ``row`` = 0-based data row, reason, column, value, detail and the raw
        fields) and ``report`` (counts and notes on nominal dates, binned LOS
        and non-measurable readmission). ``extras["era"]`` names the schema era.

    Raises
    ------
    IopstatsError
        For a missing, empty, binary or non-TEDS file (naming the missing
        columns), or an unknown column in ``columns``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "teds.csv").write_text(
    ...     "CASEID,DISYR,SERVICES,REASON,LOS,SUB1\\n"
    ...     "1,2019,6,1,33,5\\n2,2019,7,2,12,-9\\n3,2019,99,1,3,2\\n")
    >>> res = read_tedsd(d / "teds.csv")
    >>> res.data[["episode_id", "level_of_care", "los_days", "los_min", "los_max"]]
      episode_id level_of_care  los_days  los_min  los_max
    0          1           iop       NaN     61.0     90.0
    1          2    outpatient      12.0     12.0     12.0
    >>> res.quarantine[["row", "reason", "column", "value"]]
       row        reason    column value
    0    2  unknown_code  SERVICES    99
    """
    src = _Source(path)
    header = set(src.header)
    notes: list[str] = []
    svc_col = "SERVICES" if "SERVICES" in header else ("SERVSETD" if "SERVSETD" in header else None)
    missing = [c for c, ok in (("CASEID", "CASEID" in header), ("SERVICES", svc_col), ("REASON", "REASON" in header),
                               ("LOS", "LOS" in header)) if not ok]
    if missing:
        raise IopstatsError(
            f"not a TEDS-D discharge file: missing column(s) {', '.join(missing)} "
            f"(found {len(src.header)} columns: {', '.join(src.header[:8])}{', ...' if len(src.header) > 8 else ''})",
            file=src.label, column=missing[0],
            fix="pass the TEDS-D public-use CSV (tedsd_puf_<year>.csv) or a zip holding it; "
            "for other exports use load_episodes with a mapping",
        )
    if year is not None and not (isinstance(year, (int, np.integer)) and 1990 <= int(year) <= 2100):
        raise IopstatsError("year must be a discharge year such as 2019", value=year, fix="pass an integer year or None")
    old_era = (int(year) < 2015) if year is not None else (svc_col == "SERVSETD")
    era = "2006-2014" if old_era else "2015+"
    cb_year = 2010 if old_era else 2019
    sex_col = "SEX" if "SEX" in header else ("GENDER" if "GENDER" in header else None)
    rename = {svc_col: "SERVICES"}
    if sex_col:
        rename[sex_col] = "GENDER"
    if isinstance(columns, str):
        columns = [columns]
    extra = [str(c).strip().upper() for c in (columns or [])]
    unknown = [c for c in extra if c not in header]
    if unknown:
        raise IopstatsError(
            f"column(s) {', '.join(unknown)} not in the file", file=src.label, column=unknown[0],
            fix=f"choose from the file's columns: {', '.join(src.header)}",
        )
    order = ["CASEID", "LOS", "DISYR", svc_col, "REASON", "AGE", sex_col, *_OPTIONAL_ORDER[3:]]
    wanted = list(dict.fromkeys(w for w in order if w and w in header))
    absent = [f for f in _OPTIONAL_ORDER if f not in header and not (f == "GENDER" and sex_col)]
    text = _looks_text(src, wanted)
    bad_rows: list = []
    # fast path first; a non-integer value anywhere -> text (judged value by value);
    # bytes that are not UTF-8 beyond the sniffed head -> latin-1
    attempts = [(text, src.encoding), (True, src.encoding), (True, "latin-1")]
    table = None
    for i, (text, src.encoding) in enumerate(attempts):
        if i and attempts[i] == attempts[i - 1]:
            continue
        bad_rows.clear()
        try:
            table = _read_table(src, wanted, extra, text, bad_rows)
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            last = exc
    if table is None:
        raise IopstatsError(f"could not parse the file as CSV: {last}", file=src.label,
                            fix="check that the file is a TEDS-D CSV export") from None
    if bad_rows and any(num is None for num, _ in bad_rows):
        # line numbers of malformed lines are only reported by a single-threaded read (rare path)
        bad_rows.clear()
        table = _read_table(src, wanted, extra, text, bad_rows, use_threads=False)
    n_rows = table.num_rows
    if n_rows + len(bad_rows) == 0:
        raise IopstatsError("the file has a header but no data rows", file=src.label,
                            fix="download the TEDS-D file again (it looks truncated)")
    n_input = n_rows + len(bad_rows)
    # data row (0-based, header excluded) of each parsed table row
    bad_pos = np.array(sorted(num - 2 for num, _ in bad_rows), dtype=np.int64)
    ok = len(bad_pos) and bad_pos.min() >= 0 and bad_pos.max() < n_input and len(np.unique(bad_pos)) == len(bad_pos)
    row_of = np.delete(np.arange(n_input, dtype=np.int64), bad_pos) if ok else None  # blank lines can shift lines
    res = _convert(table, wanted, rename, text, old_era, cb_year, year, row_of)
    data, quarantine = res["data"], res["quarantine"]
    if extra:
        for c in extra:
            data[f"tedsd_{c.lower()}"] = _extra_column(table.column(c), res["keep"], text)
    if bad_rows:
        qb = pd.DataFrame({
            "row": pd.array([r - 2 for r, _ in bad_rows], dtype="Int64"),
            "reason": "malformed_row", "column": None,
            "value": [t[:200] for _, t in bad_rows],
            "detail": "wrong number of fields on the line",
        })
        quarantine = pd.concat([quarantine, qb], ignore_index=True) if len(quarantine) else qb
        quarantine = quarantine.sort_values("row", kind="stable", ignore_index=True)
    # notes for the evaluator
    notes.append(f"TEDS-D schema era {era} ({'text labels' if text else 'numeric codes'}; "
                 f"encoding {src.encoding}; delimiter {src.delimiter!r}).")
    notes.append("TEDS records are treatment episodes, not people: client_id = episode_id = CASEID, "
                 "so readmission and repeat episodes are not measurable.")
    notes.append("Dates are nominal: TEDS-D has only the discharge year. discharge_date = 1 July of DISYR; "
                 "admit_date = discharge_date minus the stay (bin midpoint for LOS 31-36, 366 days for > 1 year). "
                 "Use los_days/los_min/los_max for time in treatment and the discharge year for periods.")
    n_binned = res["n_binned"]
    if n_binned:
        notes.append(f"{n_binned:,} loaded stays are longer than 30 days and known only as LOS bins "
                     "(los_days missing, los_min/los_max set): treat them as interval-censored.")
    if svc_col == "SERVSETD":
        notes.append("level_of_care comes from SERVSETD, the service setting at discharge (2006-14 file); "
                     "from 2015 TEDS-D gives SERVICES, the setting at admission.")
    if old_era:
        notes.append("2006-14 codebook applied: AGE codes shifted by one (code 1 = under 12 -> missing age group), "
                     "NOPRIOR 1-5 -> one_or_more, FREQ1/FREQ1_D five levels -> none/some/daily; "
                     "REASON 2 (left against professional advice) -> dropped_out.")
    if res["n_under12"]:
        notes.append(f"{res['n_under12']:,} loaded episodes have AGE code 1 (under 12): age group left missing.")
    if absent:
        notes.append("Not in the file, left missing: " + ", ".join(absent) + ".")
    if "DISYR" not in header:
        notes.append(f"No DISYR column: discharge year taken from year={year}." if year
                     else "No DISYR column and no year= given: rows quarantined (missing_required DISYR).")
    if "FREQ1_D" in wanted and len(data):
        share = float(data["use_freq_discharge"].isna().mean())
        notes.append(f"FREQ1_D (use at discharge, the relapse proxy) is missing for {share:.1%} of loaded episodes.")
    report = make_report(src.label, "episodes", n_input, data, quarantine, notes=notes)
    return LoadResult(data=data, quarantine=quarantine, report=report, extras={"era": era, "text_labels": text})


def _extra_column(col: pa.ChunkedArray, keep: np.ndarray, text: bool) -> pd.Series:
    s = col.to_pandas()
    s = s[keep].reset_index(drop=True)
    if text:
        s = s.astype("string").str.strip()
        num = pd.to_numeric(s, errors="coerce")
        if num.notna().sum() == s.notna().sum() and (num.dropna() % 1 == 0).all():
            out = num.astype("Int32")
            return out.mask(out == MISSING)
        return s.mask(s.str.lower().isin([_norm(MISSING_LABEL), "-9"]))
    out = s.astype("Int32")
    return out.mask(out == MISSING)


_REASONS_ORDER = ("missing_required", "duplicate_episode_id", "unknown_code")


def _convert(table, wanted, rename, text, old_era, cb_year, year, row_of=None):
    n = table.num_rows
    reason = np.zeros(n, dtype=np.int8)  # 0 ok, 1.. index into _REASONS_ORDER + 1
    bad_col = np.full(n, -1, dtype=np.int16)
    col_names: list[str] = []

    def flag(mask, why, colname):
        new = mask & (reason == 0)
        if new.any():
            col_names.append(colname)
            reason[new] = _REASONS_ORDER.index(why) + 1
            bad_col[new] = len(col_names) - 1

    # CASEID: integers on the fast path, trimmed text otherwise
    case = table.column("CASEID")
    if pa.types.is_string(case.type):
        case = pc.utf8_trim_whitespace(case)
        case = pc.if_else(pc.equal(case, ""), pa.scalar(None, pa.string()), case)
    valid = pc.is_valid(case).to_numpy(zero_copy_only=False) if n else np.zeros(0, bool)
    flag(~valid, "missing_required", "CASEID")
    vi = np.flatnonzero(valid)
    dup = np.zeros(n, dtype=bool)
    if len(vi):
        dup[vi] = pd.Series(case.take(pa.array(vi)).to_numpy(zero_copy_only=False)).duplicated(keep="first").to_numpy()
    flag(dup, "duplicate_episode_id", "CASEID")

    out: dict[str, object] = {}
    labels_of = {}
    for src_name in wanted:
        if src_name == "CASEID":
            continue
        name = rename.get(src_name, src_name)
        if name == "LOS":
            labels_of[src_name] = {_norm(v[3]): k for k, v in LOS_BINS.items()}
        elif name == "DISYR":
            labels_of[src_name] = {}
        else:
            labels_of[src_name] = {_norm(lab): k for k, (_, lab) in field_codes(name, cb_year).items()}
        labels_of[src_name][_norm(MISSING_LABEL)] = MISSING
    codes = {rename.get(s, s): _int_codes(table, s, text, labels_of[s]) for s in wanted if s != "CASEID"}
    orig = {rename.get(s, s): s for s in wanted}

    # required coded fields, then LOS, then DISYR, then optional fields
    for name in ("SERVICES", "REASON"):
        c = codes[name]
        flag((c == MISSING), "missing_required", orig[name])
    los = codes["LOS"]
    flag(los == MISSING, "missing_required", "LOS")
    idx = {}
    for name in ("SERVICES", "REASON"):
        f = TEDS_FIELDS[name]
        values = list(CODE_SETS[f.target])
        idx[name], unk = _lookup(codes[name], field_codes(name, cb_year), values)
        flag(unk, "unknown_code", orig[name])
    los_known = (los >= 1) & (los <= 37)
    flag(~los_known, "unknown_code", "LOS")
    if "DISYR" in codes:
        yr = codes["DISYR"].astype(np.int32)
        if year is not None:
            yr = np.where(yr == MISSING, int(year), yr)
        flag(yr == MISSING, "missing_required", "DISYR")
        flag((yr != MISSING) & ((yr < 1990) | (yr > 2100)), "unknown_code", "DISYR")
    else:
        yr = np.full(n, int(year) if year is not None else MISSING, dtype=np.int32)
        flag(yr == MISSING, "missing_required", "DISYR")
    n_under12 = 0
    for name in _OPTIONAL_ORDER[1:]:
        if name not in codes:
            continue
        f = TEDS_FIELDS[name]
        table_codes = field_codes(name, cb_year)
        if f.target == "site":
            values = [v for v, _ in STATES.values()]
        elif f.target in ("psych_problem", "opioid_medication"):
            values = [True, False]
        else:
            values = list(CODE_SETS[f.target])
        idx[name], unk = _lookup(codes[name], table_codes, values)
        flag(unk, "unknown_code", orig[name])
        if name == "AGE" and old_era:
            under = codes[name] == 1
            n_under12 = int((under & (reason == 0)).sum())

    keep = reason == 0
    kept = np.flatnonzero(keep)
    # ---- canonical frame
    # 1 July of DISYR, built in numpy (months since 1970 -> days)
    disc = ((yr[kept].astype(np.int64) - 1970) * 12 + 6).astype("datetime64[M]").astype("datetime64[ns]")
    los_k = los[kept].astype(np.int64)
    lo_lut = np.full(38, np.nan)
    hi_lut = np.full(38, np.nan)
    pt_lut = np.zeros(38, dtype=np.int64)
    for k, (lo, hi, pt, _) in LOS_BINS.items():
        lo_lut[k], hi_lut[k], pt_lut[k] = lo, hi, pt
    los_min = lo_lut[los_k] if len(kept) else np.array([], float)
    los_max = hi_lut[los_k] if len(kept) else np.array([], float)
    los_days = np.where(los_k <= 30, los_min, np.nan)
    admit = disc - pt_lut[los_k].astype("timedelta64[D]")
    ids = pd.array(pc.cast(case.take(pa.array(kept)), pa.string()).to_numpy(zero_copy_only=False), dtype="string")
    out.update(client_id=ids, episode_id=ids.copy(), admit_date=admit, discharge_date=disc,
               los_days=los_days, los_min=los_min, los_max=los_max)
    for name, ix in idx.items():
        f = TEDS_FIELDS[name]
        sel = ix[kept]
        if f.target == "site":
            vals = np.array([v for v, _ in STATES.values()] + [None], dtype=object)
            out["site"] = pd.array(vals[np.where(sel < 0, len(vals) - 1, sel)], dtype="string")
        elif f.target in ("psych_problem", "opioid_medication"):
            out[f.target] = pd.arrays.BooleanArray(sel == 0, sel < 0)
        else:
            cats = list(CODE_SETS[f.target])
            out[f.target] = pd.Categorical.from_codes(sel.astype(np.int16), categories=cats)
    data = coerce_dtypes(pd.DataFrame(out), "episodes") if len(kept) else coerce_dtypes(pd.DataFrame(
        {k: [] for k in ("client_id",)}), "episodes")

    # ---- quarantine
    bad = np.flatnonzero(~keep)
    if len(bad):
        sub = table.take(pa.array(bad))
        raw = pd.DataFrame({c: pd.array(pc.cast(sub.column(c), pa.string()).to_pylist(), dtype="string")
                            for c in sub.column_names})
        reasons = np.array(_REASONS_ORDER, dtype=object)[reason[bad] - 1]
        cols = np.array(col_names, dtype=object)[bad_col[bad]]
        values = [raw.at[i, c] if c in raw.columns else None for i, c in enumerate(cols)]
        detail = [_detail(r, c, v) for r, c, v in zip(reasons, cols, values)]
        meta = pd.DataFrame({"row": pd.array(bad if row_of is None else row_of[bad], dtype="Int64"), "reason": reasons, "column": cols,
                             "value": [None if pd.isna(v) else str(v) for v in values], "detail": detail})
        quarantine = pd.concat([meta, raw], axis=1)
    else:
        quarantine = pd.DataFrame({c: pd.Series([], dtype=object) for c in QUARANTINE_META})
    return {"data": data, "quarantine": quarantine, "keep": keep, "n_binned": int((los_k > 30).sum()),
            "n_under12": n_under12}


def _detail(reason, column, value):
    if reason == "missing_required":
        return f"{column} is missing (-9 or empty); the episode cannot be placed"
    if reason == "duplicate_episode_id":
        return "CASEID repeats an earlier row; the first occurrence was kept"
    return f"{column} value {value} is not in the TEDS-D codebook for this schema era"
