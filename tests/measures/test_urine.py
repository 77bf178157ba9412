"""urine_outcomes: weekly negative share, longest run and negative at end under both missing conventions."""

import numpy as np
import pandas as pd
import pytest

import iopstats
from iopstats.outcomes.urine import longest_run


def _eps(ids, los):
    return pd.DataFrame({"episode_id": ids, "level_of_care": "iop", "admit_date": pd.Timestamp("2024-01-01"),
                         "discharge_date": [pd.Timestamp("2024-01-01") + pd.Timedelta(days=d) for d in los]})


def _uds(rows):
    return pd.DataFrame(rows, columns=["episode_id", "day", "item", "value"]).assign(instrument="uds")


def test_hand_computed_weeks_and_conventions():
    # 8 whole weeks (days 0-55): weeks 0 pos, 1 neg, 2 neg, 3 missing, 4 neg, 5 neg, 6 neg (Thc only), 7 missing
    m = _uds([("a", 0, "Opioid", 1), ("a", 3, "none", 0), ("a", 8, "none", 0), ("a", 15, "none", 0),
              ("a", 29, "none", 0), ("a", 36, "none", 0), ("a", 44, "Thc", 1), ("a", 47, "none", 0)])
    u = iopstats.urine_outcomes(m, _eps(["a"], [55]), "opioid").iloc[0]
    # week 0: day 0 positive + day 3 negative -> positive (any positive in the week)
    assert (u.n_weeks, u.n_screened, u.n_negative) == (8, 6, 5)
    assert u.share_negative_mp == pytest.approx(5 / 8) and u.share_negative_ig == pytest.approx(5 / 6)
    assert u.longest_negative_run_mp == 3 and u.longest_negative_run_ig == 5
    assert not u.negative_at_end_mp and u.negative_at_end_ig


def test_every_episode_kept_and_unscreened_is_all_positive_under_mp():
    m = _uds([("a", 0, "opioid", 0)])
    u = iopstats.urine_outcomes(m, _eps(["a", "b"], [13, 27]), "opioid")
    assert u["episode_id"].tolist() == ["a", "b"]
    b = u.iloc[1]
    assert b.n_weeks == 4 and b.n_screened == 0 and b.share_negative_mp == 0
    assert np.isnan(b.share_negative_ig) and pd.isna(b.negative_at_end_ig)


def test_fixed_window_and_partial_week_left_out():
    m = _uds([("a", d, "none", 0) for d in (0, 7, 14, 21, 28)])
    u = iopstats.urine_outcomes(m, _eps(["a"], [28]), "opioid").iloc[0]
    assert u.n_weeks == 4 and u.n_screened == 4  # day 28 is a partial fifth week
    w = iopstats.urine_outcomes(m, _eps(["a"], [28]), "opioid", window=(7, 20)).iloc[0]
    assert (w.n_weeks, w.n_negative) == (2, 2)


def test_longest_run():
    assert longest_run([]) == 0 and longest_run([False, True, True, False, True]) == 2


def test_ctn0094_urine_outcomes_by_arm(ctn, ctn_measures):
    u = iopstats.urine_outcomes(ctn_measures, ctn["episodes"], "opioid", window=(0, 167))
    assert len(u) == ctn["episodes"].report.n_loaded
    assert (u["n_weeks"] == 24).all()
    assert (u["share_negative_mp"] <= u["share_negative_ig"].fillna(1)).all()
    by = u.groupby("program")["share_negative_mp"].mean()
    assert by.between(0.2, 0.6).all()  # opioid-use-disorder trials: most weeks positive or missed
    r = iopstats.rates(u.assign(neg_end=u["negative_at_end_mp"]), "neg_end", by="program")
    assert r["n"].sum() == len(u)


def test_ctn0094_withdrawal_trajectories_by_arm(ctn, ctn_measures):
    e = ctn["episodes"].data
    e = e[e["program"].str.startswith("CTN-0051")]
    m = ctn_measures.data
    w = m[(m["instrument"] == "withdrawal_level") & m["day"].between(0, 167) & m["episode_id"].isin(e["episode_id"])]
    fit = iopstats.trajectories(w, e, "withdrawal_level", by="program", reference="CTN-0051 Inpatient BUP")
    s = fit.summary.set_index("term")
    assert fit.n_episodes > 500 and fit.n_obs == len(w)
    assert -0.05 < s.loc["week", "estimate"] < 0  # withdrawal ratings fall over the 24 weeks
    # mean curves stay on the 0-3 rating scale over the 24 weeks (the fall is steepest in the first days, which
    # a straight line averages over)
    assert fit.curves["mean"].between(0, 3).all()
