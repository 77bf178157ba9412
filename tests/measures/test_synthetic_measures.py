"""Synthetic measures: recovery of the known true effects by the adjusted comparison and the mixed model."""

import numpy as np
import pandas as pd
import pytest

import iopstats
from iopstats.synthetic.measures import RCI_SD, synth_measures


@pytest.fixture(scope="module")
def cohort():
    d = iopstats.synth(6000, seed=3, sessions=False)
    return d, synth_measures(d, seed=4, missing=False)


def test_deterministic_and_input_untouched():
    d = iopstats.synth(200, seed=1, sessions=False)
    before = d.episodes.copy()
    a, b = synth_measures(d, seed=5), synth_measures(d, seed=5)
    pd.testing.assert_frame_equal(a.measures, b.measures)
    pd.testing.assert_frame_equal(d.episodes, before)
    res = iopstats.load_measures(a.measures, episodes=d.episodes)  # the canonical loader takes them whole
    assert res.report.n_quarantined == 0 and res.report.n_loaded == len(a.measures)


def test_baseline_severity_confounded_with_placement(cohort):
    d, sm = cohort
    ch = iopstats.change_outcomes(sm.measures, d.episodes, "phq9", sd=RCI_SD, end=(56, 56))
    mean_base = ch.groupby("level_of_care", observed=True)["baseline_score"].mean()
    assert mean_base["residential_short"] > mean_base["iop"] + 2 > mean_base["outpatient"] + 4


def test_adjusted_comparison_recovers_true_effects(cohort):
    d, sm = cohort
    truth = sm.truth["reliable_improvement_followup"]["rd_iop_minus_level"]
    ch = iopstats.change_outcomes(sm.measures, d.episodes, "phq9", sd=RCI_SD, end=(56, 56))
    res = iopstats.compare_rates(ch, "reliable_improvement_cc", adjust=["baseline_score"])
    adj = res.adjusted.set_index("level")
    raw = res.summary.set_index("level")
    for lv in ("outpatient", "php", "residential_short", "residential_long"):
        est, lo, hi = (float(adj.loc[lv, c]) for c in ("adj_risk_difference", "ci_low", "ci_high"))
        assert lo < truth[lv] < hi, lv
        assert abs(est - truth[lv]) < 0.03, lv
        assert abs(float(raw.loc[lv, "risk_difference"]) - truth[lv]) > 0.08, lv  # raw is confounded


def test_noninferiority_on_change_outcomes(cohort):
    d, sm = cohort
    ch = iopstats.change_outcomes(sm.measures, d.episodes, "phq9", sd=RCI_SD, end=(56, 56))
    sub = ch[ch["level_of_care"].isin(["iop", "php"])].copy()
    sub["level_of_care"] = sub["level_of_care"].astype(str)
    res = iopstats.compare_rates(sub, "reliable_improvement_cc", adjust=["baseline_score"], margin=0.15)
    assert "ni_p_value" in res.adjusted.columns
    # truth: IOP 4 points below PHP, well within a 15-point margin
    assert float(res.adjusted["ni_p_value"].iloc[0]) < 0.05


def test_mixed_model_recovers_slopes_under_informative_missingness():
    d = iopstats.synth(1000, seed=8, sessions=False)
    sm = synth_measures(d, seed=9, missing=True)
    keep = d.episodes["level_of_care"].isin(["iop", "outpatient"])
    eps = d.episodes[keep].copy()
    eps["level_of_care"] = eps["level_of_care"].astype(str)
    m = sm.measures[sm.measures["episode_id"].isin(eps["episode_id"]) & (sm.measures["instrument"] == "phq9")]
    fit = iopstats.trajectories(m, eps, "phq9", client=False)
    b = fit.summary.set_index("term")
    true = sm.truth["marginal_slope"]
    assert b.loc["week", "estimate"] == pytest.approx(true["iop"], abs=3 * b.loc["week", "se"])
    diff = true["outpatient"] - true["iop"]
    assert b.loc["level[outpatient]:week", "estimate"] == pytest.approx(diff, abs=3 * b.loc["level[outpatient]:week", "se"])
    # complete-case week-8 mean of the measured is optimistic (sicker clients skipped), the model is not
    ch = iopstats.change_outcomes(m, eps, "phq9", sd=RCI_SD, end=(56, 56))
    assert ch["end_score"].notna().mean() < 0.9
