"""Write synthetic files in the SAMHSA TEDS-D public-use format, any year 2006-2023.

:func:`write_tedsd_csv` produces a CSV laid out as the year's codebook says
(columns in codebook order, codes and labels from the shipped code tables,
:func:`iopstats.io.tedsd_codes.code_table`), so readers
(:func:`iopstats.io.tedsd.read_tedsd`), benchmarks and tests exercise every era
without the real files:

=========  =============================================================
years      layout (codebook)
=========  =============================================================
2006-2014  65 columns of the concatenated file: SERVSETD (setting at
           discharge), CBSA and PMSA, NUMSUBS; AGE 2-12 (12 = 55 and
           over), RACE 13/20/21/23, ETHNIC 5 = not Hispanic, SUB1 20 =
           other, five-level FREQ1, NOPRIOR 0-5, PRIMPAY 8/9; no
           discharge-time fields (no SUB1_D, FREQ1_D)
2015-2016  76 columns: SERVICES_D only (no SERVICES), CBSA, NUMSUBS
2017-2020  76 columns: SERVICES and SERVICES_D, CBSA2010
2021       as 2017-2020, every field as a text label (latin-1)
2022       as 2017-2020
2023       as 2017-2020, GENDER renamed SEX
=========  =============================================================

2020-2023 have no codebook in the reference folder: they use the 2019 layout
and codes. The 2021 labels are the 2019 codebook labels with the wording of
the 2021 file quoted in DOMAIN.md for age ("12-14 years old") and prior
treatment ("No prior treatment episode").

The rows are calibrated to the figures in DOMAIN.md: service mix with
non-intensive outpatient the largest group; discharge reasons by setting at
discharge from the TEDS 2004 discharge table (Table 2.5); log-normal stays
with median IOP stay about 41 days (50 for completers), to which the day the
codebook adds to outpatient (settings 6-8) LOS is added; FREQ1_D missing for
about a third of rows. The setting at admission (SERVICES) differs from the
setting at discharge for about 5% of rows. Case mix confounds the comparison
on purpose: a latent severity (raised by opioid and methamphetamine use)
pushes clients towards detox and residential care and lowers completion in
every setting. Fields the reader does not map are filled with plausible small
codes (not codebook-exact).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from iopstats.exceptions import IopstatsError
from iopstats.io.tedsd_codes import LOS_BINS, MISSING_LABEL, STATES, code_table, codebook_era

__all__ = ["write_tedsd_csv", "tedsd_columns"]

_COLS_2017 = (
    "CASEID", "DISYR", "AGE", "GENDER", "RACE", "ETHNIC", "MARSTAT", "EDUC", "EMPLOY", "EMPLOY_D", "DETNLF",
    "DETNLF_D", "PREG", "VET", "LIVARAG", "LIVARAG_D", "PRIMINC", "ARRESTS", "ARRESTS_D", "STFIPS", "CBSA2010",
    "REGION", "DIVISION", "SERVICES", "SERVICES_D", "METHUSE", "DAYWAIT", "REASON", "LOS", "PSOURCE", "DETCRIM",
    "NOPRIOR", "SUB1", "SUB1_D", "ROUTE1", "FREQ1", "FREQ1_D", "FRSTUSE1", "SUB2", "SUB2_D", "ROUTE2", "FREQ2",
    "FREQ2_D", "FRSTUSE2", "SUB3", "SUB3_D", "ROUTE3", "FREQ3", "FREQ3_D", "FRSTUSE3", "IDU", "ALCFLG", "COKEFLG",
    "MARFLG", "HERFLG", "METHFLG", "OPSYNFLG", "PCPFLG", "HALLFLG", "MTHAMFLG", "AMPHFLG", "STIMFLG", "BENZFLG",
    "TRNQFLG", "BARBFLG", "SEDHPFLG", "INHFLG", "OTCFLG", "OTHERFLG", "ALCDRUG", "DSMCRIT", "PSYPROB", "HLTHINS",
    "PRIMPAY", "FREQ_ATND_SELF_HELP", "FREQ_ATND_SELF_HELP_D",
)
_OLD_COMBINED = (
    "CASEID", "DISYR", "AGE", "GENDER", "RACE", "ETHNIC", "MARSTAT", "EDUC", "EMPLOY", "DETNLF", "PREG", "VET",
    "LIVARAG", "PRIMINC", "ARRESTS", "STFIPS", "CBSA", "PMSA", "REGION", "DIVISION", "SERVSETD", "METHUSE",
    "DAYWAIT", "REASON", "LOS", "PSOURCE", "DETCRIM", "NOPRIOR", "SUB1", "ROUTE1", "FREQ1", "FRSTUSE1", "SUB2",
    "ROUTE2", "FREQ2", "FRSTUSE2", "SUB3", "ROUTE3", "FREQ3", "FRSTUSE3", "NUMSUBS", "IDU", "ALCFLG", "COKEFLG",
    "MARFLG", "HERFLG", "METHFLG", "OPSYNFLG", "PCPFLG", "HALLFLG", "MTHAMFLG", "AMPHFLG", "STIMFLG", "BENZFLG",
    "TRNQFLG", "BARBFLG", "SEDHPFLG", "INHFLG", "OTCFLG", "OTHERFLG", "ALCDRUG", "DSMCRIT", "PSYPROB", "HLTHINS",
    "PRIMPAY",
)
_OUTPATIENT = (6, 7, 8)

# service code -> (completed, transferred, dropped out, terminated, other) row % (TEDS 2004, Table 2.5)
_REASON_BY_SERVICE = {
    1: (62.3, 13.6, 16.4, 2.1, 5.6), 2: (62.3, 13.6, 16.4, 2.1, 5.6), 8: (62.3, 13.6, 16.4, 2.1, 5.6),
    3: (69.3, 14.9, 10.9, 2.6, 2.3), 4: (61.5, 14.3, 14.1, 6.3, 3.9), 5: (42.9, 12.5, 28.1, 7.7, 8.8),
    6: (37.7, 17.9, 23.2, 14.0, 7.2), 7: (36.4, 11.7, 27.2, 10.5, 14.2),
}
# service code -> share of discharges, severity slope
_SERVICE_MIX = {1: (0.03, 0.8), 2: (0.14, 0.8), 3: (0.01, 0.6), 4: (0.11, 0.6), 5: (0.08, 0.6),
                6: (0.12, 0.2), 7: (0.49, 0.0), 8: (0.02, 0.5)}
# service code -> median LOS (completers, others) in days
_LOS_MEDIAN = {1: (5, 3), 2: (5, 3), 8: (8, 5), 3: (18, 10), 4: (24, 13), 5: (75, 35),
               6: (50, 33), 7: (104, 50)}
# SUB1 code -> share, severity shift
_SUB1 = {1: (0.005, 0.0), 2: (0.30, 0.0), 3: (0.06, 0.2), 4: (0.12, -0.4), 5: (0.18, 0.6), 6: (0.003, 0.5),
         7: (0.08, 0.5), 8: (0.003, 0.2), 9: (0.003, 0.0), 10: (0.12, 0.5), 11: (0.005, 0.2),
         12: (0.002, 0.2), 13: (0.01, 0.3), 14: (0.001, 0.2), 15: (0.001, 0.2), 16: (0.002, 0.2),
         17: (0.001, 0.0), 18: (0.001, 0.0), 19: (0.02, 0.0), -9: (0.005, 0.0)}


def tedsd_columns(year: int) -> tuple[str, ...]:
    """Column names of the TEDS-D public file for a discharge year, in codebook order.

    Examples
    --------
    >>> len(tedsd_columns(2010)), len(tedsd_columns(2016)), len(tedsd_columns(2019)), "SEX" in tedsd_columns(2023)
    (65, 76, 76, True)
    >>> "SERVSETD" in tedsd_columns(2010), "SERVICES" in tedsd_columns(2016), "SERVICES_D" in tedsd_columns(2016)
    (True, False, True)
    """
    if isinstance(year, bool) or not isinstance(year, (int, np.integer)) or not 2006 <= year <= 2023:
        raise IopstatsError("TEDS-D public files exist for discharge years 2006-2023", value=year,
                            fix="pass an integer year between 2006 and 2023")
    if year <= 2014:
        return _OLD_COMBINED
    cols = list(_COLS_2017)
    if year <= 2016:  # 2015-16 codebooks: no SERVICES, CBSA (not CBSA2010), NUMSUBS after FRSTUSE3
        cols.remove("SERVICES")
        cols[cols.index("CBSA2010")] = "CBSA"
        cols.insert(cols.index("FRSTUSE3") + 1, "NUMSUBS")
    if year == 2023:
        cols[cols.index("GENDER")] = "SEX"
    return tuple(cols)


def _draw(rng, n, table: dict[int, float]) -> np.ndarray:
    codes = np.array(list(table), dtype=np.int16)
    p = np.array(list(table.values()), dtype=float)
    return codes[rng.choice(len(codes), size=n, p=p / p.sum())]


def _with_missing(rng, x: np.ndarray, share: float) -> np.ndarray:
    x = x.astype(np.int16, copy=False)
    x[rng.random(len(x)) < share] = -9
    return x


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _generate(n: int, year: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The coded fields the reader uses, 2015+ codebook; ``SERVICES`` is the setting at discharge."""
    sub1 = _draw(rng, n, {k: v[0] for k, v in _SUB1.items()})
    shift = np.zeros(n)
    for k, (_, s) in _SUB1.items():
        shift[sub1 == k] = s
    z = rng.standard_normal(n) + shift - 0.2
    # service by severity (multinomial logit around the target mix)
    svc_codes = np.array(list(_SERVICE_MIX), dtype=np.int16)
    share = np.array([v[0] for v in _SERVICE_MIX.values()])
    slope = np.array([v[1] for v in _SERVICE_MIX.values()])
    w = share * np.exp(np.outer(z, slope) - slope**2 / 2)
    cw = np.cumsum(w, axis=1)
    u = rng.random(n) * cw[:, -1]
    services = svc_codes[np.minimum((cw < u[:, None]).sum(axis=1), len(svc_codes) - 1)]
    del w, cw
    # discharge reason: table by service, completion lowered by severity
    p = np.zeros((n, 5))
    for k, row in _REASON_BY_SERVICE.items():
        p[services == k] = np.array(row) / sum(row)
    pc_ = _expit(np.log(p[:, 0] / (1 - p[:, 0])) - 0.35 * (z - z.mean()))
    p[:, 1:] *= ((1 - pc_) / p[:, 1:].sum(axis=1))[:, None]
    p[:, 0] = pc_
    cat = (np.cumsum(p, axis=1) < rng.random(n)[:, None]).sum(axis=1).clip(0, 4)
    reason = np.array([1, 4, 2, 3, 7], dtype=np.int16)[cat]
    other = cat == 4
    r = rng.random(n)
    reason[other & (r < 0.25)] = 5
    reason[other & (r >= 0.25) & (r < 0.28)] = 6
    completed = reason == 1
    # length of stay
    med = np.zeros(n)
    for k, (mc, mo) in _LOS_MEDIAN.items():
        sel = services == k
        med[sel] = np.where(completed[sel], mc, mo)
    days = np.maximum(1, np.rint(med * np.exp(0.8 * rng.standard_normal(n) + 0.05 * z)))
    days = days + np.isin(services, _OUTPATIENT)  # "one day is added to all outpatient discharges"
    los = np.where(days <= 30, days, 0).astype(np.int16)
    for k, (lo, hi, _, _) in LOS_BINS.items():
        if k > 30:
            los[(days >= lo) & (days <= hi)] = k
    sub1_d = np.where(rng.random(n) < 0.9, sub1, _draw(rng, n, {k: v[0] for k, v in _SUB1.items()}))
    # covariates
    opioid = np.isin(sub1, (5, 6, 7))
    daily = _expit(-0.2 + 0.8 * z) > rng.random(n)
    freq1 = np.where(daily, 3, np.where(rng.random(n) < 0.75, 2, 1)).astype(np.int16)
    freq_d = np.where(completed, np.where(rng.random(n) < 0.7, 1, 2),
                      np.where(rng.random(n) < 0.35, 1, np.where(rng.random(n) < 0.5, 2, 3))).astype(np.int16)
    freq_d[rng.random(n) < np.where(completed, 0.25, 0.40)] = -9
    homeless = _expit(-2.2 + 0.6 * z) > rng.random(n)
    livarag = np.where(homeless, 1, np.where(rng.random(n) < 0.25, 2, 3))
    return {
        "DISYR": np.full(n, year, dtype=np.int16),
        "AGE": _with_missing(rng, _draw(rng, n, dict(zip(range(1, 13), (
            1, 3, 5, 10, 17, 17, 14, 10, 8, 7, 7, 1)))), 0.0),
        "GENDER": _with_missing(rng, _draw(rng, n, {1: 66, 2: 34}), 0.001),
        "RACE": _draw(rng, n, {5: 62, 4: 18, 7: 6, 8: 3, 2: 2, 6: 1, 3: 0.5, 1: 0.3, 9: 0.5, -9: 6.7}),
        "ETHNIC": _draw(rng, n, {4: 80, 2: 7, 1: 3, 3: 1, 5: 5, -9: 4}),
        "SERVICES": services,
        "REASON": reason,
        "LOS": los,
        "SUB1": sub1,
        "FREQ1": _with_missing(rng, freq1, 0.04),
        "FREQ1_D": freq_d,
        "SUB1_D": sub1_d.astype(np.int16),
        "PSYPROB": _with_missing(rng, np.where(_expit(-0.6 + 0.5 * z) > rng.random(n), 1, 2), 0.05),
        "METHUSE": _with_missing(rng, np.where(rng.random(n) < np.where(opioid, 0.6, 0.03), 1, 2), 0.02),
        "NOPRIOR": _with_missing(rng, np.where(_expit(0.4 + 0.5 * z) > rng.random(n), 1, 0), 0.10),
        "PSOURCE": _draw(rng, n, {1: 35, 2: 10, 3: 8, 4: 1, 5: 1, 6: 10, 7: 30, -9: 5}),
        "HLTHINS": _draw(rng, n, {1: 10, 2: 35, 3: 5, 4: 20, -9: 30}),
        "PRIMPAY": _draw(rng, n, {1: 6, 2: 4, 3: 1, 4: 12, 5: 10, 6: 3, 7: 3, -9: 61}),
        "EMPLOY": _draw(rng, n, {1: 15, 2: 7, 3: 35, 4: 40, -9: 3}),
        "LIVARAG": _with_missing(rng, livarag, 0.03),
        "STFIPS": np.array(list(STATES), dtype=np.int16)[rng.integers(0, len(STATES), n)],
    }


