"""Headline estimates: the count table equals build_outcomes collapsed, the
collapsed-table estimates equal the row-level ones, and pandas equals Dask to
the last digit (synthetic canonical data and TEDS-D-format files via Parquet)."""

import numpy as np
import pandas as pd
import pytest

from iopstats.compare.headline import (
    HEADLINE_COVARIATES,
    OUTCOME_KEYS,
    headline_counts,
    headline_estimates,
    headline_from_parquet,
)
from iopstats.exceptions import IopstatsError
from iopstats.io.parquet import read_episodes_parquet, write_episodes_parquet
from iopstats.io.schema import EPISODE_COLUMNS, _dtype
from iopstats.io.tedsd import read_tedsd
from iopstats.outcomes.build import build_outcomes
from iopstats.stats.counts import collapse
from iopstats.synthetic.generate import synth
from iopstats.synthetic.tedsd import write_tedsd_csv
from tests.engines.conftest import make_episodes

COVS = ["sex", "age_group", "psych_problem", "payer"]
CANONICAL_CATEGORICAL = {c.name: c for c in EPISODE_COLUMNS if c.dtype == "category"}
AS_OF = "2019-06-30"


@pytest.fixture(scope="module")
def synth_episodes():
    return synth(4000, seed=11).episodes


@pytest.fixture(scope="module")
def tedsd_dataset(tmp_path_factory):
    """Two TEDS-D-format years (numeric 2019, text-label 2021) converted to Parquet."""
    folder = tmp_path_factory.mktemp("tedsd")
    for year, n in ((2019, 6000), (2021, 4000)):
        csv = write_tedsd_csv(folder / f"tedsd_{year}.csv", n=n, year=year, seed=year)
        write_episodes_parquet(read_tedsd(csv).data, folder / "ds")
    return folder / "ds"


def assert_results_equal(a, b, exact=True):
    """Every piece of two HeadlineResults equal (exactly, or to rounding)."""
    # row level vs weighted: counts may come back int64 vs float64 (same values)
    kw = {"check_exact": True} if exact else {"check_exact": False, "rtol": 1e-9, "atol": 1e-12, "check_dtype": False}
    pd.testing.assert_frame_equal(a.summary, b.summary, **kw)
    pd.testing.assert_frame_equal(a.rates, b.rates, **kw)
    pd.testing.assert_frame_equal(a.comparison.summary, b.comparison.summary, **kw)
    pd.testing.assert_frame_equal(a.comparison.omnibus, b.comparison.omnibus, **kw)
    pd.testing.assert_frame_equal(a.km.summary, b.km.summary, **kw)
    pd.testing.assert_frame_equal(a.km.table, b.km.table, **kw)
    pd.testing.assert_frame_equal(a.logrank.summary, b.logrank.summary, **kw)
    pd.testing.assert_frame_equal(a.logrank.table, b.logrank.table, **kw)
    pd.testing.assert_frame_equal(a.logistic.summary, b.logistic.summary, **kw)
    pd.testing.assert_frame_equal(a.cox.summary, b.cox.summary, **kw)
    pd.testing.assert_frame_equal(a.cox.tests, b.cox.tests, **kw)
    assert a.n == b.n
    if exact:
        assert a.cox.loglik == b.cox.loglik and a.logistic.loglik == b.logistic.loglik
    else:
        assert a.cox.loglik == pytest.approx(b.cox.loglik, rel=1e-10)


# ----------------------------------------------------------------- count table


def assert_same_table(got, want):
    """Same rows, order and values as ``collapse`` of the row-level outcomes.

    pandas' multi-key groupby (dropna=False) can return an ordered categorical
    key as unordered; headline_counts keeps the canonical dtype, so the ordered
    flag is aligned before the exact comparison (categories must be identical).
    """
    for c in want.columns:
        if isinstance(want[c].dtype, pd.CategoricalDtype):
            assert list(want[c].cat.categories) == list(got[c].cat.categories), c
    for c in ["level_of_care", *[k for k in got.columns if k in CANONICAL_CATEGORICAL]]:
        assert got[c].dtype == _dtype(CANONICAL_CATEGORICAL[c]), c
    pd.testing.assert_frame_equal(got, want.astype(dict(got.dtypes)), check_exact=True)


