"""Unit comparisons against R (values of tests/reference/units/units_reference.R, committed as CSV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import iopstats
from iopstats.compare.casemix import CaseMixModel
from iopstats.compare.control_chart import runs_analysis
from iopstats.compare.funnel import exact_funnel_limits
from iopstats.compare.shrinkage import random_effects_logit
from iopstats.compare.standardize import poisson_ratio_interval, poisson_test_pvalue

REF = Path(__file__).parents[1] / "reference" / "units"


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


# ------------------------------------------------------------------ shrinkage (metafor)


@pytest.mark.parametrize("method", ["REML", "DL"])
def test_shrunken_rates_against_metafor(method):
    data = _csv("units_shrinkage_data.csv")
    rows = pd.DataFrame({"unit": np.repeat(data["unit"], data["ni"]),
                         "y": np.concatenate([[1] * x + [0] * (n - x) for x, n in zip(data["xi"], data["ni"])])})
    res = iopstats.shrunken_rates(rows, "unit", "y", method=method)
    ref = _csv("units_metafor_blup.csv").query("method == @method and control == 'tight'").reset_index(drop=True)
    fit = _csv("units_metafor_fit.csv").query("method == @method and control == 'tight'").iloc[0]
    s = res.summary
    assert list(s["unit"]) == list(ref["unit"])
    np.testing.assert_allclose(s["yi"], ref["yi"], atol=1e-10)
    np.testing.assert_allclose(s["vi"], ref["vi"], atol=1e-10)
    np.testing.assert_allclose(res.tau2, fit["tau2"], atol=1e-9)
    np.testing.assert_allclose([res.mu, res.mu_se, res.Q], [fit["mu"], fit["se"], fit["QE"]], atol=1e-9)
    np.testing.assert_allclose(s["blup"], ref["pred"], atol=1e-9)
    np.testing.assert_allclose(s["blup_se"], ref["se"], atol=1e-9)
    np.testing.assert_allclose(np.log(s["ci_low"] / (1 - s["ci_low"])), ref["pi_lb"], atol=1e-8)
    np.testing.assert_allclose(np.log(s["ci_high"] / (1 - s["ci_high"])), ref["pi_ub"], atol=1e-8)


def test_shrunken_rates_reml_against_metafor_default_control():
    """Same algorithm as metafor: with its default threshold (1e-5) the same iterate, to 1e-10;
    the default here (1e-10) is within 5e-6 of metafor's default fit, 1e-9 of its converged one."""
    data = _csv("units_shrinkage_data.csv")
    ref = _csv("units_metafor_blup.csv").query("method == 'REML' and control == 'default'")
    ref_fit = _csv("units_metafor_fit.csv").query("method == 'REML' and control == 'default'").iloc[0]
    same = random_effects_logit(*_plo(data), method="REML", tol=1e-5)
    np.testing.assert_allclose(same["tau2"], ref_fit["tau2"], atol=1e-10)
    np.testing.assert_allclose(same["blup"], ref["pred"], atol=1e-10)
    np.testing.assert_allclose(same["blup_se"], ref["se"], atol=1e-10)
    exact = random_effects_logit(*_plo(data), method="REML")
    np.testing.assert_allclose(exact["blup"], ref["pred"], atol=5e-6)
    rows = pd.DataFrame({"unit": np.repeat(data["unit"], 2), "y": [1, 0] * len(data),
                         "n": np.ravel(np.c_[data["xi"], data["ni"] - data["xi"]])})
    public = iopstats.shrunken_rates(rows[rows["n"] > 0], "unit", "y", weights="n", tol=1e-5)
    np.testing.assert_allclose(public.summary["blup"], ref["pred"], atol=1e-10)
    np.testing.assert_allclose(public.tau2, ref_fit["tau2"], atol=1e-10)


def _plo(data):
    from iopstats.compare.shrinkage import _logits

    return _logits(data["xi"].to_numpy(float), data["ni"].to_numpy(float))


def test_shrunken_rates_from_counts_equal_rows():
    data = _csv("units_shrinkage_data.csv")
    counts = pd.DataFrame({"unit": np.repeat(data["unit"], 2), "y": [1, 0] * len(data),
                           "n": np.ravel(np.c_[data["xi"], data["ni"] - data["xi"]])})
    counts = counts[counts["n"] > 0]
    a = iopstats.shrunken_rates(counts, "unit", "y", weights="n").summary
    ref = _csv("units_metafor_blup.csv").query("method == 'REML' and control == 'tight'")
    np.testing.assert_allclose(a["blup"], ref["pred"], atol=1e-9)


