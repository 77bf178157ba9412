"""Write synthetic files in the SAMHSA TEDS-D public-use format, any year 2006-2023.

:func:`write_tedsd_csv` produces a CSV with the public file's columns and codes
for the requested year's schema, so readers (:func:`iopstats.io.tedsd.read_tedsd`),
benchmarks and tests can exercise every schema era without the real files:

=========  =============================================================
years      schema
=========  =============================================================
2006-2014  combined-file columns, SERVSETD (no SERVICES), AGE codes shifted
           by one, NOPRIOR 0-5, five-level FREQ1/FREQ1_D
2015-2016  78 columns (the 76 below plus YEAR and CBSA2010)
2017-2020  76 columns
2021       76 columns, every field as a text label (ASCII, hence valid latin-1)
2022       76 columns
2023       76 columns, GENDER renamed SEX
=========  =============================================================

The rows are calibrated to the figures in DOMAIN.md: service mix with
non-intensive outpatient the largest group; discharge reasons by service from
the TEDS 2004 discharge table (Table 2.5); log-normal stays with median
IOP stay about 41 days (50 for completers); FREQ1_D missing for about a third
of rows. Case mix confounds the comparison on purpose: a latent severity
(raised by opioid and methamphetamine use) pushes clients towards detox and
residential care and lowers completion in every setting. Fields the readers
do not use are filled with plausible small codes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from iopstats.exceptions import IopstatsError
from iopstats.io.tedsd import LOS_BINS, MISSING_LABEL, STATES, field_codes

__all__ = ["write_tedsd_csv", "tedsd_columns"]

_BASE_76 = (
    "CASEID", "DISYR", "AGE", "GENDER", "RACE", "ETHNIC", "MARSTAT", "EDUC", "EMPLOY", "EMPLOY_D",
    "PREG", "VET", "LIVARAG", "LIVARAG_D", "PRIMINC", "ARRESTS", "ARRESTS_D", "SERVICES",
    "SERVICES_D", "METHUSE", "DAYWAIT", "REASON", "LOS", "PSOURCE", "DETCRIM", "NOPRIOR",
    "SUB1", "SUB1_D", "ROUTE1", "FREQ1", "FREQ1_D", "FRSTUSE1", "SUB2", "SUB2_D", "ROUTE2",
    "FREQ2", "FREQ2_D", "FRSTUSE2", "SUB3", "SUB3_D", "ROUTE3", "FREQ3", "FREQ3_D", "FRSTUSE3",
    "IDU", "ALCFLG", "COKEFLG", "MARFLG", "HERFLG", "METHFLG", "OPSYNFLG", "PCPFLG", "HALLFLG",
    "MTHAMFLG", "AMPHFLG", "STIMFLG", "BENZFLG", "TRNQFLG", "BARBFLG", "SEDHPFLG", "INHFLG",
    "OTCFLG", "OTHERFLG", "ALCDRUG", "DSMCRIT", "PSYPROB", "HLTHINS", "PRIMPAY",
    "FREQ_ATND_SELF_HELP", "FREQ_ATND_SELF_HELP_D", "DETNLF", "DETNLF_D", "DIVISION", "REGION",
    "STFIPS", "TEDS_CNT",
)
_OLD_COMBINED = (
    "CASEID", "DISYR", "STFIPS", "CBSA", "AGE", "GENDER", "RACE", "ETHNIC", "MARSTAT", "EDUC",
    "EMPLOY", "DETNLF", "PREG", "VET", "LIVARAG", "PRIMINC", "ARRESTS", "SERVSETD", "METHUSE",
    "DAYWAIT", "PSOURCE", "DETCRIM", "NOPRIOR", "SUB1", "ROUTE1", "FREQ1", "FRSTUSE1", "SUB2",
    "ROUTE2", "FREQ2", "FRSTUSE2", "SUB3", "ROUTE3", "FREQ3", "FRSTUSE3", "NUMSUBS", "IDU",
    "ALCFLG", "COKEFLG", "MARFLG", "HERFLG", "METHFLG", "OPSYNFLG", "PCPFLG", "HALLFLG",
    "MTHAMFLG", "AMPHFLG", "STIMFLG", "BENZFLG", "TRNQFLG", "BARBFLG", "SEDHPFLG", "INHFLG",
    "OTCFLG", "OTHERFLG", "ALCDRUG", "DSMCRIT", "PSYPROB", "HLTHINS", "PRIMPAY", "REASON", "LOS",
    "SUB1_D", "FREQ1_D", "EMPLOY_D", "LIVARAG_D", "ARRESTS_D", "REGION", "DIVISION",
)

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
    """Column names of the TEDS-D public file for a discharge year (as written here).

    Examples
    --------
    >>> len(tedsd_columns(2016)), len(tedsd_columns(2019)), "SEX" in tedsd_columns(2023)
    (78, 76, True)
    >>> "SERVSETD" in tedsd_columns(2010), "SERVICES" in tedsd_columns(2010)
    (True, False)
    """
    if not isinstance(year, (int, np.integer)) or not 2006 <= year <= 2023:
        raise IopstatsError("TEDS-D public files exist for discharge years 2006-2023", value=year,
                            fix="pass an integer year between 2006 and 2023")
    if year <= 2014:
        return _OLD_COMBINED
    cols = list(_BASE_76)
    if year <= 2016:
        cols = ["YEAR", *cols[:-2], "CBSA2010", *cols[-2:]]
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
    """The coded fields the reader uses, 2015+ codebook."""
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
    los = np.where(days <= 30, days, 0).astype(np.int16)
    for k, (lo, hi, _, _) in LOS_BINS.items():
        if k > 30:
            los[(days >= lo) & (days <= hi)] = k
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
        "RACE": _draw(rng, n, {5: 62, 4: 18, 7: 6, 8: 3, 2: 2, 6: 1, 3: 0.5, 1: 0.3, 9: 0.3, -9: 6.9}),
        "ETHNIC": _draw(rng, n, {4: 80, 2: 7, 1: 3, 3: 1, 5: 5, -9: 4}),
        "SERVICES": services,
        "REASON": reason,
        "LOS": los,
        "SUB1": sub1,
        "FREQ1": _with_missing(rng, freq1, 0.04),
        "FREQ1_D": freq_d,
        "PSYPROB": _with_missing(rng, np.where(_expit(-0.6 + 0.5 * z) > rng.random(n), 1, 2), 0.05),
        "METHUSE": _with_missing(rng, np.where(rng.random(n) < np.where(opioid, 0.6, 0.03), 1, 2), 0.02),
        "NOPRIOR": _with_missing(rng, np.where(_expit(0.4 + 0.5 * z) > rng.random(n), 1, 0), 0.10),
        "PSOURCE": _draw(rng, n, {1: 35, 2: 10, 3: 8, 4: 1, 5: 1, 6: 10, 7: 30, -9: 5}),
        "HLTHINS": _draw(rng, n, {1: 10, 2: 35, 3: 5, 4: 20, -9: 30}),
        "EMPLOY": _draw(rng, n, {1: 15, 2: 7, 3: 35, 4: 40, -9: 3}),
        "LIVARAG": _with_missing(rng, livarag, 0.03),
        "STFIPS": np.array(list(STATES), dtype=np.int16)[rng.integers(0, len(STATES), n)],
    }


def _to_old_codebook(f: dict[str, np.ndarray], rng) -> None:
    """2006-14 codebook: AGE +1, NOPRIOR 0-5, five-level FREQ1/FREQ1_D."""
    f["AGE"] = np.where(f["AGE"] > 0, f["AGE"] + 1, f["AGE"]).astype(np.int16)
    n = len(f["AGE"])
    prior = f["NOPRIOR"]
    f["NOPRIOR"] = np.where(prior == 1, np.minimum(1 + rng.geometric(0.45, n), 5), prior).astype(np.int16)
    for k in ("FREQ1", "FREQ1_D"):
        x = f[k]
        some = np.int16(2) + rng.integers(0, 3, n).astype(np.int16)
        f[k] = np.select([x == 1, x == 2, x == 3], [1, some, 5], x).astype(np.int16)


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
    f = _generate(int(n), int(year), rng)
    old = year <= 2014
    if old:
        _to_old_codebook(f, rng)
        f["SERVSETD"] = f.pop("SERVICES")
    if year == 2023:
        f["SEX"] = f.pop("GENDER")
    f["CASEID"] = (np.int64(year) * 10**7 + 1 + rng.permutation(int(n))).astype(np.int64)
    if "YEAR" in cols:
        f["YEAR"] = f["DISYR"]
    if "SERVICES_D" in cols:
        f["SERVICES_D"] = np.where(rng.random(n) < 0.95, f["SERVICES"], 7).astype(np.int16)
    arrays = {}
    for c in cols:
        x = f[c] if c in f else _filler(rng, int(n), c)
        if text and c not in ("CASEID", "DISYR", "YEAR"):
            if c == "LOS":
                table = {k: v[3] for k, v in LOS_BINS.items()}
            elif c == "STFIPS":
                table = {k: name for k, (_, name) in STATES.items()}
            elif c in f and c not in ("YEAR", "SERVICES_D"):
                table = {k: lab for k, (_, lab) in field_codes(c, year).items()}
            elif c == "SERVICES_D":
                table = {k: lab for k, (_, lab) in field_codes("SERVICES", year).items()}
            else:
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
