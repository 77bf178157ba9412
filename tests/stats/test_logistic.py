"""Tests for iopstats.stats.logistic: R agreement, weights, errors, statsmodels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse
from iopstats.stats.logistic import LogisticResult, logistic

REF = Path(__file__).resolve().parents[1] / "reference" / "logistic"
R = json.loads((REF / "logistic_reference.json").read_text())
RTOL = 1e-6


@pytest.fixture(scope="module")
def ctn() -> pd.DataFrame:
    return pd.read_csv(REF / "ctn0094_randomized.csv")


def _r_term(term: str, covariates: list[str]) -> str:
    """R's term names ("armMethadone") -> ours ("arm[Methadone]")."""
    if term == "(Intercept)":
        return "intercept"
    if term in covariates:
        return term
    for c in sorted(covariates, key=len, reverse=True):
        if term.startswith(c):
            return f"{c}[{term[len(c):]}]"
    raise AssertionError(term)


def _check_against(res: LogisticResult, ref: dict, covariates: list[str]) -> None:
    terms = [_r_term(t, covariates) for t in ref["term"]]
    assert list(res.summary.index) == terms
    s = res.summary
    for ours, theirs in [("coef", "coef"), ("se", "se"), ("z", "z"), ("p_value", "p_value"),
                         ("ci_low", "ci_low"), ("ci_high", "ci_high")]:
        np.testing.assert_allclose(s[ours].to_numpy(), ref[theirs], rtol=RTOL, err_msg=ours)
    np.testing.assert_allclose(s["odds_ratio"], np.exp(ref["coef"]), rtol=RTOL)
    for k in ("loglik", "deviance", "null_deviance", "aic", "n"):
        np.testing.assert_allclose(getattr(res, k), ref[k][0], rtol=RTOL, err_msg=k)
    assert res.converged


def test_logistic_relapse_arm_sex_age_against_R(ctn):
    # R: glm(ctn0094_relapse_event ~ arm + is_male + age, family = binomial, data = d,
    #        control = glm.control(epsilon = 1e-14, maxit = 100))  (make_reference.R)
    covs = ["arm", "is_male", "age"]
    res = logistic(ctn, "ctn0094_relapse_event", covs)
    _check_against(res, R["relapse_arm_sex_age"], covs)


def test_logistic_all_categorical_against_R(ctn):
    # R: glm(ctn0094_dropout_event ~ arm + is_male + race + is_hispanic, family = binomial,
    #        control = ctl) with ctl = glm.control(epsilon = 1e-14, maxit = 100)
    covs = ["arm", "is_male", "race", "is_hispanic"]
    res = logistic(ctn, "ctn0094_dropout_event", covs)
    _check_against(res, R["dropout_arm_sex_race_hisp"], covs)


def test_logistic_collapsed_weights_against_R():
    # R: glm(y ~ arm + is_male + race + is_hispanic, binomial, data = agg, weights = n,
    #        control = ctl)
    agg = pd.read_csv(REF / "ctn0094_dropout_collapsed.csv")
    covs = ["arm", "is_male", "race", "is_hispanic"]
    res = logistic(agg, "y", covs, weights="n")
    _check_against(res, R["dropout_collapsed_weights"], covs)


def test_logistic_confidence_90_against_R(ctn):
    # R: confint.default(f1, level = 0.90)
    res = logistic(ctn, "ctn0094_relapse_event", ["arm", "is_male", "age"], confidence=0.90)
    ref = R["relapse_ci90"]
    np.testing.assert_allclose(res.summary["ci_low"], ref["ci_low"], rtol=RTOL)
    np.testing.assert_allclose(res.summary["ci_high"], ref["ci_high"], rtol=RTOL)


def test_logistic_weights_equal_row_level(ctn):
    covs = ["arm", "is_male", "race"]
    rows = logistic(ctn, "ctn0094_dropout_event", covs)
    table = collapse(ctn, covs + ["ctn0094_dropout_event"])
    weighted = logistic(table, "ctn0094_dropout_event", covs, weights="n")
    pd.testing.assert_frame_equal(rows.summary, weighted.summary, rtol=1e-10)
    for k in ("loglik", "deviance", "null_deviance", "aic", "n"):
        assert getattr(rows, k) == pytest.approx(getattr(weighted, k), rel=1e-12)


