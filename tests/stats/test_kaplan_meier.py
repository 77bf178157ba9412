"""kaplan_meier() against R survival 3.5.3 (reference values in tests/reference/survival/).

R calls (tests/reference/survival/make_reference.R), e.g.
    fit <- survfit(Surv(survt, status) ~ clinic, data = addicts, conf.type = "log")
    summary(fit, censored = TRUE)            # -> km_table.csv
    summary(fit, rmean = "common")$table     # -> km_summary.csv (rmean_type "common")
    summary(fit, rmean = 100)$table          # -> km_summary.csv (rmean_type "tau")
    summary(fit, times = c(0.5, 1, 7, 30, 90, 180, 365, 500))   # -> km_at.csv
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse
from iopstats.stats.kaplan_meier import kaplan_meier

REF = Path(__file__).resolve().parents[1] / "reference" / "survival"
RTOL = 1e-6

ADDICTS = pd.read_csv(REF / "addicts.csv")
CTN = pd.read_csv(REF / "ctn0094_outcomes.csv")
HALF = pd.read_csv(REF / "median_half.csv")

# name in the R script -> (data, time, event, by)
CASES = {
    "addicts_clinic": (ADDICTS, "survt", "status", "clinic"),
    "addicts_pooled": (ADDICTS, "survt", "status", None),
    "ctn_arm_dropout": (CTN, "ctn0094_dropout_time", "ctn0094_dropout_event", "arm"),
    "ctn_project_dropout": (CTN, "ctn0094_dropout_time", "ctn0094_dropout_event", "project"),
    "ctn_relapse_pooled": (CTN, "ctn0094_relapse_time", "ctn0094_relapse_event", None),
    "median_half": (HALF, "time", "event", "case"),
}
CONF_TYPES = ["log", "log-log", "plain"]


def _fit(name, conf_type, **kw):
    data, time, event, by = CASES[name]
    return kaplan_meier(data, time, event, by=by, conf_type=conf_type, **kw)


def _ref(file, name, conf_type):
    r = pd.read_csv(REF / file)
    r = r[(r["name"] == name) & (r["conf_type"] == conf_type)].copy()
    r["group"] = r["group"].astype(str)
    return r.reset_index(drop=True)


def _close(ours, theirs, what):
    ours = np.asarray(ours, dtype=float)
    theirs = np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, what
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=what)
    ok = ~np.isnan(theirs)
    np.testing.assert_allclose(ours[ok], theirs[ok], rtol=RTOL, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("conf_type", CONF_TYPES)
@pytest.mark.parametrize("name", list(CASES))
def test_km_table_against_R(name, conf_type):
    tab = _fit(name, conf_type).table
    ref = _ref("km_table.csv", name, conf_type)
    assert tab["group"].astype(str).tolist() == ref["group"].tolist()
    for ours, theirs in [("time", "time"), ("n_at_risk", "n_risk"), ("n_events", "n_event"),
                         ("n_censored", "n_censor"), ("survival", "surv"), ("std_err", "std_err"),
                         ("ci_low", "lower"), ("ci_high", "upper")]:
        _close(tab[ours], ref[theirs], f"{name} {conf_type} {ours}")


def test_km_log_ci_against_R():
    # the R default, spelled out on the textbook data set
    tab = _fit("addicts_clinic", "log").table
    ref = _ref("km_table.csv", "addicts_clinic", "log")
    _close(tab["ci_low"], ref["lower"], "lower")
    _close(tab["ci_high"], ref["upper"], "upper")


@pytest.mark.parametrize("conf_type", CONF_TYPES)
@pytest.mark.parametrize("name", list(CASES))
def test_km_median_and_rmean_against_R(name, conf_type):
    summ = _fit(name, conf_type).summary
    ref = _ref("km_summary.csv", name, conf_type)
    common = ref[ref["rmean_type"] == "common"]
    assert summ["group"].astype(str).tolist() == common["group"].tolist()
    for col in ["n", "events", "median", "median_ci_low", "median_ci_high", "rmean", "rmean_se"]:
        _close(summ[col], common[col], f"{name} {conf_type} {col}")


@pytest.mark.parametrize("name", list(CASES))
def test_km_rmean_tau_against_R(name):
    summ = _fit(name, "log", tau=100).summary
    ref = _ref("km_summary.csv", name, "log")
    ref = ref[ref["rmean_type"] == "tau"]
    _close(summ["rmean"], ref["rmean"], f"{name} rmean")
    _close(summ["rmean_se"], ref["rmean_se"], f"{name} rmean_se")
    assert (summ["tau"] == 100).all()


def test_km_median_at_exactly_half_against_R():
    # curve a: S = .75, .5, .25, 0 at days 1..4 -> median midway between 2 and 3.
    # curve b: S = .5 from day 2, censored at 3, drops at 4 -> midpoint with the next
    # *event* time (4), not the censoring time.
    summ = kaplan_meier(HALF, "time", "event", by="case").summary.set_index("group")
    assert summ.loc["a", "median"] == 2.5
    assert summ.loc["b", "median"] == 3.0
    ref = _ref("km_summary.csv", "median_half", "log").query("rmean_type == 'common'").set_index("group")
    assert summ.loc["a", "median_ci_low"] == ref.loc["a", "median_ci_low"] == 1
    assert np.isnan(summ.loc["a", "median_ci_high"]) and np.isnan(ref.loc["a", "median_ci_high"])


@pytest.mark.parametrize("conf_type", CONF_TYPES)
@pytest.mark.parametrize("name", list(CASES))
def test_km_survival_at_against_R(name, conf_type):
    times = [0.5, 1, 7, 30, 90, 180, 365, 500]
    at = _fit(name, conf_type).survival_at(times)
    at["group"] = at["group"].astype(str)
    ref = _ref("km_at.csv", name, conf_type).rename(columns={"std_err": "r_std_err"})
    merged = at.merge(ref, on=["group", "time"], how="left", indicator=True)
    # R drops times after a curve's last observation; ours are NaN there
    gone = merged["_merge"] == "left_only"
    assert merged.loc[gone, "survival"].isna().all()
    m = merged[~gone]
    assert len(m) == len(ref)
    for ours, theirs in [("survival", "surv"), ("std_err", "r_std_err"), ("ci_low", "lower"),
                         ("ci_high", "upper")]:
        _close(m[ours], m[theirs], f"{name} {conf_type} {ours}")


def test_km_weights_match_R_case_weights():
    # R: survfit(Surv(survt, status) ~ clinic, data = agg, weights = n) on the collapsed table
    agg = collapse(ADDICTS, ["clinic", "survt", "status"])
    tab = kaplan_meier(agg, "survt", "status", by="clinic", weights="n").table
    ref = pd.read_csv(REF / "km_weighted_addicts.csv")
    for ours, theirs in [("time", "time"), ("n_at_risk", "n_risk"), ("n_events", "n_event"),
                         ("survival", "surv"), ("std_err", "std_err"), ("ci_low", "lower"),
                         ("ci_high", "upper")]:
        _close(tab[ours], ref[theirs], ours)


@pytest.mark.parametrize("conf_type", CONF_TYPES)
def test_km_collapsed_weights_equal_row_level(conf_type):
    row = kaplan_meier(CTN, "ctn0094_dropout_time", "ctn0094_dropout_event", by="arm", conf_type=conf_type)
    agg = collapse(CTN, ["arm", "ctn0094_dropout_time", "ctn0094_dropout_event"])
    col = kaplan_meier(agg, "ctn0094_dropout_time", "ctn0094_dropout_event", by="arm",
                       conf_type=conf_type, weights="n")
    pd.testing.assert_frame_equal(row.table, col.table)
    pd.testing.assert_frame_equal(row.summary, col.summary)
    pd.testing.assert_frame_equal(row.survival_at([3, 10, 30]), col.survival_at([3, 10, 30]))


def test_km_does_not_modify_input():
    df = CTN.copy()
    df.loc[::7, "arm"] = None
    df.loc[::11, "ctn0094_dropout_time"] = np.nan
    before = df.copy()
    kaplan_meier(df, "ctn0094_dropout_time", "ctn0094_dropout_event", by="arm", weights=None)
    pd.testing.assert_frame_equal(df, before)


def test_km_drops_missing_rows_with_remark():
    df = ADDICTS.copy()
    df.loc[[0, 1], "survt"] = np.nan
    df.loc[[2], "clinic"] = np.nan
    res = kaplan_meier(df, "survt", "status", by="clinic")
    assert res.summary["n"].sum() == len(df) - 3
    assert any("3 of 238 rows dropped" in r for r in res.remarks)
    expected = kaplan_meier(df.dropna(subset=["survt", "clinic"]), "survt", "status", by="clinic")
    pd.testing.assert_frame_equal(res.table, expected.table)


def test_km_bool_event_and_categorical_group():
    df = ADDICTS.assign(status=ADDICTS["status"].astype(bool),
                        clinic=pd.Categorical(ADDICTS["clinic"].map({1: "one", 2: "two"}),
                                              categories=["two", "one", "three"]))
    res = kaplan_meier(df, "survt", "status", by="clinic")
    assert res.summary["group"].tolist() == ["two", "one"]  # category order, unused dropped
    ref = kaplan_meier(ADDICTS, "survt", "status", by="clinic").summary
    np.testing.assert_allclose(res.summary["median"].to_numpy()[::-1], ref["median"].to_numpy(), equal_nan=True)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d.assign(survt=d["survt"] - 500), "negative time"),
        (lambda d: d.assign(status=d["status"] * 2), "0/1"),
        (lambda d: d.assign(status="yes"), "0/1"),
        (lambda d: d.assign(survt="ten"), "numeric"),
        (lambda d: d.assign(survt=np.inf), "infinite"),
        (lambda d: d.assign(survt=np.nan), "no usable rows"),
        (lambda d: d.iloc[:0], "empty"),
    ],
)
def test_km_bad_input_raises_iopstats_error(change, match):
    with pytest.raises(IopstatsError, match=match):
        kaplan_meier(change(ADDICTS.copy()), "survt", "status", by="clinic")


def test_km_bad_arguments_raise_iopstats_error():
    with pytest.raises(IopstatsError, match="time column not found"):
        kaplan_meier(ADDICTS, "days", "status")
    with pytest.raises(IopstatsError, match="by column not found"):
        kaplan_meier(ADDICTS, "survt", "status", by="site")
    with pytest.raises(IopstatsError, match="conf_type"):
        kaplan_meier(ADDICTS, "survt", "status", conf_type="arcsin")
    with pytest.raises(IopstatsError, match="weights"):
        kaplan_meier(ADDICTS.assign(w=-1), "survt", "status", weights="w")
    with pytest.raises(IopstatsError, match="DataFrame"):
        kaplan_meier(ADDICTS.to_numpy(), "survt", "status")


def test_km_result_renders_html():
    res = _fit("addicts_clinic", "log")
    html = res.to_html()
    assert "Kaplan-Meier" in html and "median" in html


def test_km_confidence_level_sets_the_normal_quantile():
    from scipy.stats import norm

    t95 = kaplan_meier(ADDICTS, "survt", "status").table
    t90 = kaplan_meier(ADDICTS, "survt", "status", confidence=0.90).table
    z = norm.ppf(0.95)
    ok = t90["survival"] > 0
    se_log = t95["std_err"][ok] / t95["survival"][ok]
    np.testing.assert_allclose(t90["ci_low"][ok], t95["survival"][ok] * np.exp(-z * se_log), rtol=1e-12)
    assert (t90["ci_low"][ok] >= t95["ci_low"][ok]).all()


def test_two_sided_z_against_scipy_norm_ppf():
    # the stdlib quantile that keeps scipy.stats out of the import of kaplan_meier
    from scipy.stats import norm

    from iopstats._checks import two_sided_z

    for c in np.linspace(0.01, 0.999999, 500):
        assert abs(two_sided_z(c) - norm.ppf(1 - (1 - c) / 2)) < 1e-13


def test_kaplan_meier_does_not_import_scipy_stats():
    import subprocess
    import sys

    code = ("import sys, numpy as np, pandas as pd, iopstats\n"
            "df = pd.DataFrame({'t': [1, 2, 3, 4], 'e': [1, 0, 1, 1]})\n"
            "iopstats.kaplan_meier(df, 't', 'e')\n"
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
