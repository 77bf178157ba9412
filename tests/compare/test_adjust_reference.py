"""iopstats.compare.adjust against R (values in tests/reference/adjust/, script adjust_reference.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from iopstats.compare.adjust import iptw, iptw_cox, iptw_kaplan_meier, standardized_rates

REF = Path(__file__).parents[1] / "reference" / "adjust"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = pd.read_csv(REF / "adjust_data.csv")
    d["sev"] = pd.Categorical(d["sev"], categories=["low", "mid", "high"])
    return d


def test_iptw_weights_reproduce_stored_inputs(data):
    # the weights R was given are the ones iptw computes now (12 decimals stored)
    w = iptw(data, "level_of_care", ["sex", "sev", "age"]).weights
    np.testing.assert_allclose(w.to_numpy(), data["iptw"].to_numpy(), atol=1e-11)


def test_iptw_kaplan_meier_against_R(data):
    # R: survfit(Surv(days, left) ~ level_of_care, data = d, weights = iptw)  (robust IJ std.err)
    #    summary(km, censored = TRUE); quantile(km, 0.5)
    km = iptw_kaplan_meier(data, "days", "left", ["sex", "sev", "age"])
    ref = pd.read_csv(REF / "km_weighted.csv")
    tab = km.table
    assert len(tab) == len(ref)
    assert tab["group"].tolist() == ref["group"].tolist()
    for col in ["time", "n_at_risk", "n_events", "survival", "std_err", "ci_low", "ci_high"]:
        np.testing.assert_allclose(tab[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float),
                                   rtol=1e-6, atol=1e-9, err_msg=col)
    med = pd.read_csv(REF / "km_weighted_median.csv")
    for col in ["median", "median_ci_low", "median_ci_high"]:
        np.testing.assert_allclose(km.summary[col].to_numpy(dtype=float), med[col].to_numpy(dtype=float),
                                   err_msg=col)


def test_iptw_cox_robust_against_R(data):
    # R: coxph(Surv(days, left) ~ level_of_care, data = d, weights = iptw, robust = TRUE, ties = "efron")
    fit = iptw_cox(data, "days", "left", ["sex", "sev", "age"])
    ref = pd.read_csv(REF / "cox_weighted.csv").set_index("term")
    s = fit.summary.loc[ref.index]
    np.testing.assert_allclose(s["coef"], ref["coef"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s["se"], ref["se"], rtol=1e-6)
    np.testing.assert_allclose(s["p_value"], ref["p_value"], rtol=1e-6)
    np.testing.assert_allclose(fit.loglik, ref["loglik"].iloc[0], rtol=1e-8)


def test_iptw_binary_treatment_against_R_glm(data):
    # R: ps <- fitted(glm(op ~ sex + sev + age, binomial)); w <- ifelse(op, P(op)/ps, P(iop)/(1-ps))
    b = data[data["level_of_care"] != "residential_short"]
    res = iptw(b, "level_of_care", ["sex", "sev", "age"])
    ref = pd.read_csv(REF / "iptw_binary.csv")
    np.testing.assert_allclose(res.propensity["outpatient"].to_numpy(), ref["ps_outpatient"], rtol=1e-6)
    np.testing.assert_allclose(res.weights.to_numpy(), ref["weight"], rtol=1e-6)


def test_iptw_multinomial_propensity_against_statsmodels_MNLogit(data):
    X = pd.get_dummies(data[["sex", "sev", "age"]], drop_first=True, dtype=float)
    X = sm.add_constant(X)
    y = data["level_of_care"].map({"iop": 0, "outpatient": 1, "residential_short": 2})
    mn = sm.MNLogit(y, X).fit(method="newton", disp=0, tol=1e-12, maxiter=100)
    res = iptw(data, "level_of_care", ["sex", "sev", "age"])
    np.testing.assert_allclose(res.propensity.to_numpy(), mn.predict(X).to_numpy(), rtol=1e-7, atol=1e-10)


def test_standardized_rates_against_R_glm_gformula(data):
    # R: glm(done ~ level_of_care + sex + sev + age, binomial); mean predictions with the level set;
    #    delta-method SE with the covariate-mix term (see adjust_reference.R)
    out = standardized_rates(data, "done", ["sex", "sev", "age"])
    ref = pd.read_csv(REF / "standardized_rates.csv")
    assert out["level"].tolist() == ref["level"].tolist()
    for col in ["adj_rate", "ci_low", "ci_high", "adj_risk_difference", "rd_ci_low", "rd_ci_high", "se",
                "p_value"]:
        np.testing.assert_allclose(out[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float),
                                   rtol=1e-6, atol=1e-10, err_msg=col)


def test_iptw_kaplan_meier_rmean_se_against_R(data):
    # R (tests/reference/rmst/rmst_reference.R, "adjust_iptw"): sqrt(sum_i dRMST_i^2) from
    # survfit(..., weights = iptw, influence = TRUE)
    ref = pd.read_csv(REF.parent / "rmst" / "rmst_robust_groups.csv")
    ref = ref[ref["data"] == "adjust_iptw"]
    for tau in ref["tau"].unique():
        km = iptw_kaplan_meier(data, "days", "left", ["sex", "sev", "age"], tau=tau)
        r = ref[ref["tau"] == tau]
        np.testing.assert_allclose(km.summary["rmean"], r["rmst"], rtol=1e-8)
        np.testing.assert_allclose(km.summary["rmean_se"], r["se"], rtol=1e-6)
