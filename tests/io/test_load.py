"""Loaders end to end: inputs never modified, counts add up, episodes= links, CLI."""

from __future__ import annotations

import pandas as pd
import pytest

from iopstats.cli import main
from iopstats.exceptions import IopstatsError
from iopstats.io.load import LoadResult, load_episodes, load_followups, load_sessions
from iopstats.io.mapping import MAPPINGS_DIR
from iopstats.io.schema import EPISODE_COLUMNS, coerce_dtypes, empty_frame


def test_input_dataframes_never_modified(make_episodes):
    eps = make_episodes().assign(age=[34, 95, None, 40, 22])  # typed + top-coding + missing
    fu = pd.DataFrame({"episode_id": ["e1", "e9"], "followup_date": ["2024-03-16", "2024-03-16"], "responded": [True, True]})
    ses = pd.DataFrame({"episode_id": ["e1", "e1"], "session_date": pd.to_datetime(["2024-01-03", "2023-01-01"]),
                        "attended": [1, 0], "hours": [3.0, None]})
    copies = [d.copy(deep=True) for d in (eps, fu, ses)]
    res = load_episodes(eps)
    load_followups(fu, episodes=res)
    load_sessions(ses, episodes=res.data)
    for before, after in zip(copies, (eps, fu, ses)):
        pd.testing.assert_frame_equal(before, after)


def test_loaded_table_has_canonical_dtypes(make_episodes):
    res = load_episodes(make_episodes())
    assert isinstance(res, LoadResult)
    assert list(res.data.columns) == [c.name for c in EPISODE_COLUMNS]
    pd.testing.assert_series_equal(res.data.dtypes, empty_frame("episodes").dtypes)
    pd.testing.assert_frame_equal(res.data, coerce_dtypes(res.data, "episodes"))


def test_report_counts_and_rows_refer_to_input_rows(tmp_path, make_episodes):
    df = make_episodes()
    df.loc[3, "level_of_care"] = "unknown level"
    p = tmp_path / "e.csv"
    df.to_csv(p, index=False)
    res = load_episodes(p)
    r = res.report
    assert (r.n_input, r.n_loaded, r.n_quarantined) == (5, 4, 1)
    assert r.source == "e.csv" and r.table == "episodes"
    assert res.quarantine["row"].item() == 4  # 1-based data row
    assert res.quarantine["level_of_care"].item() == "unknown level"  # raw field kept
    assert r.reasons.values.tolist() == [["unknown_code", "level_of_care", 1]]
    assert "unknown_code (level_of_care): 1" in str(r) and "1 quarantined" in r.to_html()


def test_followups_without_days_or_date_raise():
    with pytest.raises(IopstatsError, match="days_after_discharge"):
        load_followups(pd.DataFrame({"episode_id": ["e1"], "responded": ["yes"]}))


def test_followups_and_sessions_checked_against_episodes(make_episodes):
    eps = load_episodes(make_episodes())
    fu = load_followups(pd.DataFrame({"episode_id": ["e1", "e2", "x"], "days_after_discharge": ["30", "30", "30"],
                                      "responded": ["1", "0", "1"]}), episodes=eps)
    assert fu.quarantine["reason"].tolist() == ["orphan_followup"]
    ses = load_sessions(pd.DataFrame({"episode_id": ["e2", "e2"], "session_date": ["2024-01-10", "2024-03-03"],
                                      "attended": ["1", "1"]}), episodes=eps)
    assert ses.quarantine["reason"].tolist() == ["session_outside_episode"]


def test_header_only_file_loads_zero_rows(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("client_id,episode_id,level_of_care,admit_date\n")
    res = load_episodes(p)
    assert (res.report.n_input, len(res.data), len(res.quarantine)) == (0, 0, 0)


def test_cli_load_prints_report_and_writes_quarantine(tmp_path, capsys, data_dir):
    out = tmp_path / "q.csv"
    data = tmp_path / "d.parquet"
    rc = main(["load", str(data_dir / "example_ehr.xlsx"), "--mapping", str(MAPPINGS_DIR / "example_ehr.toml"),
               "--quarantine-out", str(out), "--data-out", str(data)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "9 input rows: 5 loaded, 4 quarantined" in text and "Notes looks like phone in 1 rows" in text
    q = pd.read_csv(out)
    assert q["reason"].tolist() == ["discharge_before_admission", "unknown_code", "unparseable_date", "duplicate_episode_id"]
    assert len(pd.read_parquet(data)) == 5


def test_cli_load_sessions_with_episodes(tmp_path, capsys, make_episodes):
    e, s = tmp_path / "e.csv", tmp_path / "s.csv"
    make_episodes().to_csv(e, index=False)
    pd.DataFrame({"episode_id": ["e1", "zz"], "session_date": ["2024-01-05"] * 2, "attended": ["1", "1"]}).to_csv(s, index=False)
    assert main(["load", str(s), "--table", "sessions", "--episodes", str(e)]) == 0
    assert "orphan_session (episode_id): 1" in capsys.readouterr().out


def test_cli_load_error_exit_code(tmp_path, capsys):
    rc = main(["load", str(tmp_path / "missing.csv")])
    assert rc == 2 and "file not found" in capsys.readouterr().err


def test_cli_load_header_row(tmp_path, capsys, make_episodes):
    p = tmp_path / "e.csv"
    p.write_text("Monthly export\n\n" + make_episodes().to_csv(index=False))
    assert main(["load", str(p), "--header-row", "3"]) == 0
    assert "5 input rows" in capsys.readouterr().out
