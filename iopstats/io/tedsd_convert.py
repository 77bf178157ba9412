"""Conversion of a parsed TEDS-D table to canonical episodes (used by :func:`iopstats.io.tedsd.read_tedsd`).

Codes are translated with vectorized look-up tables built from the shipped code
tables (:mod:`iopstats.io.tedsd_codes`); each row gets its first quarantine
reason; the canonical frame is built directly in its canonical dtypes.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from iopstats.io.result import QUARANTINE_META
from iopstats.io.schema import AGE_GROUPS, CODE_SETS, EPISODE_COLUMNS, _dtype
from iopstats.io.tedsd_codes import (
    LOS_BINS,
    MISSING,
    MISSING_LABEL,
    STATES,
    TEDS_FIELDS,
    UNPARSED,
    _loose,
    _norm,
    group_table,
    label_codes,
)

_OUTPATIENT_SETTINGS = (6, 7, 8)  # "Ambulatory" settings: the codebook adds one day to their LOS


def _codes_from_text(col: pa.ChunkedArray, labels: dict[str, int]) -> np.ndarray:
    """Integer codes from a text column: integers as is, known labels via ``labels``.

    Works chunk by chunk on the dictionary of distinct values, so the Python
    work is per distinct label, never per row. Labels are matched on their
    normalized form (case, whitespace, dashes), then their loose form.
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
                lut[i] = labels.get(_norm(t), labels.get(_loose(t), UNPARSED))
        lut[-1] = MISSING  # null cells
        idx = chunk.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
        parts.append(lut[idx])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def _int_codes(table: pa.Table, name: str, text: bool, labels: dict[str, int]) -> np.ndarray:
    col = table.column(name)
    if text:
        return _codes_from_text(col, labels)
    return pc.fill_null(col, MISSING).to_numpy().astype(np.int16 if pa.types.is_int16(col.type) else np.int32,
                                                        copy=False)


def _lookup(codes: np.ndarray, table: dict[int, str], values: list) -> np.ndarray:
    """Map codes to indices into ``values`` (-1 = missing or no value, -2 = code not in the table).

    One clip and one ``np.take`` on a small table: slot 0 catches codes below
    -9, slot 1 is -9 (missing), the last slot catches codes above the table.
    """
    hi = max(table)
    lut = np.full(hi + 12, -2, dtype=np.int8)
    lut[1] = -1
    for code, val in table.items():
        lut[code + 10] = values.index(val) if val in values else -1
    return np.take(lut, np.clip(codes, -10, hi + 1) + 10)


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
_POOLED = {"AGE": ("tedsd_age_pooled", (*AGE_GROUPS[:10], "55+")),
           "RACE": ("tedsd_race_pooled", ("white", "black", "native_american", "asian_pacific_islander",
                                          "multiracial", "other")),
           "ETHNIC": ("tedsd_ethnicity_pooled", ("puerto_rican", "mexican", "cuban_or_other_specific",
                                                 "hispanic_not_specified", "not_hispanic"))}
_DETAIL = {"tedsd_substance_discharge": CODE_SETS["primary_substance"],
           "tedsd_health_insurance": ("private", "medicaid", "medicare_other", "none"),
           "tedsd_payment_source": ("self_pay", "private_insurance", "medicare", "medicare_workers_comp",
                                    "medicaid", "other_government", "no_charge", "other")}
_BOOL = ("psych_problem", "opioid_medication")


class _Flags:
    """First quarantine reason and column of each row."""

    def __init__(self, n):
        self.reason = np.zeros(n, dtype=np.int8)  # 0 ok, 1.. index into _REASONS_ORDER + 1
        self.col = np.full(n, -1, dtype=np.int16)
        self.names: list[str] = []

    def __call__(self, mask, why, colname):
        new = mask & (self.reason == 0)
        if new.any():
            self.names.append(colname)
            self.reason[new] = _REASONS_ORDER.index(why) + 1
            self.col[new] = len(self.names) - 1


def _case_ids(table, flag):
    case = table.column("CASEID")
    if pa.types.is_string(case.type):
        case = pc.utf8_trim_whitespace(case)
        case = pc.if_else(pc.equal(case, ""), pa.scalar(None, pa.string()), case)
    n = table.num_rows
    valid = pc.is_valid(case).to_numpy(zero_copy_only=False) if n else np.zeros(0, bool)
    flag(~valid, "missing_required", "CASEID")
    vi = np.flatnonzero(valid)
    dup = np.zeros(n, dtype=bool)
    if len(vi):
        vals = (case.take(pa.array(vi)) if len(vi) < n else case).to_numpy(zero_copy_only=False)
        # strictly increasing integer ids (the usual order) have no repeats: no hash table needed
        if not (vals.dtype.kind == "i" and bool((vals[1:] > vals[:-1]).all())):
            dup[vi] = pd.Series(vals).duplicated(keep="first").to_numpy()
    flag(dup, "duplicate_episode_id", "CASEID")
    return case


