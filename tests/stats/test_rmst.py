"""rmst_difference() against R survival / survRM2 formulas (tests/reference/rmst/rmst_reference.R).

Real data: addicts (Caplehorn & Bell) and CTN-0094 dropout by arm; tied synthetic data
(whole days, clients with several episodes). Robust (IPTW, case-weighted, clustered) RMST
standard errors are checked against sqrt(sum_c dRMST_c^2) built in R from
survfit(..., influence=TRUE).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats import rmst_difference
from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse

HERE = Path(__file__).resolve().parents[1] / "reference"
REF = HERE / "rmst"
ADDICTS = pd.read_csv(REF / "addicts_w.csv")
CTN = pd.read_csv(HERE / "survival" / "ctn0094_outcomes.csv")
TIED = pd.read_csv(REF / "tied.csv")
ADJ = pd.read_csv(HERE / "adjust" / "adjust_data.csv")
SETS = {
    "addicts": (ADDICTS, "survt", "status", "clinic"),
    "ctn": (CTN, "ctn0094_dropout_time", "ctn0094_dropout_event", "arm"),
    "tied": (TIED, "time", "event", "group"),
}
ROBUST = {  # name -> (data, time, event, by, case weights, cluster)
    "addicts_w": (ADDICTS, "survt", "status", "clinic", "w", None),
    "addicts_cl": (ADDICTS, "survt", "status", "clinic", None, "cl"),
    "addicts_w_cl": (ADDICTS, "survt", "status", "clinic", "w", "cl"),
    "tied_w": (TIED, "time", "event", "group", "w", None),
    "tied_cl": (TIED, "time", "event", "group", None, "client"),
    "tied_w_cl": (TIED, "time", "event", "group", "w", "client"),
    "adjust_iptw": (ADJ, "days", "left", "level_of_care", "iptw", None),
}


def _groups_as_text(df: pd.DataFrame, col: str = "group") -> pd.Series:
    return df[col].astype(str)


@pytest.mark.parametrize("name", list(SETS))
def test_rmst_difference_against_R(name):
    data, t, e, by = SETS[name]
    groups = pd.read_csv(REF / "rmst_groups.csv")
    con = pd.read_csv(REF / "rmst_contrasts.csv")
    for tau in groups.loc[groups["data"] == name, "tau"].unique():
        res = rmst_difference(data, t, e, by=by, tau=tau)
        assert res.variance == "greenwood"
        g = groups[(groups["data"] == name) & (groups["tau"] == tau)]
        np.testing.assert_allclose(res.groups["rmst"], g["rmst"], rtol=1e-10)
        np.testing.assert_allclose(res.groups["se"], g["se"], rtol=1e-10)
        c = con[(con["data"] == name) & (con["tau"] == tau)].reset_index(drop=True)
        assert list(_groups_as_text(res.summary)) == list(_groups_as_text(c))
        # R (survRM2) reports group minus reference; iopstats reference minus group (as compare_rates)
        s = res.summary
        expect = {"difference": -c["difference"], "se": c["se"], "ci_low": -c["ci_high"], "ci_high": -c["ci_low"],
                  "p_value": c["p_value"], "ratio": 1 / c["ratio"], "ratio_ci_low": 1 / c["ratio_ci_high"],
                  "ratio_ci_high": 1 / c["ratio_ci_low"], "ratio_p_value": c["ratio_p_value"]}
        for col, want in expect.items():
            np.testing.assert_allclose(s[col], want, rtol=1e-9, atol=1e-14, err_msg=col)


@pytest.mark.parametrize("name", list(ROBUST))
def test_rmst_robust_against_R(name):
    data, t, e, by, w, cl = ROBUST[name]
    groups = pd.read_csv(REF / "rmst_robust_groups.csv")
    con = pd.read_csv(REF / "rmst_robust_contrasts.csv")
    for tau in groups.loc[groups["data"] == name, "tau"].unique():
        res = rmst_difference(data, t, e, by=by, tau=tau, case_weights=w, cluster=cl)
        assert res.variance == "robust"
        g = groups[(groups["data"] == name) & (groups["tau"] == tau)]
        np.testing.assert_allclose(res.groups["rmst"], g["rmst"], rtol=1e-10)
        np.testing.assert_allclose(res.groups["se"], g["se"], rtol=1e-9)
        c = con[(con["data"] == name) & (con["tau"] == tau)].reset_index(drop=True)
        np.testing.assert_allclose(res.summary["difference"], -c["difference"], rtol=1e-10)  # reference minus
        np.testing.assert_allclose(res.summary["se"], c["se"], rtol=1e-9)
        np.testing.assert_allclose(res.summary["ratio"], 1 / c["ratio"], rtol=1e-10)
        np.testing.assert_allclose(np.log(res.summary["ratio_ci_high"] / res.summary["ratio"]),
                                   1.959963984540054 * c["log_ratio_se"], rtol=1e-9)


def test_rmst_se_is_of_the_estimate_not_of_the_truncated_time():
    """No censoring: RMST = mean(min(T, tau)); its se is sd/sqrt(n) (divisor n), not sd (lifelines)."""
    rng = np.random.default_rng(5)
    t = np.round(rng.exponential(40, size=400)) + 1
    df = pd.DataFrame({"t": t, "e": 1, "g": np.repeat(["a", "b"], 200)})
    res = rmst_difference(df, "t", "e", by="g", tau=60)
    for lab in ["a", "b"]:
        x = np.minimum(t[df["g"] == lab], 60)
        row = res.groups[res.groups["group"] == lab].iloc[0]
        assert row["rmst"] == pytest.approx(x.mean(), rel=1e-12)
        assert row["se"] == pytest.approx(np.sqrt(np.mean((x - x.mean()) ** 2) / len(x)), rel=1e-10)
        assert row["se"] < x.std() / 10  # far from the sd of the truncated variable


def test_rmst_collapsed_table_equals_rows():
    rows = rmst_difference(CTN, "ctn0094_dropout_time", "ctn0094_dropout_event", by="arm", tau=20)
    table = collapse(CTN, ["arm", "ctn0094_dropout_time", "ctn0094_dropout_event"])
    coll = rmst_difference(table, "ctn0094_dropout_time", "ctn0094_dropout_event", by="arm", tau=20, weights="n")
    pd.testing.assert_frame_equal(rows.summary, coll.summary, rtol=1e-12)
    pd.testing.assert_frame_equal(rows.groups, coll.groups, rtol=1e-12)


def test_rmst_iptw_collapsed_equals_rows():
    """IPTW on a collapsed table: frequency weights f times case weights w give the row-level numbers."""
    adj = ADJ.copy()
    adj["iptw"] = adj["iptw"].round(2)
    rows = rmst_difference(adj, "days", "left", by="level_of_care", tau=60, case_weights="iptw")
    table = adj.groupby(["level_of_care", "days", "left", "iptw"], as_index=False).size()
    assert len(table) < len(adj)
    coll = rmst_difference(table, "days", "left", by="level_of_care", tau=60, case_weights="iptw", weights="size")
    np.testing.assert_allclose(coll.summary["se"], rows.summary["se"], rtol=1e-12)
    np.testing.assert_allclose(coll.groups["rmst"], rows.groups["rmst"], rtol=1e-12)


def test_rmst_propensity_uses_the_iptw_weights():
    from iopstats import iptw

    prop = iptw(ADJ, "level_of_care", ["sev", "sex"], reference="iop")
    a = rmst_difference(ADJ, "days", "left", by="level_of_care", tau=60, propensity=prop, reference="iop")
    b = rmst_difference(ADJ.assign(w=prop.weights), "days", "left", by="level_of_care", tau=60,
                        case_weights="w", reference="iop")
    pd.testing.assert_frame_equal(a.summary, b.summary)
    assert "inverse probability" in " ".join(a.remarks)


def test_rmst_non_integer_frequency_weights_get_robust_variance():
    res = rmst_difference(ADDICTS, "survt", "status", by="clinic", tau=365, weights="w")
    ref = rmst_difference(ADDICTS, "survt", "status", by="clinic", tau=365, case_weights="w")
    assert res.variance == "robust"
    pd.testing.assert_frame_equal(res.summary, ref.summary)


def test_rmst_bad_input():
    with pytest.raises(IopstatsError, match="tau"):
        rmst_difference(ADDICTS, "survt", "status", by="clinic", tau=-1)
    with pytest.raises(IopstatsError, match="last observed time"):
        rmst_difference(ADDICTS, "survt", "status", by="clinic", tau=5000)
    with pytest.raises(IopstatsError, match="reference"):
        rmst_difference(ADDICTS, "survt", "status", by="clinic", tau=365, reference=9)


def test_rmst_interval_coverage_by_simulation():
    """95% interval of the RMST difference covers the true difference about 95% of the time."""
    rng = np.random.default_rng(11)
    tau, lam = 30.0, np.array([1 / 40, 1 / 25])
    truth = (1 - np.exp(-lam * tau)) / lam
    hits = 0
    for _ in range(300):
        n = 150
        g = np.repeat([0, 1], n)
        t_ev = rng.exponential(1 / lam[g])
        c = rng.uniform(10, 60, size=2 * n)
        df = pd.DataFrame({"t": np.minimum(t_ev, c), "e": (t_ev <= c).astype(int), "g": g})
        r = rmst_difference(df, "t", "e", by="g", tau=tau).summary.iloc[0]
        hits += r["ci_low"] <= truth[0] - truth[1] <= r["ci_high"]  # reference (g = 0) minus level
    assert 0.92 <= hits / 300 <= 0.98


def test_lifelines_returns_the_variance_of_the_truncated_time_not_of_the_estimate():
    """lifelines' restricted_mean_survival_time(return_variance=True) is var(min(T, tau)): n times ours."""
    import warnings

    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    rng = np.random.default_rng(5)
    t = np.round(rng.exponential(40, size=400)) + 1
    df = pd.DataFrame({"t": t, "e": 1, "g": np.repeat(["a", "b"], 200)})
    ta = t[:200]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' numerical integration warns
        kmf = KaplanMeierFitter().fit(ta, np.ones(200))
        mean_ll, var_ll = restricted_mean_survival_time(kmf, t=60, return_variance=True)
    ours = rmst_difference(df, "t", "e", by="g", tau=60).groups.iloc[0]
    x = np.minimum(ta, 60)
    assert mean_ll == pytest.approx(ours["rmst"], rel=1e-6)
    assert np.sqrt(var_ll) == pytest.approx(x.std(), rel=1e-3)  # sd of the truncated time
    assert ours["se"] == pytest.approx(x.std() / np.sqrt(200), rel=1e-10)  # se of the estimate
