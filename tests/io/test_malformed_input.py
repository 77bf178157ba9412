"""Issue 9, input half: input that used to be silently changed or mis-parsed.

Each test failed before its fix: every row is loaded right or quarantined with a reason,
or the load stops with one IopstatsError naming the file, column, value and the fix.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.identifiers import MAX_SCAN_CHARS, scan_identifier_values
from iopstats.io.load import load_episodes, load_followups, load_sessions
from iopstats.io.readers import read_source

AS_OF = {"as_of": "2030-12-31"}
HEADER = "client_id,episode_id,level_of_care,admit_date,discharge_date,discharge_reason,los_days,age,site"
ROWS = [
    "c1,e1,iop,2024-01-02,2024-02-15,completed,44,34,Montreal",
    "c2,e2,outpatient,2024-01-10,2024-03-01,dropped_out,51,45,Main",
    "c3,e3,iop,2024-02-01,,,,29,Main",
]


def _write(tmp_path, text: str | bytes, name: str = "e.csv"):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


# ----------------------------------------------------------------- 1. trailing delimiter
def test_trailing_delimiter_on_data_rows_only_loads_values_in_their_columns(tmp_path):
    p = _write(tmp_path, HEADER + "\n" + "\n".join(r + "," for r in ROWS) + "\n")
    res = load_episodes(p, AS_OF)
    assert res.report.n_loaded == 3, res.quarantine[["reason", "column", "value"]]
    assert res.data["episode_id"].tolist() == ["e1", "e2", "e3"]
    assert res.data["site"].tolist() == ["Montreal", "Main", "Main"]
    assert any("trailing delimiter" in n for n in res.report.notes)


def test_trailing_delimiter_on_header_and_rows_drops_the_empty_column(tmp_path):
    p = _write(tmp_path, HEADER + ",\n" + "\n".join(r + "," for r in ROWS) + "\n")
    res = load_episodes(p, AS_OF)
    assert res.report.n_loaded == 3
    assert res.data["client_id"].tolist() == ["c1", "c2", "c3"]


# ----------------------------------------------------------------- 6. truncated rows / NUL
def test_truncated_row_is_quarantined_not_an_open_episode(tmp_path):
    p = _write(tmp_path, HEADER + "\n" + ROWS[0] + "\nc9,e9,iop,2024-01-05\n" + ROWS[1] + "\n")
    res = load_episodes(p, AS_OF)
    assert res.report.n_loaded == 2 and res.report.n_quarantined == 1
    q = res.quarantine.iloc[0]
    assert q["reason"] == "malformed_row" and q["row"] == 2
    assert "4 of 9 fields" in q["detail"]


def test_row_with_extra_values_is_quarantined(tmp_path):
    p = _write(tmp_path, HEADER + "\n" + ROWS[0] + ",surplus\n" + ROWS[1] + "\n")
    res = load_episodes(p, AS_OF)
    assert res.quarantine["reason"].tolist() == ["malformed_row"]
    assert "10 fields" in res.quarantine["detail"].item()


def test_nul_byte_past_64_kib_is_an_error_not_a_truncated_cell(tmp_path):
    filler = "\n".join(f"c{i},e{i},iop,2024-01-02,,,,30,Main" for i in range(4, 3000))
    text = HEADER + "\n" + "\n".join(ROWS) + "\n" + filler + "\nc0,e0,iop,2024-01-02,,,,30,Ma\x00in\n"
    assert text.index("\x00") > 65536
    p = _write(tmp_path, text)
    with pytest.raises(IopstatsError, match="NUL") as ei:
        load_episodes(p, AS_OF)
    assert ei.value.file == "e.csv" and ei.value.row is not None and ei.value.fix


# ----------------------------------------------------------------- 3. non-finite numbers
@pytest.mark.parametrize("value", ["1e400", "inf", "-Infinity", "1E999"])
def test_non_finite_los_days_is_quarantined(tmp_path, value):
    p = _write(tmp_path, HEADER + "\n" + ROWS[0].replace(",44,", f",{value},") + "\n" + ROWS[1] + "\n")
    res = load_episodes(p, AS_OF)
    assert res.quarantine["reason"].tolist() == ["non_finite_number"]
    assert res.quarantine["column"].tolist() == ["los_days"]
    assert np.isfinite(res.data["los_days"]).all()


def test_non_finite_session_hours_and_followup_days_are_quarantined():
    s = pd.DataFrame({"episode_id": ["e1", "e1", "e1"], "session_date": ["2024-01-02"] * 3,
                      "attended": ["yes"] * 3, "hours": ["3", "1e400", "inf"]})
    res = load_sessions(s, AS_OF)
    assert res.quarantine["reason"].tolist() == ["non_finite_number"] * 2
    fu = pd.DataFrame({"episode_id": ["e1", "e1"], "days_after_discharge": ["30", "1e400"],
                       "responded": ["yes", "yes"], "any_use": ["no", "no"]})
    assert load_followups(fu, AS_OF).quarantine["reason"].tolist() == ["non_finite_number"]


def test_non_finite_age_in_a_typed_frame_is_quarantined():
    df = pd.DataFrame({"client_id": ["c1", "c2"], "episode_id": ["e1", "e2"], "level_of_care": ["iop", "iop"],
                       "admit_date": ["2024-01-02"] * 2, "age": [34.0, np.inf]})
    before = df.copy()
    res = load_episodes(df, AS_OF)
    assert res.quarantine["reason"].tolist() == ["non_finite_number"]
    pd.testing.assert_frame_equal(df, before)


# ----------------------------------------------------------------- 4. encoding
def test_one_cp1252_byte_does_not_turn_the_whole_utf8_file_latin1(tmp_path):
    lines = [HEADER, ROWS[0].replace("Montreal", "Montréal"), ROWS[1].replace("Main", "Caf\xe9"), ROWS[2]]
    data = (lines[0] + "\n" + lines[1] + "\n").encode("utf-8") + (lines[2] + "\n").encode("cp1252") + \
        (lines[3] + "\n").encode("utf-8")
    res = load_episodes(_write(tmp_path, data), AS_OF)
    assert res.data["site"].tolist() == ["Montréal", "Café", "Main"]
    assert res.report.encoding_fallback_rows == (2,)
    assert any("cp1252" in n and "row 2" in n for n in res.report.notes)


def test_cp1252_smart_quotes_are_accepted(tmp_path):
    text = HEADER + "\n" + ROWS[0].replace("Montreal", "\u201cNorth\u201d \u2013 Annex") + "\n" + ROWS[1] + "\n"
    res = load_episodes(_write(tmp_path, text.encode("cp1252")), AS_OF)
    assert res.data["site"].tolist() == ["\u201cNorth\u201d \u2013 Annex", "Main"]
    assert res.report.encoding_fallback_rows == (1,)


def test_pure_utf8_file_has_no_fallback(tmp_path):
    text = HEADER + "\n" + ROWS[0].replace("Montreal", "Montréal") + "\n"
    res = load_episodes(_write(tmp_path, "\ufeff" + text), AS_OF)
    assert res.data["site"].tolist() == ["Montréal"] and res.report.encoding_fallback_rows == ()


# ----------------------------------------------------------------- 5. ids
def _excel(tmp_path, header, rows, fmt=None, name="e.xlsx", title_rows=()):
    wb = openpyxl.Workbook()
    ws = wb.active
    for t in title_rows:
        ws.append(t)
    ws.append(header)
    for r in rows:
        ws.append(r)
    if fmt:
        for (row, col), f in fmt.items():
            ws.cell(row=row, column=col).number_format = f
    p = tmp_path / name
    wb.save(p)
    return p


EX_HEADER = ["client_id", "episode_id", "level_of_care", "admit_date", "discharge_date", "discharge_reason", "age"]


def test_excel_numeric_ids_keep_their_number_format(tmp_path):
    rows = [[123, 7, "iop", dt.datetime(2024, 1, 2), None, None, 34], [4567, 80, "iop", dt.datetime(2024, 1, 3), None, None, 35.0]]
    p = _excel(tmp_path, EX_HEADER, rows, fmt={(2, 1): "00000", (3, 1): "00000", (2, 2): "000"})
    res = load_episodes(p, AS_OF)
    assert res.data["client_id"].tolist() == ["00123", "04567"]
    assert res.data["episode_id"].tolist() == ["007", "80"]
    assert res.data["age"].tolist() == [34, 35]


def test_float_parquet_ids_are_refused_with_a_fix(tmp_path):
    df = pd.DataFrame({"client_id": [101.0, 102.0], "episode_id": ["e1", "e2"], "level_of_care": ["iop", "iop"],
                       "admit_date": ["2024-01-02"] * 2})
    p = tmp_path / "e.parquet"
    df.to_parquet(p)
    with pytest.raises(IopstatsError, match="floating-point") as ei:
        load_episodes(p, AS_OF)
    assert ei.value.column == "client_id" and ei.value.file == "e.parquet" and ei.value.value == "101.0"
    assert "string" in ei.value.fix


def test_id_whitespace_trimming_is_counted_and_duplicates_after_trimming_noted():
    df = pd.DataFrame({"client_id": ["c1", "c2", " c3"], "episode_id": ["e001", " e001 ", "e003"],
                       "level_of_care": ["iop"] * 3, "admit_date": ["2024-01-02"] * 3})
    res = load_episodes(df, AS_OF)
    rep = res.report.repairs.set_index(["kind", "column"])["n"]
    assert rep[("whitespace_trimmed", "episode_id")] == 1 and rep[("whitespace_trimmed", "client_id")] == 1
    q = res.quarantine
    assert q["reason"].tolist() == ["duplicate_episode_id"] and "after trimming" in q["detail"].item()
    assert res.data["client_id"].tolist() == ["c1", "c3"]


# ----------------------------------------------------------------- 6. Excel headers, formulas, zero dates
def test_excel_duplicate_header_names_both_columns(tmp_path):
    p = _excel(tmp_path, EX_HEADER + ["age"], [["c1", "e1", "iop", "2024-01-02", None, None, 30, 31]])
    with pytest.raises(IopstatsError, match="columns 7 and 8") as ei:
        load_episodes(p, AS_OF)
    assert ei.value.column == "age" and ei.value.file == "e.xlsx"


def test_excel_empty_header_over_data_is_an_error_but_empty_column_is_ignored(tmp_path):
    p = _excel(tmp_path, EX_HEADER + [None], [["c1", "e1", "iop", "2024-01-02", None, None, 30, "x"]])
    with pytest.raises(IopstatsError, match="no name") as ei:
        load_episodes(p, AS_OF)
    assert "column 8" in str(ei.value)
    p = _excel(tmp_path, EX_HEADER + [None, "site"], [["c1", "e1", "iop", "2024-01-02", None, None, 30, None, "A"]],
               name="ok.xlsx")
    assert load_episodes(p, AS_OF).data["site"].tolist() == ["A"]


def test_excel_formula_without_cached_value_is_quarantined(tmp_path):
    rows = [["c1", "e1", "iop", "2024-01-02", None, None, "=20+14"], ["c2", "e2", "iop", "2024-01-02", None, None, 40]]
    p = _excel(tmp_path, EX_HEADER, rows)  # openpyxl saves formulas without cached values
    res = load_episodes(p, AS_OF)
    assert res.quarantine["reason"].tolist() == ["formula_without_value"]
    assert res.quarantine["column"].tolist() == ["age"] and res.quarantine["value"].tolist() == ["=20+14"]
    assert res.data["episode_id"].tolist() == ["e2"]


@pytest.mark.parametrize("zero", [dt.datetime(1899, 12, 30), dt.datetime(1900, 1, 1), dt.datetime(1899, 12, 31)])
def test_excel_zero_dates_are_quarantined_as_invalid_dates(tmp_path, zero):
    rows = [["c1", "e1", "iop", dt.datetime(2024, 1, 2), zero, "completed", 30],
            ["c2", "e2", "iop", dt.datetime(2024, 1, 2), dt.datetime(2024, 2, 2), "completed", 30]]
    res = load_episodes(_excel(tmp_path, EX_HEADER, rows), AS_OF)
    assert res.quarantine["reason"].tolist() == ["invalid_date"]
    assert res.quarantine["column"].tolist() == ["discharge_date"]


def test_zero_date_text_in_csv_is_invalid_date(tmp_path):
    p = _write(tmp_path, HEADER + "\n" + ROWS[2].replace("2024-02-01", "1900-01-01") + "\n")
    assert load_episodes(p, AS_OF).quarantine["reason"].tolist() == ["invalid_date"]


# ----------------------------------------------------------------- 8. header_row
def test_header_row_option_for_title_rows(tmp_path):
    text = "Site export,,\nRun 2024-06-30,,\n" + HEADER + "\n" + "\n".join(ROWS) + "\n"
    p = _write(tmp_path, text)
    res = load_episodes(p, {**AS_OF, "source": {"header_row": 3}})
    assert res.report.n_loaded == 3 and res.data["site"].tolist() == ["Montreal", "Main", "Main"]
    assert load_episodes(p, AS_OF, header_row=3).report.n_loaded == 3
    x = _excel(tmp_path, EX_HEADER, [["c1", "e1", "iop", "2024-01-02", None, None, 30]],
               title_rows=[["Monthly export"], []])
    assert load_episodes(x, AS_OF, header_row=3).data["episode_id"].tolist() == ["e1"]


@pytest.mark.parametrize("bad", [0, -1, "3", True])
def test_header_row_must_be_a_positive_integer(tmp_path, bad):
    p = _write(tmp_path, HEADER + "\n" + ROWS[0] + "\n")
    with pytest.raises(IopstatsError, match="header_row"):
        load_episodes(p, {"source": {"header_row": bad}})


def test_header_row_past_the_end_is_an_error(tmp_path):
    p = _write(tmp_path, HEADER + "\n" + ROWS[0] + "\n")
    with pytest.raises(IopstatsError, match="header_row") as ei:
        read_source(p, header_row=9)
    assert ei.value.file == "e.csv"


# ----------------------------------------------------------------- 9. unknown optional codes
def test_unknown_optional_code_keeps_the_episode_and_is_counted():
    df = pd.DataFrame({"client_id": ["c1", "c2", "c3"], "episode_id": ["e1", "e2", "e3"],
                       "level_of_care": ["iop"] * 3, "admit_date": ["2024-01-02"] * 3,
                       "sex": ["Non-binary", "female", "Non-binary"], "payer": ["medicaid", "Tricare", ""]})
    res = load_episodes(df, AS_OF)
    assert res.report.n_loaded == 3
    assert res.data["sex"].astype(object).tolist() == ["unknown", "female", "unknown"]
    assert res.data["payer"].astype(object).tolist() == ["medicaid", "unknown", None] or \
        res.data["payer"].isna().tolist() == [False, False, True]
    rep = res.report.repairs.set_index(["kind", "column"])["n"]
    assert rep[("unknown_code", "sex")] == 2 and rep[("unknown_code", "payer")] == 1
    assert any("Non-binary" in n for n in res.report.notes)


def test_sex_represents_more_than_two_values_and_maps_non_binary():
    df = pd.DataFrame({"client_id": ["c1", "c2", "c3", "c4"], "episode_id": ["e1", "e2", "e3", "e4"],
                       "level_of_care": ["iop"] * 4, "admit_date": ["2024-01-02"] * 4,
                       "sex": ["M", "F", "Non-binary", "unknown"]})
    m = {**AS_OF, "codes": {"sex": {"M": "male", "F": "female", "Non-binary": "other"}}}
    res = load_episodes(df, m)
    assert res.data["sex"].astype(object).tolist() == ["male", "female", "other", "unknown"]
    assert list(res.data["sex"].cat.categories) == ["male", "female", "other", "unknown"]


def test_unknown_code_in_outcome_columns_still_quarantines():
    df = pd.DataFrame({"client_id": ["c1"], "episode_id": ["e1"], "level_of_care": ["iop"],
                       "admit_date": ["2024-01-02"], "discharge_date": ["2024-02-02"], "discharge_reason": ["AMA?"]})
    assert load_episodes(df, AS_OF).quarantine["reason"].tolist() == ["unknown_code"]


# ----------------------------------------------------------------- 2. identifier scan
def test_huge_cell_is_reported_never_shown_and_bounded():
    huge = "a" * 2_000_000
    df = pd.DataFrame({"note": [huge, "x@y.org", "ok"]})
    flags = scan_identifier_values(df)
    got = {(r.column, r.kind): r.n_values for r in flags.itertuples()}
    assert got == {("note", "email"): 1, ("note", "too_long_to_scan"): 1}
    assert huge not in flags.to_string()


def test_identifier_in_the_scanned_prefix_of_a_long_cell_is_found():
    cell = "call 555-123-4567 " + "b" * (MAX_SCAN_CHARS * 2)
    flags = scan_identifier_values(pd.DataFrame({"note": [cell]}))
    assert set(flags["kind"]) == {"phone", "too_long_to_scan"}


def test_email_pattern_is_linear_on_adversarial_text():
    import re

    from iopstats.io.identifiers import IDENTIFIER_VALUE_PATTERNS

    rx = re.compile(IDENTIFIER_VALUE_PATTERNS["email"])
    # the old pattern restarted the local part at every position of a run (quadratic):
    # with the anchored pattern a match attempt starts only at the beginning of a run
    assert rx.pattern.startswith("(?<![")
    assert rx.search("a" * 100_000) is None
    assert rx.search("x " + "a.b" * 20_000 + "@ex.org").group().endswith("@ex.org")


# ----------------------------------------------------------------- 7. mappings
def test_two_canonical_columns_from_one_source_column_is_an_error():
    with pytest.raises(IopstatsError, match="both") as ei:
        load_episodes(pd.DataFrame({"client_id": ["c"], "episode_id": ["x"], "level_of_care": ["iop"], "dt": ["2024-01-02"]}),
                      {"columns": {"admit_date": "dt", "discharge_date": "dt"}})
    assert ei.value.value == "dt" and ei.value.column == "columns.discharge_date" and ei.value.fix
    with pytest.raises(IopstatsError, match="by the same name"):  # implicit same-name column too
        load_episodes(pd.DataFrame({"client_id": ["c"], "episode_id": ["x"], "level_of_care": ["iop"],
                                    "admit_date": ["2024-01-02"]}), {"columns": {"discharge_date": "admit_date"}})


def test_client_and_episode_id_may_share_a_column():
    df = pd.DataFrame({"who": ["1", "2"], "level_of_care": ["iop"] * 2, "admit_date": ["2024-01-02"] * 2})
    res = load_episodes(df, {**AS_OF, "columns": {"client_id": "who", "episode_id": "who"}})
    assert res.data["client_id"].tolist() == res.data["episode_id"].tolist() == ["1", "2"]


def test_dropped_identifier_column_mapped_back_in_is_an_error():
    df = pd.DataFrame({"MRN": ["m1"], "episode_id": ["e1"], "level_of_care": ["iop"], "admit_date": ["2024-01-02"]})
    with pytest.raises(IopstatsError, match="drop") as ei:
        load_episodes(df, {"drop": ["MRN"], "columns": {"client_id": "MRN"}})
    assert ei.value.value == "MRN" and ei.value.column == "columns.client_id"
