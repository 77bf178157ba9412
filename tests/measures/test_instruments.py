"""Instrument scoring against the manuals' items, bands, missing-item rules and flags."""

import numpy as np
import pandas as pd
import pytest

import iopstats
from iopstats.instruments.rules import RULES


def _admin(key, values, day=0, episode="e1", names=None):
    names = names or [f"{key}_{i}" for i in range(1, len(values) + 1)]
    return pd.DataFrame({"episode_id": episode, "day": day, "instrument": key, "item": names, "value": values})


@pytest.mark.parametrize("total,band", [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
                                        (14, "moderate"), (15, "moderately severe"), (19, "moderately severe"),
                                        (20, "severe"), (27, "severe")])
def test_phq9_bands_kroenke_2001(total, band):
    # spread the total over the 9 items (0-3 each) and score from items
    items = [min(3, max(0, total - 3 * i)) for i in range(9)]
    assert sum(items) == total
    s = iopstats.score_instrument(_admin("phq9", items), "phq9").scores.iloc[0]
    assert s["score"] == total and s["band"] == band and bool(s["flag"]) == (total >= 10)


@pytest.mark.parametrize("total,band", [(4, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe"), (21, "severe")])
def test_gad7_bands_spitzer_2006(total, band):
    items = [min(3, max(0, total - 3 * i)) for i in range(7)]
    assert iopstats.score_instrument(_admin("gad7", items), "gad7").scores.iloc[0]["band"] == band


def test_phq9_missing_items_prorated_up_to_two_then_invalid():
    two_missing = _admin("phq9", [3, 3, 3, 3, 3, 3, 3], names=[f"phq9_{i}" for i in range(1, 8)])
    three_missing = _admin("phq9", [1] * 6, day=7, names=[f"phq9_{i}" for i in range(1, 7)])
    s = iopstats.score_instrument(pd.concat([two_missing, three_missing]), "phq9").scores
    assert s.loc[0, "score"] == 27 and s.loc[0, "prorated"]
    assert np.isnan(s.loc[1, "score"]) and not s.loc[1, "valid"]


def test_out_of_range_items_are_quarantined_never_clipped():
    m = _admin("gad7", [0.0, 1, 2, 3, 4, 1, 1])
    m.loc[5, "value"] = 1.5
    res = iopstats.score_instrument(m, "gad7")
    q = res.quarantine
    assert q["item"].tolist() == ["gad7_5", "gad7_6"] and set(q["reason"]) == {"item_out_of_range"}
    assert q["value"].tolist() == [4, 1.5]  # as given
    assert not res.scores.loc[0, "valid"]  # two missing > one allowed


def test_unknown_items_and_totals_out_of_range():
    m = pd.concat([_admin("phq9", [1], names=["phq9_10"]), _admin("phq9", [30], day=3, names=["total"]),
                   _admin("phq9", [12], day=6, names=["total"])])
    res = iopstats.score_instrument(m, "phq9")
    assert res.quarantine["reason"].tolist() == ["unknown_item", "total_out_of_range"]
    assert res.scores["score"].tolist() == [12] and res.scores["band"].tolist() == ["moderate"]


def test_dast10_item3_reverse_scored_skinner_1982():
    yes_all = iopstats.score_instrument(_admin("dast10", [1] * 10), "dast10").scores.iloc[0]
    assert yes_all["score"] == 9 and yes_all["band"] == "severe"
    only3 = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]  # "always able to stop": yes = no problem
    assert iopstats.score_instrument(_admin("dast10", only3), "dast10").scores.iloc[0]["score"] == 0
    none3 = [0] * 10
    s = iopstats.score_instrument(_admin("dast10", none3), "dast10").scores.iloc[0]
    assert s["score"] == 1 and s["band"] == "low"


def test_bam_subscales_and_flags_cacciola():
    # BAM-R items 1..17 (7 and 17 not scored), values chosen per item
    vals = {1: 2, 2: 3, 3: 2, 4: 0, 5: 0, 6: 1, 7: 1, 8: 3, 9: 4, 10: 2, 11: 1, 12: 0, 13: 4, 14: 4, 15: 1, 16: 3, 17: 2}
    m = _admin("bam", list(vals.values()), names=[f"bam_{k}" for k in vals])
    s = iopstats.score_instrument(m, "bam").scores.set_index("scale")
    assert s.loc["use", "score"] == 0 + 0 + 1 and bool(s.loc["use", "flag"])  # any use flagged
    assert s.loc["risk", "score"] == 2 + 3 + 2 + 3 + 1 + 1 and bool(s.loc["risk", "flag"])  # 12 >= 12
    assert s.loc["protective", "score"] == 4 + 2 + 0 + 4 + 4 + 3 and not bool(s.loc["protective", "flag"])  # 17 > 12
    assert len(RULES["bam"].items) == 15 + 9 and {"bam_7", "bam_17"} <= set(RULES["bam"].unscored)
    assert sorted(int(i.split("_")[1]) for sc in RULES["bam"].scales.values() for i in sc) == \
        [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16]


def test_pcl5_and_auditc_ranges_and_cutoffs():
    pcl = iopstats.score_instrument(_admin("pcl5", [2] * 17 + [0, 0, 0]), "pcl5").scores.iloc[0]
    assert pcl["score"] == 34 and bool(pcl["flag"])
    a = iopstats.score_instrument(_admin("auditc", [1, 1, 1]), "auditc").scores.iloc[0]
    assert a["score"] == 3 and not bool(a["flag"])
    assert RULES["pcl5"].item_range == (0, 4) and len(RULES["pcl5"].items) == 20


def test_every_rule_is_cited():
    t = iopstats.instrument_rules()
    assert set(t.instrument) == set(RULES)
    assert (t["source"].str.len() > 20).all()
    for r in RULES.values():
        assert "items" in r.citations and "missing" in r.citations


def test_input_not_modified_and_unknown_instrument():
    m = _admin("phq9", [1] * 9)
    before = m.copy()
    iopstats.score_instrument(m, "phq9")
    pd.testing.assert_frame_equal(m, before)
    with pytest.raises(iopstats.IopstatsError, match="unknown instrument"):
        iopstats.score_instrument(m, "phq8")


def test_prescored_bam_subscales_checked_against_their_range():
    m = pd.DataFrame({"episode_id": "e1", "day": 0, "instrument": "bam", "item": ["use", "risk", "protective", "total"],
                      "value": [3, 25, 12, 30]})
    res = iopstats.score_instrument(m, "bam")
    assert dict(zip(res.quarantine["item"], res.quarantine["reason"])) == {"risk": "total_out_of_range",
                                                                            "total": "unknown_item"}
    s = res.scores.set_index("scale")
    assert s.loc["use", "score"] == 3 and bool(s.loc["use", "flag"]) and bool(s.loc["protective", "flag"])
