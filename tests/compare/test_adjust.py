"""standardized_rates, iptw, iptw_rates, iptw_kaplan_meier, iptw_cox: behaviour and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from iopstats.compare.adjust import (
    IPTWResult,
    iptw,
    iptw_cox,
    iptw_kaplan_meier,
    iptw_rates,
    standardized_rates,
)
from iopstats.compare.rates import compare_rates
from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse


def frame(n: int = 600, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sev = rng.choice(["low", "mid", "high"], n, p=[0.45, 0.35, 0.2])
    sex = rng.choice(["female", "male"], n)
    s = (sev == "mid") * 0.8 + (sev == "high") * 1.6
    lg = np.column_stack([np.zeros(n), 0.4 - 0.6 * s, -1.0 + 0.9 * s + 0.3 * (sex == "male")])
    p = np.exp(lg) / np.exp(lg).sum(1, keepdims=True)
    loc = np.array(["iop", "outpatient", "residential"])[(rng.random(n)[:, None] > p.cumsum(1)).sum(1)]
    done = rng.random(n) < 1 / (1 + np.exp(-(0.5 - 0.7 * s + 0.4 * (loc == "residential"))))
    days = np.ceil(rng.exponential(30 * np.exp(-0.4 * s), n))
    left = rng.random(n) < 0.8
    return pd.DataFrame({"loc": loc, "sev": sev, "sex": sex, "done": done.astype(int), "days": days,
                         "left": left.astype(int)})


COVS = ["sev", "sex"]


def test_standardized_rates_equal_compare_rates_adjusted():
    df = frame()
    ours = standardized_rates(df, "done", COVS, treatment="loc").set_index("level")
    theirs = compare_rates(df, "done", by="loc", adjust=COVS).adjusted.set_index("level")
    for lv in theirs.index:
        assert ours.loc[lv, "adj_rate"] == pytest.approx(theirs.loc[lv, "adj_rate"], rel=1e-12)
        assert ours.loc["iop", "adj_rate"] == pytest.approx(theirs.loc[lv, "ref_adj_rate"], rel=1e-12)
        for a, b in [("adj_risk_difference", "adj_risk_difference"), ("rd_ci_low", "ci_low"),
                     ("rd_ci_high", "ci_high"), ("se", "se"), ("p_value", "p_value")]:
            assert ours.loc[lv, a] == pytest.approx(theirs.loc[lv, b], rel=1e-10), a
    assert ours.index.tolist() == ["iop", "outpatient", "residential"]
    assert np.isnan(ours.loc["iop", "adj_risk_difference"])


def test_frequency_weights_equal_row_level():
    df = frame()
    tab = collapse(df, ["loc", "sev", "sex", "done"])
    pd.testing.assert_frame_equal(
        standardized_rates(df, "done", COVS, treatment="loc").drop(columns="n"),
        standardized_rates(tab, "done", COVS, treatment="loc", weights="n").drop(columns="n"),
        rtol=1e-9)
    r_rows = iptw(df, "loc", COVS)
    r_tab = iptw(tab, "loc", COVS, weights="n")
    # the weight of a row equals the weight of its pattern
    merged = df.merge(tab.assign(w=r_tab.weights.to_numpy()), on=["loc", "sev", "sex", "done"], how="left")
    np.testing.assert_allclose(r_rows.weights.to_numpy(), merged["w"].to_numpy(), rtol=1e-10)
    pd.testing.assert_frame_equal(r_rows.balance, r_tab.balance, rtol=1e-9)
    pd.testing.assert_frame_equal(r_rows.summary.drop(columns=["n", "n_trimmed"]),
                                  r_tab.summary.drop(columns=["n", "n_trimmed"]), rtol=1e-9)
    pd.testing.assert_frame_equal(iptw_rates(df, "done", COVS, treatment="loc").drop(columns="n"),
                                  iptw_rates(tab, "done", COVS, treatment="loc", weights="n").drop(columns="n"),
                                  rtol=1e-9)


def test_survival_frequency_weights_equal_row_level():
    df = frame(300)
    tab = collapse(df, ["loc", "sev", "sex", "days", "left"])
    km_r = iptw_kaplan_meier(df, "days", "left", COVS, treatment="loc")
    km_t = iptw_kaplan_meier(tab, "days", "left", COVS, treatment="loc", weights="n")
    pd.testing.assert_frame_equal(km_r.table, km_t.table, rtol=1e-9)
    cx_r = iptw_cox(df, "days", "left", COVS, treatment="loc")
    cx_t = iptw_cox(tab, "days", "left", COVS, treatment="loc", weights="n")
    pd.testing.assert_frame_equal(cx_r.summary, cx_t.summary, rtol=1e-9)


def test_inputs_not_modified():
    df = frame(300)
    df["loc"] = df["loc"].astype("category")
    before = df.copy()
    standardized_rates(df, "done", COVS, treatment="loc")
    res = iptw(df, "loc", COVS, trim=0.95)
    iptw_rates(df, "done", propensity=res, treatment="loc")
    iptw_kaplan_meier(df, "days", "left", propensity=res, treatment="loc")
    iptw_cox(df, "days", "left", propensity=res, treatment="loc")
    pd.testing.assert_frame_equal(df, before)


def test_iptw_rates_against_statsmodels_wls_hc0():
    # Hajek weighted means with sandwich SE = WLS of y on level indicators, HC0
    df = frame()
    res = iptw(df, "loc", COVS)
    out = iptw_rates(df, "done", propensity=res, treatment="loc").set_index("level")
    X = pd.get_dummies(df["loc"], dtype=float)
    fit = sm.WLS(df["done"].astype(float), X, weights=res.weights).fit(cov_type="HC0")
    for lv in X.columns:
        assert out.loc[lv, "rate"] == pytest.approx(fit.params[lv], rel=1e-10)
    for lv in ["outpatient", "residential"]:
        c = np.zeros(3)
        c[list(X.columns).index("iop")], c[list(X.columns).index(lv)] = 1, -1
        se = float(np.sqrt(c @ fit.cov_params().to_numpy() @ c))
        assert out.loc[lv, "se"] == pytest.approx(se, rel=1e-8)


def test_ate_and_att_weights_by_hand_on_saturated_model():
    df = frame()
    res = iptw(df, "loc", ["sev"], stabilized=False)
    cell = pd.crosstab(df["sev"], df["loc"], normalize="index")
    e_own = np.array([cell.loc[s, lv] for s, lv in zip(df["sev"], df["loc"])])
    np.testing.assert_allclose(res.weights.to_numpy(), 1 / e_own, rtol=1e-8)
    st = iptw(df, "loc", ["sev"])
    share = df["loc"].map(df["loc"].value_counts(normalize=True)).to_numpy()
    np.testing.assert_allclose(st.weights.to_numpy(), share / e_own, rtol=1e-8)
    att = iptw(df, "loc", ["sev"], estimand="ATT", stabilized=False)
    e_ref = df["sev"].map(cell["iop"]).to_numpy()
    np.testing.assert_allclose(att.weights.to_numpy(), np.where(df["loc"] == "iop", 1.0, e_ref / e_own),
                               rtol=1e-8)
    # ATT weighting makes every level look like the IOP patients
    bal = att.balance
    assert bal["smd_after"].abs().max() < 1e-8
    assert np.allclose(bal["level_mean_weighted"], bal["ref_mean"])


def test_trim_caps_weights_and_counts_them():
    df = frame()
    raw = iptw(df, "loc", COVS)
    res = iptw(df, "loc", COVS, trim=0.9)
    cap = res.weights.max()
    assert cap < raw.weights.max()
    assert res.summary["n_trimmed"].sum() == int((raw.weights > cap + 1e-12).sum())
    assert "truncated at the 0.9 quantile" in res.remarks[0]


def test_missing_covariate_gets_no_weight():
    df = frame(300)
    df.loc[[3, 7], "sev"] = None
    df.loc[11, "loc"] = None
    res = iptw(df, "loc", COVS)
    assert res.weights.index.equals(df.index)
    assert res.weights[[3, 7, 11]].isna().all()
    assert res.weights.notna().sum() == 297
    assert res.n_dropped == 3
    km = iptw_kaplan_meier(df, "days", "left", propensity=res, treatment="loc")
    assert km.summary["n"].sum() == pytest.approx(res.weights.sum())


def test_positivity_and_extreme_weight_remarks():
    df = frame()
    # a level almost never chosen at high severity: propensity near 0 there
    df.loc[(df["sev"] == "high") & (df["loc"] == "outpatient"), "loc"] = "iop"
    df.loc[df.index[(df["sev"] == "high").to_numpy()][:1], "loc"] = "outpatient"
    res = iptw(df, "loc", COVS)
    text = " ".join(res.remarks)
    assert "Positivity" in text and "outpatient" in text
    assert "Extreme weights" in text
    assert isinstance(res, IPTWResult) and "<table" in res.to_html()
    assert repr(res).startswith("IPTWResult: IPTW (ATE) for loc")


def test_iptw_cox_uses_reference_as_baseline_and_robust_se():
    df = frame()
    fit = iptw_cox(df, "days", "left", COVS, treatment="loc", reference="outpatient")
    assert list(fit.summary.index) == ["loc[iop]", "loc[residential]"]
    assert fit.robust
    assert any("robust sandwich" in r for r in fit.remarks)


@pytest.mark.parametrize("kwargs, match", [
    ({"estimand": "ATC"}, "unknown estimand"),
    ({"trim": 0.3}, "trim must be"),
    ({"trim": "x"}, "trim must be"),
    ({"reference": "detox"}, "reference level not found"),
    ({"covariates": ["nope"]}, "column not found"),
    ({"covariates": []}, "at least one covariate"),
    ({"covariates": ["loc"]}, "used twice"),
])
def test_iptw_errors(kwargs, match):
    args = {"covariates": COVS, **kwargs}
    with pytest.raises(IopstatsError, match=match):
        iptw(frame(100), "loc", **args)


def test_other_errors():
    df = frame(100)
    with pytest.raises(IopstatsError, match="DataFrame"):
        iptw_kaplan_meier(df.to_dict(), "days", "left", COVS)
    with pytest.raises(IopstatsError, match="covariates="):
        iptw_cox(df, "days", "left", treatment="loc")
    with pytest.raises(IopstatsError, match="not aligned"):
        iptw_rates(df, "done", propensity=iptw(df.iloc[:50], "loc", COVS), treatment="loc")
    with pytest.raises(IopstatsError, match="result of iptw"):
        iptw_rates(df, "done", propensity="w", treatment="loc")
    with pytest.raises(IopstatsError, match="reference level not found"):
        standardized_rates(df, "done", COVS, treatment="loc", reference="detox")
    with pytest.raises(IopstatsError, match="used twice"):
        standardized_rates(df, "done", ["done"], treatment="loc")
    with pytest.raises(IopstatsError, match="whole numbers"):
        iptw_cox(df.assign(f=1.5), "days", "left", COVS, treatment="loc", weights="f")
    with pytest.raises(IopstatsError, match="only one level"):
        iptw(df.assign(loc="iop"), "loc", COVS)
