"""Plain-language definitions of every column :func:`build_outcomes` returns.

Evaluators paste these into reports; the README's outcome table is generated
from :func:`outcome_definitions`. Parameters mirror :func:`build_outcomes` so
the table matches the columns actually built.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from iopstats.outcomes.relapse import resolve_tolerances

__all__ = ["outcome_definitions", "COVARIATES", "COVARIATE_WORDS"]

#: Case-mix covariates recorded at admission, passed through by build_outcomes, with their plain words.
COVARIATE_WORDS: dict[str, str] = {
    "age_group": "Age group (TEDS bands)",
    "sex": "Sex",
    "race": "Race",
    "ethnicity": "Hispanic ethnicity",
    "primary_substance": "Primary substance",
    "use_freq_admit": "Past-month use of the primary substance",
    "psych_problem": "Co-occurring psychiatric problem",
    "prior_treatment": "Any prior treatment episode",
    "referral_source": "Referral source",
    "payer": "Expected payer / insurance",
    "employment": "Employment status",
    "living_arrangement": "Living arrangement",
    "opioid_medication": "Medication for opioid use disorder planned or received",
}

#: Covariate columns, in output order (the default case mix of adjusted and imputed comparisons).
COVARIATES: tuple[str, ...] = tuple(COVARIATE_WORDS)

_EP = "episodes"
_ALL = "all episodes"
_DISCH = "discharged episodes"


def _cov(name: str, words: str) -> tuple:
    return (name, "covariate", f"{words} at admission, as recorded (passed through).", _ALL, _EP)


def outcome_definitions(
    retention_days: Sequence[int] = (30, 60, 90),
    followup_windows: Sequence[int] = (30, 90, 180, 365),
    window_tolerance=None,
    readmission_days: Sequence[int] = (30, 90, 365),
    continuity_days: Sequence[int] = (7, 14),
    engagement_session: int = 4,
    iop_hours_threshold: float = 9.0,
) -> pd.DataFrame:
    """Definition, denominator and source of every outcome column.

    Parameters
    ----------
    retention_days, followup_windows, window_tolerance, readmission_days, continuity_days, engagement_session, iop_hours_threshold
        As passed to :func:`iopstats.outcomes.build.build_outcomes`.

    Returns
    -------
    DataFrame
        Columns: name, group, definition, denominator (which rows have a
        value; the others are missing), source (input tables used). One row
        per output column, in output order.

    Examples
    --------
    >>> d = outcome_definitions()
    >>> list(d.columns)
    ['name', 'group', 'definition', 'denominator', 'source']
    >>> print(d.set_index("name").loc["retained_90", "definition"])
    Still in treatment at day 90 (time in treatment >= 90 days). A client who completed before day 90 is not retained (see retained_or_completed_90).
    """
    tol = resolve_tolerances(followup_windows, window_tolerance)
    rows: list[tuple] = [
        ("episode_id", "key", "Episode identifier.", _ALL, _EP),
        ("client_id", "key", "Pseudonymous client identifier; links a client's episodes.", _ALL, _EP),
        ("level_of_care", "key", "Level of care of the episode (canonical ASAM/TEDS crosswalk).", _ALL, _EP),
        ("site", "key", "Site, facility or state.", _ALL, _EP),
        ("program", "key", "Program name or code.", _ALL, _EP),
        ("modality", "key", "In-person, virtual or hybrid delivery.", _ALL, _EP),
        ("admit_date", "key", "Admission date.", _ALL, _EP),
        ("discharge_date", "key",
         "Discharge date; missing while the episode is open at the as-of date (a discharge dated after "
         "the as-of date is treated as not yet happened).", _DISCH, _EP),
        ("discharge_reason", "key", "Recorded reason the episode ended; missing while open.", _DISCH, _EP),
        ("admit_period", "key", "Admission month as YYYY-MM.", _ALL, _EP),
        ("admit_year", "key", "Admission year.", _ALL, _EP),
        *(_cov(name, words) for name, words in COVARIATE_WORDS.items()),
        ("completed", "completion",
         "Discharged with the reason 'completed'.", "discharged episodes with a known reason", _EP),
        ("completed_or_transferred", "completion",
         "Discharged as completed or transferred to further care (the broader TEDS positive outcome).",
         "discharged episodes with a known reason", _EP),
        ("los_days", "length of stay",
         "Length of stay in days: the source's exact stay when given, otherwise discharge date minus admission "
         "date; a stay under one day counts as one day. Missing when only a range is known (e.g. TEDS stays "
         "over 30 days).", "discharged episodes with an exact stay", _EP),
        ("los_min", "length of stay",
         "Shortest possible length of stay in days (equals los_days when exact; the bin's lower bound "
         "for a binned stay).", _DISCH, _EP),
        ("los_max", "length of stay",
         "Longest possible length of stay in days (equals los_days when exact; infinite for an open-ended "
         "bin such as 'more than 365 days').", _DISCH, _EP),
        ("time_in_treatment", "length of stay",
         "Days in treatment for survival analysis: the exact stay; the bin midpoint for a binned stay; the "
         "lower bound for an open-ended bin (censored); admission to the as-of date for open episodes "
         "(censored).", "all episodes with a known or bounded stay", _EP),
        ("left_treatment", "length of stay",
         "1 if the client left treatment at time_in_treatment, 0 if censored (still open at the as-of date, "
         "or stay only known to exceed the open-ended bin).", _ALL, _EP),
        ("exit_cause", "length of stay",
         "How the episode ended, for competing-risks (cumulative incidence) analysis: completed; dropped_out "
         "(dropped out or terminated by the facility); transferred; other (incarcerated, died, other or "
         "unknown reason); censored (not ended by the as-of date).", _ALL, _EP),
    ]
    for t in retention_days:
        rows.append((f"retained_{t}", "retention",
                     f"Still in treatment at day {t} (time in treatment >= {t} days). A client who completed "
                     f"before day {t} is not retained (see retained_or_completed_{t}).",
                     f"episodes followed for at least {t} days or discharged; missing when the stay's range "
                     f"straddles day {t}", _EP))
        rows.append((f"retained_or_completed_{t}", "retention",
                     f"Still in treatment at day {t}, or discharged as completed (at any time).",
                     f"as retained_{t}; completers always count", _EP))
    ses = "sessions (+ episodes)"
    rows += [
        ("n_sessions_attended", "engagement", "Number of sessions attended up to the as-of date.",
         "episodes at levels with session records", ses),
        ("engaged", "engagement",
         f"Early engagement (NIATx): attended at least {engagement_session} sessions.",
         f"episodes at levels with session records; missing for open episodes with fewer than "
         f"{engagement_session} sessions so far", ses),
        ("attendance_rate", "engagement", "Sessions attended divided by sessions scheduled.",
         "episodes at levels with session records and at least one scheduled session", ses),
        ("hours_per_week", "engagement",
         "Attended service hours divided by weeks in treatment (at least one week).",
         "episodes at levels with session records, hours recorded and an exact stay", ses),
        ("meets_asam_hours", "engagement",
         f"Met the ASAM weekly service hours for the level: IOP at least {iop_hours_threshold:g} hours/week "
         "for adults (6 for clients under 18), PHP at least 20 hours/week.",
         "IOP and PHP episodes with hours_per_week", ses),
        ("use_at_discharge", "relapse",
         "Any past-month use of the primary substance recorded at discharge (some or daily): the TEDS "
         "relapse proxy.", "discharged episodes with discharge use recorded", _EP),
    ]
    fu = "follow-ups (+ episodes)"
    for w, d in tol.items():
        due = (f"discharges whose {w}-day window (+{d} days) had closed by the as-of date")
        rows += [
            (f"relapse_{w}_responded", "relapse",
             f"A follow-up response (use status obtained) {w - d}-{w + d} days after discharge "
             f"(the {w}-day window, +/- {d} days).", due, fu),
            (f"relapse_{w}_cc", "relapse",
             f"Any substance use reported or detected at the {w}-day follow-up, among responders only "
             f"(complete case; missing for non-responders).", f"responders among {due}", fu),
            (f"relapse_{w}_mu", "relapse",
             f"Any substance use at the {w}-day follow-up, counting clients not reached as having used "
             f"(missing = use).", due, fu),
        ]
    rows += [
        ("time_to_relapse", "relapse",
         "Days from discharge to the first follow-up that found use; if none did, days to the last "
         "follow-up without use (censored).", "discharged episodes with at least one follow-up response", fu),
        ("relapse_event", "relapse",
         "1 if a follow-up found use (time_to_relapse is the detection time), 0 if censored.",
         "as time_to_relapse", fu),
    ]
    cont_max = max(continuity_days)
    for n in readmission_days:
        rows.append((f"readmit_{n}", "readmission",
                     f"The same client was admitted again (any level) after the discharge date and within {n} "
                     f"days of it. A planned transfer or step-down within {cont_max} days (see "
                     "continuation_level_of_care) is not a readmission.",
                     f"discharges with a discharge date at least {n} days before the as-of date", _EP))
    rows += [
        ("days_to_readmission", "readmission",
         "Days from discharge to that readmission, whenever it happened.",
         "discharged episodes with an observed readmission", _EP),
        ("next_level_of_care", "readmission", "Level of care of that readmission.",
         "discharged episodes with an observed readmission", _EP),
        ("continuation_level_of_care", "readmission",
         f"Level of care of a planned continuation: the client's next episode starting within {cont_max} days "
         "of discharge after a transfer, or a step-down (withdrawal management to any other level, or "
         "inpatient/residential to PHP, IOP or outpatient).", "discharges followed by a planned continuation",
         _EP),
    ]
    for k in continuity_days:
        rows.append((f"continuity_{k}", "continuity of care",
                     f"Continuity of care (adapted from NQF 3453): after an inpatient, residential or withdrawal "
                     f"management discharge, a PHP, IOP or outpatient admission or attended session from the day "
                     f"after discharge through day {k}, or such an episode already open then.",
                     f"inpatient, residential and withdrawal-management discharges at least {k} days before "
                     "the as-of date", "episodes (+ sessions)"))
    return pd.DataFrame(rows, columns=["name", "group", "definition", "denominator", "source"])
