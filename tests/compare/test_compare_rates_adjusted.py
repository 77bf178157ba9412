"""Tests for the case-mix adjusted path of compare_rates (g-computation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special

from iopstats.compare.rates import compare_rates
from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse

ADJ = ["severity", "sex"]


def make_data(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    loc = rng.choice(["iop", "outpatient", "residential_short"], n, p=[0.4, 0.35, 0.25])
    # case mix differs by level: residential clients are more often high severity
    p_high = np.where(loc == "residential_short", 0.5, 0.25)
    sev = np.where(rng.random(n) < p_high, "high", rng.choice(["low", "mid"], n))
    sex = rng.choice(["female", "male"], n)
    eta = (-0.2 + 0.4 * (loc == "residential_short") - 0.2 * (loc == "outpatient")
           - 0.6 * (sev == "high") + 0.3 * (sev == "low") + 0.2 * (sex == "male"))
    y = rng.random(n) < special.expit(eta)
    return pd.DataFrame({"level_of_care": loc, "severity": sev, "sex": sex, "completed": y})


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_data()


@pytest.fixture(scope="module")
def result(data):
    return compare_rates(data, "completed", adjust=ADJ, margin=0.05)


def test_adjusted_columns(result):
    cols = ["level", "n", "adj_rate", "ref_adj_rate", "adj_risk_difference", "ci_low", "ci_high",
            "se", "p_value", "p_holm", "adj_risk_ratio", "rr_ci_low", "rr_ci_high",
            "conditional_odds_ratio", "cor_ci_low", "cor_ci_high", "ni_p_value", "ni_p_holm",
            "equivalence_p_value", "equivalence_p_holm", "conclusion"]
    assert list(result.adjusted.columns) == cols
    assert list(result.adjusted["level"]) == ["outpatient", "residential_short"]


def test_adjusted_rates_equal_manual_g_computation_with_statsmodels(data, result):
    X = pd.get_dummies(data[["level_of_care", *ADJ]], drop_first=True, dtype=float)
    X.insert(0, "const", 1.0)
    fit = sm.GLM(data["completed"].astype(float), X, family=sm.families.Binomial()).fit(tol=1e-13)

    def standardized(level):
        Xl = X.copy()
        Xl[["level_of_care_outpatient", "level_of_care_residential_short"]] = 0.0
        if level != "iop":
            Xl[f"level_of_care_{level}"] = 1.0
        return fit.predict(Xl).mean()

    adj = result.adjusted.set_index("level")
    ref = standardized("iop")
    for lev in ["outpatient", "residential_short"]:
        assert adj.loc[lev, "ref_adj_rate"] == pytest.approx(ref, rel=1e-8)
        assert adj.loc[lev, "adj_rate"] == pytest.approx(standardized(lev), rel=1e-8)
        assert adj.loc[lev, "adj_risk_difference"] == pytest.approx(ref - standardized(lev),
                                                                    rel=1e-7)
        b = fit.params[f"level_of_care_{lev}"]
        assert adj.loc[lev, "conditional_odds_ratio"] == pytest.approx(np.exp(-b), rel=1e-7)


def test_adjusted_standard_errors_agree_with_bootstrap(data, result):
    # nonparametric bootstrap of the whole g-computation (rows resampled with replacement,
    # done as multinomial draws over the collapsed cells), 200 replicates; the Monte Carlo
    # error of a bootstrap SD from 200 replicates is about 5%, so allow 15%
    cells = collapse(data, ["level_of_care", *ADJ, "completed"])
    rng = np.random.default_rng(42)
    N = int(cells["n"].sum())
    draws = rng.multinomial(N, cells["n"] / N, size=200)
    rd = []
    for counts in draws:
        boot = cells.assign(n=counts)
        boot = boot[boot["n"] > 0]
        adj = compare_rates(boot, "completed", adjust=ADJ, weights="n").adjusted
        rd.append(adj["adj_risk_difference"].to_numpy())
    boot_sd = np.std(np.array(rd), axis=0, ddof=1)
    np.testing.assert_allclose(result.adjusted["se"], boot_sd, rtol=0.15)


def test_adjusted_weights_equal_row_level(data, result):
    cells = collapse(data, ["level_of_care", *ADJ, "completed"])
    weighted = compare_rates(cells, "completed", adjust=ADJ, margin=0.05, weights="n")
    num = result.adjusted.select_dtypes("number").columns
    np.testing.assert_allclose(result.adjusted[num].astype(float),
                               weighted.adjusted[num].astype(float), rtol=1e-9)


def test_adjusted_noninferiority_is_wald_on_adjusted_difference(result):
    from scipy import stats
    row = result.adjusted.iloc[0]
    z = (row["adj_risk_difference"] + 0.05) / row["se"]
    assert row["ni_p_value"] == pytest.approx(stats.norm.sf(z))
    assert row["ci_low"] == pytest.approx(row["adj_risk_difference"] - 1.959963984540054 * row["se"])


def test_adjusted_missing_covariates_are_left_out_and_reported(data):
    df = data.copy()
    df.loc[:9, "severity"] = None
    res = compare_rates(df, "completed", adjust=ADJ)
    assert res.adjusted["n"].sum() + (df.loc[10:, "level_of_care"] == "iop").sum() == len(df) - 10
    assert any("10 rows left out" in r for r in res.remarks)


def test_adjusted_does_not_modify_input(data):
    df = data.copy()
    df["severity"] = df["severity"].astype("category")
    before = df.copy()
    compare_rates(df, "completed", adjust=ADJ, margin=0.05)
    pd.testing.assert_frame_equal(df, before)


def test_adjusted_separation_names_the_term():
    df = make_data(600, seed=2)
    df.loc[df["severity"] == "low", "completed"] = False  # 'low' severity never completes
    with pytest.raises(IopstatsError, match=r"severity\[low\]") as err:
        compare_rates(df, "completed", adjust=ADJ, sparse_levels="raise")
    assert "merge" in str(err.value)
    # by default the level is pooled and the remark says so (tests/compare/test_sparse_levels.py)
    res = compare_rates(df, "completed", adjust=ADJ)
    assert any("severity: level low" in r for r in res.remarks)


def test_numeric_group_codes_are_levels_not_a_slope():
    df = make_data(1500, seed=4)
    df["loc_code"] = df["level_of_care"].map({"iop": 6, "outpatient": 7, "residential_short": 4})
    res = compare_rates(df, "completed", by="loc_code", reference=6, adjust=ADJ)
    by_name = compare_rates(df, "completed", adjust=ADJ).adjusted.set_index("level")
    adj = res.adjusted.set_index("level")
    assert adj.loc[7, "adj_risk_difference"] == pytest.approx(
        by_name.loc["outpatient", "adj_risk_difference"], rel=1e-9)
