"""read_tedsd: every schema-drift rule against hand-written TEDS-D rows with known answers.

Fixtures in tests/data/tedsd/ are hand-written (one per schema era); the
expected values below were worked out from the TEDS-D codebook by hand.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.result import QUARANTINE_META
from iopstats.io.schema import EPISODE_COLUMNS
from iopstats.io.tedsd import field_codes, read_tedsd

DATA = Path(__file__).resolve().parents[1] / "data" / "tedsd"
F2019 = DATA / "tedsd_2019_known.csv"
F2010 = DATA / "tedsd_2010_known.csv"
F2021 = DATA / "tedsd_2021_known.csv"
F2023 = DATA / "tedsd_2023_known.csv"


def _row(res, caseid):
    d = res.data.set_index("episode_id")
    return d.loc[str(caseid)]


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ----------------------------------------------------------------------- 2015+ numeric


@pytest.fixture(scope="module")
def r2019():
    # LOS as published here; the outpatient day is tested in test_tedsd_eras.py
    return read_tedsd(F2019, columns=["DAYWAIT"], outpatient_day=False)


def test_2019_counts_add_up(r2019):
    rep = r2019.report
    assert (rep.n_input, rep.n_loaded, rep.n_quarantined) == (19, 11, 8)
    assert rep.n_loaded + rep.n_quarantined == rep.n_input
    assert r2019.extras["era"] == "2015+" and r2019.extras["text_labels"] is False


def test_2019_canonical_columns_and_dtypes(r2019):
    names = [c.name for c in EPISODE_COLUMNS]
    assert list(r2019.data.columns) == names + ["tedsd_health_insurance", "tedsd_daywait"]
    assert r2019.data["client_id"].dtype == "string"
    assert isinstance(r2019.data["level_of_care"].dtype, pd.CategoricalDtype)
    assert r2019.data["psych_problem"].dtype == "boolean"
    assert r2019.data["tedsd_daywait"].dtype == "Int32"


def test_2019_quarantine_reasons_exact(r2019):
    q = r2019.quarantine
    assert list(q.columns[:5]) == list(QUARANTINE_META)
    got = list(zip(q["row"].tolist(), q["reason"], q["column"], q["value"]))
    assert got == [
        (3, "unknown_code", "SERVICES", "99"),
        (4, "missing_required", "SERVICES", "-9"),
        (5, "duplicate_episode_id", "CASEID", "20190000001"),
        (6, "unknown_code", "REASON", "8"),
        (7, "unknown_code", "LOS", "38"),
        (8, "missing_required", "LOS", "-9"),
        (9, "unknown_code", "SUB1", "20"),
        (10, "missing_required", "CASEID", None),
    ]
    # the raw fields ride along, as text
    assert q.loc[0, "SERVICES"] == "99" and q.loc[0, "CASEID"] == "20190000004"


def test_duplicate_caseid_keeps_first(r2019):
    assert _row(r2019, 20190000001)["level_of_care"] == "iop"  # the first row, not the later outpatient one


def test_los_exact_days_and_bins(r2019):
    d = r2019.data.set_index("episode_id")
    exact = d.loc["20190000002"]
    assert exact[["los_days", "los_min", "los_max"]].tolist() == [1.0, 1.0, 1.0]
    assert d.loc["20190000012", ["los_days", "los_min", "los_max"]].tolist() == [30.0, 30.0, 30.0]
    bins = {  # CASEID: (LOS code, min, max)
        "20190000014": (31, 31, 45), "20190000017": (32, 46, 60), "20190000001": (33, 61, 90),
        "20190000018": (34, 91, 120), "20190000019": (35, 121, 180), "20190000013": (36, 181, 365),
        "20190000003": (37, 366, np.inf),
    }
    for cid, (_, lo, hi) in bins.items():
        assert np.isnan(d.loc[cid, "los_days"])
        assert d.loc[cid, "los_min"] == lo and d.loc[cid, "los_max"] == hi


def test_nominal_dates(r2019):
    d = r2019.data.set_index("episode_id")
    assert (d["discharge_date"] == pd.Timestamp("2019-07-01")).all()
    # exact: discharge - LOS; bins: midpoint rounded down; > 1 year: 366 days
    assert d.loc["20190000002", "admit_date"] == pd.Timestamp("2019-06-30")
    assert d.loc["20190000012", "admit_date"] == pd.Timestamp("2019-06-01")
    assert d.loc["20190000001", "admit_date"] == pd.Timestamp("2019-07-01") - pd.Timedelta(days=75)
    assert d.loc["20190000013", "admit_date"] == pd.Timestamp("2019-07-01") - pd.Timedelta(days=273)
    assert d.loc["20190000003", "admit_date"] == pd.Timestamp("2018-06-30")
    assert (d["discharge_date"] > d["admit_date"]).all()
    notes = " ".join(r2019.report.notes)
    assert "nominal" in notes and "readmission" in notes and "7 loaded stays" in notes


def test_2019_codes_row_by_row(r2019):
    first = _row(r2019, 20190000001)
    assert first[["site", "age_group", "sex", "race", "ethnicity", "primary_substance", "use_freq_admit",
                  "use_freq_discharge", "prior_treatment", "referral_source", "tedsd_health_insurance",
                  "employment", "living_arrangement", "discharge_reason"]].tolist() == [
        "CA", "25-29", "male", "white", "not_hispanic", "heroin", "daily", "none", "one_or_more",
        "criminal_justice", "medicaid", "unemployed", "homeless", "completed"]
    assert bool(first["psych_problem"]) and bool(first["opioid_medication"])
    second = _row(r2019, 20190000002)
    assert second[["site", "age_group", "sex", "race", "ethnicity", "primary_substance", "tedsd_health_insurance",
                   "employment", "living_arrangement", "discharge_reason", "prior_treatment"]].tolist() == [
        "NY", "65+", "female", "black", "hispanic", "alcohol", "none", "full_time", "independent",
        "dropped_out", "none"]
    assert pd.isna(second["use_freq_discharge"]) and pd.isna(second["tedsd_daywait"])
    assert not second["psych_problem"] and not second["opioid_medication"]


def test_minus9_is_missing_in_every_optional_field(r2019):
    row = _row(r2019, 20190000003)
    for col in ("site", "age_group", "sex", "race", "ethnicity", "use_freq_admit", "use_freq_discharge",
                "psych_problem", "opioid_medication", "prior_treatment", "referral_source", "payer",
                "employment", "living_arrangement"):
        assert pd.isna(row[col]), col
    assert row["level_of_care"] == "detox_residential" and row["discharge_reason"] == "transferred"
    assert row["primary_substance"] == "other_opioids"


def test_race_ethnic_substance_and_services_maps(r2019):
    d = r2019.data.set_index("episode_id")
    expect = {  # CASEID: (level, reason, race, ethnicity, substance)
        "20190000012": ("detox_ambulatory", "died", "other", "hispanic", "other"),  # RACE 3 API -> other
        "20190000013": ("inpatient", "incarcerated", "multiracial", "hispanic", "hallucinogens"),  # PCP
        "20190000014": ("residential_long", "terminated", "pacific_islander", "hispanic", "other_opioids"),
        "20190000015": ("residential_short", "other", "native_american", "not_hispanic", "benzodiazepines"),
        "20190000016": ("detox_inpatient", "completed", "native_american", "not_hispanic", "methamphetamine"),
        "20190000017": ("iop", "dropped_out", "asian", "not_hispanic", "other_stimulants"),
        "20190000018": ("outpatient", "completed", "other", "not_hispanic", "sedatives"),
        "20190000019": ("outpatient", "completed", "white", "not_hispanic", "sedatives"),
    }
    for cid, vals in expect.items():
        got = tuple(d.loc[cid, ["level_of_care", "discharge_reason", "race", "ethnicity", "primary_substance"]])
        assert got == vals, cid
    assert d.loc["20190000012", "site"] == "PR" and d.loc["20190000013", "site"] == "DC"


def test_substance_map_is_complete_and_documented():
    sub = {k: v for k, (v, _) in field_codes("SUB1").items()}
    assert sub == {1: "none", 2: "alcohol", 3: "cocaine", 4: "marijuana", 5: "heroin", 6: "other_opioids",
                   7: "other_opioids", 8: "hallucinogens", 9: "hallucinogens", 10: "methamphetamine",
                   11: "other_stimulants", 12: "other_stimulants", 13: "benzodiazepines", 14: "sedatives",
                   15: "sedatives", 16: "sedatives", 17: "other", 18: "other", 19: "other"}


# ----------------------------------------------------------------------- 2006-14 era


@pytest.fixture(scope="module")
def r2010():
    return read_tedsd(F2010)


def test_2006_14_codebook_codes(r2010):
    """Worked from the 2006-2014 codebook by hand (PDF pages 13, 16, 17, 54, 56, 58, 94)."""
    assert r2010.extras["era"] == "2006-2014" and r2010.extras["level_of_care_source"] == "SERVSETD"
    d = r2010.data.set_index("episode_id")
    assert d.index.tolist() == ["1001", "1002", "1003", "1004", "1005"]
    obj = lambda c: d[c].astype(object).where(d[c].notna(), None).tolist()  # noqa: E731
    assert obj("age_group") == ["12-14", "15-17", "50-54", None, "30-34"]  # AGE 2, 3, 11, 12 (55 and over), 7
    assert obj("race") == ["asian", "other", "multiracial", "pacific_islander", "white"]  # 13, 20, 21, 23, 5
    assert obj("ethnicity") == ["not_hispanic", "hispanic", "hispanic", "hispanic", "hispanic"]  # 5, 4, 6, 1, 2
    assert obj("primary_substance") == ["alcohol", "other", "heroin", "alcohol", "alcohol"]  # SUB1 20 = other
    assert obj("use_freq_admit") == ["none", "some", "some", "some", "daily"]  # FREQ1 1..5
    assert obj("prior_treatment") == ["none", "one_or_more", "one_or_more", "one_or_more", "none"]  # 0, 3, 5, 1, 0
    assert obj("tedsd_payment_source") == ["self_pay", "private_insurance", "no_charge", "other",
                                           "medicare_workers_comp"]  # PRIMPAY 1, 2, 8, 9, 3
    assert obj("payer") == ["none", "private", "none", None, "medicare_other"]
    assert obj("tedsd_health_insurance") == ["private", "private", "medicaid", "private", "private"]
    assert obj("level_of_care") == ["iop", "outpatient", "residential_short", "outpatient", "outpatient"]
    assert obj("discharge_reason") == ["completed", "dropped_out", "terminated", "transferred", "completed"]
    assert d["discharge_date"].dt.year.tolist() == [2006, 2010, 2012, 2014, 2014]
    # outpatient day subtracted for the ambulatory settings (IOP 20 -> 19; 31-45 -> 30-44), not residential
    assert d["los_min"].tolist() == [19.0, 30.0, 5.0, 45.0, 60.0]
    assert d["use_freq_discharge"].isna().all()  # no FREQ1_D in 2006-14
    notes = " ".join(r2010.report.notes)
    assert "1 loaded episodes are aged 55 and over" in notes and "no relapse proxy" in notes
    assert len(r2010.extras["relapse_proxy_missing"]) == 0


def test_2006_14_codes_out_of_old_codebook_are_quarantined(r2010):
    q = r2010.quarantine
    assert list(zip(q["row"], q["column"], q["value"])) == [
        (5, "AGE", "13"), (6, "RACE", "6"), (7, "AGE", "1"), (8, "SUB1", "19"), (9, "PRIMPAY", "6")]
    assert set(q["reason"]) == {"unknown_code"}


def test_2006_14_pooled_categories(tmp_path):
    res = read_tedsd(F2010, harmonize=True)
    d = res.data
    assert d["tedsd_age_pooled"].astype(str).tolist() == ["12-14", "15-17", "50-54", "55+", "30-34"]
    assert d["tedsd_race_pooled"].astype(str).tolist() == [
        "asian_pacific_islander", "other", "multiracial", "asian_pacific_islander", "white"]
    assert d["tedsd_ethnicity_pooled"].astype(str).tolist() == [
        "not_hispanic", "cuban_or_other_specific", "hispanic_not_specified", "puerto_rican", "mexican"]


def test_year_argument_selects_codebook(tmp_path):
    # the same row read under the 2015+ codebook: AGE 2 = 15-17, NOPRIOR 3 is unknown
    p = tmp_path / "t.csv"
    p.write_text("CASEID,DISYR,SERVICES_D,REASON,LOS,AGE,NOPRIOR\n1,2010,7,1,5,2,1\n2,2010,7,1,5,2,3\n")
    new = read_tedsd(p)
    assert new.data["age_group"].tolist() == ["15-17"]
    assert new.quarantine["column"].tolist() == ["NOPRIOR"]
    old = read_tedsd(p, year=2010)
    assert old.data["age_group"].tolist() == ["12-14", "12-14"]
    assert old.data["prior_treatment"].tolist() == ["one_or_more", "one_or_more"]


def test_year_stands_in_for_missing_disyr(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("CASEID,SERVICES,REASON,LOS\n1,6,1,3\n")
    assert read_tedsd(p, year=2018).data["discharge_date"].tolist() == [pd.Timestamp("2018-07-01")]
    res = read_tedsd(p)
    assert res.report.n_loaded == 0 and res.quarantine["reason"].tolist() == ["missing_required"]
    assert res.quarantine["column"].tolist() == ["DISYR"]


# ----------------------------------------------------------------------- 2021 text labels, 2023 SEX


@pytest.fixture(scope="module")
def r2021():
    return read_tedsd(F2021)


def test_2021_text_labels_latin1(r2021):
    assert r2021.extras["text_labels"] is True
    rep = r2021.report
    assert (rep.n_input, rep.n_loaded, rep.n_quarantined) == (6, 5, 1)
    d = r2021.data.set_index("episode_id")
    first = d.loc["2021000001"]
    assert first[["level_of_care", "discharge_reason", "los_min", "los_max", "site", "age_group", "sex",
                  "primary_substance", "tedsd_health_insurance", "use_freq_admit", "use_freq_discharge", "prior_treatment",
                  "referral_source", "employment", "living_arrangement"]].tolist() == [
        "iop", "completed", 60.0, 89.0, "CA", "25-29", "male", "none", "none", "daily", "none", "none",
        "individual", "unemployed", "homeless"]
    assert bool(first["psych_problem"]) and not first["opioid_medication"]
    assert d.loc["2021000002", ["los_days", "site", "age_group", "race", "ethnicity"]].tolist() == [
        11.0, "PR", "65+", "multiracial", "hispanic"]  # outpatient: 12 - the added day
    assert d.loc["2021000003", "los_max"] == np.inf
    assert d.loc["2021000003"][["site", "age_group", "sex", "tedsd_health_insurance"]].isna().all()
    # integer codes inside a labelled file are read as codes
    assert d.loc["2021000006", ["level_of_care", "tedsd_health_insurance", "primary_substance"]].tolist() == [
        "outpatient", "none", "alcohol"]


def test_2021_label_none_is_not_missing(r2021):
    d = r2021.data.set_index("episode_id")
    assert d.loc["2021000001", "primary_substance"] == "none"  # SUB1 label "None"
    assert d.loc["2021000001", "tedsd_health_insurance"] == "none"  # HLTHINS label "None"


def test_2021_unknown_labels_quarantined_with_decoded_value(r2021):
    q = r2021.quarantine
    assert list(zip(q["row"], q["reason"], q["column"], q["value"])) == [
        (4, "unknown_code", "SERVICES", "Ambulatory day program"),
    ]
    # an unknown label in an optional field of 2021 (no codebook here) is kept, the field missing, noted
    assert pd.isna(r2021.data.set_index("episode_id").loc["2021000004", "employment"])
    assert any("EMPLOY value outside the 2019 codebook" in n for n in r2021.report.notes)


def test_2023_sex_column(tmp_path):
    res = read_tedsd(F2023)
    assert res.data["sex"].astype(object).where(res.data["sex"].notna(), None).tolist() == ["female", None]
    # SEX 3 is outside the 2019 codes, but 2023 has no codebook here: kept, sex missing, noted
    assert list(zip(res.quarantine["column"], res.quarantine["reason"])) == [("LOS", "missing_required")]
    assert any("SEX value outside the 2019 codebook" in n for n in res.report.notes)


def test_no_sex_column_leaves_sex_missing_with_note(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("CASEID,DISYR,SERVICES,REASON,LOS\n1,2019,6,1,3\n")
    res = read_tedsd(p)
    assert res.data["sex"].isna().all()
    assert any("GENDER" in n for n in res.report.notes)


# ----------------------------------------------------------------------- containers and delimiters


def test_zip_named_tsv_holding_comma_separated_csv(tmp_path, r2019):
    z = tmp_path / "tedsd_puf_2019_tsv.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(F2019, "tedsd_puf_2019.csv")
    res = read_tedsd(z, columns=["DAYWAIT"], outpatient_day=False)
    pd.testing.assert_frame_equal(res.data, r2019.data)
    pd.testing.assert_frame_equal(res.quarantine, r2019.quarantine)


@pytest.mark.parametrize("sep", ["\t", "|", ";"])
def test_delimiter_is_sniffed(tmp_path, r2019, sep):
    p = tmp_path / "t.tsv"
    p.write_text(F2019.read_text().replace(",", sep))
    res = read_tedsd(p, columns=["DAYWAIT"], outpatient_day=False)
    pd.testing.assert_frame_equal(res.data, r2019.data)


def test_zip_with_two_files_raises(tmp_path):
    z = tmp_path / "two.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(F2019, "a.csv")
        zf.write(F2010, "b.csv")
    with pytest.raises(IopstatsError, match="exactly one CSV") as ei:
        read_tedsd(z)
    assert ei.value.file == str(z)


def test_lowercase_header_bom_and_crlf(tmp_path, r2019):
    text = F2019.read_text()
    head, rest = text.split("\n", 1)
    p = tmp_path / "t.csv"
    p.write_bytes(("\ufeff" + head.lower() + "\n" + rest).replace("\n", "\r\n").encode("utf-8"))
    res = read_tedsd(p, columns=["daywait"], outpatient_day=False)
    pd.testing.assert_frame_equal(res.data, r2019.data)


def test_malformed_line_is_quarantined_not_fatal(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("CASEID,DISYR,SERVICES,REASON,LOS\n1,2019,6,1,3\n2,2019,6\n3,2019,99,2,31\n4,2019,7\n"
                 "5,2019,7,1,-9\n6,2019,7,1,2\n")
    res = read_tedsd(p)
    assert (res.report.n_input, res.report.n_loaded, res.report.n_quarantined) == (6, 2, 4)
    q = res.quarantine
    # rows are data-row positions in the file, also for rows after a skipped line
    assert list(zip(q["row"], q["reason"], q["column"].fillna(""))) == [
        (1, "malformed_row", ""), (2, "unknown_code", "SERVICES"), (3, "malformed_row", ""),
        (4, "missing_required", "LOS")]
    assert q.loc[0, "value"] == "2,2019,6"
    assert res.data["episode_id"].tolist() == ["1", "6"]


def test_non_integer_value_in_numeric_file_is_unknown_code(tmp_path):
    p = tmp_path / "t.csv"
    rows = "\n".join(f"{i},2019,7,1,5,2" for i in range(1, 200))
    p.write_text("CASEID,DISYR,SERVICES,REASON,LOS,SUB1\n" + rows + "\n999,2019,7,1,5,2.5\n1000,2019,70000,1,5,2\n")
    res = read_tedsd(p)
    assert res.report.n_loaded == 199
    assert list(zip(res.quarantine["column"], res.quarantine["value"])) == [("SUB1", "2.5"), ("SERVICES", "70000")]


# ----------------------------------------------------------------------- errors and immutability


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"CASEID,DISYR,SERVICES,REASON,LOS\n", "no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"id,level,start,end\n1,iop,2020-01-01,2020-02-01\n", "missing column"),
    ],
)
def test_unreadable_input_raises(tmp_path, content, match):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(IopstatsError, match=match) as ei:
        read_tedsd(p)
    assert ei.value.file == str(p)
    assert ei.value.fix


def test_missing_columns_are_named(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("CASEID,DISYR,SERVICES\n1,2019,6\n")
    with pytest.raises(IopstatsError) as ei:
        read_tedsd(p)
    msg = str(ei.value)
    assert "REASON" in msg and "LOS" in msg and "CASEID" not in msg.split("missing column(s)")[1].split("(")[0]
    assert "load_episodes" in msg  # the fix points to the general loader


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(IopstatsError, match="not found"):
        read_tedsd(tmp_path / "nope.csv")
    with pytest.raises(IopstatsError, match="folder"):
        read_tedsd(tmp_path)


def test_bad_arguments(tmp_path):
    with pytest.raises(IopstatsError, match="not in the file"):
        read_tedsd(F2019, columns=["NOSUCH"])
    with pytest.raises(IopstatsError, match="year"):
        read_tedsd(F2019, year="2019")


def test_input_file_not_modified(tmp_path):
    for f in (F2019, F2010, F2021, F2023):
        before = _sha(f)
        read_tedsd(f)
        assert _sha(f) == before
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(F2019, "a.csv")
    before = _sha(z)
    read_tedsd(z)
    assert _sha(z) == before


def test_report_renders(r2019):
    text = str(r2019.report)
    assert "19 input rows: 11 loaded, 8 quarantined" in text
    assert "unknown_code" in r2019.report.to_html()


def test_latin1_bytes_after_the_sniffed_head(tmp_path):
    # 70 kB of clean rows, then a latin-1 label: the encoding is only discovered mid-file
    rows = "".join(f"{i},2019,Ohio,Male,\"Ambulatory, intensive outpatient\",Treatment completed,5\n"
                   for i in range(1, 1500))
    body = ("CASEID,DISYR,STFIPS,GENDER,SERVICES,REASON,LOS\n" + rows).encode("latin-1")
    body += "1500,2019,Ohio,Mâle,\"Ambulatory, intensive outpatient\",Treatment completed,5\n".encode("latin-1")
    assert len(body) > 1 << 16
    p = tmp_path / "t.csv"
    p.write_bytes(body)
    res = read_tedsd(p)
    assert res.report.n_loaded == 1499
    assert res.quarantine["value"].tolist() == ["M\u00e2le"] and res.quarantine["column"].tolist() == ["GENDER"]


def test_extra_columns_in_text_file_stay_text(r2021):
    res = read_tedsd(F2021, columns=["LOS", "DISYR"])
    assert res.data["tedsd_los"].tolist() == ["61 to 90 days", "12", "More than a year", "5", "5"]
    assert res.data["tedsd_disyr"].tolist() == [2021] * 5
    pd.testing.assert_frame_equal(res.data.iloc[:, :-2], r2021.data)


def test_2015_16_layout_services_d_and_cbsa():
    """tedsd_2016_synth.csv: 30 rows written by write_tedsd_csv(n=30, year=2016, seed=0), 76 columns."""
    f = DATA / "tedsd_2016_synth.csv"
    raw = pd.read_csv(f)
    assert raw.shape == (30, 76) and "CBSA" in raw.columns and "SERVICES" not in raw.columns
    res = read_tedsd(f, columns=["CBSA"])
    assert res.report.n_loaded == 30 and res.report.n_quarantined == 0
    assert res.extras["level_of_care_source"] == "SERVICES_D"
    assert res.data["episode_id"].tolist() == raw["CASEID"].astype(str).tolist()
    expected = raw["CBSA"].astype("Int32").mask(raw["CBSA"] == -9)
    pd.testing.assert_series_equal(res.data["tedsd_cbsa"], expected, check_names=False)
    svc = {1: "detox_inpatient", 2: "detox_residential", 3: "inpatient", 4: "residential_short",
           5: "residential_long", 6: "iop", 7: "outpatient", 8: "detox_ambulatory"}
    assert res.data["level_of_care"].astype(str).tolist() == raw["SERVICES_D"].map(svc).tolist()
    lo = {31: 31, 32: 46, 33: 61, 34: 91, 35: 121, 36: 181, 37: 366}
    day = raw["SERVICES_D"].isin([6, 7, 8]).astype(float)
    assert res.data["los_min"].tolist() == [(float(x) if x <= 30 else lo[x]) - d for x, d in zip(raw["LOS"], day)]
    with pytest.raises(IopstatsError, match="SERVICES_D"):
        read_tedsd(f, level_of_care="admission")


def test_code_tables_live_in_tedsd_codes_and_are_re_exported():
    from iopstats.io import tedsd, tedsd_codes

    for name in ("TEDS_FIELDS", "STATES", "LOS_BINS", "MISSING_LABEL", "field_codes"):  # noqa: B007
        assert getattr(tedsd, name) is getattr(tedsd_codes, name)
    assert set(tedsd.__all__) - {"read_tedsd"} <= set(tedsd_codes.__all__)
    assert tedsd_codes.field_codes("SERVSETD", 2010)[6][0] == "iop"


def test_frame_is_built_in_the_canonical_dtypes(r2019, r2010, r2021, tmp_path):
    """read_tedsd builds its columns directly; they must be exactly what coerce_dtypes gives."""
    from iopstats.io.schema import coerce_dtypes

    names = [c.name for c in EPISODE_COLUMNS]
    for res in (r2019, r2010, r2021):
        pd.testing.assert_frame_equal(res.data[names], coerce_dtypes(res.data[names]))
    p = tmp_path / "t.csv"
    p.write_text("CASEID,DISYR,SERVICES_D,REASON,LOS\n1,2019,99,1,3\n")
    empty = read_tedsd(p).data
    assert len(empty) == 0
    pd.testing.assert_frame_equal(empty[names], coerce_dtypes(empty[names]))