def test_logistic_matches_statsmodels_rows_with_numeric_and_unused_category():
    rng = np.random.default_rng(3)
    n = 4000
    df = pd.DataFrame({
        "g": pd.Categorical(rng.choice(["b", "c", "d"], n), categories=["a", "b", "c", "d"]),
        "x": rng.normal(size=n),
        "flag": rng.random(n) < 0.4,
    })
    eta = -0.3 + 0.5 * (df["g"] == "c") - 0.4 * (df["g"] == "d") + 0.7 * df["x"] + 0.3 * df["flag"]
    df["y"] = rng.random(n) < 1 / (1 + np.exp(-eta))
    res = logistic(df, "y", ["g", "x", "flag"])
    # the unused category "a" gets no term: "b" (first observed) is the baseline
    assert list(res.summary.index) == ["intercept", "g[c]", "g[d]", "x", "flag[True]"]
    X = pd.DataFrame({"const": 1.0, "c": (df["g"] == "c").astype(float),
                      "d": (df["g"] == "d").astype(float), "x": df["x"],
                      "flag": df["flag"].astype(float)})
    f = sm.GLM(df["y"].astype(float), X, family=sm.families.Binomial()).fit(tol=1e-13)
    np.testing.assert_allclose(res.summary["coef"], f.params, rtol=1e-8)
    np.testing.assert_allclose(res.summary["se"], f.bse, rtol=1e-6)
    assert res.loglik == pytest.approx(f.llf, rel=1e-10)


def test_logistic_missing_rows_dropped_like_na_omit(ctn):
    df = ctn.copy()
    df.loc[[3, 10, 50], "age"] = np.nan
    df.loc[[7], "ctn0094_relapse_event"] = np.nan
    res = logistic(df, "ctn0094_relapse_event", ["arm", "age"])
    ref = logistic(df.dropna(subset=["age", "ctn0094_relapse_event"]),
                   "ctn0094_relapse_event", ["arm", "age"])
    assert res.n_dropped == 4 and res.n == len(df) - 4
    pd.testing.assert_frame_equal(res.summary, ref.summary)


def test_logistic_does_not_modify_input(ctn):
    df = ctn.copy()
    df["arm"] = df["arm"].astype("category")
    before = df.copy()
    logistic(df, "ctn0094_relapse_event", ["arm", "is_male", "age"])
    pd.testing.assert_frame_equal(df, before)


def test_logistic_boolean_and_nullable_outcome():
    df = pd.DataFrame({"g": ["a", "b"] * 20, "y": pd.array([True, False, False, True] * 10,
                                                             dtype="boolean")})
    df.loc[0, "y"] = pd.NA
    res = logistic(df, "y", "g")
    assert res.n == 39 and res.n_dropped == 1


def test_logistic_separation_names_the_level():
    df = pd.DataFrame({"loc": ["iop"] * 10 + ["op"] * 10 + ["php"] * 5,
                       "y": [1, 0] * 5 + [1, 0] * 5 + [0] * 5})
    with pytest.raises(IopstatsError, match=r"loc\[php\]") as err:
        logistic(df, "y", ["loc"])
    assert "merge" in str(err.value)


def test_logistic_quasi_separation_in_combination_detected():
    # every level has both outcomes, but x perfectly predicts y within the data
    df = pd.DataFrame({"g": ["a", "b"] * 10, "x": np.arange(20.0)})
    df["y"] = (df["x"] >= 10).astype(int)
    with pytest.raises(IopstatsError, match="separation"):
        logistic(df, "y", ["g", "x"])


def test_logistic_collinear_covariates_rejected():
    df = pd.DataFrame({"a": ["x", "y"] * 20, "y": [0, 1, 1, 0, 1] * 8})
    df["b"] = df["a"].map({"x": "p", "y": "q"})
    with pytest.raises(IopstatsError, match="collinear"):
        logistic(df, "y", ["a", "b"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"outcome": "nope", "covariates": ["arm"]}, "column not found"),
        ({"outcome": "arm", "covariates": ["is_male"]}, "binary"),
        ({"outcome": "age", "covariates": ["arm"]}, "binary"),
        ({"outcome": "ctn0094_relapse_event", "covariates": []}, "at least one covariate"),
        ({"outcome": "ctn0094_relapse_event", "covariates": ["arm"], "weights": "is_male"}, "weights"),
        ({"outcome": "ctn0094_relapse_event", "covariates": ["arm"], "confidence": 95}, "confidence"),
    ],
)
def test_logistic_bad_input_raises_iopstats_error(ctn, kwargs, match):
    with pytest.raises(IopstatsError, match=match):
        logistic(ctn, **kwargs)


