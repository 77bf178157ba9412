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
* **Outpatient day.** "One day is added to all outpatient discharges, so that
  the first day and last day of outpatient treatment are counted" (every
  codebook, LOS). The codebooks do not list the settings; settings 6, 7 and 8
  are the "Ambulatory" (outpatient) ones, so by default one day is subtracted
  from their ``los_days``/``los_min``/``los_max`` (a same-day stay is 0 days,
  the bin 31-45 becomes 30-44), judged on the setting at discharge
  (``outpatient_day=False`` keeps the published LOS).
* **Level of care** is the setting at discharge (SERVSETD 2006-14, SERVICES_D
  from 2015; the 2015-16 codebooks list only SERVICES_D), as SAMHSA's
  discharge tables; ``level_of_care="admission"`` uses SERVICES (2017 on). A
  file with SERVICES only falls back to it; the report says which was used.
* **Missing.** -9 (and an empty cell, and the label
  "Missing/unknown/not collected/invalid") is missing in every field. Missing
  CASEID, the setting, REASON or LOS quarantines the row
  (``missing_required``); a code outside the era's codebook quarantines it
  (``unknown_code``), so a mis-read file cannot pass silently. **2020-2023**
  have no codebook here: a value outside the 2019 codes in an optional field
  of such a row is left missing and counted in the report (it may be a new,
  valid code); the row is kept.
* **Eras** (code tables: :mod:`iopstats.io.tedsd_codes`, each code with its
  codebook page). 2006-14: AGE 2-12 (12 = 55 and over, ``age_group``
  missing), RACE 13/20/21/23, ETHNIC 5 = not Hispanic, SUB1 20 = other,
  FREQ1 five levels, NOPRIOR 0-5, PRIMPAY 8/9, no SUB1_D/FREQ1_D. The era
  comes from ``year=`` when given, otherwise from the columns (SERVSETD =
  2006-14). 2021 files carry text labels (latin-1); 2023 renames GENDER to SEX.
* **Insurance and payer.** HLTHINS (insurance held) -> ``tedsd_health_insurance``;
  PRIMPAY (payment source) -> ``tedsd_payment_source`` and the canonical
  ``payer``. SUB1_D -> ``tedsd_substance_discharge``: FREQ1_D, the relapse
  proxy, measures the use of that substance.
* Text labels are matched case-, whitespace- and dash-insensitively (then on a
  looser form that also ignores punctuation, plurals and "old"/"days") against
  every label of the era group; integer codes inside a labelled file are read
  as codes; ``"None"`` is a label (no substance, no insurance), never missing.

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
import pyarrow.csv as pacsv

from iopstats.exceptions import IopstatsError
from iopstats.io.result import LoadResult, make_report
from iopstats.io.tedsd_codes import (  # re-exported: the code tables used to live here
    LOS_BINS,
    MISSING_LABEL,
    STATES,
    TEDS_FIELDS,
    field_codes,
)
from iopstats.io.tedsd_convert import _convert

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

_LEVEL_OF_CARE = ("discharge", "admission")