def _convert(holder, opts, text, harmonize, outpatient_day, row_of=None):
    table = holder.pop()
    n = table.num_rows
    flag = _Flags(n)
    group = opts["era"]
    case = _case_ids(table, flag)
    svc, los_setting = opts["svc"], opts["los_setting"]
    canon = {svc: "SERVICES"}
    codes = {}
    for s in opts["wanted"]:
        if s == "CASEID":
            continue
        name = "GENDER" if s == opts["sex"] else s
        labels = {} if name == "DISYR" else label_codes(name, group)
        codes[s] = _int_codes(table, s, text, labels)
    # required: setting, REASON, LOS, DISYR
    flag(codes[svc] == MISSING, "missing_required", svc)
    flag(codes["REASON"] == MISSING, "missing_required", "REASON")
    los = codes["LOS"]
    flag(los == MISSING, "missing_required", "LOS")
    idx = {}
    idx["level_of_care"] = _lookup(codes[svc], _values(svc, group), list(CODE_SETS["level_of_care"]))
    flag(idx["level_of_care"] == -2, "unknown_code", svc)
    idx["discharge_reason"] = _lookup(codes["REASON"], _values("REASON", group), list(CODE_SETS["discharge_reason"]))
    flag(idx["discharge_reason"] == -2, "unknown_code", "REASON")
    flag(~((los >= 1) & (los <= 37)), "unknown_code", "LOS")
    yr = _years(codes, opts, flag, n)
    lenient = yr >= 2020  # no codebook here: a value outside the 2019 codes is plausibly valid
    no_codebook: dict[str, int] = {}
    pooled = {}
    for s in opts["fields"]:
        name = "GENDER" if s == opts["sex"] else s
        target = TEDS_FIELDS[name]
        cats = _categories(target)
        ix = _lookup(codes[s], _values(name, group), cats)
        unk = ix == -2
        strict_unk = unk & ~lenient
        flag(strict_unk, "unknown_code", s)
        if (unk & lenient).any():
            no_codebook[s] = unk & lenient
            ix = np.where(unk, -1, ix).astype(np.int8)
        idx[target] = ix
        if name == "PRIMPAY":
            idx["payer"] = _lookup(codes[s], _values(name, group, "pooled"), list(CODE_SETS["payer"]))
        if harmonize and name in _POOLED:
            col, pcats = _POOLED[name]
            pooled[col] = (_lookup(codes[s], _values(name, group, "pooled"), list(pcats)), pcats)
    keep = flag.reason == 0
    kept = np.flatnonzero(keep)
    # everything that needs the parsed table or the raw codes first, then free them before the frame
    quarantine = _quarantine(table, flag, keep, row_of)
    extras = {f"tedsd_{c.lower()}": _extra_column(table.column(c), keep, text) for c in opts["extra"]}
    del table
    setting = codes[los_setting]
    n_out = int(_outpatient(setting[kept]).sum()) if outpatient_day else 0
    n55 = int((codes["AGE"][kept] == 12).sum()) if group == "2006-2014" and "AGE" in codes else 0
    freq_missing = _missing_by_year(idx.get("use_freq_discharge"), yr, kept)
    codes.clear()
    data = _frame(case, kept, yr, los, setting if outpatient_day else None, idx, pooled)
    for name, col in extras.items():
        data[name] = col
    return {"data": data, "quarantine": quarantine, "keep": keep, "n_binned": int((los[kept] > 30).sum()),
            "n_outpatient": n_out, "n_55plus": n55, "freq_missing": freq_missing,
            "no_codebook": {c: int((m & keep).sum()) for c, m in no_codebook.items() if (m & keep).any()}}


def _outpatient(setting: np.ndarray) -> np.ndarray:
    """Settings 6, 7, 8 (ambulatory), to which the codebook adds a day of LOS."""
    lo, hi = min(_OUTPATIENT_SETTINGS), max(_OUTPATIENT_SETTINGS)
    return (setting >= lo) & (setting <= hi)


def _missing_by_year(freq, yr, kept) -> pd.Series:
    """Share of kept episodes whose ``use_freq_discharge`` is missing (look-up index < 0), by discharge year."""
    if freq is None or not len(kept):
        return pd.Series(dtype=float)
    y = yr[kept]
    years = np.unique(y)
    pos = np.searchsorted(years, y)
    n = np.bincount(pos, minlength=len(years))
    miss = np.bincount(pos, weights=(freq[kept] < 0), minlength=len(years))
    return pd.Series(miss / n, index=pd.Index(years.astype(int), name="discharge_year"), name="freq1_d_missing")


def _values(field, group, which="value") -> dict[int, str]:
    pos = 0 if which == "value" else 1
    return {k: v[pos] for k, v in group_table(field, group).items()}


def _categories(target) -> list:
    if target == "site":
        return [v for v, _ in STATES.values()]
    if target in _BOOL:
        return ["yes", "no"]
    return list(_DETAIL.get(target, CODE_SETS.get(target, ())))


