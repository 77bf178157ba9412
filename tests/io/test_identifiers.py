"""Identifier guard: refused columns, flagged values (never shown), top-coded ages."""

from __future__ import annotations

import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.identifiers import identifier_columns, scan_identifier_values
from iopstats.io.load import load_episodes, load_sessions


@pytest.mark.parametrize(
    "col,kind",
    [("name", "name"), ("First Name", "name"), ("lname", "name"), ("SSN", "ssn"), ("social_security_no", "ssn"),
     ("Phone", "phone"), ("mobile_number", "phone"), ("E-mail", "email"), ("Street", "address"),
     ("home_address", "address"), ("DOB", "date_of_birth"), ("Date of Birth", "date_of_birth"),
     ("birth_date", "date_of_birth"), ("MRN", "medical_record_number"),
     ("Medical Record Number", "medical_record_number"), ("zip", "zip5"), ("ZIP5", "zip5"), ("Zip Code", "zip5")],
)
def test_identifier_column_names_detected(col, kind):
    assert identifier_columns([col]) == {col: kind}


@pytest.mark.parametrize("col", ["client_id", "program_name", "site", "zip3", "admit_date", "age", "payer", "race"])
def test_ordinary_columns_not_flagged(col):
    assert identifier_columns([col]) == {}


def test_identifier_columns_refused_without_drop(make_episodes):
    src = make_episodes().assign(**{"Last Name": "x", "ssn": "1"})
    with pytest.raises(IopstatsError) as ei:
        load_episodes(src)
    assert "'Last Name' (name)" in str(ei.value) and "'ssn' (ssn)" in str(ei.value)
    assert "drop" in ei.value.fix and '"Last Name", "ssn"' in ei.value.fix


def test_identifier_columns_accepted_when_dropped(make_episodes):
    src = make_episodes().assign(**{"Last Name": "Doe", "ssn": "123-45-6789"})
    res = load_episodes(src, {"drop": ["Last Name", "ssn"]})
    assert res.report.n_loaded == 5 and res.report.dropped_columns == ("Last Name", "ssn")
    assert len(res.report.identifier_flags) == 0


def test_identifier_values_flagged_without_showing_them(make_episodes):
    src = make_episodes()
    src["note"] = ["ok", "j.doe@example.org", "123-45-6789", "(505) 555-0100", "fine"]
    src.loc[0, "client_id"] = "987-65-4321"
    res = load_episodes(src)
    flags = res.report.identifier_flags
    assert flags.values.tolist() == [["client_id", "ssn", 1], ["note", "email", 1], ["note", "phone", 1],
                                     ["note", "ssn", 1]]
    text = str(res.report) + res.report.to_html()
    for secret in ("j.doe@example.org", "123-45-6789", "555-0100", "987-65-4321"):
        assert secret not in text


def test_scan_does_not_flag_dates_ids_or_numbers():
    df = pd.DataFrame({"d": ["2024-01-02", "01/02/2024"], "id": ["E000123", "123456789"], "n": ["12.5", "3"]})
    assert scan_identifier_values(df).empty


def test_ages_over_89_top_coded_with_note(make_episodes):
    src = make_episodes().assign(age=["90", "104", "89", "34", "120"])
    res = load_episodes(src)
    assert res.data["age"].tolist() == [90, 90, 89, 34, 90]
    assert res.data["age_group"].astype(str).tolist() == ["65+", "65+", "65+", "30-34", "65+"]
    assert any("top-coded" in n and "3 age" in n for n in res.report.notes)


def test_guard_applies_to_sessions_too():
    src = pd.DataFrame({"episode_id": ["e1"], "session_date": ["2024-01-02"], "attended": ["1"], "email": ["x"]})
    with pytest.raises(IopstatsError, match="'email' \\(email\\)"):
        load_sessions(src)
