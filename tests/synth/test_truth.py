"""The stored true effects are what the data follow, and raw comparisons are confounded.

statsmodels is used here only, as the independent estimator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit, logit
from scipy.stats import chi2

from iopstats.synthetic.truth import LEVELS, PARAMS, TERMS, WINDOWS, model_matrix

OTHER = [lv for lv in LEVELS if lv != "iop"]


def _design(ep: pd.DataFrame) -> pd.DataFrame:
    x = model_matrix(ep)
    lv = ep.level_of_care.astype(str)
    dummies = pd.DataFrame({lv_: (lv == lv_).astype(float) for lv_ in OTHER}, index=ep.index)
    return sm.add_constant(pd.concat([dummies, x], axis=1), has_constant="add")


def _wald_p(params, cov, truth: dict) -> float:
    """p-value of the joint Wald test that the named coefficients equal ``truth``."""
    names = list(truth)
    diff = np.asarray(params[names], dtype=float) - np.array([truth[n] for n in names])
    v = np.asarray(pd.DataFrame(cov).loc[names, names], dtype=float)
    return float(chi2.sf(diff @ np.linalg.solve(v, diff), len(names)))


@pytest.fixture(scope="module")
def completion_fit(large_default):
    ep = large_default.episodes
    closed = ep[ep.discharge_date.notna()]  # completion is independent of the stay: closed ones suffice
    y = (closed.discharge_reason == "completed").astype(float)
    return sm.Logit(y, _design(closed)).fit(disp=0)


def test_standardized_risk_is_the_exact_g_formula(small):
    truth = small.truth["completion"]
    x = model_matrix(small.episodes).to_numpy()
    beta = np.array([PARAMS["completion_coef"][t] for t in TERMS])
    for lv in LEVELS:
        expected = expit(PARAMS["completion_intercept"][lv] + x @ beta).mean()
        assert truth["standardized_risk"][lv] == pytest.approx(expected, rel=1e-12)
    for lv in OTHER:
        rd = truth["standardized_risk"]["iop"] - truth["standardized_risk"][lv]
        assert truth["risk_difference_iop_minus"][lv] == pytest.approx(rd, rel=1e-12)
        assert truth["log_or_vs_iop"][lv] == pytest.approx(
            PARAMS["completion_intercept"][lv] - PARAMS["completion_intercept"]["iop"])


def test_latent_completion_probability_matches_model(small):
    d = small
    x = model_matrix(d.episodes).to_numpy()
    beta = np.array([PARAMS["completion_coef"][t] for t in TERMS])
    a = d.episodes.level_of_care.astype(str).map(PARAMS["completion_intercept"]).to_numpy()
    np.testing.assert_allclose(d.latent.p_completed.to_numpy(), expit(a + x @ beta), rtol=1e-12)


def test_logistic_completion_against_statsmodels_recovers_truth(large_default, completion_fit):
    truth = large_default.truth["completion"]
    cov = completion_fit.cov_params()
    # jointly: all level log odds ratios, all covariate coefficients
    assert _wald_p(completion_fit.params, cov, truth["log_or_vs_iop"]) > 0.001
    assert _wald_p(completion_fit.params, cov, truth["coef"]) > 0.001
    # the headline comparison sits inside its 95% interval
    lo, hi = completion_fit.conf_int(alpha=0.05).loc["residential_short"]
    assert lo <= truth["log_or_vs_iop"]["residential_short"] <= hi


def test_g_computation_from_fit_recovers_standardized_risk(large_default, completion_fit):
    ep = large_default.episodes
    truth = large_default.truth["completion"]["standardized_risk"]
    for lv in ("iop", "residential_short", "outpatient", "detox_residential"):
        counterfactual = ep.assign(level_of_care=pd.Categorical([lv] * len(ep), categories=LEVELS))
        est = completion_fit.predict(_design(counterfactual)).mean()
        assert est == pytest.approx(truth[lv], abs=0.015), lv


@pytest.mark.parametrize("level", ["residential_short", "residential_long", "detox_residential", "outpatient"])
def test_raw_completion_comparison_is_confounded(large_default, completion_fit, level):
    ep = large_default.episodes
    closed = ep[ep.discharge_date.notna()]
    rate = closed.groupby("level_of_care", observed=True).discharge_reason.apply(lambda r: (r == "completed").mean())
    raw = logit(rate[level]) - logit(rate["iop"])
    true = large_default.truth["completion"]["log_or_vs_iop"][level]
    assert abs(raw - true) > 0.2
    lo, hi = completion_fit.conf_int(alpha=0.01).loc[level]
    assert not lo <= raw <= hi
    # severity pushes clients up: the more intensive level looks worse than it is
    if level != "outpatient":
        assert raw < true
    else:
        assert raw > true


def test_cox_dropout_against_statsmodels_recovers_log_hr(large_default):
    ep = large_default.episodes
    as_of = pd.Timestamp(large_default.truth["generation"]["as_of"])
    end = ep.discharge_date.fillna(as_of)
    time = np.maximum((end - ep.admit_date).dt.days.to_numpy(dtype=float), 0.5)
    event = ep.discharge_reason.isin(["dropped_out", "terminated"]).to_numpy(dtype=float)
    keep = ep.level_of_care.isin(["iop", "outpatient", "php", "residential_short", "residential_long"]).to_numpy()
    design = _design(ep).drop(columns="const")
    design = design.loc[keep, [c for c in design.columns if c not in set(OTHER) or design.loc[keep, c].any()]]
    fit = sm.PHReg(time[keep], design, status=event[keep], ties="efron").fit()
    params = pd.Series(fit.params, index=design.columns)
    cov = pd.DataFrame(fit.cov_params(), index=design.columns, columns=design.columns)
    truth = large_default.truth["dropout"]
    levels = {lv: truth["log_hr_vs_iop"][lv] for lv in ("outpatient", "php", "residential_short", "residential_long")}
    assert _wald_p(params, cov, levels) > 0.001
    assert _wald_p(params, cov, truth["log_hr"]) > 0.001
    se = np.sqrt(np.diag(cov))
    ci95 = pd.DataFrame({"lo": params - 1.96 * se, "hi": params + 1.96 * se})
    assert ci95.lo["outpatient"] <= levels["outpatient"] <= ci95.hi["outpatient"]


def test_relapse_logistic_on_true_use_recovers_truth(large):
    ep, lat = large.episodes, large.latent
    truth = large.truth["relapse"]
    fit = sm.Logit(lat.use_90.astype(float), _design(ep)).fit(disp=0)
    assert _wald_p(fit.params, fit.cov_params(), truth["log_or_vs_iop"]) > 0.001
    assert _wald_p(fit.params, fit.cov_params(), truth["coef"]) > 0.001
    lo, hi = fit.conf_int(alpha=0.05).loc["const"]
    assert lo <= truth["intercept"]["90"] <= hi
    std = truth["standardized_risk"]["90"]
    assert lat.use_90[ep.level_of_care == "iop"].mean() == pytest.approx(std["iop"], abs=0.08)


@pytest.mark.parametrize("window", WINDOWS)
def test_non_response_is_informative(large, window):
    fu = large.followups
    near = fu[(fu.days_after_discharge - window).abs() <= 14]
    use = large.latent.set_index("episode_id")[f"use_{window}"].reindex(near.episode_id).to_numpy()
    responded = near.responded.to_numpy(dtype=bool)
    assert use[~responded].mean() > use[responded].mean() + 0.1
    # complete case understates use; missing = use overstates it
    cc = near.any_use[near.responded].mean()
    mu = near.any_use.fillna(True).mean()
    assert cc < use.mean() < mu
    # the observed answers are the true values
    assert (near.any_use[near.responded].to_numpy(dtype=bool) == use[responded]).all()


def test_completers_use_less_at_equal_covariates(large):
    ep, lat = large.episodes, large.latent
    completed = (ep.discharge_reason == "completed").to_numpy()
    d = _design(ep).assign(completed=completed.astype(float))
    fit = sm.Logit(lat.use_90.astype(float), d).fit(disp=0)
    assert fit.params["completed"] < -0.2