def read_tedsd(path, *, year: int | None = None, columns: list[str] | None = None,
               level_of_care: str = "discharge", harmonize: bool = False,
               outpatient_day: bool = True) -> LoadResult:
    """Read a SAMHSA TEDS-D public-use CSV (any year 2006-2023) into canonical episodes.

    Parameters
    ----------
    path : str or Path
        The TEDS-D CSV, or a ``.zip`` holding one CSV (comma, tab or pipe
        separated: the delimiter is sniffed; text may be UTF-8 or latin-1).
    year : int, optional
        Discharge year: decides the codebook era (2006-2014 or 2015+) and
        stands in for DISYR when the file lacks it. By default the era comes
        from the columns (SERVSETD = 2006-14) and the year from DISYR.
    columns : list of str, optional
        Extra TEDS-D fields to carry through unchanged, as ``tedsd_<field>``
        columns after the canonical ones (integers with -9 as missing, or text
        for labelled files), e.g. ``["DAYWAIT", "ARRESTS"]``.
    level_of_care : {"discharge", "admission"}
        Which setting becomes ``level_of_care``: the setting at discharge
        (SERVSETD 2006-14, SERVICES_D 2015+; default, as SAMHSA's discharge
        tables) or at admission (SERVICES, from 2017; 2015-16 codebooks list
        only SERVICES_D). A file without the discharge setting falls back to
        SERVICES, and the report says so.
    harmonize : bool
        Add the pooled coding common to every era: ``tedsd_age_pooled``
        (12-14 ... 50-54, 55+), ``tedsd_race_pooled`` and
        ``tedsd_ethnicity_pooled`` (see :mod:`iopstats.io.tedsd_codes`).
    outpatient_day : bool
        Subtract the day the codebook adds to every outpatient discharge
        (settings 6, 7, 8 at discharge) from ``los_days``/``los_min``/``los_max``,
        so outpatient and residential stays compare at the 30/60/90-day
        cut-offs (default True).

    Returns
    -------
    LoadResult
        ``data`` (canonical episodes, then ``tedsd_substance_discharge``,
        ``tedsd_health_insurance``, ``tedsd_payment_source`` and any requested
        columns), ``quarantine`` (rows not loaded, with ``row`` = 0-based data
        row, reason, column, value, detail and the raw fields) and ``report``.
        ``extras``: ``era``, ``text_labels``, ``level_of_care_source`` (the
        TEDS-D column used) and ``relapse_proxy_missing`` (share of loaded
        episodes without FREQ1_D, by discharge year).

    Raises
    ------
    IopstatsError
        For a missing, empty, binary or non-TEDS file (naming the missing
        columns), an unknown column in ``columns`` or a bad option.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "teds.csv").write_text(
    ...     "CASEID,DISYR,SERVICES_D,REASON,LOS,SUB1\\n"
    ...     "1,2019,6,1,33,5\\n2,2019,7,2,12,-9\\n3,2019,99,1,3,2\\n4,2019,4,1,12,2\\n")
    >>> res = read_tedsd(d / "teds.csv")
    >>> res.data[["episode_id", "level_of_care", "los_days", "los_min", "los_max"]]
      episode_id      level_of_care  los_days  los_min  los_max
    0          1                iop       NaN     60.0     89.0
    1          2         outpatient      11.0     11.0     11.0
    2          4  residential_short      12.0     12.0     12.0
    >>> res.quarantine[["row", "reason", "column", "value"]]
       row        reason      column value
    0    2  unknown_code  SERVICES_D    99
    >>> res.extras["level_of_care_source"]
    'SERVICES_D'
    """
    src = _Source(path)
    header = set(src.header)
    opts = _options(src, header, year, columns, level_of_care)
    table, bad_rows, text = _read_all(src, opts)
    n_input = table.num_rows + len(bad_rows)
    if n_input == 0:
        raise IopstatsError("the file has a header but no data rows", file=src.label,
                            fix="download the TEDS-D file again (it looks truncated)")
    # data row (0-based, header excluded) of each parsed table row
    bad_pos = np.array(sorted(num - 2 for num, _ in bad_rows), dtype=np.int64)
    ok = len(bad_pos) and bad_pos.min() >= 0 and bad_pos.max() < n_input and len(np.unique(bad_pos)) == len(bad_pos)
    row_of = np.delete(np.arange(n_input, dtype=np.int64), bad_pos) if ok else None  # blank lines can shift lines
    holder = [table]  # _convert drops the parsed table before it builds the frame
    del table
    res = _convert(holder, opts, text, harmonize, outpatient_day, row_of)
    data, quarantine = res["data"], res["quarantine"]
    if bad_rows:
        qb = pd.DataFrame({
            "row": pd.array([r - 2 for r, _ in bad_rows], dtype="Int64"),
            "reason": "malformed_row", "column": None,
            "value": [t[:200] for _, t in bad_rows],
            "detail": "wrong number of fields on the line",
        })
        quarantine = pd.concat([quarantine, qb], ignore_index=True) if len(quarantine) else qb
        quarantine = quarantine.sort_values("row", kind="stable", ignore_index=True)
    notes = _notes(src, opts, text, res, data, outpatient_day, harmonize)
    report = make_report(src.label, "episodes", n_input, data, quarantine, notes=notes)
    return LoadResult(data=data, quarantine=quarantine, report=report, extras={
        "era": opts["era"], "text_labels": text, "level_of_care_source": opts["svc"],
        "relapse_proxy_missing": res["freq_missing"]})


