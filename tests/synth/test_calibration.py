"""Calibration of the generated data to the TEDS 2004 figures in DOMAIN.md.

Checked on 50,000 episodes followed until every stay has ended. Tolerances:
completion rate +/- 4 points; discharge-reason shares +/- 3 points; median
stay +/- 15 % for all discharges (IOP 41, short-term residential 20,
outpatient 69 days) and +/- 20 % for completers (50, 24, 104 days);
withdrawal management median 2-7 days.
"""

from __future__ import annotations

import pandas as pd
import pytest

# TEDS 2004 discharges, Table 2.5 (row %), DOMAIN.md
TEDS_2004 = {
    "outpatient": (36.4, 11.7, 27.2, 10.5, 14.2),
    "iop": (37.7, 17.9, 23.2, 14.0, 7.2),
    "residential_short": (61.5, 14.3, 14.1, 6.3, 3.9),
    "residential_long": (42.9, 12.5, 28.1, 7.7, 8.8),
    "inpatient": (69.3, 14.9, 10.9, 2.6, 2.3),
    "detox_residential": (62.3, 13.6, 16.4, 2.1, 5.6),
    "detox_inpatient": (62.3, 13.6, 16.4, 2.1, 5.6),
}
MEDIAN_LOS = {"iop": (41, 50), "residential_short": (20, 24), "outpatient": (69, 104)}


@pytest.fixture(scope="module")
def closed(large):
    ep = large.episodes
    assert ep.discharge_date.notna().mean() > 0.999
    ep = ep[ep.discharge_date.notna()]
    return ep.assign(reason=ep.discharge_reason.astype(str).replace({"incarcerated": "other", "died": "other"}))


@pytest.mark.parametrize("level", list(TEDS_2004))
def test_completion_and_reasons_near_teds_2004(closed, level):
    sub = closed[closed.level_of_care == level]
    share = sub.reason.value_counts(normalize=True).mul(100)
    target = dict(zip(["completed", "transferred", "dropped_out", "terminated", "other"], TEDS_2004[level]))
    assert share["completed"] == pytest.approx(target.pop("completed"), abs=4.0)
    for reason, pct in target.items():
        assert share.get(reason, 0.0) == pytest.approx(pct, abs=3.0), reason


@pytest.mark.parametrize("level", list(MEDIAN_LOS))
def test_median_length_of_stay_near_teds_2004(closed, level):
    sub = closed[closed.level_of_care == level]
    all_median = sub.los_days.median()
    completer_median = sub.los_days[sub.discharge_reason == "completed"].median()
    target_all, target_comp = MEDIAN_LOS[level]
    assert all_median == pytest.approx(target_all, rel=0.15)
    assert completer_median == pytest.approx(target_comp, rel=0.20)
    assert completer_median > all_median


def test_withdrawal_management_lasts_a_few_days(closed):
    detox = closed[closed.level_of_care.astype(str).str.startswith("detox")]
    med = detox.groupby("level_of_care", observed=True).los_days.median()
    assert med.between(2, 7).all()


def test_level_of_care_mix(large):
    p = large.episodes.level_of_care.value_counts(normalize=True)
    detox = p[["detox_inpatient", "detox_residential", "detox_ambulatory"]].sum()
    assert p["outpatient"] > p["iop"] > detox > p["residential_short"] > p["php"] > p["inpatient"]
    assert detox > p["residential_long"] > p["php"]
    assert 0 < p["early_intervention"] < 0.01
    assert 0.33 < p["outpatient"] < 0.45 and 0.15 < p["iop"] < 0.27


def test_followup_response_rate(large):
    fu = large.followups
    near_90 = fu[(fu.days_after_discharge - 90).abs() <= 14]
    assert 0.60 <= near_90.responded.mean() <= 0.70
    near_365 = fu[(fu.days_after_discharge - 365).abs() <= 14]
    assert near_365.responded.mean() < near_90.responded.mean()
    assert 0.1 < (fu.source[fu.responded] == "urine_test").mean() < 0.3


def test_readmission_and_step_down_rates(large_default):
    ep = large_default.episodes.sort_values(["client_id", "admit_date"], kind="stable")
    gap = (ep.groupby("client_id").admit_date.shift(-1) - ep.discharge_date).dt.days
    # return to treatment 15-365 days after a discharge with a full year of follow-up
    year = ep[ep.discharge_date <= pd.Timestamp("2023-12-31")]
    pairs = year[["client_id", "episode_id", "discharge_date"]].merge(
        ep[["client_id", "admit_date"]], on="client_id")
    days = (pairs.admit_date - pairs.discharge_date).dt.days
    back = pairs[(days > 14) & (days <= 365)].episode_id.nunique() / len(year)
    assert 0.18 <= back <= 0.32
    acute = ep.level_of_care.isin(["detox_inpatient", "detox_residential", "detox_ambulatory",
                                   "inpatient", "residential_short", "residential_long"])
    due = acute & (ep.discharge_date <= pd.Timestamp("2024-12-01"))
    step = (gap <= 14)[due].mean()
    assert 0.35 <= step <= 0.6
    nxt = ep.groupby("client_id").level_of_care.shift(-1).astype(object)
    stepped = nxt[due & (gap <= 14)]
    assert stepped.isin(["iop", "outpatient", "php", "residential_short"]).mean() > 0.95  # rest: early readmissions
    assert (gap[due & (gap <= 14)] >= 1).all()
