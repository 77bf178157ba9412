"""Simulation proof: on confounded synthetic data (iopstats.synth) the adjusted estimates
recover the true level-of-care effects while the raw comparisons do not.

The generator places more severe clients in detox, inpatient and residential care
(iopstats/synthetic/generate.py); every outcome depends on the level of care and the
covariates coded by iopstats.synthetic.truth.model_matrix (TERMS), so adjusting for TERMS
removes the confounding. One seeded data set of 30,000 episodes is shared by the tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iopstats.compare.adjust import iptw, iptw_rates, standardized_rates
from iopstats.outcomes.build import build_outcomes
from iopstats.stats.cox import cox
from iopstats.stats.logistic import logistic
from iopstats.synthetic.generate import synth
from iopstats.synthetic.truth import TERMS, completion_probability, model_matrix

TERM_LIST = list(TERMS)


@pytest.fixture(scope="module")
def sim():
    s = synth(n_episodes=30_000, seed=11)
    ep = s.episodes.reset_index(drop=True)
    x = model_matrix(ep)
    d = pd.concat([ep[["episode_id", "client_id", "level_of_care", "admit_date", "discharge_reason"]], x],
                  axis=1)
    levels = ["iop"] + [lv for lv in d["level_of_care"].cat.categories
                        if lv != "iop" and (d["level_of_care"] == lv).any()]
    d["level_of_care"] = pd.Categorical(d["level_of_care"].astype(str), categories=levels)
    closed = d[d["discharge_reason"].notna()].copy()
    closed["completed"] = (closed["discharge_reason"] == "completed").astype(int)
    # true standardized risk differences over the closed episodes (the population the models use)
    xc = x.loc[closed.index].to_numpy()
    true_rd = {lv: float(completion_probability(xc, "iop").mean() - completion_probability(xc, lv).mean())
               for lv in levels}
    return {"synth": s, "data": d, "closed": closed, "levels": levels, "true_rd": true_rd}


def _raw_rd(closed: pd.DataFrame) -> pd.Series:
    r = closed.groupby("level_of_care", observed=True)["completed"].mean()
    return r["iop"] - r


def test_completion_rd_raw_biased_gcomputation_and_iptw_recover_truth(sim):
    closed, true_rd = sim["closed"], sim["true_rd"]
    g = standardized_rates(closed, "completed", TERM_LIST).set_index("level")
    w = iptw_rates(closed, "completed", TERM_LIST).set_index("level")
    raw = _raw_rd(closed)
    others = [lv for lv in sim["levels"] if lv != "iop"]
    truth = pd.Series(true_rd)[others]
    # adjusted: every level within 3 standard errors of the truth
    z_g = (g.loc[others, "adj_risk_difference"] - truth) / g.loc[others, "se"]
    z_w = (w.loc[others, "risk_difference"] - truth) / w.loc[others, "se"]
    assert z_g.abs().max() < 3, z_g
    assert z_w.abs().max() < 3, z_w
    # raw: at least two levels more than 4 (g-computation) standard errors from the truth
    z_raw = (raw[others] - truth) / g.loc[others, "se"]
    assert (z_raw.abs() > 4).sum() >= 4, z_raw  # 6 of 9 levels with this seed
    # and the raw gap is a worse estimate than the adjusted one overall
    assert (raw[others] - truth).abs().mean() > 3 * (g.loc[others, "adj_risk_difference"] - truth).abs().mean()


def test_conditional_odds_ratio_recovers_true_log_or(sim):
    closed, truth = sim["closed"], sim["synth"].truth["completion"]["log_or_vs_iop"]
    adj = logistic(closed, "completed", ["level_of_care", *TERM_LIST]).summary
    raw = logistic(closed, "completed", ["level_of_care"]).summary
    z_adj, z_raw = {}, {}
    for lv in sim["levels"][1:]:
        term = f"level_of_care[{lv}]"
        z_adj[lv] = (adj.loc[term, "coef"] - truth[lv]) / adj.loc[term, "se"]
        z_raw[lv] = (raw.loc[term, "coef"] - truth[lv]) / raw.loc[term, "se"]
    assert max(abs(v) for v in z_adj.values()) < 3, z_adj
    assert sum(abs(v) > 4 for v in z_raw.values()) >= 2, z_raw
    for t in TERM_LIST:  # covariate effects too
        assert abs(adj.loc[t, "coef"] - sim["synth"].truth["completion"]["coef"][t]) < 3 * adj.loc[t, "se"]


def test_conditional_cox_recovers_true_dropout_log_hr(sim):
    # cause-specific hazard of dropout (dropped out or terminated); other exits and open
    # episodes censored. Times are whole days of a continuous-time Weibull model: grouping
    # attenuates slightly, so the tolerance is 3 SE + 0.05.
    s = sim["synth"]
    out = build_outcomes(s.episodes)
    x = model_matrix(s.episodes).set_index(s.episodes["episode_id"].to_numpy())
    d = out[["episode_id", "level_of_care", "time_in_treatment", "exit_cause"]].join(x, on="episode_id")
    d["dropout"] = (d["exit_cause"] == "dropped_out").astype(int)
    d["level_of_care"] = pd.Categorical(d["level_of_care"].astype(str), categories=sim["levels"])
    truth = s.truth["dropout"]
    adj = cox(d, "time_in_treatment", "dropout", ["level_of_care", *TERM_LIST]).summary
    raw = cox(d, "time_in_treatment", "dropout", ["level_of_care"]).summary
    off_raw = {}
    for lv in sim["levels"][1:]:
        term = f"level_of_care[{lv}]"
        assert abs(adj.loc[term, "coef"] - truth["log_hr_vs_iop"][lv]) < 3 * adj.loc[term, "se"] + 0.05, term
        off_raw[lv] = abs(raw.loc[term, "coef"] - truth["log_hr_vs_iop"][lv]) / raw.loc[term, "se"]
    for t in TERM_LIST:
        assert abs(adj.loc[t, "coef"] - truth["log_hr"][t]) < 3 * adj.loc[t, "se"] + 0.05, t
    assert sum(v > 4 for v in off_raw.values()) >= 2, off_raw


def test_iptw_balances_covariates_where_overlap_allows(sim):
    # index episodes (first admission of each client): placement follows the severity model,
    # later episodes are step-downs and transfers decided by the previous stay.
    d = sim["data"]
    first = (d.groupby("client_id")["admit_date"].transform("min") == d["admit_date"]).to_numpy()
    idx = d[first]
    res = iptw(idx, "level_of_care", TERM_LIST)
    assert res.converged
    bal = res.balance
    ess = res.summary.set_index("level")["ess"]
    adequate = bal["level"].map(ess) >= 100
    assert (bal["smd_before"].abs() > 0.1).sum() >= 10  # confounded before weighting
    assert bal.loc[adequate, "smd_after"].abs().max() < 0.1
    assert (bal.loc[adequate, "smd_after"].abs() <= bal.loc[adequate, "smd_before"].abs() + 0.02).all()
    # the one small level (early intervention, effective n < 100) is reported, not hidden
    small = ess[ess < 100].index.tolist()
    assert small == ["early_intervention"]
    assert any(r.startswith("Positivity") and "early_intervention" in r for r in res.remarks)
    # stabilized weights sum to about the level sizes
    summ = res.summary.set_index("level")
    np.testing.assert_allclose(summ.loc[ess >= 100, "sum_weights"], summ.loc[ess >= 100, "n"], rtol=0.1)