def _options(src, header, year, columns, level_of_care) -> dict:
    """Check the file and the options; decide the era and the setting columns."""
    if level_of_care not in _LEVEL_OF_CARE:
        raise IopstatsError("level_of_care must be 'discharge' or 'admission'", value=level_of_care,
                            fix="pass level_of_care='discharge' (SERVSETD/SERVICES_D) or 'admission' (SERVICES)")
    if year is not None and not (isinstance(year, (int, np.integer)) and not isinstance(year, bool)
                                 and 2000 <= int(year) <= 2100):
        raise IopstatsError("year must be a discharge year such as 2019", value=year, fix="pass an integer year or None")
    disc = next((c for c in ("SERVSETD", "SERVICES_D") if c in header), None)
    admit = "SERVICES" if "SERVICES" in header else None
    svc = (disc or admit) if level_of_care == "discharge" else admit
    missing = [c for c, ok in (("CASEID", "CASEID" in header), ("SERVICES_D or SERVICES", disc or admit),
                               ("REASON", "REASON" in header), ("LOS", "LOS" in header)) if not ok]
    if missing:
        raise IopstatsError(
            f"not a TEDS-D discharge file: missing column(s) {', '.join(missing)} "
            f"(found {len(src.header)} columns: {', '.join(src.header[:8])}{', ...' if len(src.header) > 8 else ''})",
            file=src.label, column=missing[0],
            fix="pass the TEDS-D public-use CSV (tedsd_puf_<year>.csv) or a zip holding it; "
            "for other exports use load_episodes with a mapping",
        )
    if svc is None:
        raise IopstatsError(
            "level_of_care='admission' needs SERVICES (the setting at admission), which the file lacks"
            + (" (the 2006-14 file has only SERVSETD, the setting at discharge)" if disc == "SERVSETD" else
               " (the 2015-16 codebooks list only SERVICES_D)"),
            file=src.label, column="SERVICES", fix="use level_of_care='discharge'")
    old = (int(year) < 2015) if year is not None else (disc == "SERVSETD")
    if isinstance(columns, str):
        columns = [columns]
    extra = [str(c).strip().upper() for c in (columns or [])]
    unknown = [c for c in extra if c not in header]
    if unknown:
        raise IopstatsError(
            f"column(s) {', '.join(unknown)} not in the file", file=src.label, column=unknown[0],
            fix=f"choose from the file's columns: {', '.join(src.header)}",
        )
    sex = "SEX" if "SEX" in header else ("GENDER" if "GENDER" in header else None)
    fields = [f for f in _OPTIONAL if f in header and not (old and f in ("SUB1_D", "FREQ1_D"))]
    if sex:
        fields.insert(1, sex)
    los_setting = disc if disc else svc
    wanted = list(dict.fromkeys(["CASEID", "LOS", "DISYR", svc, los_setting, "REASON", *fields]))
    wanted = [w for w in wanted if w in header]
    absent = [f for f in ("DISYR", "GENDER", *_OPTIONAL) if f not in header and not (f == "GENDER" and sex)
              and not (old and f in ("SUB1_D", "FREQ1_D"))]
    return {"era": "2006-2014" if old else "2015+", "svc": svc, "los_setting": los_setting, "asked": level_of_care,
            "sex": sex, "wanted": wanted, "extra": extra, "absent": absent, "year": year, "fields": fields,
            "has_disyr": "DISYR" in header}


_OPTIONAL = ("AGE", "RACE", "ETHNIC", "SUB1", "SUB1_D", "FREQ1", "FREQ1_D", "PSYPROB", "METHUSE", "NOPRIOR",
             "PSOURCE", "HLTHINS", "PRIMPAY", "EMPLOY", "LIVARAG", "STFIPS")