def _to_old_codebook(f: dict[str, np.ndarray], rng) -> None:
    """Recode the 2015+ draws to the 2006-14 codebook (see the module table); drop discharge-time fields."""
    n = len(f["AGE"])
    age = f["AGE"]
    f["AGE"] = np.where(age >= 11, 12, age + 1).astype(np.int16)  # 12 = 55 and over
    f["RACE"] = _recode(f["RACE"], {6: 13, 7: 20, 8: 21, 9: 23})
    eth = f["ETHNIC"]
    other_specific = np.where(rng.random(n) < 0.1, 3, 4)  # 2015+ 3 = Cuban or other specific
    f["ETHNIC"] = np.select([eth == 3, eth == 4, eth == 5], [other_specific, 5, 6], eth).astype(np.int16)
    f["SUB1"] = _recode(f["SUB1"], {19: 20})
    prior = f["NOPRIOR"]
    f["NOPRIOR"] = np.where(prior == 1, np.minimum(rng.geometric(0.45, n), 5), prior).astype(np.int16)
    x = f["FREQ1"]
    some = np.int16(2) + rng.integers(0, 3, n).astype(np.int16)
    f["FREQ1"] = np.select([x == 1, x == 2, x == 3], [1, some, 5], x).astype(np.int16)
    f["PRIMPAY"] = _recode(f["PRIMPAY"], {6: 8, 7: 9})
    for k in ("FREQ1_D", "SUB1_D"):
        del f[k]