def _years(codes, opts, flag, n):
    year = opts["year"]
    if "DISYR" in codes:
        yr = codes["DISYR"].astype(np.int32)
        if year is not None:
            yr = np.where(yr == MISSING, int(year), yr)
        flag(yr == MISSING, "missing_required", "DISYR")
        flag((yr != MISSING) & ((yr < 1990) | (yr > 2100)), "unknown_code", "DISYR")
    else:
        yr = np.full(n, int(year) if year is not None else MISSING, dtype=np.int32)
        flag(yr == MISSING, "missing_required", "DISYR")
    return yr


def _frame(case, kept, yr, los, setting, idx, pooled) -> pd.DataFrame:
    """The canonical frame of the kept rows, built in its canonical dtypes (no per-row Python, no copies).

    Each column is made once in the dtype :func:`coerce_dtypes` would give it
    (tested equal), so the 1.7M-row frame is not copied again.
    """
    n = len(kept)
    all_kept = n == len(los)
    take = (lambda a: a) if all_kept else (lambda a: a[kept])
    # 1 July of DISYR, built in numpy (months since 1970 -> days)
    disc = ((take(yr).astype(np.int64) - 1970) * 12 + 6).astype("datetime64[M]").astype("datetime64[ns]")
    los_k = take(los).astype(np.intp)
    lo_lut, hi_lut, pt_lut = np.full(38, np.nan), np.full(38, np.nan), np.zeros(38, dtype=np.int64)
    for k, (lo, hi, pt, _) in LOS_BINS.items():
        lo_lut[k], hi_lut[k], pt_lut[k] = lo, hi, pt
    shift = _outpatient(take(setting)) if setting is not None else np.zeros(n, bool)
    los_min = lo_lut[los_k] - shift
    los_max = hi_lut[los_k] - shift
    los_days = np.where(los_k <= 30, los_min, np.nan)
    admit = disc - (pt_lut[los_k] - shift).astype("timedelta64[D]")
    del los_k
    ids_arrow = pc.cast(case if all_kept else case.take(pa.array(kept)), pa.string())
    ids = pd.array(ids_arrow.to_numpy(zero_copy_only=False), dtype="string")
    del ids_arrow
    made: dict[str, object] = dict(client_id=ids, episode_id=ids.copy(), admit_date=admit, discharge_date=disc,
                                   los_days=los_days, los_min=los_min, los_max=los_max)
    detail = {}
    for target, ix in idx.items():
        sel = take(ix)
        cats = _categories(target)
        if target == "site":
            vals = np.array([*cats, None], dtype=object)
            made["site"] = pd.array(vals[np.where(sel < 0, len(vals) - 1, sel)], dtype="string")
        elif target in _BOOL:
            made[target] = pd.arrays.BooleanArray(sel == 0, sel < 0)
        elif target.startswith("tedsd_"):
            detail[target] = pd.Categorical.from_codes(np.maximum(sel, -1), categories=cats)
        else:
            made[target] = sel
    index = pd.RangeIndex(n)
    cols = {}
    for col in EPISODE_COLUMNS:
        dt = _dtype(col)
        v = made.get(col.name)
        if v is None:
            v = pd.Series(pd.NA if col.dtype not in ("float", "datetime") else None, index=index, dtype=dt)
        elif isinstance(dt, pd.CategoricalDtype):
            v = pd.Categorical.from_codes(np.maximum(v, -1), dtype=dt)
        cols[col.name] = v
    for name in ("tedsd_substance_discharge", "tedsd_health_insurance", "tedsd_payment_source"):
        if name in detail:
            cols[name] = detail[name]
    for col, (ix, pcats) in pooled.items():
        cols[col] = pd.Categorical.from_codes(np.maximum(take(ix), -1), categories=list(pcats))
    return pd.DataFrame(cols, index=index, copy=False)


def _quarantine(table, flag, keep, row_of) -> pd.DataFrame:
    bad = np.flatnonzero(~keep)
    if not len(bad):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in QUARANTINE_META})
    sub = table.take(pa.array(bad))
    raw = pd.DataFrame({c: pd.array(pc.cast(sub.column(c), pa.string()).to_pylist(), dtype="string")
                        for c in sub.column_names})
    reasons = np.array(_REASONS_ORDER, dtype=object)[flag.reason[bad] - 1]
    cols = np.array(flag.names, dtype=object)[flag.col[bad]]
    values = [raw.at[i, c] if c in raw.columns else None for i, c in enumerate(cols)]
    detail = [_detail(r, c, v) for r, c, v in zip(reasons, cols, values)]
    meta = pd.DataFrame({"row": pd.array(bad if row_of is None else row_of[bad], dtype="Int64"), "reason": reasons,
                         "column": cols, "value": [None if pd.isna(v) else str(v) for v in values],
                         "detail": detail})
    return pd.concat([meta, raw], axis=1)


def _detail(reason, column, value):
    if reason == "missing_required":
        return f"{column} is missing (-9 or empty); the episode cannot be placed"
    if reason == "duplicate_episode_id":
        return "CASEID repeats an earlier row; the first occurrence was kept"
    return f"{column} value {value} is not in the TEDS-D codebook for this schema era"
