"""build_outcomes on a hand-made cohort with every expected value worked out by hand.

as_of = 2025-03-01. Episodes (client: level, admit -> discharge, reason):

* e1  c1: iop, 2024-01-01 -> 2024-01-01 completed (same day = 1 day)
* e2  c2: iop, 2024-01-01 -> 2024-03-01 dropped_out (60 days, 2024 is a leap year)
* e3  c3: outpatient, 2025-02-01, open (28 days at as_of)
* e4a c4: residential_short 2024-01-01 -> 01-21 completed (20 d); step-down to
* e4b c4: iop 2024-01-24 -> 03-24 completed (60 d, age 15-17); then readmitted to
* e4c c4: residential_short 2024-05-01 -> 05-15 terminated (14 d)
* e5a c5: residential_long 2024-02-01 -> 02-20 transferred (19 d), overlapping
* e5b c5: iop 2024-02-18 -> 04-30 completed (72 d)
* e6  c6: iop, TEDS-style bin 31-45 days, nominal dates 2024-05-24 -> 07-01, completed
* e7  c7: residential_long, TEDS bin "> 365 days", dropped_out
* e8  c8: detox_inpatient 2024-06-01 -> 06-05 completed (4 d); outpatient on day 20:
* e8b c8: outpatient 2024-06-25 -> 09-01 dropped_out (68 d)
* e9  c9: iop 2025-01-15 -> 2025-04-01 (after as_of: still open, 45 d)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.schema import coerce_dtypes
from iopstats.outcomes.build import build_outcomes

NA = pd.NA
AS_OF = "2025-03-01"
IDS = ["e1", "e2", "e3", "e4a", "e4b", "e4c", "e5a", "e5b", "e6", "e7", "e8", "e8b", "e9"]


def make_episodes() -> pd.DataFrame:
    rows = [
        # id, client, level, admit, discharge, reason, los_min, los_max, age_group, use_freq_discharge
        ("e1", "c1", "iop", "2024-01-01", "2024-01-01", "completed", None, None, "25-29", "none"),
        ("e2", "c2", "iop", "2024-01-01", "2024-03-01", "dropped_out", None, None, None, "daily"),
        ("e3", "c3", "outpatient", "2025-02-01", None, None, None, None, None, None),
        ("e4a", "c4", "residential_short", "2024-01-01", "2024-01-21", "completed", None, None, "15-17", None),
        ("e4b", "c4", "iop", "2024-01-24", "2024-03-24", "completed", None, None, "15-17", None),
        ("e4c", "c4", "residential_short", "2024-05-01", "2024-05-15", "terminated", None, None, "15-17", None),
        ("e5a", "c5", "residential_long", "2024-02-01", "2024-02-20", "transferred", None, None, None, None),
        ("e5b", "c5", "iop", "2024-02-18", "2024-04-30", "completed", None, None, None, None),
        ("e6", "c6", "iop", "2024-05-24", "2024-07-01", "completed", 31.0, 45.0, None, None),
        ("e7", "c7", "residential_long", "2023-06-30", "2024-07-01", "dropped_out", 366.0, np.inf, None, None),
        ("e8", "c8", "detox_inpatient", "2024-06-01", "2024-06-05", "completed", None, None, None, None),
        ("e8b", "c8", "outpatient", "2024-06-25", "2024-09-01", "dropped_out", None, None, None, None),
        ("e9", "c9", "iop", "2025-01-15", "2025-04-01", "completed", None, None, None, "some"),
    ]
    df = pd.DataFrame(
        rows,
        columns=["episode_id", "client_id", "level_of_care", "admit_date", "discharge_date", "discharge_reason",
                 "los_min", "los_max", "age_group", "use_freq_discharge"],
    )
    df["sex"] = "female"
    df["site"] = "s1"
    return coerce_dtypes(df, "episodes")


def make_followups() -> pd.DataFrame:
    rows = [
        ("e2", 28, True, False),
        ("e2", 100, True, True),
        ("e2", 200, False, None),
        ("e4a", 50, True, False),  # outside every window's tolerance
        ("e5b", 20, True, False),  # tie with day 40 for the 30-day window: the earlier wins
        ("e5b", 40, True, True),
        ("e5b", 95, True, None),  # responded but no use value: not a response
        ("e3", 10, True, True),  # open episode: ignored
        ("zz", 30, True, True),  # unknown episode: ignored
    ]
    df = pd.DataFrame(rows, columns=["episode_id", "days_after_discharge", "responded", "any_use"])
    return coerce_dtypes(df, "followups")


def make_sessions() -> pd.DataFrame:
    rows = []
    for i, att in enumerate([True, True, True, True, False]):
        rows.append(("e2", pd.Timestamp("2024-01-02") + pd.Timedelta(days=i), att, 3.0))
    for i in range(20):
        rows.append(("e4b", pd.Timestamp("2024-01-25") + pd.Timedelta(days=i), True, 3.0))
    rows.append(("e5b", pd.Timestamp("2024-02-20"), True, None))  # hours missing
    rows.append(("e9", pd.Timestamp("2025-03-05"), False, 3.0))  # after as_of: ignored
    df = pd.DataFrame(rows, columns=["episode_id", "session_date", "attended", "hours"])
    return coerce_dtypes(df, "sessions")


@pytest.fixture(scope="module")
def out() -> pd.DataFrame:
    return build_outcomes(make_episodes(), make_followups(), make_sessions(), as_of=AS_OF)


def col(out, name):
    return dict(zip(out["episode_id"], out[name].astype(object).where(out[name].notna(), None)))


def check(out, name, expected: dict):
    got = col(out, name)
    exp = {k: (None if v is NA else v) for k, v in expected.items()}
    assert set(exp) == set(IDS), f"expected values for every episode in {name}"
    for k in IDS:
        g, e = got[k], exp[k]
        if isinstance(e, float) and isinstance(g, float):
            assert g == pytest.approx(e), (name, k, g, e)
        else:
            assert g == e, (name, k, g, e)


def E(*values):
    return dict(zip(IDS, values))


T, F = True, False


def test_one_row_per_episode_in_input_order(out):
    assert list(out["episode_id"]) == IDS
    assert out.index.equals(make_episodes().index)


def test_passthrough_and_periods(out):
    check(out, "admit_period", E("2024-01", "2024-01", "2025-02", "2024-01", "2024-01", "2024-05", "2024-02",
                                 "2024-02", "2024-05", "2023-06", "2024-06", "2024-06", "2025-01"))
    check(out, "admit_year", E(2024, 2024, 2025, 2024, 2024, 2024, 2024, 2024, 2024, 2023, 2024, 2024, 2025))
    assert out.loc[out.episode_id == "e9", "discharge_date"].isna().all()  # discharge after as_of: open
    assert out.loc[out.episode_id == "e9", "discharge_reason"].isna().all()
    assert (out["sex"] == "female").all() and (out["site"] == "s1").all()


def test_completion(out):
    check(out, "completed", E(T, F, NA, T, T, F, F, T, T, F, T, F, NA))
    check(out, "completed_or_transferred", E(T, F, NA, T, T, F, T, T, T, F, T, F, NA))
    check(out, "exit_cause", E("completed", "dropped_out", "censored", "completed", "completed", "dropped_out",
                               "transferred", "completed", "completed", "censored", "completed", "dropped_out",
                               "censored"))


def test_length_of_stay_and_time_in_treatment(out):
    check(out, "los_days", E(1.0, 60.0, NA, 20.0, 60.0, 14.0, 19.0, 72.0, NA, NA, 4.0, 68.0, NA))
    check(out, "los_min", E(1.0, 60.0, NA, 20.0, 60.0, 14.0, 19.0, 72.0, 31.0, 366.0, 4.0, 68.0, NA))
    check(out, "los_max", E(1.0, 60.0, NA, 20.0, 60.0, 14.0, 19.0, 72.0, 45.0, np.inf, 4.0, 68.0, NA))
    check(out, "time_in_treatment", E(1.0, 60.0, 28.0, 20.0, 60.0, 14.0, 19.0, 72.0, 38.0, 366.0, 4.0, 68.0, 45.0))
    check(out, "left_treatment", E(1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0))


def test_retention(out):
    check(out, "retained_30", E(F, T, NA, F, T, F, F, T, T, T, F, T, T))
    check(out, "retained_60", E(F, T, NA, F, T, F, F, T, F, T, F, T, NA))
    check(out, "retained_90", E(F, F, NA, F, F, F, F, F, F, T, F, F, NA))
    check(out, "retained_or_completed_30", E(T, T, NA, T, T, F, F, T, T, T, T, T, T))
    check(out, "retained_or_completed_60", E(T, T, NA, T, T, F, F, T, T, T, T, T, NA))
    check(out, "retained_or_completed_90", E(T, F, NA, T, T, F, F, T, T, T, T, F, NA))


def test_binned_stay_straddling_day_is_missing():
    ep = coerce_dtypes(pd.DataFrame({"client_id": ["a"], "episode_id": ["x"], "level_of_care": ["iop"],
                                     "admit_date": ["2024-01-01"], "discharge_reason": ["dropped_out"],
                                     "los_min": [31.0], "los_max": [45.0]}), "episodes")
    o = build_outcomes(ep, as_of=AS_OF, retention_days=(31, 40, 46))
    assert o["retained_31"].tolist() == [True]
    assert o["retained_40"].isna().all() and o["retained_or_completed_40"].isna().all()
    assert o["retained_46"].tolist() == [False]
    assert o["los_days"].isna().all() and o["time_in_treatment"].tolist() == [38.0]


def test_engagement(out):
    check(out, "n_sessions_attended", E(0, 4, NA, NA, 20, NA, NA, 1, 0, NA, NA, NA, 0))
    check(out, "engaged", E(F, T, NA, NA, T, NA, NA, F, F, NA, NA, NA, NA))
    check(out, "attendance_rate", E(NA, 0.8, NA, NA, 1.0, NA, NA, 1.0, NA, NA, NA, NA, NA))
    # e2: 12 h over 60/7 weeks; e4b: 60 h over 60/7 weeks; e1: 1-day stay counts as one week
    check(out, "hours_per_week", E(0.0, 1.4, NA, NA, 7.0, NA, NA, NA, NA, NA, NA, NA, 0.0))
    # e4b is 15-17: adolescent IOP threshold 6 h/week
    check(out, "meets_asam_hours", E(F, F, NA, NA, T, NA, NA, NA, NA, NA, NA, NA, F))


def test_use_at_discharge(out):
    check(out, "use_at_discharge", E(F, T, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA))


def test_relapse_windows(out):
    check(out, "relapse_30_responded", E(F, T, NA, F, F, F, F, T, F, F, F, F, NA))
    check(out, "relapse_30_cc", E(NA, F, NA, NA, NA, NA, NA, F, NA, NA, NA, NA, NA))
    check(out, "relapse_30_mu", E(T, F, NA, T, T, T, T, F, T, T, T, T, NA))
    check(out, "relapse_90_responded", E(F, T, NA, F, F, F, F, F, F, F, F, F, NA))
    check(out, "relapse_90_cc", E(NA, T, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA))
    check(out, "relapse_90_mu", E(T, T, NA, T, T, T, T, T, T, T, T, T, NA))
    # 180-day window closes at day 225: not yet due for e8b (discharged 2024-09-01)
    check(out, "relapse_180_responded", E(F, F, NA, F, F, F, F, F, F, F, F, NA, NA))
    check(out, "relapse_180_cc", E(NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA))
    check(out, "relapse_180_mu", E(T, T, NA, T, T, T, T, T, T, T, T, NA, NA))
    # 365-day window closes at day 410: only e1 (discharged 2024-01-01) is due
    check(out, "relapse_365_responded", E(F, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA))
    check(out, "relapse_365_mu", E(T, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA))
    check(out, "time_to_relapse", E(NA, 100.0, NA, 50.0, NA, NA, NA, 40.0, NA, NA, NA, NA, NA))
    check(out, "relapse_event", E(NA, 1, NA, 0, NA, NA, NA, 1, NA, NA, NA, NA, NA))


def test_readmission(out):
    check(out, "readmit_30", E(F, F, NA, F, F, F, F, F, F, F, T, F, NA))
    check(out, "readmit_90", E(F, F, NA, F, T, F, F, F, F, F, T, F, NA))
    check(out, "readmit_365", E(F, F, NA, T, NA, NA, F, NA, NA, NA, NA, NA, NA))
    check(out, "days_to_readmission", E(NA, NA, NA, 101.0, 38.0, NA, NA, NA, NA, NA, 20.0, NA, NA))
    check(out, "next_level_of_care", E(NA, NA, NA, "residential_short", "residential_short", NA, NA, NA, NA, NA,
                                       "outpatient", NA, NA))
    check(out, "continuation_level_of_care", E(NA, NA, NA, "iop", NA, NA, "iop", NA, NA, NA, NA, NA, NA))


def test_continuity_of_care(out):
    # e4a: step-down to IOP on day 3; e5a: overlapping IOP still open the day after; e8: outpatient on day 20
    check(out, "continuity_7", E(NA, NA, NA, T, NA, F, T, NA, NA, F, F, NA, NA))
    check(out, "continuity_14", E(NA, NA, NA, T, NA, F, T, NA, NA, F, F, NA, NA))


def test_continuity_from_session_and_insufficient_followup():
    ep = coerce_dtypes(pd.DataFrame({
        "client_id": ["a", "a", "b"], "episode_id": ["r", "o", "r2"],
        "level_of_care": ["residential_short", "outpatient", "detox_residential"],
        "admit_date": ["2024-01-01", "2023-12-01", "2024-02-20"],
        "discharge_date": ["2024-01-10", "2024-01-05", "2024-02-25"],
        "discharge_reason": ["completed", "completed", "completed"]}), "episodes")
    ses = coerce_dtypes(pd.DataFrame({"episode_id": ["o", "o"], "session_date": ["2024-01-04", "2024-01-20"],
                                      "attended": [True, True]}), "sessions")
    o = build_outcomes(ep, sessions=ses, as_of="2024-03-01")
    # outpatient episode ended before the residential discharge, but an attended session on day 10
    assert o["continuity_7"].tolist()[0] is False and o["continuity_14"].tolist()[0] is True
    assert o["continuity_7"].isna().tolist() == [False, True, True]  # r2: only 5 days followed
    # r2 discharged 5 days before as_of: neither window has elapsed
    o2 = build_outcomes(ep, sessions=ses, as_of="2024-03-01", continuity_days=(3, 7))
    assert o2["continuity_3"].tolist()[2] is False and pd.isna(o2["continuity_7"].iloc[2])


def test_window_tolerance_is_selectable():
    o = build_outcomes(make_episodes(), make_followups(), as_of=AS_OF, window_tolerance={90: 45})
    # e4a's day-50 response now falls in the 90-day window (45-135)
    row = o.set_index("episode_id").loc["e4a"]
    assert row[["relapse_90_responded", "relapse_90_cc", "relapse_90_mu"]].tolist() == [True, False, False]
    with pytest.raises(IopstatsError, match="tolerance"):
        build_outcomes(make_episodes(), make_followups(), as_of=AS_OF, window_tolerance=-3)


def test_without_followups_and_sessions_columns_are_missing():
    o = build_outcomes(make_episodes(), as_of=AS_OF)
    for c in ("relapse_30_responded", "relapse_90_cc", "relapse_365_mu", "time_to_relapse", "relapse_event",
              "n_sessions_attended", "engaged", "attendance_rate", "hours_per_week", "meets_asam_hours"):
        assert o[c].isna().all(), c
    full = build_outcomes(make_episodes(), make_followups(), make_sessions(), as_of=AS_OF)
    assert list(o.columns) == list(full.columns)


def test_default_as_of_is_latest_date_in_data():
    ep = make_episodes()
    o = build_outcomes(ep)  # latest date: e9's discharge 2025-04-01
    assert o.set_index("episode_id").loc["e9", "left_treatment"] == 1
    assert o.set_index("episode_id").loc["e3", "time_in_treatment"] == 59.0  # 2025-02-01 -> 2025-04-01


def test_inputs_are_not_modified():
    ep, fu, ses = make_episodes(), make_followups(), make_sessions()
    ep.index = pd.Index([f"r{i}" for i in range(len(ep))])
    copies = [x.copy(deep=True) for x in (ep, fu, ses)]
    o = build_outcomes(ep, fu, ses, as_of=AS_OF)
    for before, after in zip(copies, (ep, fu, ses)):
        pd.testing.assert_frame_equal(before, after)
    assert list(o.index) == list(ep.index)


def test_plain_frames_with_string_dates_are_accepted():
    raw = pd.DataFrame({"client_id": ["a"], "episode_id": ["x"], "level_of_care": ["iop"],
                        "admit_date": ["2024-01-01"], "discharge_date": ["2024-01-31"],
                        "discharge_reason": ["completed"]})
    o = build_outcomes(raw, as_of=AS_OF)
    assert o["los_days"].tolist() == [30.0] and o["retained_30"].tolist() == [True]


@pytest.mark.parametrize("drop", ["client_id", "episode_id", "level_of_care", "admit_date"])
def test_missing_required_episode_column_names_it_and_the_fix(drop):
    with pytest.raises(IopstatsError) as exc:
        build_outcomes(make_episodes().drop(columns=drop), as_of=AS_OF)
    assert exc.value.column == drop
    assert drop in str(exc.value) and "load_episodes" in exc.value.fix


def test_missing_required_followup_and_session_columns():
    with pytest.raises(IopstatsError) as exc:
        build_outcomes(make_episodes(), make_followups().drop(columns="responded"), as_of=AS_OF)
    assert exc.value.column == "responded" and "load_followups" in exc.value.fix
    with pytest.raises(IopstatsError) as exc:
        build_outcomes(make_episodes(), sessions=make_sessions().drop(columns="attended"), as_of=AS_OF)
    assert exc.value.column == "attended" and "load_sessions" in exc.value.fix


@pytest.mark.filterwarnings("ignore:Could not infer format")
def test_bad_inputs_raise_iopstats_error():
    ep = make_episodes()
    bad = ep.astype({"level_of_care": object})
    bad.loc[2, "level_of_care"] = "IOPP"
    with pytest.raises(IopstatsError) as exc:
        build_outcomes(bad, as_of=AS_OF)
    assert exc.value.column == "level_of_care" and exc.value.row == 2 and exc.value.value == "IOPP"
    dup = pd.concat([ep, ep.iloc[[0]]], ignore_index=True)
    with pytest.raises(IopstatsError, match="duplicate episode_id"):
        build_outcomes(dup, as_of=AS_OF)
    back = ep.copy()
    back.loc[1, "discharge_date"] = pd.Timestamp("2023-01-01")
    with pytest.raises(IopstatsError, match="before admission"):
        build_outcomes(back, as_of=AS_OF)
    with pytest.raises(IopstatsError, match="admitted after as_of"):
        build_outcomes(ep, as_of="2024-06-01")
    with pytest.raises(IopstatsError, match="unreadable date"):
        build_outcomes(ep.astype({"discharge_date": object}).assign(discharge_date="not a date"), as_of=AS_OF)
    with pytest.raises(IopstatsError, match="as_of"):
        build_outcomes(ep, as_of="someday")
    with pytest.raises(IopstatsError, match="retention_days"):
        build_outcomes(ep, as_of=AS_OF, retention_days=(30, -1))
    with pytest.raises(IopstatsError, match="DataFrame"):
        build_outcomes(ep.to_dict(), as_of=AS_OF)


def test_empty_episodes():
    from iopstats.io.schema import empty_frame

    o = build_outcomes(empty_frame("episodes"), empty_frame("followups"), empty_frame("sessions"), as_of=AS_OF)
    assert len(o) == 0 and "relapse_90_mu" in o.columns
    with pytest.raises(IopstatsError, match="as_of"):
        build_outcomes(empty_frame("episodes"))
