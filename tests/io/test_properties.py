"""Property tests: malformed rows never break the row accounting; malformed files raise IopstatsError."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iopstats.exceptions import IopstatsError
from iopstats.io.load import load_episodes, load_followups, load_sessions
from iopstats.io.validate import validate_episodes, validate_followups, validate_sessions

AS_OF = "2030-12-31"
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

junk = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "NA", "None", "null", ".", "-1", "0", "1e9", "2024-02-30", "13/13/2024", "inf", "  ", "yes"]),
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
dates = st.dates(min_value=pd.Timestamp("2018-01-01").date(), max_value=pd.Timestamp("2026-12-31").date()).map(str)


@st.composite
def episode_frames(draw):
    n = draw(st.integers(0, 12))
    ids = draw(st.lists(st.sampled_from(["e1", "e2", "e3", "e4", "e5", "e6", "e7"]), min_size=n, max_size=n))
    df = pd.DataFrame({
        "client_id": [f"c{i}" for i in range(n)],
        "episode_id": ids,
        "level_of_care": draw(st.lists(st.sampled_from(["iop", "outpatient", "php", "IOP", "x"]), min_size=n, max_size=n)),
        "admit_date": draw(st.lists(dates, min_size=n, max_size=n)),
        "discharge_date": draw(st.lists(st.one_of(dates, st.just("")), min_size=n, max_size=n)),
        "discharge_reason": draw(st.lists(st.sampled_from(["completed", "dropped_out", "", "Other"]), min_size=n, max_size=n)),
        "los_days": draw(st.lists(st.one_of(st.just(""), st.integers(-3, 400).map(str)), min_size=n, max_size=n)),
        "age": draw(st.lists(st.one_of(st.just(""), st.integers(0, 130).map(str)), min_size=n, max_size=n)),
        "psych_problem": draw(st.lists(st.sampled_from(["yes", "no", "", "maybe"]), min_size=n, max_size=n)),
    }, dtype=object)
    # garbage in random cells
    for _ in range(draw(st.integers(0, 6))):
        if n:
            r = draw(st.integers(0, n - 1))
            c = draw(st.sampled_from(list(df.columns)))
            df.loc[r, c] = draw(junk)
    return df


def _episodes_pass(loaded: pd.DataFrame) -> None:
    again, q = validate_episodes(loaded, as_of=AS_OF)
    assert len(q) == 0, q[["reason", "column", "value"]]
    assert len(again) == len(loaded)


@SETTINGS
@given(episode_frames())
def test_episode_rows_always_accounted_and_loaded_rows_pass(df):
    before = df.copy()
    res = load_episodes(df, {"as_of": AS_OF})
    assert res.report.n_loaded + res.report.n_quarantined == len(df)
    assert sorted(res.quarantine["row"]) == sorted(set(res.quarantine["row"]))
    assert not res.data["episode_id"].duplicated().any()
    _episodes_pass(res.data)
    pd.testing.assert_frame_equal(df, before)


@st.composite
def followup_frames(draw):
    n = draw(st.integers(0, 12))
    df = pd.DataFrame({
        "episode_id": draw(st.lists(st.sampled_from(["e1", "e2", "e3", "zz", ""]), min_size=n, max_size=n)),
        "days_after_discharge": draw(st.lists(st.one_of(junk, st.integers(-30, 400).map(str)), min_size=n, max_size=n)),
        "responded": draw(st.lists(st.sampled_from(["yes", "no", "1", "0", "", "?"]), min_size=n, max_size=n)),
        "any_use": draw(st.lists(st.sampled_from(["yes", "no", "", "x"]), min_size=n, max_size=n)),
        "followup_date": draw(st.lists(st.one_of(dates, junk), min_size=n, max_size=n)),
        "source": draw(st.lists(st.sampled_from(["urine_test", "self_report", "", "x"]), min_size=n, max_size=n)),
    }, dtype=object)
    return df


EPISODES = pd.DataFrame({"client_id": ["c1", "c2", "c3"], "episode_id": ["e1", "e2", "e3"],
                         "level_of_care": ["iop"] * 3, "admit_date": ["2019-01-01", "2020-01-01", "2021-01-01"],
                         "discharge_date": ["2019-03-01", "", "2021-02-01"], "discharge_reason": ["completed", "", "other"]})


def _accounted_and_loaded_rows_pass(load, validate, df, with_episodes):
    eps = load_episodes(EPISODES).data if with_episodes else None
    before = df.copy()
    res = load(df, {"as_of": AS_OF}, episodes=eps)
    assert res.report.n_loaded + res.report.n_quarantined == len(df)
    again, q = validate(res.data, episodes=eps, as_of=AS_OF)
    assert len(q) == 0 and len(again) == len(res.data)
    pd.testing.assert_frame_equal(df, before)


@SETTINGS
@given(followup_frames(), st.booleans())
def test_followup_rows_always_accounted_and_loaded_rows_pass(df, with_episodes):
    _accounted_and_loaded_rows_pass(load_followups, validate_followups, df, with_episodes)


@st.composite
def session_frames(draw):
    n = draw(st.integers(0, 12))
    return pd.DataFrame({
        "episode_id": draw(st.lists(st.sampled_from(["e1", "e2", "e3", "zz", ""]), min_size=n, max_size=n)),
        "session_date": draw(st.lists(st.one_of(dates, junk), min_size=n, max_size=n)),
        "attended": draw(st.lists(st.one_of(st.sampled_from(["1", "0", "yes", "no"]), junk), min_size=n, max_size=n)),
        "hours": draw(st.lists(st.one_of(st.floats(-2, 12).map(str), junk), min_size=n, max_size=n)),
    }, dtype=object)


@SETTINGS
@given(session_frames(), st.booleans())
def test_session_rows_always_accounted_and_loaded_rows_pass(df, with_episodes):
    _accounted_and_loaded_rows_pass(load_sessions, validate_sessions, df, with_episodes)


VALID_CSV = EPISODES.to_csv(index=False).encode()


@st.composite
def broken_files(draw):
    kind = draw(st.sampled_from(["random", "truncated", "delimiter", "flipped"]))
    if kind == "random":
        return draw(st.binary(min_size=0, max_size=400))
    if kind == "truncated":
        return VALID_CSV[: draw(st.integers(0, len(VALID_CSV)))]
    if kind == "delimiter":
        sep = draw(st.sampled_from([";", "\t", "|", " "]))
        return EPISODES.to_csv(index=False, sep=sep).encode()
    data = bytearray(VALID_CSV)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    return bytes(data)


@SETTINGS
@given(broken_files(), st.sampled_from(["episodes", "followups", "sessions"]), st.sampled_from([None, ","]))
def test_malformed_files_raise_iopstats_error_or_account_for_rows(tmp_path_factory, content, table, sep):
    p = tmp_path_factory.mktemp("f") / "input.csv"
    p.write_bytes(content)
    loader = {"episodes": load_episodes, "followups": load_followups, "sessions": load_sessions}[table]
    mapping = {"as_of": AS_OF, **({"source": {"delimiter": sep}} if sep else {})}
    try:
        res = loader(p, mapping)
    except IopstatsError:
        return
    assert res.report.n_loaded + res.report.n_quarantined == res.report.n_input
