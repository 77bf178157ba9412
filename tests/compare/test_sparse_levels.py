"""Covariate levels without events or non-events are merged (or the covariate dropped) and the remark says so.

The reference for every merged fit is the same comparison on data merged by
hand: merging must give exactly the model it claims.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from iopstats.compare.rates import compare_rates
from iopstats.compare.sparse_levels import merge_sparse_levels
from iopstats.exceptions import IopstatsError

AGES = ["18-20", "21-24", "25-29", "30-34"]


def make_data(n: int = 2400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    loc = rng.choice(["iop", "outpatient", "residential_short"], n, p=[0.4, 0.35, 0.25])
    age = rng.choice(AGES, n, p=[0.1, 0.3, 0.3, 0.3])
    drug = rng.choice(["alcohol", "heroin", "cocaine", "methamphetamine"], n, p=[0.4, 0.3, 0.05, 0.25])
    psych = rng.random(n) < 0.4
    eta = -0.1 + 0.3 * (loc == "residential_short") - 0.2 * (age == "30-34") + 0.2 * (drug == "alcohol")
    y = rng.random(n) < special.expit(eta)
    return pd.DataFrame({"level_of_care": loc,
                         "age_group": pd.Categorical(age, categories=AGES, ordered=True),
                         "primary_substance": drug, "psych_problem": psych, "completed": y})


def _same_adjusted(a, b):
    cols = ["level", "n", "adj_rate", "adj_risk_difference", "ci_low", "ci_high", "p_value"]
    pd.testing.assert_frame_equal(a.adjusted[cols], b.adjusted[cols], rtol=1e-10)


def test_ordered_level_without_events_is_merged_with_its_neighbour():
    df = make_data()
    df.loc[df["age_group"] == "18-20", "completed"] = False
    with pytest.raises(IopstatsError, match="separation"):
        compare_rates(df, "completed", adjust=["age_group", "psych_problem"], sparse_levels="raise")
    before = df.copy()
    res = compare_rates(df, "completed", adjust=["age_group", "psych_problem"])
    pd.testing.assert_frame_equal(df, before)  # the caller's frame is not modified
    note = next(r for r in res.remarks if r.startswith("age_group:"))
    assert "level 18-20 has no events of completed" in note and "neighbouring level 21-24" in note
    by_hand = df.assign(age_group=pd.Categorical(df["age_group"].astype(str).replace({"18-20": "18-24",
                                                                                         "21-24": "18-24"})))
    _same_adjusted(res, compare_rates(by_hand, "completed", adjust=["age_group", "psych_problem"]))


def test_ordered_level_merges_with_the_smaller_neighbour():
    df = make_data()
    df.loc[df["age_group"] == "25-29", "completed"] = True  # only events; neighbours 21-24 and 30-34
    sizes = df["age_group"].value_counts()
    model, kept, notes = merge_sparse_levels(df, "completed", ["age_group"])
    smaller = min(["21-24", "30-34"], key=lambda lv: (sizes[lv], AGES.index(lv)))
    assert kept == ["age_group"] and f"neighbouring level {smaller}" in notes[0]
    assert "only events" in notes[0]
    assert sorted(model["age_group"].cat.categories)[0] != "25-29"


def test_unordered_level_is_pooled_into_other():
    df = make_data()
    df.loc[df["primary_substance"] == "cocaine", "completed"] = True
    res = compare_rates(df, "completed", adjust=["primary_substance"])
    notes = [r for r in res.remarks if r.startswith("primary_substance:")]
    assert "cocaine" in notes[0] and "pooled into 'other'" in notes[0]
    # 'other' holding only cocaine still has only events, so the smallest level joins it
    smallest = df.loc[df["primary_substance"] != "cocaine", "primary_substance"].value_counts().idxmin()
    assert f"smallest level {smallest}" in notes[1]
    by_hand = df.assign(primary_substance=df["primary_substance"].replace({"cocaine": "other", smallest: "other"}))
    _same_adjusted(res, compare_rates(by_hand, "completed", adjust=["primary_substance"]))


def test_existing_other_level_takes_the_sparse_level():
    df = make_data()
    df.loc[df.index[:300], "primary_substance"] = "other"
    df.loc[df["primary_substance"] == "cocaine", "completed"] = False
    res = compare_rates(df, "completed", adjust=["primary_substance"])
    by_hand = df.assign(primary_substance=df["primary_substance"].replace({"cocaine": "other"}))
    _same_adjusted(res, compare_rates(by_hand, "completed", adjust=["primary_substance"]))


def test_two_level_covariate_that_separates_is_dropped():
    df = make_data()
    df.loc[df["psych_problem"], "completed"] = False
    res = compare_rates(df, "completed", adjust=["age_group", "psych_problem"])
    assert any(r.startswith("psych_problem:") and "left out of the adjustment" in r for r in res.remarks)
    _same_adjusted(res, compare_rates(df, "completed", adjust=["age_group"]))


def test_all_covariates_dropped_gives_no_adjusted_table():
    df = make_data()
    df.loc[df["psych_problem"], "completed"] = False
    res = compare_rates(df, "completed", adjust=["psych_problem"])
    assert res.adjusted is None and any("No adjustment covariate could be kept" in r for r in res.remarks)
    assert len(res.summary) == 2  # the raw comparison is still there


@pytest.mark.parametrize("categorical", [False, True])
def test_level_of_care_without_events_has_no_adjusted_row(categorical):
    df = make_data()
    if categorical:  # as build_outcomes gives it: ordered, with levels absent from the data
        df["level_of_care"] = pd.Categorical(df["level_of_care"], ordered=True,
                                             categories=["residential_short", "php", "iop", "outpatient"])
    df.loc[df["level_of_care"] == "residential_short", "completed"] = False
    res = compare_rates(df, "completed", adjust=["age_group"])
    assert list(res.adjusted["level"]) == ["outpatient"]
    assert any(r.startswith("residential_short: the level has no events") for r in res.remarks)
    rest = df[df["level_of_care"] != "residential_short"]
    _same_adjusted(res, compare_rates(rest, "completed", adjust=["age_group"]))


def test_default_report_adjustment_survives_an_age_group_without_completions():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
    import iopstats
    from fake_data import make_inputs
    from iopstats.report.config import DEFAULT_ADJUST

    eps = iopstats.load_episodes(make_inputs(n_clients=400, small_level=False)["episodes"]).data
    out = iopstats.build_outcomes(eps)
    young = out["age_group"].astype(str).isin(["18-20"])
    assert young.sum() > 0
    out.loc[young, "completed"] = False
    with pytest.raises(IopstatsError, match="separation"):
        compare_rates(out, "completed", reference="iop", adjust=list(DEFAULT_ADJUST), margin=0.1,
                      sparse_levels="raise")
    res = compare_rates(out, "completed", reference="iop", adjust=list(DEFAULT_ADJUST), margin=0.1)
    assert res.adjusted is not None and len(res.adjusted)
    assert any(r.startswith("age_group: level 18-20") for r in res.remarks)


def test_bad_sparse_levels_option():
    with pytest.raises(IopstatsError, match="sparse_levels"):
        compare_rates(make_data(200), "completed", adjust=["age_group"], sparse_levels="drop")
