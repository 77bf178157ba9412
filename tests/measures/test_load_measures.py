"""load_measures: every row loaded or quarantined; CTN-0094 urine screens, TLFB and withdrawal ratings."""

import numpy as np
import pandas as pd
import pytest

import iopstats
from iopstats.io.ctn0094_measures import CTN0094_MEASURE_FILES
from iopstats.io.readers import read_source
from tests.measures.conftest import CTN


def _episodes():
    return iopstats.load_episodes(pd.DataFrame({
        "client_id": ["c1", "c2"], "episode_id": ["e1", "e2"], "level_of_care": ["iop", "outpatient"],
        "admit_date": ["2024-01-02", "2024-01-10"], "discharge_date": ["2024-02-15", "2024-03-01"],
        "discharge_reason": ["completed", "dropped_out"]}))


def test_rows_loaded_or_quarantined_with_reasons():
    src = pd.DataFrame({
        "episode_id": ["e1", "e1", "e2", "e9", "e1", "e1", "e2", "e1"],
        "measure_date": ["2024-01-02", "2024-01-30", "2024-01-10", "2024-01-10", "2024-01-30", "", "2024-01-11", "2024-01-05"],
        "day": ["", "", "0", "", "", "", "5", ""],
        "instrument": ["phq9"] * 8,
        "item": ["total"] * 8,
        "value": ["18", "9", "12", "3", "8", "4", "7", "inf"],
        "source": ["self_report"] * 7 + ["self_report"],
    })
    before = src.copy()
    res = iopstats.load_measures(src, episodes=_episodes())
    pd.testing.assert_frame_equal(src, before)  # caller's frame untouched
    assert res.report.n_loaded + res.report.n_quarantined == res.report.n_input == 8
    reasons = dict(zip(res.quarantine["row"], res.quarantine["reason"]))
    assert reasons == {4: "orphan_measure", 5: "duplicate_measure", 6: "missing_required",
                       7: "day_inconsistent", 8: "non_finite_number"}
    d = res.data
    assert d["day"].tolist() == [0, 28, 0]  # derived from the admission date
    assert np.isfinite(d["value"]).all()
    assert d["episode_id"].tolist() == ["e1", "e1", "e2"]


def test_day_only_gets_a_date_from_the_episode():
    src = pd.DataFrame({"episode_id": ["e2"], "day": ["14"], "instrument": ["gad7"], "item": ["total"], "value": ["6"]})
    d = iopstats.load_measures(src, episodes=_episodes()).data
    assert d["measure_date"].iloc[0] == pd.Timestamp("2024-01-24")


def test_missing_columns_raise_a_clear_error():
    with pytest.raises(iopstats.IopstatsError, match="value"):
        iopstats.load_measures(pd.DataFrame({"episode_id": ["e1"], "day": ["0"], "instrument": ["phq9"],
                                             "item": ["total"]}))
    with pytest.raises(iopstats.IopstatsError, match="measure_date or day"):
        iopstats.load_measures(pd.DataFrame({"episode_id": ["e1"], "instrument": ["phq9"], "item": ["total"],
                                             "value": ["1"]}))


def test_unknown_source_code_is_quarantined():
    src = pd.DataFrame({"episode_id": ["e1"], "day": ["0"], "instrument": ["phq9"], "item": ["total"],
                        "value": ["3"], "source": ["robot"]})
    res = iopstats.load_measures(src)
    assert res.quarantine["reason"].tolist() == ["unknown_code"]


def test_ctn0094_every_source_row_accounted_for(ctn_measures):
    acc = ctn_measures.extras["accounting"]
    for file in CTN0094_MEASURE_FILES:
        n_rows = len(read_source(CTN / file, format="csv", delimiter=",").frame)
        assert acc.loc[acc.file == file, "n"].sum() == n_rows, file
    rep = ctn_measures.report
    assert rep.n_loaded + rep.n_quarantined == rep.n_input == acc["n"].sum()
    assert set(ctn_measures.data["instrument"]) == {"uds", "tlfb", "withdrawal_level"}
    # quarantined rows are participants never randomized, or empty ratings
    assert set(ctn_measures.quarantine["reason"]) <= {"orphan_measure", "missing_required"}


def test_ctn0094_positive_screens_match_the_source(ctn_measures):
    uds = read_source(CTN / "uds.csv", format="csv", delimiter=",").frame
    d = ctn_measures.data
    loaded_pos = d[(d.instrument == "uds") & (d.value == 1)]
    q = ctn_measures.quarantine
    assert len(loaded_pos) + (q.file == "uds.csv").sum() == len(uds)
    by_item = loaded_pos.groupby("item").size()
    assert (by_item <= uds.groupby("what").size().reindex(by_item.index)).all()
    neg = d[(d.instrument == "uds") & (d.value == 0)]
    assert (neg["item"] == "none").all()
    # a negative screen day never carries a positive result
    keys = set(zip(loaded_pos.episode_id, loaded_pos.day))
    assert not any(k in keys for k in zip(neg.episode_id, neg.day))