def test_headline_counts_equal_build_outcomes_collapsed(synth_episodes):
    eps = synth_episodes
    got = headline_counts(eps, covariates=HEADLINE_COVARIATES)
    rows = build_outcomes(eps)
    want = collapse(rows, ["level_of_care", *HEADLINE_COVARIATES, *OUTCOME_KEYS])
    assert_same_table(got, want)
    assert got["n"].sum() == len(eps)
    assert len(got) < len(eps)


def test_headline_counts_equal_build_outcomes_with_open_episodes_and_as_of():
    eps = make_episodes(3000, seed=5)
    assert eps["discharge_date"].isna().any()
    got = headline_counts(eps, covariates=COVS, as_of="2019-12-31")
    rows = build_outcomes(eps, as_of="2019-12-31")  # discharges after as_of become open
    want = collapse(rows, ["level_of_care", *COVS, *OUTCOME_KEYS])
    assert_same_table(got, want)
    assert (got["exit_cause"] == "censored").any()


def test_headline_counts_tedsd_bins_match_build_outcomes(tedsd_dataset):
    eps = read_episodes_parquet(tedsd_dataset)
    got = headline_counts(eps)
    want = collapse(build_outcomes(eps), ["level_of_care", *HEADLINE_COVARIATES, *OUTCOME_KEYS])
    assert_same_table(got, want)
    # LOS bins: midpoints, and stays over 365 days censored at their lower bound 366
    assert {38.0, 53.0, 75.5}.issubset(set(got["time_in_treatment"]))
    assert ((got["time_in_treatment"] == 366) & (got["left_treatment"] == 0)).any()


def test_headline_counts_leaves_input_unchanged(synth_episodes):
    eps = synth_episodes.copy()
    eps["level_of_care"] = eps["level_of_care"].astype(str)  # non-canonical dtype: converted on a copy
    before = eps.copy()
    headline_counts(eps, covariates=COVS)
    pd.testing.assert_frame_equal(eps, before, check_exact=True)


# ----------------------------------------------------------------- row level == collapsed


@pytest.mark.parametrize("missing", ["drop", "category"])
def test_headline_estimates_row_level_equal_collapsed_table(synth_episodes, missing):
    eps = synth_episodes.copy()
    eps.loc[eps.index % 7 == 0, "payer"] = pd.NA  # some missing covariate values
    rows = build_outcomes(eps)
    before = rows.copy()
    row_res = headline_estimates(rows, covariates=COVS, weights=None, missing_covariates=missing)
    pd.testing.assert_frame_equal(rows, before)
    counts = headline_counts(eps, covariates=COVS)
    tab_res = headline_estimates(counts, missing_covariates=missing)
    assert tab_res.covariates == tuple(COVS)
    assert tab_res.n_patterns < row_res.n_patterns == len(eps)
    assert_results_equal(row_res, tab_res, exact=False)
    if missing == "category":
        assert "payer[missing]" in tab_res.cox.summary.index
        assert tab_res.cox.n == len(eps)
    else:
        assert tab_res.cox.n == int((eps.index % 7 != 0).sum())


def test_headline_summary_consistent_with_pieces(synth_episodes):
    res = headline_estimates(headline_counts(synth_episodes, covariates=COVS))
    s = res.summary
    assert s.index[0] == "iop" and list(s.index) == list(res.rates["level_of_care"].astype(str))
    assert np.isnan(s.loc["iop", "risk_difference"]) and np.isnan(s.loc["iop", "hazard_ratio"])
    op = res.comparison.summary.set_index("level").loc["outpatient"]
    assert s.loc["outpatient", "risk_difference"] == op["risk_difference"]  # IOP minus outpatient
    assert s.loc["outpatient", "risk_difference"] == pytest.approx(
        s.loc["iop", "completion_rate"] - s.loc["outpatient", "completion_rate"])
    coef = res.cox.summary.loc["level_of_care[outpatient]", "coef"]
    assert s.loc["outpatient", "hazard_ratio"] == pytest.approx(np.exp(-coef))
    lo = res.logistic.summary.loc["level_of_care[outpatient]"]
    assert s.loc["outpatient", "adj_or_ci_low"] == pytest.approx(1 / lo["ci_high"])
    km = res.km.summary.set_index("group")
    assert s.loc["php", "median_days"] == km.loc["php", "median"]
    assert res.logrank.summary["p_value"].iloc[0] < 0.05  # levels differ by design in synth
    assert "<table" in res.to_html()


