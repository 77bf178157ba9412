"""CTN-0094 on the real harmonised files: every source row accounted for, mapping decisions."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.ctn0094 import CTN0094_FILES, load_ctn0094

CTN = Path(__file__).resolve().parents[3] / "shared" / "data" / "ctn0094"

pytestmark = pytest.mark.skipif(not (CTN / "visit.csv").is_file(), reason="CTN-0094 files not available")


def _rows(name: str) -> int:
    with open(CTN / name, newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


@pytest.fixture(scope="module")
def ctn():
    return load_ctn0094(CTN)


def test_every_source_row_accounted_for(ctn):
    acc = pd.concat([r.extras["accounting"] for r in ctn.values()])
    acc = acc[~acc["file"].str.contains("derived")]
    totals = acc.groupby("file")["n"].sum().to_dict()
    assert totals == {f: _rows(f) for f in CTN0094_FILES}


@pytest.mark.parametrize("table", ["episodes", "followups", "sessions"])
def test_loaded_plus_quarantined_equals_input(ctn, table):
    r = ctn[table]
    assert r.report.n_loaded + r.report.n_quarantined == r.report.n_input
    assert len(r.data) == r.report.n_loaded and len(r.quarantine) == r.report.n_quarantined
    primary = {"episodes": "randomized_outcomes.csv", "sessions": "visit.csv"}.get(table)
    if primary:  # one canonical row per row of the primary file
        acc = r.extras["accounting"]
        assert acc.query("file == @primary and status == 'loaded'")["n"].sum() == r.report.n_loaded


def test_episode_figures(ctn):
    r = ctn["episodes"]
    assert (r.report.n_input, r.report.n_loaded) == (2492, 2492)
    assert r.data["level_of_care"].astype(str).value_counts().to_dict() == {"outpatient": 1922, "detox_inpatient": 570}
    assert "iop" not in set(r.data["level_of_care"])
    assert r.data["discharge_reason"].astype(str).value_counts().to_dict() == {"dropped_out": 1288, "completed": 1204}
    assert r.data["opioid_medication"].all() and r.data["site"].notna().all()
    assert any("no intensive outpatient" in n for n in r.report.notes)


def test_episode_dates_from_dropout_endpoint(ctn):
    # who 3: CTN-0051 Inpatient BUP, rand_day 13, dropout after 7 weeks (event 1)
    e = ctn["episodes"].data.set_index("episode_id").loc["3"]
    assert str(e["admit_date"].date()) == "2000-01-14"
    assert str(e["discharge_date"].date()) == "2000-03-03"  # day 13 + 49
    assert (e["level_of_care"], e["discharge_reason"], e["los_days"]) == ("detox_inpatient", "dropped_out", 49.0)
    assert e["program"] == "CTN-0051 Inpatient BUP" and e["sex"] == "female" and e["race"] == "black"


def test_session_figures(ctn):
    r = ctn["sessions"]
    assert (r.report.n_input, r.report.n_loaded) == (53899, 33703)
    reasons = r.quarantine.groupby("reason").size().to_dict()
    assert reasons == {"missing_required": 12814, "orphan_session": 687, "session_outside_episode": 6695}
    eps = ctn["episodes"].data.set_index("episode_id")
    s = r.data.join(eps[["admit_date", "discharge_date"]], on="episode_id")
    assert (s["session_date"] >= s["admit_date"]).all()
    assert (s["session_date"] <= s["discharge_date"] + pd.Timedelta(days=1)).all()


def test_followup_figures(ctn):
    r = ctn["followups"]
    assert r.report.n_loaded == 6492
    assert (r.data["days_after_discharge"] >= 0).all()
    assert r.data["responded"].all() and r.data["any_use"].notna().all()
    assert set(r.data["source"]) == {"urine_test"}
    acc = r.extras["accounting"].set_index(["file", "status", "reason"])["n"]
    assert acc[("uds.csv", "loaded", "")] == 7060


def test_missing_folder_or_file_raises(tmp_path):
    with pytest.raises(IopstatsError, match="folder not found"):
        load_ctn0094(tmp_path / "nope")
    with pytest.raises(IopstatsError, match="files missing"):
        load_ctn0094(tmp_path)


def test_screens_before_discharge_are_in_treatment_screen_not_errors(ctn):
    r = ctn["followups"]
    assert r.quarantine.groupby("reason").size().to_dict() == {"in_treatment_screen": 35864, "orphan_followup": 690}
    assert "negative_followup_day" not in set(r.quarantine["reason"])
    acc = r.extras["accounting"].set_index(["file", "status", "reason"])["n"]
    assert acc[("uds.csv", "quarantined", "in_treatment_screen")] == 35755
    assert acc[("visit.csv (derived negative screens)", "quarantined", "in_treatment_screen")] == 14471
    # every one of them is dated before its episode's discharge
    q = r.quarantine[r.quarantine["reason"] == "in_treatment_screen"]
    eps = ctn["episodes"].data.set_index("episode_id")
    day = pd.Timestamp("2000-01-01") + pd.to_timedelta(q["when"].astype(int), unit="D")
    assert (day < q["who"].map(eps["discharge_date"])).all()
    assert any("in_treatment_screen" in n for n in r.report.notes)