def _recode(x: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    out = x.astype(np.int16, copy=True)
    for old, new in mapping.items():
        out[x == old] = new
    return out


def _filler(rng, n: int, name: str) -> np.ndarray:
    if name.endswith("FLG") or name in ("IDU", "DETCRIM"):
        return rng.integers(0, 2, n, dtype=np.int8)
    hi = {"CBSA": 99999, "CBSA2010": 99999, "TEDS_CNT": 2}.get(name, 6)
    x = rng.integers(1, hi + 1, n, dtype=np.int32 if hi > 100 else np.int8)
    x[rng.random(n) < 0.05] = -9
    return x


def _label_array(codes: np.ndarray, table: dict[int, str]) -> pa.DictionaryArray:
    keys = sorted(table)
    labels = [table[k] for k in keys] + [MISSING_LABEL]
    lut = np.full(max(keys) + 11, len(labels) - 1, dtype=np.int32)
    for i, k in enumerate(keys):
        lut[k + 10] = i
    return pa.DictionaryArray.from_arrays(pa.array(lut[codes.astype(np.int64) + 10]), pa.array(labels))


def write_tedsd_csv(
    path,
    n: int = 1_700_000,
    year: int = 2019,
    seed: int = 0,
    text_labels: bool | None = None,
) -> Path:
    """Write ``n`` synthetic discharges in the TEDS-D public-use format of ``year``.

    Parameters
    ----------
    path : str or Path
        CSV file to write (parent folders are created).
    n : int
        Number of rows (a national year is about 1.7 million).
    year : int
        Discharge year 2006-2023; decides the columns and codebook (see module docs).
    seed : int
        Seed of the numpy random generator; same seed, same file.
    text_labels : bool, optional
        Write every field as its text label (the 2021 release format). Default:
        only for 2021.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> p = write_tedsd_csv(pathlib.Path(tempfile.mkdtemp()) / "t.csv", n=200, year=2019, seed=1)
    >>> df = pd.read_csv(p)
    >>> df.shape, int(df.DISYR.iloc[0])
    ((200, 76), 2019)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise IopstatsError("n must be a non-negative integer", value=n, fix="pass e.g. n=1_700_000")
    cols = tedsd_columns(year)
    text = (year == 2021) if text_labels is None else bool(text_labels)
    rng = np.random.default_rng(seed)
    n = int(n)
    f = _generate(n, int(year), rng)
    # SERVICES holds the setting at discharge so far; the admission setting differs for ~5%
    disc = f.pop("SERVICES")
    step = rng.random(n) < 0.05
    f["SERVICES"] = np.where(step, _draw(rng, n, {1: 3, 2: 14, 4: 11, 5: 8, 6: 12, 7: 49}), disc).astype(np.int16)
    if year <= 2014:
        _to_old_codebook(f, rng)
        f["SERVSETD"] = disc
        del f["SERVICES"]
    else:
        f["SERVICES_D"] = disc
    if year == 2023:
        f["SEX"] = f.pop("GENDER")
    f["CASEID"] = (np.int64(year) * 10**7 + 1 + rng.permutation(n)).astype(np.int64)
    labels = _labels(int(year)) if text else {}
    arrays = {}
    for c in cols:
        x = f[c] if c in f else _filler(rng, n, c)
        if text and c not in ("CASEID", "DISYR"):
            table = labels.get("GENDER" if c == "SEX" else c)
            if table is None:
                table = {k: f"Category {k}" for k in range(0, 7)}
                x = np.where((x >= 0) & (x <= 6), x, -9)
            arrays[c] = _label_array(x, table)
        else:
            arrays[c] = pa.array(x)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        fh.write((",".join(cols) + "\n").encode("latin-1"))
        if n:
            pacsv.write_csv(pa.table(arrays), fh, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return out


def _labels(year: int) -> dict[str, dict[int, str]]:
    """``{variable: {code: label}}`` for a text-label file: the era's codebook labels, 2021 wording where known."""
    t = code_table()
    era = codebook_era(year)
    out: dict[str, dict[int, str]] = {}
    for era_ in (era, "2021") if year == 2021 else (era,):
        for r in t[t.era == era_].itertuples():
            if r.code != -9:
                out.setdefault(r.variable, {})[int(r.code)] = r.label
    if year == 2021:  # the 2021 file words every age band "NN-NN years old" (DOMAIN.md)
        out["AGE"] = {k: (v.replace("\u2013", "-").replace(" years", " years old") if k < 12 else v)
                      for k, v in out["AGE"].items()}
    out["STFIPS"] = {k: name for k, (_, name) in STATES.items()}
    out.setdefault("SERVICES", out.get("SERVICES_D", {}))
    return out
