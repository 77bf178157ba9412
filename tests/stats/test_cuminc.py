"""cumulative_incidence() against R cmprsk 2.2.11 / survival 3.5.3 (tests/reference/survival/).

R calls (tests/reference/survival/make_reference.R):
    fit <- cuminc(cr$time, cr$cause, cr$group, cencode = 0)          # estimates, variances, Gray
    timepoints(fit[curve], sort(unique(time in group)))              # -> cuminc_table.csv
    cuminc(cr$time, cr$cause, cr$group, cr$stratum, cencode = 0)     # stratified Gray -> gray_test.csv
    cuminc(ctn$cr_time, ctn$cr_cause, ctn$arm_code, cencode = 0)     # CTN-0094 weeks, 6 arms
    survfit(Surv(time, factor(cause, 0:3)) ~ group, data = cr)       # Aalen-Johansen cross-check
CI in R from cuminc's est/var: est^exp(-/+ qnorm(.975) * sqrt(var) / (est * log(est))).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse
from iopstats.stats.cuminc import cumulative_incidence

REF = Path(__file__).resolve().parents[1] / "reference" / "survival"
RTOL = 1e-6

CR = pd.read_csv(REF / "competing_risks.csv")
_CTN = pd.read_csv(REF / "ctn0094_outcomes.csv")
# same derivation as make_reference.R
CTN = pd.DataFrame({
    "time": _CTN["ctn0094_relapse_time"],
    "cause": np.where(_CTN["ctn0094_relapse_event"] == 0, 0,
                      np.where((_CTN["ctn0094_dropout_event"] == 1)
                               & (_CTN["ctn0094_dropout_time"] == _CTN["ctn0094_relapse_time"]), 2, 1)),
    "group": _CTN["arm"].str.replace(r"[^A-Za-z]+", "_", regex=True),
})


def _compare_table(table, ref):
    t = table.assign(cause=table["cause"].astype(str), group=table["group"].astype(str))
    r = ref.assign(cause=ref["cause"].astype(str), group=ref["group"].astype(str))
    m = t.merge(r, on=["group", "cause", "time"], how="outer", suffixes=("", "_r"), indicator=True)
    assert (m["_merge"] == "both").all(), "rows differ from R"
    for col in ["estimate", "variance", "ci_low", "ci_high"]:
        ours, theirs = m[col].to_numpy(float), m[col + "_r"].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=col)
        ok = ~np.isnan(theirs)
        np.testing.assert_allclose(ours[ok], theirs[ok], rtol=RTOL, atol=1e-14, err_msg=col)


def test_cuminc_estimate_variance_ci_against_R():
    res = cumulative_incidence(CR, "time", "cause", by="group")
    ref = pd.read_csv(REF / "cuminc_table.csv").query("name == 'cr_group'")
    _compare_table(res.table, ref)


def test_cuminc_pooled_against_R():
    res = cumulative_incidence(CR, "time", "cause")
    ref = pd.read_csv(REF / "cuminc_table.csv").query("name == 'cr_pooled'")
    _compare_table(res.table, ref)
    assert res.gray is None


def test_cuminc_ctn_weeks_against_R():
    res = cumulative_incidence(CTN, "time", "cause", by="group")
    _compare_table(res.table, pd.read_csv(REF / "cuminc_table_ctn.csv"))


def test_cuminc_estimate_against_R_survfit_multistate():
    res = cumulative_incidence(CR, "time", "cause", by="group").table
    ref = pd.read_csv(REF / "aalen_johansen_survfit.csv")
    for k in (1, 2, 3):
        ours = res[res["cause"] == k].merge(ref, on=["group", "time"])
        assert len(ours) == len(ref)
        np.testing.assert_allclose(ours["estimate"], ours[f"p{k}"], rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize(
    "name, data, strata",
    [("cr_group", CR, None), ("cr_group_strata", CR, "stratum"), ("ctn_arm", CTN, None)],
)
def test_cuminc_gray_test_against_R(name, data, strata):
    gray = cumulative_incidence(data, "time", "cause", by="group", strata=strata).gray
    ref = pd.read_csv(REF / "gray_test.csv").query("name == @name")
    assert gray["cause"].astype(str).tolist() == ref["cause"].astype(str).tolist()
    np.testing.assert_allclose(gray["statistic"], ref["statistic"], rtol=RTOL)
    assert (gray["df"].to_numpy() == ref["df"].to_numpy()).all()
    np.testing.assert_allclose(gray["p_value"], ref["p_upper"], rtol=RTOL)


def test_cuminc_string_causes_and_censor_code():
    labels = {0: "open", 1: "completed", 2: "dropped_out", 3: "transferred"}
    df = CR.assign(cause=CR["cause"].map(labels))
    res = cumulative_incidence(df, "time", "cause", by="group", censor_code="open")
    base = cumulative_incidence(CR, "time", "cause", by="group")
    assert res.table["cause"].unique().tolist() == ["completed", "dropped_out", "transferred"]
    np.testing.assert_array_equal(res.table["estimate"], base.table["estimate"])
    np.testing.assert_array_equal(res.gray["statistic"], base.gray["statistic"])


def test_cuminc_sums_with_km_to_one():
    # all-cause: sum_k F_k(t) = 1 - KM(t) at every time
    res = cumulative_incidence(CR, "time", "cause", by="group").table
    total = res.groupby(["group", "time"])["estimate"].sum()
    from iopstats.stats.kaplan_meier import kaplan_meier

    km = kaplan_meier(CR.assign(e=(CR["cause"] > 0).astype(int)), "time", "e", by="group").table
    km = km.set_index(["group", "time"])["survival"]
    np.testing.assert_allclose(total.loc[km.index], 1 - km, rtol=1e-12, atol=1e-14)


def test_cuminc_incidence_at():
    res = cumulative_incidence(CR, "time", "cause", by="group")
    at = res.incidence_at([0, 10, 10.5, 1000])
    tab = res.table
    row = tab[(tab["group"] == "b") & (tab["cause"] == 2) & (tab["time"] == 10)].iloc[0]
    got = at[(at["group"] == "b") & (at["cause"] == 2)].set_index("time")
    assert got.loc[0.0, "estimate"] == 0 and got.loc[0.0, "variance"] == 0
    assert got.loc[10.0, "estimate"] == row["estimate"] == got.loc[10.5, "estimate"]
    assert got.loc[10.5, "variance"] == row["variance"]
    assert np.isnan(got.loc[1000.0, "estimate"])


@pytest.mark.parametrize("strata", [None, "stratum"])
def test_cuminc_collapsed_weights_equal_row_level(strata):
    keys = ["group", "time", "cause"] + ([strata] if strata else [])
    row = cumulative_incidence(CR, "time", "cause", by="group", strata=strata)
    agg = collapse(CR, keys)
    col = cumulative_incidence(agg, "time", "cause", by="group", strata=strata, weights="n")
    pd.testing.assert_frame_equal(row.table, col.table)
    pd.testing.assert_frame_equal(row.summary, col.summary)
    pd.testing.assert_frame_equal(row.gray, col.gray, rtol=1e-12)


def test_cuminc_does_not_modify_input():
    df = CR.copy()
    df.loc[::13, "cause"] = np.nan
    df.loc[::17, "group"] = None
    before = df.copy()
    res = cumulative_incidence(df, "time", "cause", by="group")
    pd.testing.assert_frame_equal(df, before)
    assert any("rows dropped" in r for r in res.remarks)


def test_cuminc_singular_gray_gives_nan_with_remark():
    # cause 3 happens only when group b is no longer at risk: its Gray variance is 0.
    # R: cuminc(c(1,1,2,3,4,5), c(0,1,1,3,1,0), c("b","b","a","a","a","a"))$Tests
    #    cause 1: stat 2, pv 0.1572992; cause 3: stat -1 (singular), pv 1
    df = pd.DataFrame({"t": [1, 1, 2, 3, 4, 5], "c": [0, 1, 1, 3, 1, 0], "g": list("bbaaaa")})
    res = cumulative_incidence(df, "t", "c", by="g")
    gray = res.gray.set_index("cause")
    assert gray.loc[1, "statistic"] == pytest.approx(2.0, rel=1e-12)
    assert gray.loc[1, "p_value"] == pytest.approx(0.1572992, rel=1e-6)
    assert np.isnan(gray.loc[3, "statistic"]) and np.isnan(gray.loc[3, "p_value"])
    assert any("Gray's test for cause 3" in r for r in res.remarks)


def test_cuminc_one_group_has_no_test():
    res = cumulative_incidence(CR[CR["group"] == "a"], "time", "cause", by="group")
    assert res.gray is None
    assert any("Only one group" in r for r in res.remarks)


@pytest.mark.parametrize(
    "change, kwargs, match",
    [
        (lambda d: d.assign(time=-d["time"]), {}, "negative time"),
        (lambda d: d.assign(cause=0), {}, "every row is censored"),
        (lambda d: d, {"by": "arm"}, "by column not found"),
        (lambda d: d, {"confidence": 95}, "confidence"),
        (lambda d: d.iloc[:0], {}, "empty"),
    ],
)
def test_cuminc_bad_input_raises_iopstats_error(change, kwargs, match):
    with pytest.raises(IopstatsError, match=match):
        cumulative_incidence(change(CR.copy()), "time", "cause", **kwargs)


def test_cuminc_remarks_when_censor_code_never_matches():
    res = cumulative_incidence(CR, "time", "cause", by="group", censor_code="censored")
    assert any("every episode is counted as an event" in r for r in res.remarks)
    assert 0 in res.table["cause"].unique()  # 0 became a cause, visibly
