"""relapse_rates: complete case, missing = use and multiple imputation side by side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from iopstats.compare.relapse import _rubin, relapse_rates
from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse

REF = json.loads((Path(__file__).parents[1] / "reference" / "relapse" / "rubin.json").read_text())


def small() -> pd.DataFrame:
    # iop: 6 responders (2 used), 4 non-responders, 2 windows not due;
    # outpatient: 5 responders (1 used), no non-responders.
    return pd.DataFrame({
        "level_of_care": ["iop"] * 12 + ["outpatient"] * 5,
        "sex": (["male", "female"] * 9)[:17],
        "relapse_90_responded": [True] * 6 + [False] * 4 + [None] * 2 + [True] * 5,
        "relapse_90_cc": [True, True, False, False, False, False] + [None] * 6 + [True] + [False] * 4,
    }).astype({"relapse_90_responded": "boolean", "relapse_90_cc": "boolean"})


def test_rubins_rules_with_barnard_rubin_df_against_R():
    # Rscript tests/reference/relapse/rubin.R (van Buuren FIMD 2.3 formulas, as in mice::pool)
    q = np.array(REF["q"])
    u = q * (1 - q) / REF["n"]
    est, lo, hi = _rubin(q, u, REF["n"], 0.95)
    assert est == pytest.approx(REF["estimate"], abs=1e-12)
    assert lo == pytest.approx(REF["ci_low"], abs=1e-10)
    assert hi == pytest.approx(REF["ci_high"], abs=1e-10)


def test_complete_case_and_missing_is_use_with_wilson_against_R():
    # R: prop.test(2, 6, correct = FALSE)$conf.int ; prop.test(6, 10, correct = FALSE)$conf.int
    r = relapse_rates(small(), m=5).set_index(["level", "method"])
    cc = r.loc[("iop", "complete_case")]
    assert (cc.n_due, cc.n_responded) == (10, 6)
    assert cc.response_rate == pytest.approx(0.6)
    assert cc.rate == pytest.approx(2 / 6)
    assert [cc.ci_low, cc.ci_high] == pytest.approx(REF["wilson_2_6"], abs=1e-12)
    mu = r.loc[("iop", "missing_is_use")]
    assert mu.rate == pytest.approx(0.6)
    assert [mu.ci_low, mu.ci_high] == pytest.approx(REF["wilson_6_10"], abs=1e-12)
    # with nobody missing, all three methods agree on the rate
    out = r.xs("outpatient", level="level")
    assert out["rate"].tolist() == pytest.approx([0.2, 0.2, 0.2])
    assert list(r.reset_index().columns) == ["level", "method", "n_due", "n_responded", "response_rate", "rate",
                                             "ci_low", "ci_high", "note"]
    assert r["note"].str.len().gt(20).all()
    assert "missing at random" in r.loc[("iop", "multiple_imputation"), "note"]


def test_multiple_imputation_is_seeded_and_lies_between_the_bounds():
    a = relapse_rates(small(), m=10, seed=3)
    b = relapse_rates(small(), m=10, seed=3)
    pd.testing.assert_frame_equal(a, b)
    mi = a[(a.level == "iop") & (a.method == "multiple_imputation")].iloc[0]
    assert 0 <= mi.ci_low <= mi.rate <= mi.ci_high <= 1


def test_frequency_weights_give_the_row_level_numbers():
    rows = small()
    table = collapse(rows, ["level_of_care", "sex", "relapse_90_responded", "relapse_90_cc"])
    a = relapse_rates(rows, m=8, seed=1)
    b = relapse_rates(table, m=8, seed=1, weights="n")
    pd.testing.assert_frame_equal(a, b)


def test_input_not_modified():
    df = small()
    before = df.copy(deep=True)
    relapse_rates(df, m=4)
    pd.testing.assert_frame_equal(df, before)


def test_level_without_responders_has_no_imputed_rate():
    df = pd.DataFrame({"level_of_care": ["iop", "iop", "php", "php"],
                       "relapse_90_responded": [True, True, False, False],
                       "relapse_90_cc": [True, False, None, None]})
    r = relapse_rates(df, m=4).set_index(["level", "method"])
    assert np.isnan(r.loc[("php", "complete_case"), "rate"])
    assert np.isnan(r.loc[("php", "multiple_imputation"), "rate"])
    assert r.loc[("php", "missing_is_use"), "rate"] == 1.0


def test_errors_name_the_problem():
    with pytest.raises(IopstatsError) as exc:
        relapse_rates(small(), window=180)
    assert exc.value.column == "relapse_180_responded" and "followup_windows" in exc.value.fix
    with pytest.raises(IopstatsError, match="imputations"):
        relapse_rates(small(), m=1)
    with pytest.raises(IopstatsError, match="covariate"):
        relapse_rates(small(), covariates=["payer"])
    with pytest.raises(IopstatsError, match="confidence"):
        relapse_rates(small(), confidence=95)
    bad = small().assign(relapse_90_cc=pd.array([None] * 17, dtype="boolean"))
    with pytest.raises(IopstatsError, match="no use value"):
        relapse_rates(bad)


def simulate(n: int, mnar: bool, seed: int):
    """Two levels, binary risk factor x. Use depends on level and x.

    MAR: response depends on x only (users with x=1 are hard to reach).
    MNAR: response also depends on use itself (users are harder to reach).
    Returns the outcomes frame and the true rate per level among all due discharges.
    """
    rng = np.random.default_rng(seed)
    level = rng.choice(["iop", "outpatient"], n)
    x = rng.random(n) < 0.5
    use = rng.random(n) < special.expit(-1.0 + 1.6 * x + 0.4 * (level == "outpatient"))
    p_resp = np.where(x, 0.35, 0.9)
    if mnar:
        p_resp = np.where(use, 0.3, 0.8)
    responded = rng.random(n) < p_resp
    df = pd.DataFrame({
        "level_of_care": level,
        "psych_problem": x,
        "relapse_90_responded": responded,
        "relapse_90_cc": pd.array(np.where(responded, use, False), dtype="boolean"),
    })
    df.loc[~responded, "relapse_90_cc"] = pd.NA
    truth = pd.Series(use).groupby(level).mean()
    return df, truth


def test_multiple_imputation_recovers_the_truth_under_MAR_where_complete_case_is_biased():
    df, truth = simulate(6000, mnar=False, seed=11)
    r = relapse_rates(df, m=20, seed=0).set_index(["level", "method"])
    for lev in ("iop", "outpatient"):
        mi = r.loc[(lev, "multiple_imputation")]
        cc = r.loc[(lev, "complete_case")]
        assert mi.ci_low <= truth[lev] <= mi.ci_high
        assert abs(mi.rate - truth[lev]) < 0.02
        # responders are mostly x=0 (low use): complete case is far too low and misses the truth
        assert cc.rate < truth[lev] - 0.06
        assert cc.ci_high < truth[lev]
        # the MI interval is wider than a naive complete-data interval would be
        assert mi.ci_high - mi.ci_low > cc.ci_high - cc.ci_low - 0.01


def test_under_MNAR_complete_case_and_missing_is_use_bracket_the_truth():
    df, truth = simulate(6000, mnar=True, seed=12)
    r = relapse_rates(df, m=10, seed=0).set_index(["level", "method"])
    for lev in ("iop", "outpatient"):
        cc = r.loc[(lev, "complete_case"), "rate"]
        mu = r.loc[(lev, "missing_is_use"), "rate"]
        assert cc < truth[lev] < mu
        # and MI (which assumes MAR) cannot fix MNAR: it stays close to complete case here
        assert r.loc[(lev, "multiple_imputation"), "rate"] < truth[lev]


@pytest.mark.slow
def test_multiple_imputation_interval_coverage_under_MAR():
    # superpopulation relapse rate per level under simulate(): 50/50 mix of x=0 and x=1
    truth = {
        "iop": 0.5 * special.expit(-1.0) + 0.5 * special.expit(0.6),
        "outpatient": 0.5 * special.expit(-0.6) + 0.5 * special.expit(1.0),
    }
    hits = {"complete_case": 0, "multiple_imputation": 0}
    total = 0
    for rep in range(80):
        df, _ = simulate(600, mnar=False, seed=5000 + rep)
        r = relapse_rates(df, m=20, seed=rep)
        for row in r.itertuples():
            if row.method in hits:
                hits[row.method] += row.ci_low <= truth[row.level] <= row.ci_high
        total += 2
    # 160 nominal-95% intervals: binomial sd about 0.017
    assert 0.89 <= hits["multiple_imputation"] / total <= 0.995
    assert hits["complete_case"] / total < 0.6
