"""TEDS-D code tables: codes -> canonical values and the 2021 text labels.

The SAMHSA TEDS-D public-use codebook as data, used by
:func:`iopstats.io.tedsd.read_tedsd` and the synthetic writer
(:mod:`iopstats.synthetic.tedsd`). :func:`field_codes` gives the table of one
field for a discharge year (2006-14 codes where they differ).

Code decisions
--------------
* -9 is missing in every field; :data:`MISSING_LABEL` is its 2021 text label.
* **LOS**: codes 1-30 exact days, 31-37 bins (:data:`LOS_BINS`).
* **Schema eras**: 2006-14 AGE codes are shifted by one (1 = under 12 ->
  missing age group), NOPRIOR counts 0-5 (1-5 -> one_or_more), FREQ1/FREQ1_D
  have five levels (1 none; 2-4 some; 5 daily); REASON 2 reads "left against
  professional advice" (-> dropped_out).
* **Primary substance (SUB1).** 1 none; 2 alcohol; 3 cocaine; 4 marijuana;
  5 heroin; 6 non-prescription methadone and 7 other opiates -> other_opioids;
  8 PCP and 9 hallucinogens -> hallucinogens; 10 methamphetamine;
  11 other amphetamines and 12 other stimulants -> other_stimulants;
  13 benzodiazepines; 14 other tranquilizers, 15 barbiturates and 16 other
  sedatives/hypnotics -> sedatives; 17 inhalants, 18 over-the-counter and
  19 other -> other.
* **Race / ethnicity** (TEDS-D codebook): RACE 1 Alaska Native and
  2 American Indian -> native_american; 3 "Asian or Pacific Islander" (states
  that do not separate them) -> other, to avoid labelling Pacific Islanders
  as Asian; 4 black; 5 white; 6 asian; 7 other single race -> other; 8 two or
  more races -> multiracial; 9 Native Hawaiian / Pacific Islander ->
  pacific_islander. ETHNIC 1 Puerto Rican, 2 Mexican, 3 Cuban or other
  specific, 5 Hispanic not specified -> hispanic; 4 -> not_hispanic.
* ``site`` is the state's two-letter postal code from STFIPS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from iopstats.exceptions import IopstatsError
from iopstats.io.crosswalk import TEDS_SERVICES
from iopstats.io.schema import AGE_GROUPS, CODE_SETS

__all__ = ["TEDS_FIELDS", "STATES", "LOS_BINS", "MISSING", "MISSING_LABEL", "field_codes"]

MISSING = -9
#: Stand-in code for a value that is neither an integer nor a known label.
UNPARSED = -(2**30)
MISSING_LABEL = "Missing/unknown/not collected/invalid"

#: STFIPS -> (postal code, state name).
STATES: dict[int, tuple[str, str]] = {
    1: ("AL", "Alabama"), 2: ("AK", "Alaska"), 4: ("AZ", "Arizona"), 5: ("AR", "Arkansas"),
    6: ("CA", "California"), 8: ("CO", "Colorado"), 9: ("CT", "Connecticut"),
    10: ("DE", "Delaware"), 11: ("DC", "District of Columbia"), 12: ("FL", "Florida"),
    13: ("GA", "Georgia"), 15: ("HI", "Hawaii"), 16: ("ID", "Idaho"), 17: ("IL", "Illinois"),
    18: ("IN", "Indiana"), 19: ("IA", "Iowa"), 20: ("KS", "Kansas"), 21: ("KY", "Kentucky"),
    22: ("LA", "Louisiana"), 23: ("ME", "Maine"), 24: ("MD", "Maryland"),
    25: ("MA", "Massachusetts"), 26: ("MI", "Michigan"), 27: ("MN", "Minnesota"),
    28: ("MS", "Mississippi"), 29: ("MO", "Missouri"), 30: ("MT", "Montana"),
    31: ("NE", "Nebraska"), 32: ("NV", "Nevada"), 33: ("NH", "New Hampshire"),
    34: ("NJ", "New Jersey"), 35: ("NM", "New Mexico"), 36: ("NY", "New York"),
    37: ("NC", "North Carolina"), 38: ("ND", "North Dakota"), 39: ("OH", "Ohio"),
    40: ("OK", "Oklahoma"), 41: ("OR", "Oregon"), 42: ("PA", "Pennsylvania"),
    44: ("RI", "Rhode Island"), 45: ("SC", "South Carolina"), 46: ("SD", "South Dakota"),
    47: ("TN", "Tennessee"), 48: ("TX", "Texas"), 49: ("UT", "Utah"), 50: ("VT", "Vermont"),
    51: ("VA", "Virginia"), 53: ("WA", "Washington"), 54: ("WV", "West Virginia"),
    55: ("WI", "Wisconsin"), 56: ("WY", "Wyoming"), 72: ("PR", "Puerto Rico"),
}

#: LOS code -> (los_min, los_max, point days used for the nominal admit date, label).
LOS_BINS: dict[int, tuple[float, float, int, str]] = {
    **{d: (float(d), float(d), d, str(d)) for d in range(1, 31)},
    31: (31.0, 45.0, 38, "31 to 45 days"),
    32: (46.0, 60.0, 53, "46 to 60 days"),
    33: (61.0, 90.0, 75, "61 to 90 days"),
    34: (91.0, 120.0, 105, "91 to 120 days"),
    35: (121.0, 180.0, 150, "121 to 180 days"),
    36: (181.0, 365.0, 273, "181 to 365 days"),
    37: (366.0, np.inf, 366, "More than a year"),
}


@dataclass(frozen=True)
class _Field:
    """One coded TEDS-D field: code -> (canonical value, 2021 text label)."""

    target: str
    codes: dict[int, tuple[object, str]]
    old_codes: dict[int, tuple[object, str]] | None = None  # 2006-14 codebook when it differs


_AGE_LABELS = [g + " years" for g in AGE_GROUPS[:-1]] + ["65 years and older"]
_FREQ_NEW = {1: ("none", "No use in the past month"), 2: ("some", "Some use"), 3: ("daily", "Daily use")}
_FREQ_OLD = {
    1: ("none", "No use in the past month"),
    2: ("some", "1-3 times in the past month"),
    3: ("some", "1-2 times in the past week"),
    4: ("some", "3-6 times in the past week"),
    5: ("daily", "Daily"),
}
_YES_NO = {1: (True, "Yes"), 2: (False, "No")}
_SUBSTANCES = [
    ("none", "None"), ("alcohol", "Alcohol"), ("cocaine", "Cocaine/crack"),
    ("marijuana", "Marijuana/hashish"), ("heroin", "Heroin"),
    ("other_opioids", "Non-prescription methadone"),
    ("other_opioids", "Other opiates and synthetics"), ("hallucinogens", "PCP"),
    ("hallucinogens", "Hallucinogens"), ("methamphetamine", "Methamphetamine/speed"),
    ("other_stimulants", "Other amphetamines"), ("other_stimulants", "Other stimulants"),
    ("benzodiazepines", "Benzodiazepines"), ("sedatives", "Other tranquilizers"),
    ("sedatives", "Barbiturates"), ("sedatives", "Other sedatives or hypnotics"),
    ("other", "Inhalants"), ("other", "Over-the-counter medications"), ("other", "Other drugs"),
]
_SERVICES_LABELS = {
    1: "Detox, 24-hour, hospital inpatient",
    2: "Detox, 24-hour, free-standing residential",
    3: "Rehab/residential, hospital (non-detox)",
    4: "Rehab/residential, short term (30 days or fewer)",
    5: "Rehab/residential, long term (more than 30 days)",
    6: "Ambulatory, intensive outpatient",
    7: "Ambulatory, non-intensive outpatient",
    8: "Ambulatory, detoxification",
}
_REASON = {
    1: ("completed", "Treatment completed"),
    2: ("dropped_out", "Dropped out of treatment"),
    3: ("terminated", "Terminated by facility"),
    4: ("transferred", "Transferred to another treatment program or facility"),
    5: ("incarcerated", "Incarcerated"),
    6: ("died", "Death"),
    7: ("other", "Other"),
}


def _enum(values, labels, start=1):
    return {start + i: (v, lab) for i, (v, lab) in enumerate(zip(values, labels))}


#: TEDS-D field -> canonical column and code table (2015+; ``old_codes`` for 2006-14).
TEDS_FIELDS: dict[str, _Field] = {
    "SERVICES": _Field("level_of_care", {k: (v, _SERVICES_LABELS[k]) for k, v in TEDS_SERVICES.items()}),
    "REASON": _Field("discharge_reason", _REASON, {**_REASON, 2: ("dropped_out", "Left against professional advice")}),
    "AGE": _Field(
        "age_group",
        _enum(AGE_GROUPS, _AGE_LABELS),
        {1: (None, "Under 12 years"), **_enum(AGE_GROUPS, _AGE_LABELS, start=2)},
    ),
    "GENDER": _Field("sex", {1: ("male", "Male"), 2: ("female", "Female")}),
    "RACE": _Field("race", _enum(
        ["native_american", "native_american", "other", "black", "white", "asian", "other",
         "multiracial", "pacific_islander"],
        ["Alaska Native (Aleut, Eskimo, Indian)", "American Indian (other than Alaska Native)",
         "Asian or Pacific Islander", "Black or African American", "White", "Asian",
         "Other single race", "Two or more races", "Native Hawaiian or Other Pacific Islander"],
    )),
    "ETHNIC": _Field("ethnicity", _enum(
        ["hispanic", "hispanic", "hispanic", "not_hispanic", "hispanic"],
        ["Puerto Rican", "Mexican", "Cuban or other specific Hispanic",
         "Not of Hispanic or Latino origin", "Hispanic or Latino, specific origin not specified"],
    )),
    "SUB1": _Field("primary_substance", _enum(*zip(*_SUBSTANCES))),
    "FREQ1": _Field("use_freq_admit", _FREQ_NEW, _FREQ_OLD),
    "FREQ1_D": _Field("use_freq_discharge", _FREQ_NEW, _FREQ_OLD),
    "PSYPROB": _Field("psych_problem", _YES_NO),
    "METHUSE": _Field("opioid_medication", _YES_NO),
    "NOPRIOR": _Field(
        "prior_treatment",
        {0: ("none", "No prior treatment episodes"), 1: ("one_or_more", "One or more prior treatment episodes")},
        {0: ("none", "No prior treatment episodes"),
         **{k: ("one_or_more", f"{k} prior treatment episode{'s' if k > 1 else ''}") for k in range(1, 6)}},
    ),
    "PSOURCE": _Field("referral_source", _enum(
        CODE_SETS["referral_source"],
        ["Individual (includes self-referral)", "Alcohol/drug use care provider",
         "Other health care provider", "School (educational)", "Employer/EAP",
         "Other community referral", "Court/criminal justice referral/DUI/DWI"],
    )),
    "HLTHINS": _Field("payer", _enum(
        CODE_SETS["payer"],
        ["Private insurance, Blue Cross/Blue Shield, HMO", "Medicaid",
         "Medicare, other (e.g. TRICARE, CHAMPUS)", "None"],
    )),
    "EMPLOY": _Field("employment", _enum(
        CODE_SETS["employment"], ["Full-time", "Part-time", "Unemployed", "Not in labor force"],
    )),
    "LIVARAG": _Field("living_arrangement", _enum(
        CODE_SETS["living_arrangement"], ["Homeless", "Dependent living", "Independent living"],
    )),
    "STFIPS": _Field("site", {k: (abbr, name) for k, (abbr, name) in STATES.items()}),
}
_OPTIONAL_ORDER = ("DISYR", "AGE", "GENDER", "RACE", "ETHNIC", "SUB1", "FREQ1", "FREQ1_D", "PSYPROB",
                   "METHUSE", "NOPRIOR", "PSOURCE", "HLTHINS", "EMPLOY", "LIVARAG", "STFIPS")


def field_codes(field: str, year: int = 2019) -> dict[int, tuple[object, str]]:
    """Code table ``{code: (canonical value, text label)}`` of a TEDS-D field for a year.

    ``field`` is a TEDS-D name (``"SERVSETD"`` and ``"SEX"`` are accepted as
    aliases) or ``"LOS"``.

    Examples
    --------
    >>> field_codes("AGE", 2019)[1]
    ('12-14', '12-14 years')
    >>> field_codes("AGE", 2010)[2]
    ('12-14', '12-14 years')
    >>> field_codes("SUB1")[7][0], field_codes("FREQ1", 2012)[4][0]
    ('other_opioids', 'some')
    """
    name = {"SERVSETD": "SERVICES", "SEX": "GENDER"}.get(field.upper(), field.upper())
    if name == "LOS":
        return {k: ((lo, hi), lab) for k, (lo, hi, _, lab) in LOS_BINS.items()}
    if name not in TEDS_FIELDS:
        raise IopstatsError(f"no code table for TEDS-D field {field!r}", fix=f"use one of {sorted(TEDS_FIELDS)} or 'LOS'")
    f = TEDS_FIELDS[name]
    return dict(f.old_codes) if (year < 2015 and f.old_codes) else dict(f.codes)


def _norm(label: str) -> str:
    return re.sub(r"\s+", " ", label.strip().lower())
