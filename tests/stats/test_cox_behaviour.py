"""iopstats.stats.cox: fast path vs the textbook computation, weights, errors, remarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.stats import _cox_fit as cf
from iopstats.stats.cox import CoxResult, cox

REF = Path(__file__).resolve().parents[1] / "reference" / "cox"
TIES = ["level_of_care", "sex", "age_group", "payer"]


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return pd.read_csv(REF / "ties_rows.csv")


def naive_efron(time, dead, X, w, beta, strata=None, efron=True):
    """Textbook loop over event times with explicit S2 (frequency weights = repeated rows)."""
    strata = np.zeros(len(time), int) if strata is None else strata
    eta = X @ beta
    r = w * np.exp(eta)
    k = X.shape[1]
    ll, U, imat = 0.0, np.zeros(k), np.zeros((k, k))
    for s in np.unique(strata):
        ins = strata == s
        for t in np.unique(time[ins & dead]):
            risk = ins & (time >= t)
            d = ins & dead & (time == t)
            S0, S1 = r[risk].sum(), r[risk] @ X[risk]
            S2 = (X[risk] * r[risk][:, None]).T @ X[risk]
            D0, D1 = r[d].sum(), r[d] @ X[d]
            D2 = (X[d] * r[d][:, None]).T @ X[d]
            n = int(round(w[d].sum())) if efron else 1
            ll += w[d] @ eta[d]
            U += w[d] @ X[d]
            for j in range(n):
                f = j / n
                den = S0 - f * D0
                m1 = (S1 - f * D1) / den
                wt = w[d].sum() / n
                ll -= wt * np.log(den)
                U -= wt * m1
                imat += wt * ((S2 - f * D2) / den - np.outer(m1, m1))
    return ll, U, imat


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("covs", [TIES, TIES[:2]])
def test_cox_fast_path_equals_textbook_computation(rows, ties, covs):
    sub = rows.iloc[:600]
    fit = cox(sub, "days", "dropped", covs, ties=ties)
    cd = fit._fit.data
    # two covariates: few (pattern, time, event) cells, the rows are collapsed; four: row level
    assert (cd.slot.size < len(sub)) == (len(covs) == 2)
    X = fit._fit.design.X
    beta = np.array([0.3, -0.2, 0.1, 0.4, -0.1, 0.2, -0.3, 0.25, 0.0, -0.15])[: X.shape[1]]
    st = cf.evaluate(cd, beta)
    ll, U, imat = naive_efron(sub["days"].to_numpy(), sub["dropped"].to_numpy() == 1, X,
                              np.ones(len(sub)), beta, efron=ties == "efron")
    np.testing.assert_allclose(st.loglik, ll, rtol=1e-12)
    np.testing.assert_allclose(st.U, U, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(st.imat, imat, rtol=1e-9, atol=1e-10)


def test_cox_fast_path_equals_textbook_with_strata_and_weights(rows):
    sub = rows.iloc[:500].assign(w=np.tile([1, 2, 3, 1, 5], 100), age=np.arange(500) % 37 + 18.0)
    covs = ["level_of_care", "sex", "age"]
    fit = cox(sub, "days", "dropped", covs, strata="payer", weights="w")
    cd = fit._fit.data
    X = fit._fit.design.X.copy()
    X[:, -1] -= np.average(X[:, -1], weights=sub["w"])  # the core centres numeric columns
    beta = np.array([0.2, -0.4, 0.1, 0.3, 0.5, 0.02])
    st = cf.evaluate(cd, beta)
    strata = pd.factorize(sub["payer"])[0]
    ll, U, imat = naive_efron(sub["days"].to_numpy(), sub["dropped"].to_numpy() == 1, X,
                              sub["w"].to_numpy(float), beta, strata=strata)
    np.testing.assert_allclose(st.loglik, ll, rtol=1e-12)
    np.testing.assert_allclose(st.U, U, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(st.imat, imat, rtol=1e-9, atol=1e-10)


def test_cox_blockwise_pattern_cross_equals_dense(rows):
    fit = cox(rows.assign(x=np.linspace(0, 1, len(rows))), "days", "dropped", TIES + ["x"])
    cd = fit._fit.data
    v = np.random.default_rng(1).random(cd.Xp.shape[0])
    np.testing.assert_allclose(cf._pattern_cross(cd, v, dense=False), cf._pattern_cross(cd, v, dense=True),
                               rtol=1e-12, atol=1e-12)


def test_cox_frequency_weights_equal_duplicated_rows(rows):
    sub = rows.iloc[:400].assign(w=np.tile([1, 3, 2, 1], 100))
    expanded = sub.loc[sub.index.repeat(sub["w"])].drop(columns="w")
    a = cox(sub, "days", "dropped", TIES, weights="w", cluster=None, robust=True)
    b = cox(expanded, "days", "dropped", TIES, robust=True)
    np.testing.assert_allclose(a.summary["coef"], b.summary["coef"], rtol=1e-10)
    # robust=True without cluster: every expanded row is its own unit
    np.testing.assert_allclose(a.summary["se"], b.summary["se"], rtol=1e-10)
    np.testing.assert_allclose(a.tests["statistic"], b.tests["statistic"], rtol=1e-9)
    assert a.n == b.n == len(expanded) and a.n_events == b.n_events


def test_cox_does_not_modify_input(rows):
    df = rows.iloc[:300].copy()
    df.loc[5, "sex"] = None
    df["level_of_care"] = df["level_of_care"].astype("category")
    df["w"] = 2
    df["client"] = np.arange(300) % 70
    before = df.copy(deep=True)
    cox(df, "days", "dropped", TIES[:2], strata="payer", weights="w", cluster="client")
    pd.testing.assert_frame_equal(df, before)


def test_cox_summary_columns_and_intervals(rows):
    fit = cox(rows, "days", "dropped", TIES, confidence=0.9)
    assert isinstance(fit, CoxResult)
    assert list(fit.summary.columns) == ["coef", "se", "hr", "ci_low", "ci_high", "z", "p_value"]
    assert fit.summary.index.name == "term"
    s = fit.summary
    np.testing.assert_allclose(np.log(s["ci_high"]) - s["coef"], 1.6448536269514722 * s["se"], rtol=1e-12)
    assert fit.terms["level_of_care"][0] == "level_of_care[op]"
    assert "Cox model" in fit.to_html() and "<table" in fit._repr_html_()


def test_cox_missing_values_dropped_with_remark(rows):
    df = rows.iloc[:800].copy()
    df.loc[[1, 2], "payer"] = None
    df.loc[3, "days"] = np.nan
    fit = cox(df, "days", "dropped", TIES)
    ref = cox(df.dropna(), "days", "dropped", TIES)
    np.testing.assert_allclose(fit.summary["coef"], ref.summary["coef"], rtol=1e-12)
    assert fit.n == 797
    assert any("missing" in r for r in fit.remarks)


def test_cox_category_order_sets_reference(rows):
    df = rows.assign(level_of_care=pd.Categorical(rows["level_of_care"],
                                                   categories=["res_short", "iop", "op", "php", "res_long"]))
    fit = cox(df, "days", "dropped", ["level_of_care"])
    assert list(fit.summary.index) == ["level_of_care[iop]", "level_of_care[op]",
                                       "level_of_care[php]", "level_of_care[res_long]"]
    plain = cox(rows, "days", "dropped", ["level_of_care"])
    # HR(iop vs res_short) is the inverse of HR(res_short vs iop)
    np.testing.assert_allclose(fit.summary.loc["level_of_care[iop]", "coef"],
                               -plain.summary.loc["level_of_care[res_short]", "coef"], rtol=1e-8)


def test_cox_predict_linear(rows):
    fit = cox(rows, "days", "dropped", ["level_of_care", "sex"])
    new = pd.DataFrame({"level_of_care": ["iop", "op"], "sex": ["male", "female"]})
    lp = fit.predict_linear(new)
    b = fit.summary["coef"]
    np.testing.assert_allclose(lp, [b["sex[male]"], b["level_of_care[op]"]])
    with pytest.raises(IopstatsError, match="level not seen"):
        fit.predict_linear(new.assign(sex=["x", "male"]))


def test_cox_infinite_coefficient_is_remarked(rows):
    df = rows.iloc[:600].copy()
    df.loc[df["level_of_care"] == "php", "dropped"] = 0  # no events in one level
    fit = cox(df, "days", "dropped", ["level_of_care", "sex"])
    assert any("may be infinite" in r and "level_of_care[php]" in r for r in fit.remarks)
    assert fit.summary.loc["level_of_care[php]", "coef"] < -5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"time": "nope"}, "time column not found"),
        ({"covariates": ["sex", "nope"]}, "covariate column not found"),
        ({"ties": "exact"}, "unknown ties"),
        ({"cluster": "payer", "robust": False}, "robust=False"),
        ({"covariates": ["days"]}, "also used"),
        ({"confidence": 95}, "between 0 and 1"),
    ],
)
def test_cox_argument_errors(rows, kwargs, match):
    args = {"data": rows, "time": "days", "event": "dropped", "covariates": ["sex"]} | kwargs
    with pytest.raises(IopstatsError, match=match):
        cox(**args)


def test_cox_data_errors(rows):
    with pytest.raises(IopstatsError, match="no events"):
        cox(rows.assign(dropped=0), "days", "dropped", ["sex"])
    with pytest.raises(IopstatsError, match="single level"):
        cox(rows.assign(site="A"), "days", "dropped", ["sex", "site"])
    with pytest.raises(IopstatsError, match="collinear") as e:
        cox(rows.assign(male=(rows["sex"] == "male").astype(float)), "days", "dropped", ["sex", "male"])
    assert e.value.column == "male" and "drop covariate" in str(e.value)
    with pytest.raises(IopstatsError, match="0 \\(censored\\) or 1"):
        cox(rows.assign(dropped=rows["dropped"] * 2), "days", "dropped", ["sex"])
    with pytest.raises(IopstatsError, match="numeric"):
        cox(rows.assign(days=rows["days"].astype(str)), "days", "dropped", ["sex"])
    with pytest.raises(IopstatsError, match="negative"):
        cox(rows.assign(days=rows["days"] - 10), "days", "dropped", ["sex"])
    with pytest.raises(IopstatsError, match="non-negative"):
        cox(rows.assign(w=-1.0), "days", "dropped", ["sex"], weights="w")
    with pytest.raises(IopstatsError, match="DataFrame"):
        cox(rows.to_dict(), "days", "dropped", ["sex"])
    # a covariate constant within strata cannot be estimated in a stratified model
    with pytest.raises(IopstatsError, match="within strata"):
        cox(rows.assign(pay2=rows["payer"]), "days", "dropped", ["sex", "pay2"], strata="payer")


def test_cox_bool_event_and_covariate(rows):
    df = rows.assign(dropped=rows["dropped"] == 1, male=rows["sex"] == "male")
    a = cox(df, "days", "dropped", ["male"])
    b = cox(rows, "days", "dropped", ["sex"])
    assert list(a.summary.index) == ["male[True]"]
    np.testing.assert_allclose(a.summary["coef"].to_numpy(), b.summary["coef"].to_numpy(), rtol=1e-12)


def test_cox_matches_lifelines_efron(rows):
    lifelines = pytest.importorskip("lifelines")
    fit = cox(rows, "days", "dropped", TIES)
    X = pd.get_dummies(rows[TIES], drop_first=True, dtype=float)
    X.columns = fit.summary.index
    X["days"], X["dropped"] = rows["days"], rows["dropped"]
    ll = lifelines.CoxPHFitter().fit(X, "days", "dropped")
    np.testing.assert_allclose(ll.params_.to_numpy(), fit.summary["coef"].to_numpy(), rtol=1e-5, atol=1e-7)
