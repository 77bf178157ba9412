"""logrank() against R survival 3.5.3 survdiff (reference values in tests/reference/survival/).

R calls (tests/reference/survival/make_reference.R), e.g.
    survdiff(Surv(survt, status) ~ clinic, data = addicts)                     # addicts_clinic
    survdiff(Surv(survt, status) ~ clinic + strata(prison), data = addicts)    # ..._strata_prison
    survdiff(Surv(ctn0094_dropout_time, ctn0094_dropout_event) ~ arm, data = ctn)
    pairwise: survdiff(...) on each pair of arms, p.adjust(p, "holm") / "BH"
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse
from iopstats.stats.logrank import logrank

REF = Path(__file__).resolve().parents[1] / "reference" / "survival"
RTOL = 1e-6

ADDICTS = pd.read_csv(REF / "addicts.csv")
CTN = pd.read_csv(REF / "ctn0094_outcomes.csv")
CR = pd.read_csv(REF / "competing_risks.csv").assign(any_event=lambda d: (d["cause"] > 0).astype(int))

CASES = {
    "addicts_clinic": (ADDICTS, "survt", "status", "clinic", None),
    "addicts_clinic_strata_prison": (ADDICTS, "survt", "status", "clinic", "prison"),
    "ctn_arm_dropout": (CTN, "ctn0094_dropout_time", "ctn0094_dropout_event", "arm", None),
    "ctn_project_relapse": (CTN, "ctn0094_relapse_time", "ctn0094_relapse_event", "project", None),
    "cr_group_anycause": (CR, "time", "any_event", "group", None),
    "cr_group_anycause_strata": (CR, "time", "any_event", "group", "stratum"),
}


def _run(name, **kw):
    data, time, event, by, strata = CASES[name]
    return logrank(data, time, event, by=by, strata=strata, **kw)


@pytest.mark.parametrize("name", list(CASES))
def test_logrank_chisq_against_R(name):
    res = _run(name)
    ref = pd.read_csv(REF / "logrank_summary.csv").set_index("name").loc[name]
    np.testing.assert_allclose(res.summary["statistic"].iloc[0], ref["statistic"], rtol=RTOL)
    assert res.summary["df"].iloc[0] == ref["df"]
    np.testing.assert_allclose(res.summary["p_value"].iloc[0], ref["p_value"], rtol=RTOL)


@pytest.mark.parametrize("name", list(CASES))
def test_logrank_observed_expected_against_R(name):
    tab = _run(name).table
    ref = pd.read_csv(REF / "logrank_table.csv")
    ref = ref[ref["name"] == name]
    assert tab["group"].astype(str).tolist() == ref["group"].astype(str).tolist()
    for ours, theirs in [("n", "n"), ("observed", "observed"), ("expected", "expected"),
                         ("chisq_over_expected", "oe2_e"), ("chisq_over_variance", "oe2_v")]:
        np.testing.assert_allclose(tab[ours].to_numpy(float), ref[theirs].to_numpy(float), rtol=RTOL,
                                   err_msg=ours)


@pytest.mark.parametrize("method, column", [("holm", "p_holm"), ("bh", "p_bh")])
def test_logrank_pairwise_against_R(method, column):
    pw = _run("ctn_arm_dropout", pairwise=True, p_adjust=method).pairwise
    ref = pd.read_csv(REF / "logrank_pairwise_ctn_arm.csv")
    assert list(zip(pw["group1"], pw["group2"])) == list(zip(ref["group1"], ref["group2"]))
    np.testing.assert_allclose(pw["statistic"], ref["statistic"], rtol=RTOL)
    np.testing.assert_allclose(pw["p_value"], ref["p_value"], rtol=RTOL)
    np.testing.assert_allclose(pw["p_adjusted"], ref[column], rtol=RTOL)


def test_logrank_pairwise_equals_two_group_test():
    pw = _run("cr_group_anycause_strata", pairwise=True, p_adjust="none").pairwise
    sub = CR[CR["group"].isin(["a", "c"])]
    two = logrank(sub, "time", "any_event", by="group", strata="stratum").summary
    row = pw[(pw["group1"] == "a") & (pw["group2"] == "c")].iloc[0]
    assert row["statistic"] == pytest.approx(two["statistic"].iloc[0], rel=1e-12)
    assert (pw["p_adjusted"] == pw["p_value"]).all()


@pytest.mark.parametrize("strata", [None, "project"])
def test_logrank_collapsed_weights_equal_row_level(strata):
    by = "arm"
    data = CTN if strata is None else CTN.assign(project=CTN["who"] % 3)
    keys = [by, "ctn0094_dropout_time", "ctn0094_dropout_event"] + ([strata] if strata else [])
    row = logrank(data, "ctn0094_dropout_time", "ctn0094_dropout_event", by=by, strata=strata, pairwise=True)
    agg = collapse(data, keys)
    col = logrank(agg, "ctn0094_dropout_time", "ctn0094_dropout_event", by=by, strata=strata,
                  pairwise=True, weights="n")
    pd.testing.assert_frame_equal(row.table, col.table)
    pd.testing.assert_frame_equal(row.summary, col.summary)
    pd.testing.assert_frame_equal(row.pairwise, col.pairwise)


def test_logrank_does_not_modify_input():
    df = ADDICTS.copy()
    df.loc[::9, "clinic"] = np.nan
    before = df.copy()
    res = logrank(df, "survt", "status", by="clinic", strata="prison", pairwise=True)
    pd.testing.assert_frame_equal(df, before)
    assert any("dropped" in r for r in res.remarks)


def test_logrank_needs_two_groups():
    with pytest.raises(IopstatsError, match="at least 2 groups"):
        logrank(ADDICTS[ADDICTS["clinic"] == 1], "survt", "status", by="clinic")


def test_logrank_nested_strata_raise_iopstats_error():
    # every arm lives in one project only: within-stratum comparisons are impossible
    with pytest.raises(IopstatsError, match="singular"):
        logrank(CTN, "ctn0094_dropout_time", "ctn0094_dropout_event", by="arm", strata="project")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(by="nope"), "by column not found"),
        (dict(by="clinic", strata="nope"), "strata column not found"),
        (dict(by="clinic", p_adjust="tukey"), "p_adjust"),
    ],
)
def test_logrank_bad_arguments_raise_iopstats_error(kwargs, match):
    with pytest.raises(IopstatsError, match=match):
        logrank(ADDICTS, "survt", "status", **kwargs)


def test_logrank_bad_event_raises_iopstats_error():
    with pytest.raises(IopstatsError, match="0/1"):
        logrank(ADDICTS.assign(status=ADDICTS["status"] + 1), "survt", "status", by="clinic")


def test_logrank_repr_is_the_readable_summary():
    text = repr(_run("addicts_clinic"))
    assert text.startswith("LogrankResult: Log-rank test") and "p_value" in text
