"""One test per quarantine reason, the check order, the repairs and the quarantine layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iopstats.io.result import QUARANTINE_META
from iopstats.io.validate import (
    EPISODE_CHECKS,
    FOLLOWUP_CHECKS,
    SESSION_CHECKS,
    validate_episodes,
    validate_followups,
    validate_sessions,
)

AS_OF = "2024-12-31"


def _one(df, reason, column, **kw):
    loaded, q = validate_episodes(df, as_of=AS_OF, **kw)
    assert len(loaded) + len(q) == len(df)
    assert q["reason"].tolist() == [reason]
    assert q["column"].tolist() == [column]
    return loaded, q


@pytest.mark.parametrize(
    "col,value,reason",
    [
        ("client_id", "", "missing_required"),
        ("episode_id", "NA", "missing_required"),
        ("level_of_care", "null", "missing_required"),
        ("admit_date", " ", "missing_required"),
        ("admit_date", "2024-02-30", "unparseable_date"),
        ("admit_date", "01/02/2024", "unparseable_date"),
        ("discharge_date", "soon", "unparseable_date"),
        ("age", "thirty", "unparseable_number"),
        ("age", "34.5", "unparseable_number"),
        ("level_of_care", "iopp", "unknown_code"),
        ("discharge_reason", "graduated", "unknown_code"),
        ("age", "8", "age_out_of_range"),
        ("age", "130", "age_out_of_range"),
        ("admit_date", "2025-01-01", "future_date"),
        ("discharge_date", "2024-01-01", "discharge_before_admission"),
        ("discharge_reason", "completed", "reason_without_discharge"),  # row 3 is open
        ("episode_id", "e1", "duplicate_episode_id"),
    ],
)
def test_episode_reason(make_episodes, col, value, reason):
    df = make_episodes()
    df.loc[2, col] = value
    loaded, q = _one(df, reason, col)
    assert q["row"].item() == 3
    assert q["value"].item() == value


def test_future_discharge_date(make_episodes):
    df = make_episodes()
    df.loc[0, "discharge_date"] = "2030-01-01"
    _one(df, "future_date", "discharge_date")


@pytest.mark.parametrize("los,ok", [("44", True), ("43", True), ("45", True), ("42", False), ("46", False), ("-1", False)])
def test_los_inconsistent(make_episodes, los, ok):
    df = make_episodes().assign(los_days="")
    df.loc[0, "los_days"] = los  # dates give 44 days
    loaded, q = validate_episodes(df, as_of=AS_OF)
    assert (len(q) == 0) is ok
    if not ok:
        assert q["reason"].item() == "los_inconsistent"


def test_los_bounds_inconsistent(make_episodes):
    df = make_episodes().assign(los_days="", los_min="", los_max="")
    df.loc[2, ["los_days", "los_min", "los_max"]] = ["40", "46", "60"]
    _one(df, "los_inconsistent", "los_days")
    df.loc[2, ["los_days", "los_min", "los_max"]] = ["", "60", "46"]
    _one(df, "los_inconsistent", "los_min")
    df.loc[2, ["los_days", "los_min", "los_max"]] = ["", "366", "inf"]
    assert len(validate_episodes(df, as_of=AS_OF)[1]) == 0


def test_first_reason_in_check_order_and_all_in_detail(make_episodes):
    df = make_episodes()
    df.loc[1, ["level_of_care", "admit_date", "age", "episode_id"]] = ["nope", "2024-13-01", "x", "e1"]
    loaded, q = validate_episodes(df, as_of=AS_OF)
    assert q["reason"].item() == "unparseable_date"
    assert q["detail"].item() == ("unparseable_date(admit_date); unparseable_number(age); "
                                  "unknown_code(level_of_care); duplicate_episode_id(episode_id): first occurrence kept")
    assert EPISODE_CHECKS.index("unparseable_date") < EPISODE_CHECKS.index("unknown_code")


def test_duplicate_keeps_first_even_if_first_is_quarantined(make_episodes):
    df = pd.concat([make_episodes(), make_episodes().iloc[[0]]], ignore_index=True)
    df.loc[0, "level_of_care"] = "bogus"
    loaded, q = validate_episodes(df, as_of=AS_OF)
    assert q["reason"].tolist() == ["unknown_code", "duplicate_episode_id"]
    assert "e1" not in set(loaded["episode_id"])


def test_repairs(make_episodes):
    df = make_episodes()
    df.loc[1, "discharge_reason"] = ""  # closed without reason
    df.loc[4, "discharge_date"] = "2024-03-01"  # same-day discharge
    notes: list[str] = []
    loaded, q = validate_episodes(df, as_of=AS_OF, notes=notes)
    assert len(q) == 0
    assert loaded.loc[1, "discharge_reason"] == "other"
    assert loaded["los_days"].tolist()[:2] == [44.0, 51.0] and loaded.loc[4, "los_days"] == 1.0
    assert np.isnan(loaded.loc[2, "los_days"])  # open
    assert (loaded["los_min"].fillna(-1) == loaded["los_days"].fillna(-1)).all()
    assert any("'other'" in n for n in notes)
    assert loaded["age_group"].astype(str).tolist() == ["30-34", "45-49", "25-29", "55-64", "21-24"]


def test_given_age_group_is_kept(make_episodes):
    df = make_episodes().assign(age_group=["25-29", "", "", "", ""])
    loaded, _ = validate_episodes(df, as_of=AS_OF)
    assert loaded["age_group"].astype(str).tolist()[:2] == ["25-29", "45-49"]


def test_quarantine_layout_and_raw_name_clash():
    df = pd.DataFrame({"episode_id": ["e1"], "session_date": ["x"], "attended": ["1"], "value": ["raw"]})
    loaded, q = validate_sessions(df)
    assert list(q.columns) == [*QUARANTINE_META, "episode_id", "session_date", "attended", "input_value"]
    assert q["input_value"].item() == "raw"


def test_typed_input_accepted_and_validation_idempotent(make_episodes):
    loaded, q = validate_episodes(make_episodes(), as_of=AS_OF)
    again, q2 = validate_episodes(loaded, as_of=AS_OF)
    assert len(q2) == 0
    pd.testing.assert_frame_equal(loaded, again)


# ---------------------------------------------------------------- follow-ups
def _fu():
    return pd.DataFrame({"episode_id": ["e1", "e2", "e1"], "days_after_discharge": ["30", "90", "180"],
                         "responded": ["yes", "no", "true"], "any_use": ["no", "", "1"],
                         "source": ["self_report", "self_report", "urine_test"]})


@pytest.mark.parametrize(
    "col,value,reason",
    [
        ("episode_id", "", "missing_required"),
        ("responded", "", "missing_required"),
        ("days_after_discharge", "", "missing_required"),
        ("days_after_discharge", "thirty", "unparseable_number"),
        ("days_after_discharge", "30.5", "unparseable_number"),
        ("responded", "perhaps", "unknown_code"),
        ("source", "phone", "unknown_code"),
        ("days_after_discharge", "-5", "negative_followup_day"),
        ("any_use", "yes", "use_without_response"),
    ],
)
def test_followup_reason(col, value, reason):
    df = _fu()
    df.loc[1, col] = value
    loaded, q = validate_followups(df)
    assert q["reason"].tolist() == [reason] and q["row"].item() == 2 and len(loaded) == 2


def test_followup_orphan_future_and_days_from_dates(make_episodes):
    eps, _ = validate_episodes(make_episodes(), as_of=AS_OF)
    df = pd.DataFrame({"episode_id": ["e1", "zz", "e1", "e3", "e2"],
                       "followup_date": ["2024-03-16", "2024-03-16", "2030-01-01", "2024-05-01", "2024-02-01"],
                       "responded": ["yes"] * 5})
    loaded, q = validate_followups(df, episodes=eps, as_of=AS_OF)
    assert loaded["days_after_discharge"].tolist() == [30]
    assert q["reason"].tolist() == ["orphan_followup", "future_date", "missing_required", "negative_followup_day"]
    assert q["column"].tolist()[2] == "days_after_discharge"  # e3 is open: no discharge to count from
    assert set(FOLLOWUP_CHECKS) >= set(q["reason"])


# ---------------------------------------------------------------- sessions
def _sess():
    return pd.DataFrame({"episode_id": ["e1", "e1", "e2"], "session_date": ["2024-01-03", "2024-01-05", "2024-01-12"],
                         "attended": ["1", "0", "yes"], "hours": ["3", "0", "2.5"]})


@pytest.mark.parametrize(
    "col,value,reason",
    [
        ("session_date", "", "missing_required"),
        ("attended", "", "missing_required"),
        ("session_date", "yesterday", "unparseable_date"),
        ("hours", "two", "unparseable_number"),
        ("attended", "late", "unknown_code"),
        ("session_date", "2030-01-01", "future_date"),
        ("hours", "-1", "negative_hours"),
    ],
)
def test_session_reason(col, value, reason):
    df = _sess()
    df.loc[1, col] = value
    loaded, q = validate_sessions(df, as_of=AS_OF)
    assert q["reason"].tolist() == [reason] and len(loaded) == 2


def test_session_orphan_and_outside_episode(make_episodes):
    eps, _ = validate_episodes(make_episodes(), as_of=AS_OF)
    # e1: 2024-01-02 .. 2024-02-15 ; e3 open from 2024-02-01
    df = pd.DataFrame({"episode_id": ["e1", "e1", "e1", "e1", "zz", "e3"],
                       "session_date": ["2024-01-02", "2024-02-16", "2024-01-01", "2024-02-17", "2024-01-05", "2024-06-01"],
                       "attended": ["1"] * 6})
    loaded, q = validate_sessions(df, episodes=eps, as_of=AS_OF)
    assert loaded["session_date"].dt.strftime("%m-%d").tolist() == ["01-02", "02-16", "06-01"]
    assert q["reason"].tolist() == ["session_outside_episode", "session_outside_episode", "orphan_session"]
    assert SESSION_CHECKS[-1] == "session_outside_episode"


# ---------------------------------------------------------------- in-treatment screens
def test_urine_screen_before_discharge_is_in_treatment_screen_not_an_error(make_episodes):
    from iopstats.io.validate import OUT_OF_SCOPE_REASONS

    df = _fu()
    df.loc[1, "days_after_discharge"] = "-5"  # self-report before discharge: an error
    df.loc[2, "days_after_discharge"] = "-5"  # urine screen before discharge: out of scope
    loaded, q = validate_followups(df)
    assert q["reason"].tolist() == ["negative_followup_day", "in_treatment_screen"]
    assert q["column"].tolist() == ["days_after_discharge"] * 2 and q["value"].tolist() == ["-5", "-5"]
    assert "during treatment" in q["detail"].iloc[1]
    assert OUT_OF_SCOPE_REASONS == {"in_treatment_screen"} and OUT_OF_SCOPE_REASONS <= set(FOLLOWUP_CHECKS)
    assert FOLLOWUP_CHECKS.index("in_treatment_screen") == FOLLOWUP_CHECKS.index("negative_followup_day") - 1


def test_in_treatment_screen_from_dates_and_episodes(make_episodes):
    eps, _ = validate_episodes(make_episodes(), as_of=AS_OF)  # e1: 2024-01-02 .. 2024-02-15
    df = pd.DataFrame({"episode_id": ["e1"] * 4,
                       "followup_date": ["2024-01-20", "2024-02-15", "2024-03-16", "2023-12-30"],
                       "responded": ["yes"] * 4, "any_use": ["no"] * 4,
                       "source": ["urine_test", "urine_test", "urine_test", "urine_test"]})
    loaded, q = validate_followups(df, episodes=eps, as_of=AS_OF)
    assert loaded["days_after_discharge"].tolist() == [0, 30]  # discharge day counts as follow-up day 0
    assert q["reason"].tolist() == ["in_treatment_screen", "in_treatment_screen"]
    assert q["value"].tolist() == ["-26", "-47"]


def test_bad_as_of_raises_even_without_date_columns():
    from iopstats.exceptions import IopstatsError

    with pytest.raises(IopstatsError, match="as_of is not a date"):
        validate_followups(_fu(), as_of="someday")


def test_quarantine_renames_clashing_raw_columns_to_unique_names():
    df = _sess().assign(row=["a", "b", "c"], input_row=["x", "y", "z"], reason=["r"] * 3)
    df.loc[1, "hours"] = "-1"
    _, q = validate_sessions(df, as_of=AS_OF)
    assert q.columns.is_unique
    assert q[["row", "input_input_row", "input_row", "input_reason"]].values.tolist() == [[2, "b", "y", "r"]]