def test_logistic_constant_outcome_rejected():
    df = pd.DataFrame({"g": ["a", "b"] * 5, "y": [0] * 10})
    with pytest.raises(IopstatsError, match="only one value"):
        logistic(df, "y", ["g"])


def test_logistic_result_renders_html(ctn):
    res = logistic(ctn, "ctn0094_relapse_event", ["arm"])
    html = res.to_html()
    assert "arm[Methadone]" in html and "Newton" in html


def test_structured_design_products_equal_dense_algebra():
    # X'WX, X'v and X beta from count tables / gathers equal the dense products, with
    # categorical columns grouped into joint codes and numeric columns mixed in
    from iopstats.stats._logistic_patterns import _collapse, _Design
    rng = np.random.default_rng(1)
    n = 5000
    df = pd.DataFrame({
        "a": pd.Categorical(rng.choice(["x", "y", "z"], n), categories=["w", "x", "y", "z"]),
        "age": rng.normal(40, 10, n).round(), "b": rng.choice(list("pqrstu"), n),
        "c": rng.random(n) < 0.3, "x2": rng.normal(size=n), "d": rng.choice(list("abcdefghijkl"), n),
        "e": rng.choice(list("abcdefgh"), n), "f": rng.choice(list("abcde"), n),
        "y": rng.random(n) < 0.4})
    for covs in [["age", "a", "x2", "b", "c", "d", "e", "f"], ["a", "b", "c", "d", "e", "f"],
                 ["d"], ["d", "age"], ["age"]]:
        D = _Design(_collapse(df, "y", covs, None))
        X = D.dense()
        w = rng.random(D.P)
        beta = rng.normal(size=D.k)
        np.testing.assert_allclose(D.xtwx(w), (X * w[:, None]).T @ X, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(D.xtv(w), X.T @ w, rtol=1e-12)
        np.testing.assert_allclose(D.eta(beta), X @ beta, rtol=1e-12, atol=1e-12)


def test_term_names_follow_shared_design_convention(ctn):
    # same "col[level]" names and reference levels as iopstats.stats.design (used by cox)
    from iopstats.stats.design import design_matrix
    df = ctn.assign(arm=pd.Categorical(ctn["arm"], categories=["Unused", *sorted(ctn["arm"].unique())]),
                    flag=ctn["is_hispanic"] == "Yes")
    covs = ["arm", "is_male", "age", "race", "flag"]
    res = logistic(df, "ctn0094_relapse_event", covs)
    assert list(res.summary.index[1:]) == list(design_matrix(df, covs).columns)


@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4])
@pytest.mark.parametrize("seed", range(8))
def test_logistic_collinear_numeric_covariates_rejected_whatever_the_rounding(seed, scale):
    # x3 = 0.1 x1 + 0.3 x2 holds only to rounding: the eigenvalues of X'WX then come out
    # as tiny positive numbers on some BLAS builds, which the rank must not depend on
    rng = np.random.default_rng(seed)
    n = 60
    df = pd.DataFrame({"x1": rng.normal(size=n) * scale, "x2": rng.normal(size=n)})
    df["x3"] = 0.1 * df["x1"] + 0.3 * df["x2"]
    df["y"] = rng.integers(0, 2, size=n)
    with pytest.raises(IopstatsError, match="collinear"):
        logistic(df, "y", ["x1", "x2", "x3"])


def test_logistic_nearly_but_not_collinear_covariates_fit():
    # a dependence broken at 1e-3 of the column scale is information, not collinearity
    rng = np.random.default_rng(3)
    n = 200
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    df["x3"] = 0.1 * df["x1"] + 0.3 * df["x2"] + 1e-3 * rng.normal(size=n)
    df["y"] = rng.integers(0, 2, size=n)
    res = logistic(df, "y", ["x1", "x2", "x3"])
    assert res.converged
