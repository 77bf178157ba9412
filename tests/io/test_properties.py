"""Property tests: malformed rows never break the row accounting; malformed files raise IopstatsError."""

from __future__ import annotations

import numpy as np
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


# --------------------------------------------------------------------------- issue 9 properties
FILE_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FILE_HEADER = ["client_id", "episode_id", "level_of_care", "admit_date", "discharge_date", "discharge_reason",
               "los_days", "age", "site"]


@st.composite
def episode_rows(draw, site=st.sampled_from(["Main", "North", ""])):
    n = draw(st.integers(1, 8))
    rows = []
    for i in range(n):
        closed = draw(st.booleans())
        rows.append([f"c{i}", f"e{i}", draw(st.sampled_from(["iop", "outpatient", "x"])), "2024-01-02",
                     "2024-02-02" if closed else "", "completed" if closed else "", "", draw(st.sampled_from(["", "30", "130"])),
                     draw(site)])
    return rows


def _csv(rows, trailing=()):
    lines = [",".join(FILE_HEADER)] + [",".join(r) + ("," if i in trailing else "") for i, r in enumerate(rows)]
    return ("\n".join(lines) + "\n").encode()


@FILE_SETTINGS
@given(episode_rows(), st.data())
def test_trailing_delimiters_never_shift_values(tmp_path_factory, rows, data):
    trailing = data.draw(st.sets(st.integers(0, len(rows) - 1)))
    d = tmp_path_factory.mktemp("t")
    (d / "plain.csv").write_bytes(_csv(rows))
    (d / "trailing.csv").write_bytes(_csv(rows, trailing))
    plain, got = load_episodes(d / "plain.csv", {"as_of": AS_OF}), load_episodes(d / "trailing.csv", {"as_of": AS_OF})
    assert got.report.n_loaded + got.report.n_quarantined == len(rows)
    pd.testing.assert_frame_equal(got.data, plain.data)
    assert got.quarantine["reason"].tolist() == plain.quarantine["reason"].tolist()


ACCENTED = st.text(alphabet="abcXYZ éèüñç", min_size=1, max_size=10)  # cp1252 bytes E7-FC: never valid UTF-8
QUOTES = st.text(alphabet="abc \u201c\u201d\u2018\u2019\u2013\u20ac", min_size=1, max_size=10)  # cp1252 80-9F only


@FILE_SETTINGS
@given(st.one_of(episode_rows(site=ACCENTED), episode_rows(site=QUOTES)), st.data())
def test_each_row_keeps_its_text_whatever_its_encoding(tmp_path_factory, rows, data):
    enc = data.draw(st.lists(st.sampled_from(["utf-8", "cp1252"]), min_size=len(rows), max_size=len(rows)))
    body = (",".join(FILE_HEADER) + "\n").encode() + b"".join(
        (",".join(r) + "\n").encode(e) for r, e in zip(rows, enc))
    p = tmp_path_factory.mktemp("enc") / "e.csv"
    p.write_bytes(body)
    res = load_episodes(p, {"as_of": AS_OF})
    assert res.report.n_loaded + res.report.n_quarantined == len(rows)
    loaded = set(res.data["episode_id"])
    assert res.data["site"].tolist() == [r[8].strip() or None for r in rows if r[1] in loaded]
    want = tuple(i + 1 for i, (r, e) in enumerate(zip(rows, enc)) if e == "cp1252" and not r[8].isascii())
    assert res.report.encoding_fallback_rows == want


number_cells = st.one_of(
    st.sampled_from(["1e400", "-1e400", "1E999", "inf", "-inf", "Infinity", "+inf", "nan", "", "12", "3.5", "1e2"]),
    st.floats(allow_nan=False, allow_infinity=True).map(repr),
    st.integers(-5, 400).map(str),
)


@SETTINGS
@given(st.lists(st.tuples(number_cells, number_cells, number_cells), min_size=1, max_size=10))
def test_non_finite_numbers_never_load(cells):
    n = len(cells)
    eps = pd.DataFrame({"client_id": [f"c{i}" for i in range(n)], "episode_id": [f"e{i}" for i in range(n)],
                        "level_of_care": ["iop"] * n, "admit_date": ["2024-01-02"] * n,
                        "discharge_date": ["2024-12-31"] * n, "discharge_reason": ["completed"] * n,
                        "los_days": [c[0] for c in cells], "age": [c[1] for c in cells]})
    res = load_episodes(eps, {"as_of": AS_OF})
    assert res.report.n_loaded + res.report.n_quarantined == n
    assert np.isfinite(res.data["los_days"].dropna()).all() and np.isfinite(res.data["age"].dropna().astype(float)).all()
    ses = pd.DataFrame({"episode_id": ["e1"] * n, "session_date": ["2024-01-02"] * n, "attended": ["yes"] * n,
                        "hours": [c[2] for c in cells]})
    res = load_sessions(ses, {"as_of": AS_OF})
    assert res.report.n_loaded + res.report.n_quarantined == n
    assert np.isfinite(res.data["hours"].dropna()).all()
    flagged = {c[2] for c in cells if c[2] not in ("", "nan") and _overflows(c[2])}
    assert set(res.quarantine.loc[res.quarantine["reason"] == "non_finite_number", "value"]) == flagged


def _overflows(v: str) -> bool:
    try:
        return not np.isfinite(float(v))
    except ValueError:
        return False


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 9)), min_size=1, max_size=6, unique_by=lambda t: t[0]))
def test_excel_ids_load_as_the_cell_shows_them(tmp_path_factory, ids):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["client_id", "episode_id", "level_of_care", "admit_date"])
    for k, (v, width) in enumerate(ids, start=2):
        ws.append([v, v, "iop", "2024-01-02"])
        ws.cell(row=k, column=1).number_format = "0" * width if width > 1 else "General"
    p = tmp_path_factory.mktemp("x") / "ids.xlsx"
    wb.save(p)
    res = load_episodes(p, {"as_of": AS_OF})
    assert res.report.n_loaded + res.report.n_quarantined == len(ids) and res.report.n_loaded == len(ids)
    assert res.data["client_id"].tolist() == [str(v).zfill(w if w > 1 else 0) for v, w in ids]
    assert res.data["episode_id"].tolist() == [str(v) for v, _ in ids]
