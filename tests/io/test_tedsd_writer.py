"""write_tedsd_csv: schema per era, determinism, calibration, and the round trip through read_tedsd."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.crosswalk import TEDS_SERVICES
from iopstats.io.tedsd import MISSING_LABEL, read_tedsd
from iopstats.synthetic.tedsd import tedsd_columns, write_tedsd_csv

REASONS = {1: "completed", 2: "dropped_out", 3: "terminated", 4: "transferred", 5: "incarcerated",
           6: "died", 7: "other"}


@pytest.mark.parametrize(
    "year, ncol, service_col, sex_col",
    [(2006, 65, "SERVSETD", "GENDER"), (2014, 65, "SERVSETD", "GENDER"), (2015, 76, "SERVICES_D", "GENDER"),
     (2016, 76, "SERVICES_D", "GENDER"), (2017, 76, "SERVICES", "GENDER"), (2020, 76, "SERVICES", "GENDER"),
     (2021, 76, "SERVICES", "GENDER"), (2022, 76, "SERVICES", "GENDER"), (2023, 76, "SERVICES", "SEX")],
)
def test_columns_per_era(tmp_path, year, ncol, service_col, sex_col):
    p = write_tedsd_csv(tmp_path / f"t{year}.csv", n=50, year=year, seed=3)
    df = pd.read_csv(p, encoding="latin-1", keep_default_na=False)
    assert df.shape == (50, ncol)
    assert list(df.columns) == list(tedsd_columns(year))
    assert service_col in df.columns and sex_col in df.columns
    assert ("SERVICES" in df.columns) == (year >= 2017)  # 2015-16 codebooks: SERVICES_D only
    assert ("SERVICES_D" in df.columns) == (year >= 2015)
    assert ("CBSA" in df.columns) == (year <= 2016) and ("CBSA2010" in df.columns) == (year >= 2017)
    assert ("FREQ1_D" in df.columns) == ("SUB1_D" in df.columns) == (year >= 2015)
    assert df["CASEID"].is_unique


def test_same_seed_same_file_other_seed_other_file(tmp_path):
    a = write_tedsd_csv(tmp_path / "a.csv", n=300, year=2019, seed=7).read_bytes()
    b = write_tedsd_csv(tmp_path / "b.csv", n=300, year=2019, seed=7).read_bytes()
    c = write_tedsd_csv(tmp_path / "c.csv", n=300, year=2019, seed=8).read_bytes()
    assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()
    assert a != c


def test_old_era_codes(tmp_path):
    df = pd.read_csv(write_tedsd_csv(tmp_path / "t.csv", n=4000, year=2010, seed=1))
    assert set(df["AGE"]) <= set(range(2, 14))  # shifted codes
    assert set(df["NOPRIOR"]) - {-9} <= set(range(0, 6)) and df["NOPRIOR"].max() >= 3
    assert set(df["FREQ1"]) - {-9} == {1, 2, 3, 4, 5}
    assert (df["DISYR"] == 2010).all()


def test_text_labels_2021_are_latin1_and_keep_none(tmp_path):
    p = write_tedsd_csv(tmp_path / "t.csv", n=3000, year=2021, seed=2)
    raw = p.read_bytes()
    raw.decode("latin-1")  # always decodes; the labels are ASCII so UTF-8 readers agree
    df = pd.read_csv(p, encoding="latin-1", keep_default_na=False, dtype=str)
    assert "Ambulatory, intensive outpatient" in set(df["SERVICES"])
    assert "None" in set(df["SUB1"]) and "None" in set(df["HLTHINS"])
    assert MISSING_LABEL in set(df["FREQ1_D"])
    assert not df["AGE"].str.fullmatch(r"-?\d+").any()


def test_text_labels_flag_overrides_year(tmp_path):
    df = pd.read_csv(write_tedsd_csv(tmp_path / "t.csv", n=20, year=2019, seed=2, text_labels=True), dtype=str,
                     keep_default_na=False)
    assert not df["SERVICES"].str.fullmatch(r"\d+").any()
    df = pd.read_csv(write_tedsd_csv(tmp_path / "u.csv", n=20, year=2021, seed=2, text_labels=False))
    assert pd.api.types.is_integer_dtype(df["SERVICES"])


@pytest.mark.parametrize("year", [2008, 2014, 2015, 2016, 2019, 2021, 2022, 2023])
def test_round_trip_counts_by_level_and_reason(tmp_path, year):
    """read_tedsd reproduces the raw SERVICES x REASON counts of the written file."""
    n = 3000
    p = write_tedsd_csv(tmp_path / "t.csv", n=n, year=year, seed=year)
    res = read_tedsd(p)
    assert res.report.n_input == n and res.report.n_loaded == n and res.report.n_quarantined == 0
    # expected counts from the numeric twin of the same draw
    q = write_tedsd_csv(tmp_path / "num.csv", n=n, year=year, seed=year, text_labels=False)
    raw = pd.read_csv(q)
    svc = raw["SERVSETD" if year < 2015 else "SERVICES_D"].map(TEDS_SERVICES)  # the setting at discharge
    expected = pd.crosstab(svc, raw["REASON"].map(REASONS))
    got = pd.crosstab(res.data["level_of_care"].astype(str), res.data["discharge_reason"].astype(str))
    got.index.name, got.columns.name = expected.index.name, expected.columns.name
    pd.testing.assert_frame_equal(got.sort_index().sort_index(axis=1), expected.sort_index().sort_index(axis=1))
    # LOS bins survive exactly
    lo = res.data["los_min"].to_numpy()
    assert ((raw["LOS"] <= 30).to_numpy() == ~np.isnan(res.data["los_days"].to_numpy())).all()
    outpatient = raw["SERVSETD" if year < 2015 else "SERVICES_D"].isin([6, 7, 8]).to_numpy()
    assert (lo[(raw["LOS"] == 37).to_numpy()] == 366 - outpatient[(raw["LOS"] == 37).to_numpy()]).all()
    assert (res.data["discharge_date"].dt.year == year).all()


def test_calibration_to_domain_figures(tmp_path):
    """Service mix, completion by service and stays against the TEDS figures in DOMAIN.md."""
    n = 60_000
    raw = pd.read_csv(write_tedsd_csv(tmp_path / "t.csv", n=n, year=2019, seed=11))
    share = raw["SERVICES"].value_counts(normalize=True)
    assert share.idxmax() == 7 and share[7] > 0.4  # non-intensive outpatient the largest
    assert 0.08 < share[6] < 0.16
    done = raw.assign(c=raw["REASON"] == 1).groupby("SERVICES")["c"].mean()
    assert abs(done[6] - 0.377) < 0.05 and abs(done[7] - 0.364) < 0.05 and abs(done[4] - 0.615) < 0.07
    assert done[[1, 2, 3, 4]].min() > done[[6, 7]].max()  # residential/detox complete more often
    # median IOP stay about 41 days: LOS code 32 (46-60) or 31 (31-45) holds the median
    iop = np.sort(raw.loc[raw["SERVICES"] == 6, "LOS"].to_numpy())
    assert iop[len(iop) // 2] in (31, 32)
    # FREQ1_D missing for about a third
    assert abs((raw["FREQ1_D"] == -9).mean() - 1 / 3) < 0.03


def test_case_mix_confounding(tmp_path):
    """Opioid (severe) clients go to detox/residential more often and complete less often within a setting."""
    raw = pd.read_csv(write_tedsd_csv(tmp_path / "t.csv", n=60_000, year=2019, seed=5))
    opioid = raw["SUB1"].isin([5, 6, 7])
    high = raw["SERVICES"].isin([1, 2, 3, 4, 5])
    assert high[opioid].mean() > high[~opioid].mean() + 0.05
    out = raw["SERVICES"] == 7
    done = raw["REASON"] == 1
    assert done[out & opioid].mean() < done[out & ~opioid].mean()


def test_bad_arguments(tmp_path):
    with pytest.raises(IopstatsError, match="2006-2023"):
        write_tedsd_csv(tmp_path / "t.csv", n=10, year=2005)
    with pytest.raises(IopstatsError, match="non-negative"):
        write_tedsd_csv(tmp_path / "t.csv", n=-1)
    with pytest.raises(IopstatsError):
        tedsd_columns("2019")
