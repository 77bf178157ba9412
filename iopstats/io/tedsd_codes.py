"""TEDS-D code tables, per codebook era, read from the shipped data file ``tedsd_codes/codes.csv``.

Each row of the table is one code of one variable in one era: ``variable, era,
code, label, value, pooled, codebook, page``. ``label`` is the codebook's label
verbatim, ``codebook`` and ``page`` (the PDF page) say where it is printed,
``value`` is what :func:`iopstats.io.tedsd.read_tedsd` writes, and ``pooled``
the common coding used to pool eras (``harmonize=True``; for PRIMPAY the
canonical ``payer`` it is collapsed to). ``tests/io/test_tedsd_codebook.py``
compares every code and label with the codebook text in
``shared/reference/tedsd/``.

Eras
----
=============  ===============================================================
``2006-2014``  the concatenated 2006-2014 file and its codebook
``2015`` ...   one codebook per year, 2015-2019 (same codes; wording differs:
``2019``       2015-16 print labels in capitals, 2017 and 2018 reword SUB1)
``2020-2023``  **no codebook in the reference folder**: the 2019 codes are
               assumed (empty ``codebook`` and ``page``)
``2021``       the 2021 text labels quoted in DOMAIN.md, matched as well as the
               2015-2019 labels (no 2021 codebook here either)
=============  ===============================================================

Decisions (value and pooled columns)
------------------------------------
* -9 is missing in every field (its label "Missing/unknown/not collected/invalid").
* **AGE** 2006-14: codes 2-11 are 12-14 ... 50-54, code 12 is "55 AND OVER"
  (no code 1, no 13): ``age_group`` stays missing for it (the canonical
  groups split 55-64 / 65+) and the pooled group is ``55+``. 2015+: 1-12,
  11 = 55-64, 12 = 65+ (pooled: both ``55+``).
* **RACE** 2006-14: 1-5 as 2015+, 13 Asian, 20 other single race, 21 two or
  more races, 23 Native Hawaiian/other Pacific Islander; 2015+: 6, 7, 8, 9.
  Code 3 "Asian or Pacific Islander" (states that do not separate them) is
  canonical ``other`` and pooled ``asian_pacific_islander``; the pooled groups
  (white, black, native_american, asian_pacific_islander, multiracial, other)
  exist in every era.
* **ETHNIC** 2006-14: 1 Puerto Rican, 2 Mexican, 3 Cuban, 4 other specific
  Hispanic, **5 not of Hispanic origin**, 6 Hispanic not specified; 2015+:
  3 = Cuban or other specific, **4 not Hispanic**, 5 Hispanic not specified.
  Pooled: puerto_rican, mexican, cuban_or_other_specific, not_hispanic,
  hispanic_not_specified.
* **SUB1 / SUB1_D**: 1 none ... 18 over-the-counter; "other" is 20 in 2006-14
  and 19 from 2015 (SUB1_D exists from 2015).
* **FREQ1 / FREQ1_D**: 2006-14 five levels (1 none; 2, 3, 4 some; 5 daily);
  2015+ 1 none, 2 some, 3 daily (FREQ1_D from 2015).
* **NOPRIOR**: 2006-14 0-5 (5 = five or more; 1-5 -> one_or_more); 2015+ 0/1.
* **HLTHINS** is the health insurance held (``tedsd_health_insurance``);
  **PRIMPAY** the primary payment source, expected or actual
  (``tedsd_payment_source``), collapsed to the canonical ``payer``: private
  insurance -> private; Medicaid -> medicaid; Medicare (2006-14: Medicare or
  workers' compensation) and other government -> medicare_other; self-pay and
  no charge -> none (no third-party payer); other -> missing. PRIMPAY codes
  differ: 2006-14 no charge = 8, other = 9; 2015+ 6 and 7.
* **LOS** values are day ranges ``lo-hi`` (37 = more than 365 days).
* ``site`` is the postal code of STFIPS (all Census FIPS states are valid;
  each codebook lists only the states in its file).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError

__all__ = ["TEDS_FIELDS", "STATES", "LOS_BINS", "MISSING", "MISSING_LABEL", "field_codes", "code_table",
           "codebook_era"]

MISSING = -9
#: Stand-in code for a value that is neither an integer nor a known label.
UNPARSED = -(2**30)
MISSING_LABEL = "Missing/unknown/not collected/invalid"
_OLD, _NEW = "2006-2014", "2015+"
_NEW_ERAS = ("2015", "2016", "2017", "2018", "2019", "2020-2023", "2021")

#: TEDS-D variable -> the column read_tedsd writes from its ``value``.
TEDS_FIELDS: dict[str, str] = {
    "SERVICES": "level_of_care", "SERVICES_D": "level_of_care", "SERVSETD": "level_of_care",
    "REASON": "discharge_reason", "AGE": "age_group", "GENDER": "sex", "RACE": "race", "ETHNIC": "ethnicity",
    "SUB1": "primary_substance", "SUB1_D": "tedsd_substance_discharge", "FREQ1": "use_freq_admit",
    "FREQ1_D": "use_freq_discharge", "PSYPROB": "psych_problem", "METHUSE": "opioid_medication",
    "NOPRIOR": "prior_treatment", "PSOURCE": "referral_source", "HLTHINS": "tedsd_health_insurance",
    "PRIMPAY": "tedsd_payment_source", "EMPLOY": "employment", "LIVARAG": "living_arrangement",
    "STFIPS": "site",
}


@lru_cache(maxsize=1)
def _rows() -> tuple[dict, ...]:
    text = resources.files("iopstats.io").joinpath("tedsd_codes", "codes.csv").read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines()):
        r["code"] = int(r["code"])
        r["page"] = int(r["page"]) if r["page"] else None
        rows.append(r)
    return tuple(rows)


def code_table() -> pd.DataFrame:
    """The shipped TEDS-D code tables: one row per variable, era and code, with its source.

    Examples
    --------
    >>> t = code_table()
    >>> row = t[(t.variable == "ETHNIC") & (t.era == "2006-2014") & (t.code == 5)].iloc[0]
    >>> row["label"], row["value"], row["codebook"], int(row["page"])
    ('NOT OF HISPANIC ORIGIN', 'not_hispanic', 'TEDS-D-2006-2014-DS0001-info-codebook.txt', 17)
    >>> sorted(t.era.unique())
    ['2006-2014', '2015', '2016', '2017', '2018', '2019', '2020-2023', '2021']
    """
    df = pd.DataFrame(list(_rows()))
    df["page"] = df["page"].astype("Int64")
    return df


def codebook_era(year: int) -> str:
    """Era of the code table used for a discharge year.

    Examples
    --------
    >>> codebook_era(2010), codebook_era(2017), codebook_era(2022)
    ('2006-2014', '2017', '2020-2023')
    """
    if year < 2015:
        return _OLD
    return str(year) if year <= 2019 else "2020-2023"


def _alias(field: str) -> str:
    return {"SEX": "GENDER"}.get(field.upper(), field.upper())


@lru_cache(maxsize=1)
def _by_variable_era() -> dict[tuple[str, str], dict[int, tuple[str, str, str]]]:
    out: dict[tuple[str, str], dict[int, tuple[str, str, str]]] = {}
    for r in _rows():
        out.setdefault((r["variable"], r["era"]), {})[r["code"]] = (r["value"], r["pooled"], r["label"])
    return out


def _era_table(field: str, era: str) -> dict[int, tuple[str, str, str]]:
    """``{code: (value, pooled, label)}`` of a variable in one era (SERVICES falls back to SERVICES_D)."""
    index = _by_variable_era()
    out = index.get((field, era), {})
    if not out and field in ("SERVICES", "SERVICES_D", "SERVSETD"):
        alt = {"SERVICES": "SERVICES_D", "SERVICES_D": "SERVICES", "SERVSETD": "SERVICES_D"}[field]
        out = index.get(("SERVSETD" if era == _OLD else alt, era), {})
    return dict(out)


@lru_cache(maxsize=None)
def group_table(field: str, group: str) -> dict[int, tuple[str, str]]:
    """``{code: (value, pooled)}`` of a variable for the 2006-2014 or 2015+ codes (-9 left out)."""
    field = _alias(field)
    eras = (_OLD,) if group == _OLD else _NEW_ERAS
    out: dict[int, tuple[str, str]] = {}
    for era in eras:
        for code, (value, pooled, _) in _era_table(field, era).items():
            if code != MISSING:
                out.setdefault(code, (value, pooled))
    return out


@lru_cache(maxsize=None)
def label_codes(field: str, group: str) -> dict[str, int]:
    """Normalized label -> code over every label of the era group (for text-label files).

    Each label is entered under its normalized form (case, whitespace and
    dashes ignored) and its loose form (also punctuation, a trailing "s" and
    the words "old" and "day(s)"); a loose form shared by two codes is dropped.
    """
    field = _alias(field)
    eras = (_OLD,) if group == _OLD else _NEW_ERAS
    strict: dict[str, int] = {}
    loose: dict[str, set[int]] = {}
    for era in eras:
        tab = _era_table(field, era)
        for code, (_, _, label) in tab.items():
            strict.setdefault(_norm(label), code)
            loose.setdefault(_loose(label), set()).add(code)
    out = {k: next(iter(v)) for k, v in loose.items() if len(v) == 1}
    out.update(strict)
    out[_norm(MISSING_LABEL)] = MISSING
    out[_loose(MISSING_LABEL)] = MISSING
    return out


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")


def _norm(label: str) -> str:
    """Case-, whitespace- and dash-insensitive form of a label.

    Examples
    --------
    >>> _norm("12\u201314  Years") == _norm("12-14 years")
    True
    """
    s = unicodedata.normalize("NFKC", str(label)).translate(_DASHES)
    return re.sub(r"\s+", " ", s.strip().lower())


def _loose(label: str) -> str:
    """Looser form: punctuation dropped, plural "s" and the words "old", "day(s)" ignored.

    Examples
    --------
    >>> _loose("12-14 years old") == _loose("12\u201314 years"), _loose("1 day") == _loose("1")
    (True, True)
    """
    words = re.findall(r"[a-z0-9]+", _norm(label))
    words = [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in ("old", "day", "days")]
    return " ".join(words)


def field_codes(field: str, year: int = 2019) -> dict[int, tuple[object, str]]:
    """Code table ``{code: (value, codebook label)}`` of a TEDS-D variable for a discharge year.

    ``field`` is a TEDS-D name (``"SEX"`` is accepted for GENDER) or ``"LOS"``.
    The labels are those of the year's codebook (2019's for 2020-2023); -9 is
    left out. AGE 12 of 2006-14 has the value ``"55+"``.

    Examples
    --------
    >>> field_codes("AGE", 2019)[1]
    ('12-14', '12–14 years')
    >>> field_codes("AGE", 2010)[12]
    ('55+', '55 AND OVER')
    >>> field_codes("ETHNIC", 2010)[5][0], field_codes("ETHNIC", 2019)[4][0]
    ('not_hispanic', 'not_hispanic')
    """
    name = _alias(field)
    if not isinstance(year, (int, np.integer)):
        raise IopstatsError("year must be an integer discharge year", value=year, fix="pass e.g. 2019")
    tab = _era_table(name, codebook_era(int(year)))
    if not tab:
        known = sorted({r["variable"] for r in _rows()})
        raise IopstatsError(f"no code table for TEDS-D field {field!r} in {year}",
                            fix=f"use one of {known} (SUB1_D, FREQ1_D and SERVICES start in 2015)")
    return {k: (v, lab) for k, (v, _, lab) in tab.items() if k != MISSING}


def _los_bins() -> dict[int, tuple[float, float, int, str]]:
    out = {}
    for code, (value, _, label) in _era_table("LOS", "2019").items():
        if code == MISSING:
            continue
        lo, hi = value.split("-")
        lo_f, hi_f = float(lo), float(hi)
        # point days for the nominal admit date: the bin midpoint rounded down; 366 for "more than a year"
        point = int(lo_f) if lo_f == hi_f else (366 if np.isinf(hi_f) else int((lo_f + hi_f) // 2))
        out[code] = (lo_f, hi_f, point, label)
    return out


#: LOS code -> (los_min, los_max, point days used for the nominal admit date, label).
LOS_BINS: dict[int, tuple[float, float, int, str]] = _los_bins()

#: STFIPS -> (postal code, state name).
STATES: dict[int, tuple[str, str]] = {
    code: (value, label) for code, (value, _, label) in sorted(_era_table("STFIPS", "2020-2023").items())
}