def _read_all(src, opts):
    """Parse the needed columns: typed integers first, text labels if any value is not an integer."""
    wanted, extra = opts["wanted"], opts["extra"]
    text = _looks_text(src, wanted)
    bad_rows: list = []
    # fast path first; a non-integer value anywhere -> text (judged value by value);
    # bytes that are not UTF-8 beyond the sniffed head -> latin-1
    attempts = [(text, src.encoding), (True, src.encoding), (True, "latin-1")]
    table, last = None, None
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
    # hand the parse buffers back to the OS before the canonical frame is built: the allocator keeps
    # freed blocks otherwise, and the frame's memory would come on top of them
    pa.default_memory_pool().release_unused()
    return table, bad_rows, text


def _notes(src, opts, text, res, data, outpatient_day, harmonize) -> list[str]:
    era, svc = opts["era"], opts["svc"]
    notes = [f"TEDS-D codebook era {era} ({'text labels' if text else 'numeric codes'}; "
             f"encoding {src.encoding}; delimiter {src.delimiter!r}).",
             "TEDS records are treatment episodes, not people: client_id = episode_id = CASEID, "
             "so readmission and repeat episodes are not measurable.",
             "Dates are nominal: TEDS-D has only the discharge year. discharge_date = 1 July of DISYR; "
             "admit_date = discharge_date minus the stay (bin midpoint for LOS 31-36, 366 days for > 1 year). "
             "Use los_days/los_min/los_max for time in treatment and the discharge year for periods."]
    where = "at discharge" if svc in ("SERVSETD", "SERVICES_D") else "at admission"
    fallback = " (the file has no discharge setting)" if opts["asked"] == "discharge" and svc == "SERVICES" else ""
    notes.append(f"level_of_care is the service setting {where}: {svc}{fallback}.")
    if res["n_binned"]:
        notes.append(f"{res['n_binned']:,} loaded stays are longer than 30 days and known only as LOS bins "
                     "(los_days missing, los_min/los_max set): treat them as interval-censored.")
    if outpatient_day:
        notes.append(f"One day subtracted from the LOS of {res['n_outpatient']:,} outpatient discharges "
                     f"(settings 6-8 in {opts['los_setting']}): the codebook adds one to every outpatient LOS.")
    else:
        notes.append("LOS as published: outpatient stays include the day the codebook adds to them.")
    if era == "2006-2014":
        notes.append("2006-14 codebook applied: AGE 2-12 (12 = 55 and over: age_group missing, pooled 55+), "
                     "RACE 13/20/21/23, ETHNIC 5 = not Hispanic, SUB1 20 = other, FREQ1 five levels, "
                     "NOPRIOR 0-5, PRIMPAY 8 = no charge and 9 = other; REASON 2 (left against professional "
                     "advice) -> dropped_out. The file has no discharge-time use (FREQ1_D, SUB1_D): "
                     "no relapse proxy.")
        if res["n_55plus"]:
            notes.append(f"{res['n_55plus']:,} loaded episodes are aged 55 and over (AGE 12): age_group missing, "
                         "55-64 and 65+ cannot be told apart (harmonize=True gives tedsd_age_pooled = 55+).")
    for col, n in res["no_codebook"].items():
        notes.append(f"{n:,} loaded episodes of 2020-2023 (no codebook here) have a {col} value outside the "
                     f"2019 codebook: {col} left missing, the row kept.")
    if opts["absent"]:
        notes.append("Not in the file, left missing: " + ", ".join(opts["absent"]) + ".")
    if not opts["has_disyr"]:
        notes.append(f"No DISYR column: discharge year taken from year={opts['year']}." if opts["year"]
                     else "No DISYR column and no year= given: rows quarantined (missing_required DISYR).")
    fm = res["freq_missing"]
    if len(fm):
        by = "; ".join(f"{int(y)}: {s:.1%}" for y, s in fm.items())
        notes.append("Relapse proxy: FREQ1_D is the use at discharge of the primary substance at discharge "
                     f"(SUB1_D); missing for {by} of loaded episodes by discharge year.")
    if harmonize:
        notes.append("harmonize=True: tedsd_age_pooled, tedsd_race_pooled and tedsd_ethnicity_pooled hold the "
                     "coding common to every era 2006-2023.")
    return notes