def test_expected_rank_closed_form_matches_simulation():
    data = _csv("units_shrinkage_data.csv")
    rows = pd.DataFrame({"unit": np.repeat(data["unit"], 2), "y": [1, 0] * len(data),
                         "n": np.ravel(np.c_[data["xi"], data["ni"] - data["xi"]])})
    res = iopstats.shrunken_rates(rows[rows["n"] > 0], "unit", "y", weights="n", draws=4000, seed=3)
    s = res.summary
    assert ((s["rank_low"] <= s["expected_rank"]) & (s["expected_rank"] <= s["rank_high"])).all()
    # the unit with the highest shrunken rate has the smallest expected rank
    assert s.loc[s["shrunken_rate"].idxmax(), "expected_rank"] == s["expected_rank"].min()
    assert np.isclose(s["expected_rank"].sum(), len(s) * (len(s) + 1) / 2)


# ------------------------------------------------------------------ poisson.test / Byar


def test_standardized_ratio_intervals_against_poisson_test():
    ref = _csv("units_poisson_test.csv")
    for conf, g in ref.groupby("confidence"):
        lo, hi = poisson_ratio_interval(g["observed"], g["expected"], conf, "exact")
        # poisson.test reports the rate interval (ratio = x / T)
        np.testing.assert_allclose(lo, g["ci_low"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hi, g["ci_high"], rtol=1e-10)
        blo, bhi = poisson_ratio_interval(g["observed"], g["expected"], conf, "byar")
        # Byar's lower bound is negative for O = 1 at 99.8%: a ratio cannot be, so 0
        np.testing.assert_allclose(blo, np.maximum(g["byar_low"], 0), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(bhi, g["byar_high"], rtol=1e-12)
    p = [poisson_test_pvalue(o, e) for o, e in zip(ref["observed"], ref["expected"])]
    np.testing.assert_allclose(p, ref["p_value"], rtol=1e-9, atol=1e-15)


# ------------------------------------------------------------------ indirect standardisation (glm)


@pytest.fixture(scope="module")
def casemix():
    return _csv("units_casemix_data.csv")


def test_standardized_ratio_pooled_against_R_glm(casemix):
    res = iopstats.standardized_ratio(casemix, "site", "y", ["sex", "age"])
    ref = _csv("units_casemix_expected.csv").query("model == 'pooled'").sort_values("unit").reset_index(drop=True)
    s = res.summary
    assert list(s["unit"]) == list(ref["unit"])
    np.testing.assert_allclose(s["expected"], ref["expected"], rtol=1e-8)
    np.testing.assert_allclose(s[["observed", "n"]].to_numpy(float), ref[["observed", "n"]].to_numpy(float))
    np.testing.assert_allclose(s[["ratio", "ci_low", "ci_high"]], ref[["ratio", "ci_low", "ci_high"]], rtol=1e-8)
    np.testing.assert_allclose(s["p_value"], ref["p_value"], rtol=1e-6)
    np.testing.assert_allclose(res.reference_rate, ref["reference_rate"].iloc[0])
    np.testing.assert_allclose(s["adjusted_rate"], s["ratio"] * ref["reference_rate"].iloc[0])
    # logistic score equations: pooled O = pooled E
    assert np.isclose(s["observed"].sum(), s["expected"].sum(), rtol=1e-9)


def test_standardized_ratio_external_model_against_R_glm(casemix, tmp_path):
    ext = casemix[casemix["site"].isin(["north", "south"])]
    model = iopstats.fit_case_mix(ext, "y", ["sex", "age"], source="north and south")
    coef = _csv("units_casemix_external_coef.csv")
    mine = [model.coef["intercept"], model.coef["sex[male]"], model.coef["age[30-44]"], model.coef["age[45+]"]]
    np.testing.assert_allclose(mine, coef["coef"], rtol=1e-8)
    path = model.save(tmp_path / "model.json")
    loaded = CaseMixModel.load(path)
    assert loaded == model
    text = path.read_text()
    assert "north" not in text.replace("north and south", "")  # no records, no unit labels
    res = iopstats.standardized_ratio(casemix, "site", "y", model=path)
    ref = _csv("units_casemix_expected.csv").query("model == 'external'").sort_values("unit").reset_index(drop=True)
    np.testing.assert_allclose(res.summary["expected"], ref["expected"], rtol=1e-8)
    np.testing.assert_allclose(res.summary[["ci_low", "ci_high"]], ref[["ci_low", "ci_high"]], rtol=1e-8)
    np.testing.assert_allclose(res.reference_rate, ref["reference_rate"].iloc[0])


# ------------------------------------------------------------------ funnel


def test_funnel_exact_limits_against_R_qbinom_qpois():
    ref = _csv("units_funnel_exact.csv")
    for (stat, target), g in ref.groupby(["statistic", "target"]):
        got = exact_funnel_limits(g["n"], target, stat)
        for c in ("lower_95", "upper_95", "lower_998", "upper_998"):
            np.testing.assert_allclose(got[c], g[c], atol=1e-12, err_msg=f"{stat} {c}")


@pytest.mark.parametrize("statistic", ["proportion", "ratio"])
def test_funnel_overdispersion_against_R_funnelplotr_formulas(statistic):
    data = _csv("units_funnel_data.csv")
    fit = _csv("units_funnel_od_fit.csv").set_index("statistic").loc[statistic]
    ref = _csv(f"units_funnel_od_{statistic}.csv")
    if statistic == "proportion":
        rows = pd.DataFrame({"unit": np.repeat(data["unit"], 2), "y": [1, 0] * len(data),
                             "n": np.ravel(np.c_[data["events"], data["n"] - data["events"]])})
        kw = dict(outcome="y", weights="n")
    else:
        rows = pd.DataFrame({"unit": data["unit"], "observed": data["events"], "expected": ref["expected"]})
        kw = dict(statistic="ratio")
    add = iopstats.funnel(rows, "unit", overdispersion="additive", **kw)
    mult = iopstats.funnel(rows, "unit", overdispersion="multiplicative", **kw)
    np.testing.assert_allclose([add.target, add.phi, add.tau2], [fit["target"], fit["phi"], fit["tau2"]], rtol=1e-10)
    assert add.adjusted and mult.adjusted
    np.testing.assert_allclose(add.summary["z"], ref["z"], rtol=1e-10)
    for tag in ("95", "998"):
        for side in ("lower", "upper"):
            np.testing.assert_allclose(add.summary[f"{side}_{tag}"], ref[f"add_{side}_{tag}"], rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(mult.summary[f"{side}_{tag}"], ref[f"mult_{side}_{tag}"], rtol=1e-10,
                                       atol=1e-14)


# ------------------------------------------------------------------ control charts


def test_anhoej_limits_against_R_qbinom():
    ref = _csv("units_anhoej_limits.csv")
    for m, lr, cmin in ref.itertuples(index=False):
        r = runs_analysis(np.r_[np.ones(m // 2), -np.ones(m - m // 2)], 0.0)
        assert r["n_useful"] == m
        assert (r["longest_run_max"], r["crossings_min"]) == (lr, cmin)


def test_control_chart_p_and_laney_against_R_qicharts2_formulas():
    ref = _csv("units_control_chart.csv")
    rows = pd.DataFrame({"period": np.repeat(ref["period"], 2), "y": [1, 0] * len(ref),
                         "n": np.ravel(np.c_[ref["events"], ref["n"] - ref["events"]])})
    p = iopstats.control_chart(rows, "period", "y", weights="n", chart="p")
    pp = iopstats.control_chart(rows, "period", "y", weights="n", chart="p_prime")
    np.testing.assert_allclose(p.summary["center"], ref["center"], rtol=1e-12)
    np.testing.assert_allclose(p.summary[["lcl", "ucl"]], ref[["p_lcl", "p_ucl"]], rtol=1e-12)
    np.testing.assert_allclose(pp.summary[["lcl", "ucl"]], ref[["pp_lcl", "pp_ucl"]], rtol=1e-12)
    np.testing.assert_allclose(pp.runs["sigma_z"], ref["sigma_z"].iloc[0], rtol=1e-12)
    assert p.runs["longest_run"].iloc[0] == ref["longest_run"].iloc[0]
    assert p.runs["crossings"].iloc[0] == ref["crossings"].iloc[0]


def test_control_chart_u_and_u_prime_against_R_qicharts2_formulas():
    ref = _csv("units_u_chart.csv")
    rows = ref[["period", "events", "exposure"]]
    u = iopstats.control_chart(rows, "period", "events", chart="u", exposure="exposure")
    up = iopstats.control_chart(rows, "period", "events", chart="u_prime", exposure="exposure")
    np.testing.assert_allclose(u.summary["center"], ref["center"], rtol=1e-12)
    np.testing.assert_allclose(u.summary[["lcl", "ucl"]], ref[["u_lcl", "u_ucl"]], rtol=1e-12)
    np.testing.assert_allclose(up.summary[["lcl", "ucl"]], ref[["up_lcl", "up_ucl"]], rtol=1e-12)
    np.testing.assert_allclose(up.runs["sigma_z"], ref["sigma_z"].iloc[0], rtol=1e-12)
