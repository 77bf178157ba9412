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


# ----------------------------------------------------------------- counts by discharge year (by_year=True)


def _row_year_crosstab(eps: pd.DataFrame, rows: pd.DataFrame, year: pd.Series) -> pd.DataFrame:
    """Episodes and completions by level and year, straight from the rows (no collapsing)."""
    df = pd.DataFrame({"level_of_care": eps["level_of_care"].astype(str).to_numpy(),
                       "discharge_year": year.astype("int64").to_numpy(),
                       "completed": rows["completed"].eq(True).fillna(False).to_numpy(dtype=bool)})
    return df.groupby(["level_of_care", "discharge_year"]).agg(n=("completed", "size"),
                                                                completed=("completed", "sum")).sort_index()


def _as_crosstab(by_year: pd.DataFrame) -> pd.DataFrame:
    out = by_year.assign(level_of_care=by_year["level_of_care"].astype(str))
    out = out.set_index(["level_of_care", "discharge_year"])[["n", "completed"]].sort_index()
    out.columns.name = None
    return out


def test_headline_by_year_estimates_equal_pooled_and_year_table_equals_row_crosstab():
    eps = make_episodes(3000, seed=7)  # open episodes, four admission years, discharges after as_of
    before = eps.copy()
    as_of = "2019-03-31"  # after the last admission, before some discharges
    pooled = headline_counts(eps, covariates=COVS, as_of=as_of)
    yearly = headline_counts(eps, covariates=COVS, as_of=as_of, by_year=True)
    pd.testing.assert_frame_equal(eps, before, check_exact=True)
    assert list(yearly.columns[:2]) == ["level_of_care", "discharge_year"] and yearly["discharge_year"].dtype == "int64"
    assert len(yearly) > len(pooled) and yearly["n"].sum() == pooled["n"].sum() == len(eps)
    # summing the year table over the year gives the pooled table: same rows, order, dtypes and counts
    pd.testing.assert_frame_equal(collapse(yearly.drop(columns="discharge_year"), list(pooled.columns[:-1]),
                                           weights="n"), pooled, check_exact=True)
    counts_before = yearly.copy()
    res_year = headline_estimates(yearly)
    pd.testing.assert_frame_equal(yearly, counts_before, check_exact=True)
    res_pool = headline_estimates(pooled)
    assert_results_equal(res_year, res_pool, exact=True)
    assert res_year.n_patterns == res_pool.n_patterns and res_year.covariates == tuple(COVS)
    assert res_pool.by_year is None
    # the year table: the partition rule (discharge year, admission year when open), sums to the total
    tab = res_year.by_year
    assert list(tab.columns) == ["level_of_care", "discharge_year", "n", "completed"]
    assert tab["n"].sum() == res_year.n == len(eps)
    assert tab["completed"].sum() == res_year.summary["completed"].sum()
    assert str(tab["level_of_care"].iloc[0]) == "iop"  # reference first, as in .summary
    year = eps["discharge_date"].dt.year.fillna(eps["admit_date"].dt.year)
    rows = build_outcomes(eps, as_of=as_of)
    pd.testing.assert_frame_equal(_as_crosstab(tab), _row_year_crosstab(eps, rows, year), check_dtype=False)
    assert set(tab["discharge_year"]) == set(year.astype(int))
    # discharges after as_of are open for the estimates but keep their discharge year (checked above)
    late = eps["discharge_date"] > pd.Timestamp(as_of)
    assert late.any() and (rows.loc[late.to_numpy(), "left_treatment"] == 0).all()
    assert eps["discharge_date"].isna().any()  # open episodes: counted in their admission year


def test_headline_by_year_row_level_data_and_weights_none():
    eps = make_episodes(800, seed=3)
    rows = build_outcomes(eps, as_of="2019-12-31").assign(
        discharge_year=eps["discharge_date"].dt.year.fillna(eps["admit_date"].dt.year).astype("int64").to_numpy())
    res = headline_estimates(rows, covariates=COVS, weights=None)
    tab = headline_estimates(headline_counts(eps, covariates=COVS, as_of="2019-12-31", by_year=True))
    assert_results_equal(res, tab, exact=False)
    pd.testing.assert_frame_equal(res.by_year, tab.by_year, check_exact=True)


def test_headline_by_year_errors_name_the_fix(synth_episodes):
    yearly = headline_counts(synth_episodes, covariates=COVS, by_year=True)
    with pytest.raises(IopstatsError, match="year key, not a case-mix covariate") as err:
        headline_estimates(yearly, covariates=["sex", "discharge_year"])
    assert err.value.fix
    with pytest.raises(IopstatsError, match="by_year must be True or False"):
        headline_counts(synth_episodes, covariates=COVS, by_year="yes")
    with pytest.raises(IopstatsError, match="whole years"):
        headline_estimates(yearly.assign(discharge_year=yearly["discharge_year"].astype(float)))


def _parquet_crosstab(dataset, as_of=None) -> pd.DataFrame:
    """Level x partition year straight from the Parquet rows (the partition column itself)."""
    eps = read_episodes_parquet(dataset, columns=[c.name for c in EPISODE_COLUMNS] + ["discharge_year"])
    rows = build_outcomes(eps.drop(columns="discharge_year"), as_of=as_of)
    return _row_year_crosstab(eps, rows, eps["discharge_year"].astype(str).astype(int))


def test_headline_from_parquet_by_year_equals_pooled_and_partition_crosstab(tedsd_dataset):
    pooled = headline_from_parquet(tedsd_dataset)
    yearly = headline_from_parquet(tedsd_dataset, by_year=True)
    assert_results_equal(yearly, pooled, exact=True)
    assert yearly.n_patterns == pooled.n_patterns and pooled.by_year is None
    assert yearly.by_year["n"].sum() == yearly.n == 10000
    assert sorted(set(yearly.by_year["discharge_year"])) == [2019, 2021]
    pd.testing.assert_frame_equal(_as_crosstab(yearly.by_year), _parquet_crosstab(tedsd_dataset), check_dtype=False)


@pytest.mark.slow
def test_headline_from_parquet_by_year_dask_equal_pandas(tedsd_dataset, dask_client):
    pan = headline_from_parquet(tedsd_dataset, by_year=True)
    das = headline_from_parquet(tedsd_dataset, engine="dask", scheduler=dask_client, by_year=True)
    pooled = headline_from_parquet(tedsd_dataset, engine="dask", scheduler=dask_client)
    assert_results_equal(das, pooled, exact=True)
    assert_results_equal(das, pan, exact=True)
    pd.testing.assert_frame_equal(das.by_year, pan.by_year, check_exact=True)
