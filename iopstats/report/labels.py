"""Words, not codes: the one label table of the reports (tables, figures and sentences).

Level names follow the ASAM crosswalk of :data:`iopstats.io.schema.LEVELS_OF_CARE`
(ASAM Criteria 3rd ed. levels; TEDS-D SERVICES codes, codebook variable SERVICES).

Examples
--------
>>> level("residential_short")
'Residential, short-term (ASAM 3.7)'
>>> column("median")
'Median days in treatment'
>>> label("no_such_code")
'no such code'
"""

from __future__ import annotations

__all__ = ["LEVELS", "OUTCOMES", "COLUMNS", "VALUES", "level", "column", "label", "rename_levels"]

#: Level of care -> words (ASAM level in brackets).
LEVELS: dict[str, str] = {
    "detox_inpatient": "Withdrawal management, inpatient (ASAM 4-WM)",
    "detox_residential": "Withdrawal management, residential (ASAM 3.7-WM)",
    "detox_ambulatory": "Withdrawal management, ambulatory (ASAM 1-WM/2-WM)",
    "inpatient": "Inpatient, medically managed (ASAM 4)",
    "residential_short": "Residential, short-term (ASAM 3.7)",
    "residential_long": "Residential, long-term (ASAM 3.1/3.5)",
    "php": "Partial hospitalization (ASAM 2.5)",
    "iop": "Intensive outpatient, IOP (ASAM 2.1)",
    "outpatient": "Outpatient (ASAM 1)",
    "early_intervention": "Early intervention (ASAM 0.5)",
    "other levels": "Other levels (merged: too few episodes each)",
}

#: Outcome columns -> words.
OUTCOMES: dict[str, str] = {
    "completed": "completion",
    "completed_or_transferred": "completed or transferred",
    "retained_90": "still in treatment at 90 days",
    "retained_or_completed_90": "retention (in treatment or completed) at 90 days",
    "readmit_90": "readmission within 90 days of discharge",
    "engaged": "early engagement (reached the 4th session)",
    "relapse_90": "any substance use at the 90-day follow-up",
}

#: Column codes -> headers in words with units.
COLUMNS: dict[str, str] = {
    "level": "Level of care", "level_of_care": "Level of care", "group": "Level of care",
    "n": "Episodes", "events": "Events", "rate": "Rate", "ci": "95% CI",
    "ref_rate": "IOP rate", "risk_difference": "Difference (points)", "rd_ci": "95% CI (points)",
    "ni_ci": "Interval used for the conclusion (points)", "conclusion": "Conclusion",
    "adj_rate": "Adjusted rate", "ref_adj_rate": "IOP adjusted rate",
    "adj_risk_difference": "Adjusted difference (points)",
    "median": "Median days in treatment", "median_ci": "Median days in treatment (95% CI)",
    "rmean": "Restricted mean days in treatment", "tau": "Restriction time (days)",
    "left": "Episodes that ended", "admitted": "Admitted",
    "retained_30": "In treatment at 30 days", "retained_60": "In treatment at 60 days",
    "retained_90": "In treatment at 90 days", "completed": "Completed (any time)",
    "period": "Admission period", "center": "Centre line", "lcl": "Lower limit", "ucl": "Upper limit",
    "signal": "Signal", "statistic": "Test statistic", "df": "Degrees of freedom", "p_value": "p-value",
    "p_holm": "p-value (Holm-adjusted)", "cause": "Way of leaving", "n_due": "Discharges due for follow-up",
    "n_responded": "Responded", "response_rate": "Response rate", "method": "Handling of non-response",
    "table": "Input table", "input_rows": "Rows read", "loaded": "Rows loaded", "quarantined": "Rows quarantined",
    "reason": "Reason", "column": "Column", "n_missing": "Missing values", "pct_missing": "Share missing",
    "kind": "Kind", "n_values": "Values flagged",
}

#: Other codes (subgroup values, causes, reasons) -> words.
VALUES: dict[str, str] = {
    "dropped_out": "dropped out", "transferred": "transferred", "completed": "completed", "other": "other",
    "censored": "still in treatment", "male": "male", "female": "female", "True": "yes", "False": "no",
    "one_or_more": "one or more", "none": "none", "in_person": "in person", "virtual": "virtual",
    "other_opioids": "other opioids", "other_stimulants": "other stimulants", "medicare_other": "Medicare or other",
    "medicaid": "Medicaid", "private": "private insurance", "complete_case": "complete case (responders only)",
    "missing_as_use": "non-responders counted as using", "multiple_imputation": "multiple imputation",
    "age_group": "age group", "sex": "sex", "primary_substance": "primary substance",
    "psych_problem": "co-occurring psychiatric problem", "prior_treatment": "prior treatment", "payer": "payer",
    "modality": "modality", "race": "race", "ethnicity": "ethnicity",
}


def level(code) -> str:
    """Words for a level of care code (unknown codes: underscores become spaces)."""
    return LEVELS.get(str(code), label(code))


def column(code: str) -> str:
    """Header in words for a column code."""
    return COLUMNS.get(str(code), label(code))


def label(code) -> str:
    """Words for any code: levels, outcomes, values; else underscores become spaces."""
    c = str(code)
    for table in (LEVELS, OUTCOMES, VALUES):
        if c in table:
            return table[c]
    return c.replace("_", " ")


def rename_levels(values) -> list[str]:
    """Words for a sequence of level codes."""
    return [level(v) for v in values]
