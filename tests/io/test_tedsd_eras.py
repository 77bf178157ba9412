"""Every valid code of every era loads and means what its codebook says (files laid out per era).

For each era a file is written with the era's codebook columns
(:func:`tedsd_columns`) in which every mapped variable runs through all its
codebook codes (numeric, or the text labels for 2021); the loaded values must be
the code table's, nothing may be quarantined, and the outpatient day, the
setting option and the pooled coding must behave as documented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.tedsd import read_tedsd
from iopstats.io.tedsd_codes import TEDS_FIELDS, code_table, codebook_era
from iopstats.synthetic.tedsd import _labels, tedsd_columns, write_tedsd_csv

ERAS = [2010, 2015, 2016, 2017, 2020, 2021, 2022, 2023]
BOOL = {"yes": True, "no": False}


def _every_code_file(tmp_path, year):
    t = code_table()
    t = t[(t.era == codebook_era(year)) & (t.code != -9)]
    cols = tedsd_columns(year)
    tables = {v: g.sort_values("code") for v, g in t.groupby("variable")}
    n = max(len(g) for g in tables.values())
    frame = {c: np.zeros(n, dtype=int) for c in cols}
    frame["CASEID"] = np.arange(1, n + 1)
    frame["DISYR"] = np.full(n, year)
    expect = {}
    for c in cols:
        var = "GENDER" if c == "SEX" else c
        if var in tables:
            codes = tables[var]["code"].to_numpy()
            frame[c] = np.resize(codes, n)  # every code at least once
            expect[c] = dict(zip(tables[var]["code"], tables[var]["value"]))
    if "SERVICES" in frame and "SERVICES_D" in frame:
        frame["SERVICES"] = frame["SERVICES_D"]
    df = pd.DataFrame(frame)[list(cols)]
    if year == 2021:
        labels = _labels(year)
        text = df.astype(object)
        for c in cols:
            var = "GENDER" if c == "SEX" else c
            if var in expect and c not in ("CASEID", "DISYR"):
                text[c] = df[c].map(labels[var])
        df_out = text
    else:
        df_out = df
    p = tmp_path / f"every_{year}.csv"
    df_out.to_csv(p, index=False, encoding="latin-1")
    return p, df, expect


@pytest.mark.parametrize("year", ERAS)
def test_every_valid_code_loads_with_its_codebook_meaning(tmp_path, year):
    p, raw, expect = _every_code_file(tmp_path, year)
    res = read_tedsd(p, harmonize=True)
    assert res.report.n_quarantined == 0, res.quarantine.head()
    assert res.report.n_loaded == len(raw)
    assert res.extras["text_labels"] is (year == 2021)
    d = res.data
    for c, table in expect.items():
        var = "GENDER" if c == "SEX" else c
        if var in ("LOS", "SERVICES") or (var == "SERVSETD") or var not in TEDS_FIELDS:
            continue
        target = TEDS_FIELDS[var]
        want = raw[c].map(table)
        got = d[target].astype(object)
        if target in ("psych_problem", "opioid_medication"):
            want = want.map(BOOL)
        elif target == "age_group":
            want = want.where(want != "55+")  # 2006-14 "55 and over": canonical group unknown
        want = want.where(want != "", None)  # PRIMPAY "other": no canonical payer... detail kept
        same = [(pd.isna(a) and pd.isna(b)) or a == b for a, b in zip(got, want)]
        assert all(same), (year, c, list(zip(got, want))[:5])
    # the setting at discharge is the level of care, by default
    disc = "SERVSETD" if year < 2015 else "SERVICES_D"
    assert res.extras["level_of_care_source"] == disc
    assert d["level_of_care"].astype(str).tolist() == raw[disc].map(expect[disc]).tolist()
    # outpatient (settings 6, 7, 8) LOS less the added day; others as published
    lo = raw["LOS"].map(lambda k: {31: 31, 32: 46, 33: 61, 34: 91, 35: 121, 36: 181, 37: 366}.get(k, k))
    day = raw[disc].isin([6, 7, 8]).astype(float)
    assert d["los_min"].tolist() == (lo - day).tolist()
    # pooled coding exists in every era
    assert set(d["tedsd_age_pooled"].dropna().astype(str)) == {
        "12-14", "15-17", "18-20", "21-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55+"}
    assert set(d["tedsd_race_pooled"].dropna().astype(str)) == {
        "white", "black", "native_american", "asian_pacific_islander", "multiracial", "other"}
    assert set(d["tedsd_ethnicity_pooled"].dropna().astype(str)) == {
        "puerto_rican", "mexican", "cuban_or_other_specific", "hispanic_not_specified", "not_hispanic"}


def test_2021_label_wording_case_space_and_dashes(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(  # an en dash (UTF-8), odd case and doubled spaces; 2021 wording "years old", "episode"
        "CASEID,DISYR,SERVICES_D,REASON,LOS,AGE,NOPRIOR,SUB1,HLTHINS\n"
        '1,2021,"ambulatory,  INTENSIVE outpatient",treatment completed,31 to 45 days,12\u201314 years old,'
        "No prior treatment episode,None,None\n"
        '2,2021,"Ambulatory, non-intensive outpatient",Treatment completed,1,65 years and older,'
        "One or more prior treatment episodes,Alcohol,Medicaid\n", encoding="utf-8")
    res = read_tedsd(p)
    assert res.report.n_quarantined == 0
    d = res.data
    assert d["age_group"].astype(str).tolist() == ["12-14", "65+"]
    assert d["prior_treatment"].astype(str).tolist() == ["none", "one_or_more"]
    assert d["primary_substance"].astype(str).tolist() == ["none", "alcohol"]  # "None" is a label
    assert d["tedsd_health_insurance"].astype(str).tolist() == ["none", "medicaid"]
    assert d["level_of_care"].astype(str).tolist() == ["iop", "outpatient"]
    assert d["los_min"].tolist() == [30.0, 0.0]  # outpatient: the added day removed


def test_setting_at_admission_option(tmp_path):
    p = write_tedsd_csv(tmp_path / "t.csv", n=3000, year=2019, seed=4)
    raw = pd.read_csv(p)
    adm = read_tedsd(p, level_of_care="admission")
    dis = read_tedsd(p)
    assert adm.extras["level_of_care_source"] == "SERVICES" and dis.extras["level_of_care_source"] == "SERVICES_D"
    assert "at admission: SERVICES" in " ".join(adm.report.notes)
    assert "at discharge: SERVICES_D" in " ".join(dis.report.notes)
    svc = {1: "detox_inpatient", 2: "detox_residential", 3: "inpatient", 4: "residential_short",
           5: "residential_long", 6: "iop", 7: "outpatient", 8: "detox_ambulatory"}
    assert adm.data["level_of_care"].astype(str).tolist() == raw["SERVICES"].map(svc).tolist()
    assert (raw["SERVICES"] != raw["SERVICES_D"]).any()
    # the outpatient day follows the setting at discharge either way
    pd.testing.assert_series_equal(adm.data["los_min"], dis.data["los_min"])
    with pytest.raises(IopstatsError, match="level_of_care"):
        read_tedsd(p, level_of_care="intake")


def test_outpatient_day_can_be_kept(tmp_path):
    p = write_tedsd_csv(tmp_path / "t.csv", n=500, year=2018, seed=2)
    raw = pd.read_csv(p)
    kept = read_tedsd(p, outpatient_day=False).data
    cut = read_tedsd(p).data
    amb = raw["SERVICES_D"].isin([6, 7, 8]).to_numpy()
    assert (kept["los_min"].to_numpy() - cut["los_min"].to_numpy() == amb).all()


def test_relapse_proxy_missingness_by_year(tmp_path):
    parts = [pd.read_csv(write_tedsd_csv(tmp_path / f"{y}.csv", n=2000, year=y, seed=y)) for y in (2018, 2019)]
    both = pd.concat(parts, ignore_index=True)
    p = tmp_path / "both.csv"
    both.to_csv(p, index=False)
    res = read_tedsd(p)
    fm = res.extras["relapse_proxy_missing"]
    expected = both.groupby("DISYR")["FREQ1_D"].apply(lambda s: (s == -9).mean())
    assert fm.index.tolist() == [2018, 2019]
    np.testing.assert_allclose(fm.to_numpy(), expected.to_numpy())
    assert "Relapse proxy: FREQ1_D is the use at discharge" in " ".join(res.report.notes)
    assert res.data["tedsd_substance_discharge"].notna().mean() > 0.9


def test_services_d_without_services_is_accepted(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("CASEID,DISYR,SERVICES_D,REASON,LOS\n1,2015,6,1,10\n2,2015,4,4,10\n")
    res = read_tedsd(p)
    assert res.data["level_of_care"].astype(str).tolist() == ["iop", "residential_short"]
    assert res.data["los_days"].tolist() == [9.0, 10.0]
