"""The canonical iopstats data model: episodes, follow-ups, sessions and measures.

This module is the single source of truth for column names, code sets and
dtypes. Loaders produce these tables; everything downstream consumes them.
:func:`data_dictionary` renders it as a table for the README and notebooks.

Conventions
-----------
* Code values are lower-case snake_case strings held in pandas categoricals.
* Dates are ``datetime64[ns]`` (naive, day resolution). Sources that carry day
  offsets from a per-client anchor (research extracts such as CTN-0094) are
  placed on a nominal calendar starting at the mapping's ``anchor_date``.
* A missing ``discharge_date`` means the episode is still open (censored).
* ``los_days`` is the exact length of stay when known; ``los_min``/``los_max``
  bound it when only a bin is known (TEDS-D LOS codes 31-37). For exact stays
  ``los_min == los_max == los_days``. A stay under one day counts as one day.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = [
    "LEVELS_OF_CARE",
    "DISCHARGE_REASONS",
    "CODE_SETS",
    "Column",
    "EPISODE_COLUMNS",
    "FOLLOWUP_COLUMNS",
    "SESSION_COLUMNS",
    "MEASURE_COLUMNS",
    "AGE_GROUPS",
    "UNKNOWN_CODE",
    "age_to_group",
    "empty_frame",
    "coerce_dtypes",
    "data_dictionary",
]

#: Canonical levels of care, ordered from most to least intensive
#: (withdrawal management first, as TEDS orders SERVICES).
LEVELS_OF_CARE: tuple[str, ...] = (
    "detox_inpatient",  # ASAM 4-WM / 4.0 WM; TEDS SERVICES 1
    "detox_residential",  # ASAM 3.2-WM, 3.7-WM; TEDS 2
    "detox_ambulatory",  # ASAM 1-WM, 2-WM, 1.7 / 2.7 WM; TEDS 8
    "inpatient",  # ASAM 4 / 4.0 medically managed intensive inpatient; TEDS 3
    "residential_short",  # ASAM 3.5/3.7 short term (<= 30 days); TEDS 4
    "residential_long",  # ASAM 3.1/3.3/3.5 long term (> 30 days); TEDS 5
    "php",  # ASAM 2.5 partial hospitalization / high-intensity outpatient
    "iop",  # ASAM 2.1 intensive outpatient; TEDS 6
    "outpatient",  # ASAM 1 / 1.5 / 1.7 outpatient; TEDS 7
    "early_intervention",  # ASAM 0.5 / 1.0 remission monitoring
)

#: Settings groups used for continuity-of-care and step-down analyses.
RESIDENTIAL_OR_INPATIENT: tuple[str, ...] = (
    "detox_inpatient",
    "detox_residential",
    "detox_ambulatory",
    "inpatient",
    "residential_short",
    "residential_long",
)
COMMUNITY_LEVELS: tuple[str, ...] = ("php", "iop", "outpatient")

DISCHARGE_REASONS: tuple[str, ...] = (
    "completed",
    "dropped_out",
    "terminated",
    "transferred",
    "incarcerated",
    "died",
    "other",
)

AGE_GROUPS: tuple[str, ...] = (
    "12-14",
    "15-17",
    "18-20",
    "21-24",
    "25-29",
    "30-34",
    "35-39",
    "40-44",
    "45-49",
    "50-54",
    "55-64",
    "65+",
)
_AGE_BREAKS = (12, 15, 18, 21, 25, 30, 35, 40, 45, 50, 55, 65, 200)

#: The code an optional covariate gets when its source code is not in the code set
#: (the episode is kept; the load report counts it per column).
UNKNOWN_CODE = "unknown"

#: Allowed values of every categorical column. Ordered ones keep this order.
#: Nominal optional covariates end with ``UNKNOWN_CODE``; ``sex`` also has
#: ``"other"`` (another gender, e.g. non-binary).
CODE_SETS: dict[str, tuple[str, ...]] = {
    "level_of_care": LEVELS_OF_CARE,
    "discharge_reason": DISCHARGE_REASONS,
    "modality": ("in_person", "virtual", "hybrid", UNKNOWN_CODE),
    "age_group": AGE_GROUPS,
    "sex": ("male", "female", "other", UNKNOWN_CODE),
    "race": (
        "white",
        "black",
        "native_american",
        "asian",
        "pacific_islander",
        "multiracial",
        "other",
        UNKNOWN_CODE,
    ),
    "ethnicity": ("hispanic", "not_hispanic", UNKNOWN_CODE),
    "primary_substance": (
        "alcohol",
        "cocaine",
        "marijuana",
        "heroin",
        "other_opioids",
        "methamphetamine",
        "other_stimulants",
        "benzodiazepines",
        "sedatives",
        "hallucinogens",
        "other",
        "none",
        UNKNOWN_CODE,
    ),
    "use_freq_admit": ("none", "some", "daily"),
    "use_freq_discharge": ("none", "some", "daily"),
    "prior_treatment": ("none", "one_or_more"),
    "referral_source": (
        "individual",
        "sud_provider",
        "other_health",
        "school",
        "employer",
        "community",
        "criminal_justice",
        UNKNOWN_CODE,
    ),
    "payer": ("private", "medicaid", "medicare_other", "none", UNKNOWN_CODE),
    "employment": ("full_time", "part_time", "unemployed", "not_in_labor_force", UNKNOWN_CODE),
    "living_arrangement": ("homeless", "dependent", "independent", UNKNOWN_CODE),
    "followup_source": ("self_report", "urine_test"),
}
ORDERED = {"level_of_care", "age_group", "use_freq_admit", "use_freq_discharge", "prior_treatment"}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    dtype: str  # "string", "category", "datetime", "float", "Int64", "boolean"
    required: bool
    description: str
    codes: tuple[str, ...] | None = None


def _c(name, dtype, required, description):
    codes = CODE_SETS.get(name)
    if name == "source":
        codes = CODE_SETS["followup_source"]
    return Column(name, dtype, required, description, codes)


EPISODE_COLUMNS: tuple[Column, ...] = (
    _c("client_id", "string", True, "Pseudonymous client key; a client may have several episodes."),
    _c("episode_id", "string", True, "Unique episode key."),
    _c("level_of_care", "category", True, "Canonical level of care (ASAM 3rd/4th edition and TEDS SERVICES crosswalked)."),
    _c("admit_date", "datetime", True, "Admission date (or nominal date from a day offset)."),
    _c("discharge_date", "datetime", False, "Discharge date; missing = still in treatment (censored)."),
    _c("discharge_reason", "category", False, "Why the episode ended; missing while open."),
    _c("los_days", "float", False, "Exact length of stay in days (>= 1) when known."),
    _c("los_min", "float", False, "Lower bound of length of stay (equals los_days when exact)."),
    _c("los_max", "float", False, "Upper bound of length of stay (inf for TEDS '> 365 days')."),
    _c("program", "string", False, "Program name or code."),
    _c("site", "string", False, "Site, facility or state."),
    _c("modality", "category", False, "In person, virtual or hybrid delivery."),
    _c("age", "Int64", False, "Age in years at admission, top-coded at 90 (= 90 or older)."),
    _c("age_group", "category", False, "TEDS age group at admission."),
    _c("sex", "category", False, "Sex or gender: male, female, other (another gender, e.g. non-binary), "
       "unknown (a source code the mapping does not know)."),
    _c("race", "category", False, "Race."),
    _c("ethnicity", "category", False, "Hispanic or not."),
    _c("primary_substance", "category", False, "Primary substance at admission."),
    _c("use_freq_admit", "category", False, "Use of primary substance in the past month at admission."),
    _c("use_freq_discharge", "category", False, "Use of primary substance in the past month at discharge (TEDS relapse proxy)."),
    _c("psych_problem", "boolean", False, "Co-occurring psychiatric problem."),
    _c("opioid_medication", "boolean", False, "Medication for opioid use disorder planned/received."),
    _c("prior_treatment", "category", False, "Any prior treatment episode."),
    _c("referral_source", "category", False, "Referral source."),
    _c("payer", "category", False, "Health insurance / expected payer."),
    _c("employment", "category", False, "Employment status at admission."),
    _c("living_arrangement", "category", False, "Living arrangement at admission."),
)

FOLLOWUP_COLUMNS: tuple[Column, ...] = (
    _c("episode_id", "string", True, "Episode the follow-up belongs to."),
    _c("days_after_discharge", "Int64", True, "Days from discharge to the follow-up contact (from a date when given)."),
    _c("followup_date", "datetime", False, "Date of the follow-up contact, when known."),
    _c("responded", "boolean", True, "Whether the client was reached / the screen was obtained."),
    _c("any_use", "boolean", False, "Any substance use reported or detected (missing when not responded)."),
    _c("source", "category", False, "self_report or urine_test."),
)

SESSION_COLUMNS: tuple[Column, ...] = (
    _c("episode_id", "string", True, "Episode the session belongs to."),
    _c("session_date", "datetime", True, "Scheduled or held date of the session."),
    _c("attended", "boolean", True, "Whether the client attended."),
    _c("hours", "float", False, "Hours of service delivered."),
)

#: Who or what produced a repeated measure (canonical ``measures`` table).
MEASURE_SOURCES: tuple[str, ...] = ("self_report", "clinician", "urine_test", "tlfb")
CODE_SETS["measure_source"] = MEASURE_SOURCES

MEASURE_COLUMNS: tuple[Column, ...] = (
    _c("episode_id", "string", True, "Episode the measurement belongs to."),
    _c("measure_date", "datetime", False, "Date of the measurement (give it or day)."),
    _c("day", "Int64", False, "Days from admission to the measurement (negative = before admission)."),
    _c("instrument", "string", True, "Instrument key: phq9, gad7, bam, pcl5, auditc, dast10, uds, tlfb, ..."),
    _c("item", "string", True, "Item name (phq9_1 ...), substance for uds/tlfb, or 'total' for a total score."),
    _c("value", "float", True, "Item response, total score, or 1/0 (positive/negative screen, use day)."),
    Column("source", "category", False, "self_report, clinician, urine_test or tlfb.", MEASURE_SOURCES),
)

TABLES = {"episodes": EPISODE_COLUMNS, "followups": FOLLOWUP_COLUMNS, "sessions": SESSION_COLUMNS,
          "measures": MEASURE_COLUMNS}


def _dtype(col: Column):
    if col.dtype == "category":
        return pd.CategoricalDtype(list(col.codes), ordered=col.name in ORDERED)
    return {
        "string": "string",
        "datetime": "datetime64[ns]",
        "float": "float64",
        "Int64": "Int64",
        "boolean": "boolean",
    }[col.dtype]


def empty_frame(table: str = "episodes") -> pd.DataFrame:
    """An empty canonical table with the right columns and dtypes.

    Examples
    --------
    >>> df = empty_frame("sessions")
    >>> list(df.columns)
    ['episode_id', 'session_date', 'attended', 'hours']
    >>> len(df)
    0
    """
    cols = TABLES[table]
    return pd.DataFrame({c.name: pd.Series([], dtype=_dtype(c)) for c in cols})


def coerce_dtypes(df: pd.DataFrame, table: str = "episodes") -> pd.DataFrame:
    """Return a copy of ``df`` with canonical columns, order and dtypes.

    Missing optional columns are added as all-missing. Values outside a code
    set become missing, so validate codes *before* calling this.

    Examples
    --------
    >>> df = pd.DataFrame({"episode_id": ["e1"], "session_date": ["2024-01-02"],
    ...                    "attended": [True]})
    >>> out = coerce_dtypes(df, "sessions")
    >>> out.dtypes["session_date"], out["hours"].isna().all()
    (dtype('<M8[ns]'), np.True_)
    """
    cols = TABLES[table]
    out = {}
    n = len(df)
    for c in cols:
        dt = _dtype(c)
        if c.name in df.columns:
            s = df[c.name]
            if c.dtype == "datetime":
                s = pd.to_datetime(s, errors="coerce", format="mixed") if s.dtype == object or str(s.dtype).startswith("string") else pd.to_datetime(s, errors="coerce")
            s = s.astype(dt)
        else:
            s = pd.Series(pd.NA if c.dtype not in ("float", "datetime") else None, index=df.index, dtype=dt)
        out[c.name] = s
    res = pd.DataFrame(out, index=df.index)
    res.index = pd.RangeIndex(n)
    return res


def age_to_group(age) -> pd.Series:
    """Map ages in years to TEDS age groups (ages under 12 become missing).

    Examples
    --------
    >>> age_to_group(pd.Series([12, 24, 25, 64, 65, 93, 8])).tolist()
    ['12-14', '21-24', '25-29', '55-64', '65+', '65+', nan]
    """
    a = pd.to_numeric(pd.Series(age), errors="coerce")
    grp = pd.cut(a, bins=list(_AGE_BREAKS), right=False, labels=list(AGE_GROUPS))
    return grp.astype(pd.CategoricalDtype(list(AGE_GROUPS), ordered=True))


def data_dictionary(table: str | None = None) -> pd.DataFrame:
    """The canonical data dictionary as a tidy table.

    Parameters
    ----------
    table : {"episodes", "followups", "sessions"}, optional
        Restrict to one table; all three by default.

    Examples
    --------
    >>> dd = data_dictionary("episodes")
    >>> dd.loc[dd.column == "level_of_care", "required"].item()
    True
    >>> list(dd.columns)
    ['table', 'column', 'dtype', 'required', 'codes', 'description']
    """
    rows = []
    for name, cols in TABLES.items():
        if table is not None and name != table:
            continue
        for c in cols:
            rows.append(
                {
                    "table": name,
                    "column": c.name,
                    "dtype": c.dtype,
                    "required": c.required,
                    "codes": ", ".join(c.codes) if c.codes else "",
                    "description": c.description,
                }
            )
    return pd.DataFrame(rows)
