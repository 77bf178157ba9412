"""Tests for iopstats.compare.rates.compare_rates (unadjusted part)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from iopstats.compare.noninferiority import _restricted_mle
from iopstats.compare.rates import (
    RateComparison,
    compare_rates,
    farrington_manning,
    newcombe_interval,
)
from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse

REF = Path(__file__).resolve().parents[1] / "reference" / "rates"
TWO = pd.read_csv(REF / "two_by_two.csv", skipinitialspace=True)


def two_groups(x1, n1, x2, n2, ref="iop", other="outpatient") -> pd.DataFrame:
    x1, n1, x2, n2 = int(x1), int(n1), int(x2), int(n2)
    return pd.DataFrame({
        "level_of_care": [ref] * n1 + [other] * n2,
        "completed": [1] * x1 + [0] * (n1 - x1) + [1] * x2 + [0] * (n2 - x2),
    })


def _expected_min(r) -> float:
    N = r.n1 + r.n2
    col = r.x1 + r.x2
    return min(r.n1 * col, r.n1 * (N - col), r.n2 * col, r.n2 * (N - col)) / N


@pytest.mark.parametrize("alt", ["two-sided", "greater", "less"])
def test_compare_rates_tests_against_R(alt):
    # R: prop.test(c(x1, x2), c(n1, n2), alternative = alt, correct = FALSE)$p.value when every
    #    expected count >= 5, else fisher.test(matrix(c(x1, n1-x1, x2, n2-x2), 2, byrow=TRUE),
    #    alternative = alt)$p.value   (make_reference.R, part 2)
    key = alt.replace("-", "_")
    n_fisher = 0
    for r in TWO.itertuples():
        res = compare_rates(two_groups(r.x1, r.n1, r.x2, r.n2), "completed", alternative=alt)
        row = res.summary.iloc[0]
        if _expected_min(r) < 5:
            n_fisher += 1
            assert row["test"] == "fisher"
            assert row["p_value"] == pytest.approx(getattr(r, f"fisher_p_{key}"), rel=1e-6)
        else:
            assert row["test"] == "chi-square"
            assert row["p_value"] == pytest.approx(getattr(r, f"prop_p_{key}"), rel=1e-6)
            assert row["statistic"] == pytest.approx(getattr(r, f"prop_stat_{key}"), rel=1e-6)
    assert n_fisher >= 2  # both branches exercised


def test_chisquare_equals_chisq_test_against_R():
    # R: chisq.test(matrix(...), correct = FALSE) gives the same statistic as prop.test
    for r in TWO.itertuples():
        if _expected_min(r) >= 5:
            row = compare_rates(two_groups(r.x1, r.n1, r.x2, r.n2), "completed").summary.iloc[0]
            assert row["statistic"] == pytest.approx(r.chisq_stat, rel=1e-6)
            assert row["p_value"] == pytest.approx(r.chisq_p, rel=1e-6)


def test_newcombe_interval_against_R_and_published():
    # R: Newcombe method 10 from prop.test(x, n, correct = FALSE)$conf.int (make_reference.R)
    lo, hi = newcombe_interval(TWO["x1"], TWO["n1"], TWO["x2"], TWO["n2"])
    np.testing.assert_allclose(lo, TWO["newcombe_low"], rtol=1e-6)
    np.testing.assert_allclose(hi, TWO["newcombe_high"], rtol=1e-6)
    # Newcombe (1998) Stat Med 17:873, Table II example (56/70 vs 48/80): 0.0524 to 0.3339
    lo, hi = newcombe_interval(56, 70, 48, 80)
    assert round(float(lo), 4) == 0.0524 and round(float(hi), 4) == 0.3339


def test_compare_rates_summary_columns_and_effects():
    res = compare_rates(two_groups(90, 150, 100, 200), "completed")
    assert isinstance(res, RateComparison)
    row = res.summary.iloc[0]
    expected_cols = ["level", "n", "events", "rate", "ref_n", "ref_events", "ref_rate",
                     "risk_difference", "rd_ci_low", "rd_ci_high", "risk_ratio", "rr_ci_low",
                     "rr_ci_high", "odds_ratio", "or_ci_low", "or_ci_high", "test", "statistic",
                     "p_value", "p_holm", "p_bh", "fisher_odds_ratio", "fisher_or_ci_low",
                     "fisher_or_ci_high", "conclusion"]
    assert list(res.summary.columns) == expected_cols
    assert row["risk_difference"] == pytest.approx(0.6 - 0.5)  # IOP minus other
    assert row["risk_ratio"] == pytest.approx(0.6 / 0.5)
    assert row["odds_ratio"] == pytest.approx((90 * 100) / (60 * 100))
    se = np.sqrt(1 / 90 + 1 / 60 + 1 / 100 + 1 / 100)  # Woolf
    assert row["or_ci_low"] == pytest.approx(1.5 * np.exp(-1.959963984540054 * se))
    se_rr = np.sqrt(1 / 90 - 1 / 150 + 1 / 100 - 1 / 200)  # Katz
    assert row["rr_ci_high"] == pytest.approx(1.2 * np.exp(1.959963984540054 * se_rr))
    assert list(res.rates["level"]) == ["iop", "outpatient"]


def test_zero_cell_uses_haldane_and_says_so():
    res = compare_rates(two_groups(0, 18, 4, 16), "completed")
    row = res.summary.iloc[0]
    assert row["odds_ratio"] == pytest.approx((0.5 * 12.5) / (18.5 * 4.5))
    assert row["risk_ratio"] == pytest.approx((0.5 / 19) / (4.5 / 17))
    assert np.isfinite(row["or_ci_low"]) and np.isfinite(row["or_ci_high"])
    assert any("Haldane" in r for r in res.remarks)
    assert row["test"] == "fisher"


def test_omnibus_against_R():
    # R: chisq.test(matrix(c(90,60, 100,100, 66,54, 45,65), ncol=2, byrow=TRUE), correct=FALSE)
    ref = pd.read_csv(REF / "omnibus.csv")
    parts = [two_groups(90, 150, 100, 200), two_groups(0, 0, 66, 120, other="php"),
             two_groups(0, 0, 45, 110, other="residential_short")]
    df = pd.concat(parts, ignore_index=True)
    res = compare_rates(df, "completed")
    om = res.omnibus.iloc[0]
    assert om["statistic"] == pytest.approx(ref["statistic"][0], rel=1e-6)
    assert om["df"] == ref["df"][0]
    assert om["p_value"] == pytest.approx(ref["p_value"][0], rel=1e-6)
    # one row per non-reference level, adjusted p-values consistent with p_value
    assert list(res.summary["level"]) == ["outpatient", "php", "residential_short"]
    from iopstats.compare.multiplicity import benjamini_hochberg, holm
    np.testing.assert_allclose(res.summary["p_holm"], holm(res.summary["p_value"]))
    np.testing.assert_allclose(res.summary["p_bh"], benjamini_hochberg(res.summary["p_value"]))


def test_newcombe_coverage_by_simulation():
    # 95% Newcombe intervals for p_iop = 0.4, n = 150 vs p_other = 0.55, n = 120 (and a rarer
    # outcome), 20,000 replications each: coverage within 93.5%..96.5%
    rng = np.random.default_rng(7)
    for p1, n1, p2, n2 in [(0.4, 150, 0.55, 120), (0.15, 80, 0.08, 60)]:
        x1 = rng.binomial(n1, p1, 20_000)
        x2 = rng.binomial(n2, p2, 20_000)
        lo, hi = newcombe_interval(x1, n1, x2, n2)
        cover = np.mean((lo <= p1 - p2) & (p1 - p2 <= hi))
        assert 0.935 <= cover <= 0.965, (p1, p2, cover)


# ---------------------------------------------------------------- non-inferiority


def test_farrington_manning_zero_margin_is_pearson_against_R():
    # with delta = 0 the score statistic squared is prop.test(correct = FALSE)'s X-squared
    z = farrington_manning(TWO["x1"], TWO["n1"], TWO["x2"], TWO["n2"], 0.0)
    np.testing.assert_allclose(z**2, TWO["prop_stat_two_sided"], rtol=1e-6)


@pytest.mark.parametrize("x1,n1,x2,n2,delta", [(56, 70, 48, 80, -0.1), (30, 120, 45, 110, 0.05),
                                               (3, 20, 9, 25, -0.2), (0, 18, 4, 16, 0.1),
                                               (90, 150, 100, 200, 0.15)])
def test_restricted_mle_maximises_constrained_likelihood(x1, n1, x2, n2, delta):
    p1t, p2t = _restricted_mle(np.float64(x1), np.float64(n1), np.float64(x2), np.float64(n2),
                               np.float64(delta))
    assert p1t - p2t == pytest.approx(delta)

    def negll(p2):
        p1 = p2 + delta
        return -(x1 * np.log(p1) + (n1 - x1) * np.log1p(-p1) + x2 * np.log(p2)
                 + (n2 - x2) * np.log1p(-p2))

    lo, hi = max(1e-12, -delta + 1e-12), min(1 - 1e-12, 1 - delta - 1e-12)
    best = optimize.minimize_scalar(negll, bounds=(lo, hi), method="bounded",
                                    options={"xatol": 1e-12})
    assert float(p2t) == pytest.approx(best.x, abs=1e-6)


def test_noninferiority_size_by_simulation():
    # at the null boundary (p_iop - p_other = -margin) the one-sided FM test at 0.025 rejects
    # about 2.5% of the time
    rng = np.random.default_rng(11)
    margin, p2, n1, n2 = 0.1, 0.55, 150, 120
    p1 = p2 - margin
    x1 = rng.binomial(n1, p1, 20_000)
    x2 = rng.binomial(n2, p2, 20_000)
    z = farrington_manning(x1, n1, x2, n2, -margin)
    from scipy import stats
    size = np.mean(stats.norm.sf(z) < 0.025)
    assert 0.018 <= size <= 0.032


def test_noninferiority_and_equivalence_columns_and_conclusions():
    # IOP 300/500 = 0.60 vs outpatient 295/500 = 0.59: equivalent at 0.1; vs residential
    # 110/200 = 0.55: non-inferior, but equivalence not shown (interval reaches about +0.13)
    df = pd.concat([two_groups(300, 500, 295, 500),
                    two_groups(0, 0, 110, 200, other="residential_short"),
                    two_groups(0, 0, 40, 200, other="php")], ignore_index=True)
    res = compare_rates(df, "completed", margin=0.1)
    s = res.summary.set_index("level")
    for col in ["ni_p_value", "ni_p_holm", "equivalence_p_value", "equivalence_p_holm"]:
        assert col in s.columns
    from scipy import stats
    z = farrington_manning(300, 500, 295, 500, -0.1)
    assert s.loc["outpatient", "ni_p_value"] == pytest.approx(stats.norm.sf(z))
    assert s.loc["outpatient", "conclusion"] == "iop equivalent to outpatient within +/-0.1"
    assert s.loc["php", "conclusion"] == "iop better than php"
    assert s.loc["residential_short", "conclusion"] == "iop non-inferior to residential_short (margin 0.1)"
    assert any("Farrington-Manning" in r for r in res.remarks)


def test_better_lower_mirrors_noninferiority():
    # relapse: lower is better. IOP relapse 45/150 = 0.30 vs outpatient 40/150 = 0.267
    df = two_groups(45, 150, 40, 150)
    low = compare_rates(df, "completed", margin=0.1, better="lower").summary.iloc[0]
    # mirrored data (swap events and non-events) with better="higher" gives the same p-value
    high = compare_rates(two_groups(105, 150, 110, 150), "completed", margin=0.1,
                         better="higher").summary.iloc[0]
    assert low["ni_p_value"] == pytest.approx(high["ni_p_value"], rel=1e-10)
    assert low["equivalence_p_value"] == pytest.approx(high["equivalence_p_value"], rel=1e-10)


def test_worse_than_margin_conclusion():
    res = compare_rates(two_groups(60, 200, 140, 200), "completed", margin=0.05)
    assert res.summary["conclusion"].iloc[0] == "iop worse than outpatient by more than the margin 0.05"


# ---------------------------------------------------------------- inputs


def test_compare_rates_weights_equal_row_level():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"level_of_care": rng.choice(["iop", "outpatient", "php"], 600,
                                                   p=[0.4, 0.4, 0.2]),
                       "completed": rng.random(600) < 0.5})
    rows = compare_rates(df, "completed", margin=0.1)
    table = collapse(df, ["level_of_care", "completed"])
    weighted = compare_rates(table, "completed", margin=0.1, weights="n")
    num = rows.summary.select_dtypes("number").columns
    np.testing.assert_allclose(rows.summary[num].astype(float), weighted.summary[num].astype(float),
                               rtol=1e-10)
    assert list(rows.summary["conclusion"]) == list(weighted.summary["conclusion"])
    pd.testing.assert_frame_equal(rows.omnibus, weighted.omnibus)


def test_compare_rates_does_not_modify_input():
    df = two_groups(30, 60, 20, 50)
    df["level_of_care"] = df["level_of_care"].astype("category")
    df.loc[3, "completed"] = np.nan
    before = df.copy()
    compare_rates(df, "completed", margin=0.1)
    pd.testing.assert_frame_equal(df, before)


def test_missing_outcome_excluded_and_reported():
    df = two_groups(30, 60, 20, 50)
    df["completed"] = df["completed"].astype(float)
    df.loc[[0, 1], "completed"] = np.nan
    res = compare_rates(df, "completed")
    assert res.summary["ref_n"].iloc[0] == 58
    assert res.rates.set_index("level").loc["iop", "n_missing"] == 2
    assert any("missing outcome" in r for r in res.remarks)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"outcome": "nope"}, "column not found"),
        ({"outcome": "level_of_care"}, "used twice|binary|different"),
        ({"outcome": "completed", "reference": "detox_inpatient"}, "reference level absent"),
        ({"outcome": "completed", "margin": -0.1}, "margin"),
        ({"outcome": "completed", "better": "up"}, "better"),
        ({"outcome": "completed", "alternative": "two.sided"}, "alternative"),
        ({"outcome": "completed", "adjust": ["missing_cov"]}, "column not found"),
    ],
)
def test_compare_rates_bad_input_raises_iopstats_error(kwargs, match):
    with pytest.raises(IopstatsError, match=match):
        compare_rates(two_groups(30, 60, 20, 50), **kwargs)


def test_outcome_not_binary_raises():
    df = two_groups(30, 60, 20, 50)
    df["completed"] = df["completed"] * 3
    with pytest.raises(IopstatsError, match="binary"):
        compare_rates(df, "completed")


def test_level_with_no_known_outcome_raises():
    df = pd.concat([two_groups(30, 60, 20, 50),
                    pd.DataFrame({"level_of_care": ["php"] * 3, "completed": [np.nan] * 3})],
                   ignore_index=True)
    with pytest.raises(IopstatsError, match="n = 0") as err:
        compare_rates(df, "completed")
    assert err.value.value == "php"


def test_fractional_weights_with_fisher_raise():
    df = pd.DataFrame({"level_of_care": ["iop", "iop", "op", "op"], "y": [1, 0, 1, 0],
                       "w": [1.5, 2.0, 3.0, 1.0]})
    with pytest.raises(IopstatsError, match="whole counts"):
        compare_rates(df, "y", weights="w")


def test_result_html_has_remarks():
    html = compare_rates(two_groups(30, 60, 20, 50), "completed").to_html()
    assert "Newcombe" in html and "Holm" in html