def test_headline_estimates_other_reference(synth_episodes):
    res = headline_estimates(headline_counts(synth_episodes, covariates=COVS), reference="outpatient")
    assert res.summary.index[0] == "outpatient"
    assert "level_of_care[iop]" in res.cox.summary.index


# ----------------------------------------------------------------- errors


def test_headline_errors_name_the_fix(synth_episodes):
    counts = headline_counts(synth_episodes, covariates=COVS)
    with pytest.raises(IopstatsError, match="canonical categorical"):
        headline_counts(synth_episodes, covariates=["age"])
    with pytest.raises(IopstatsError, match="missing a column"):
        headline_counts(synth_episodes.drop(columns="payer"), covariates=COVS)
    with pytest.raises(IopstatsError, match="reference level"):
        headline_estimates(counts, reference="IOP")
    with pytest.raises(IopstatsError, match="missing_covariates"):
        headline_estimates(counts, missing_covariates="impute")
    with pytest.raises(IopstatsError, match="count table is missing"):
        headline_estimates(counts.drop(columns="completed"))
    with pytest.raises(IopstatsError, match="covariate not in the count table"):
        headline_estimates(counts, covariates=["race"])
    with pytest.raises(IopstatsError, match="unknown engine"):
        headline_from_parquet("/nonexistent", engine="spark")
    bad = synth_episodes.head(50).copy()
    bad["level_of_care"] = bad["level_of_care"].astype(object)
    bad.loc[3, "level_of_care"] = "IOPP"
    with pytest.raises(IopstatsError, match="code set") as err:
        headline_counts(bad, covariates=COVS)
    assert err.value.column == "level_of_care" and err.value.row == 3
    back = synth_episodes.head(50).copy()
    back.loc[4, "discharge_date"] = back.loc[4, "admit_date"] - pd.Timedelta(days=3)
    with pytest.raises(IopstatsError, match="before admission"):
        headline_counts(back, covariates=COVS)


# ----------------------------------------------------------------- pandas == Dask


@pytest.mark.slow
def test_headline_counts_dask_equal_pandas_synthetic(tmp_path, dask_client, synth_episodes):
    write_episodes_parquet(synth_episodes, tmp_path / "ds")
    pdf = read_episodes_parquet(tmp_path / "ds")
    ddf = read_episodes_parquet(tmp_path / "ds", engine="dask")
    assert ddf.npartitions > 1
    want = headline_counts(pdf)
    got = headline_counts(ddf)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert_results_equal(headline_estimates(got), headline_estimates(want), exact=True)


@pytest.mark.slow
def test_headline_from_parquet_dask_equal_pandas_tedsd(tedsd_dataset, dask_client):
    pan = headline_from_parquet(tedsd_dataset, engine="pandas")
    das = headline_from_parquet(tedsd_dataset, engine="dask", scheduler=dask_client)
    assert_results_equal(das, pan, exact=True)
    assert pan.n == 10000
    by_address = headline_from_parquet(tedsd_dataset, engine="dask", scheduler=dask_client.scheduler.address,
                                       years=[2021], as_of="2021-12-31")
    one_year = headline_from_parquet(tedsd_dataset, years=[2021], as_of="2021-12-31")
    assert_results_equal(by_address, one_year, exact=True)
    assert one_year.n == 4000
    assert {"counts", "cox", "statistics_total"} <= set(das.timings)


@pytest.mark.slow
def test_headline_dask_rejects_non_canonical_frames(tmp_path, dask_client, synth_episodes):
    dd = pytest.importorskip("dask.dataframe")
    ddf = dd.from_pandas(synth_episodes.assign(sex=synth_episodes["sex"].astype(str)), npartitions=2)
    with pytest.raises(IopstatsError, match="canonical dtypes"):
        headline_counts(ddf, covariates=COVS)
    back = synth_episodes.copy()
    back.loc[4, "discharge_date"] = back.loc[4, "admit_date"] - pd.Timedelta(days=3)
    with pytest.raises(IopstatsError, match="before admission"):  # raised on a worker, re-raised here
        headline_counts(dd.from_pandas(back, npartitions=2), covariates=COVS)
    with pytest.raises(IopstatsError, match="scheduler"):
        headline_from_parquet(tmp_path, engine="dask", scheduler=8786)
    with pytest.raises(IopstatsError, match="for the Dask engine"):
        headline_from_parquet(tmp_path, engine="pandas", scheduler="tcp://127.0.0.1:8786")
