"""Report section 'Symptoms and substance use during treatment': content and suppression, without a kernel."""

import numpy as np
import pandas as pd
import pytest

import iopstats
from iopstats.report import privacy
from iopstats.report.section_measures import TITLE, section_measures
from iopstats.synthetic.measures import RCI_SD, synth_measures


@pytest.fixture(scope="module")
def section():
    d = iopstats.synth(600, seed=2)
    sm = synth_measures(d, seed=3)
    out = iopstats.build_outcomes(d.episodes, d.followups, d.sessions)
    return section_measures(sm.measures, out, sd=RCI_SD)


def _small(v) -> bool:
    try:
        x = float(str(v).replace(",", ""))
    except ValueError:
        return False
    return 1 <= x <= 10


def test_no_published_count_of_1_to_10(section):
    count_tables = {"baseline_severity": None, "categories": None, "urine": ["episodes screened"]}
    for name, cols in count_tables.items():
        s = section.tables[name].summary
        for c in (cols or [c for c in s.columns if c != "level"]):
            assert not s[c].map(_small).any(), (name, c)
    for name in ("measured_once", "reliable_improvement", "reliable_improvement_cc", "response", "remission",
                 "urine_end"):
        t = section.tables[name]
        v, m = t.values, t.mask
        shown = ~(m["n"] | m["events"])
        assert not v.loc[~m["n"], "n"].map(_small).any(), name
        assert not v.loc[~m["events"], "events"].map(_small).any(), name
        rest = (v.loc[shown, "n"] - v.loc[shown, "events"]).astype(float)
        assert not rest.between(1, 10).any(), name  # non-events are a cell too
        # a suppressed row shows no rate from which the count could be derived
        assert v.loc[m["events"], "rate"].isna().all(), name


def test_tables_publishable_and_labelled_in_words(section):
    for name, t in section.tables.items():
        privacy.check_publishable(t.values)
        assert not t.summary.astype(str).apply(lambda s: s.str.contains("_")).any().any() or name.startswith(
            "comparison"), name
    for s in section.sentences:
        assert s == privacy.suppress_text_counts(s)  # no small count of people or records
        assert "detox_" not in s and "residential_" not in s
    html = section.to_html()
    assert TITLE in html and "Reliable change" in html


def test_sections_parts_present(section):
    assert {"baseline_severity", "categories", "reliable_improvement", "response", "remission", "comparison_adjusted",
            "trajectories", "urine"} <= set(section.tables)
    assert "trajectories" in section.figures
    adj = [s for s in section.sentences if "IOP minus outpatient" in s]
    assert adj and "percentage points" in adj[0]
    traj = section.tables["trajectories"].values
    assert traj.groupby("level").size().min() >= 2


def test_without_iop_or_without_phq9():
    d = iopstats.synth(200, seed=5, sessions=False)
    sm = synth_measures(d, seed=6)
    eps = d.episodes[d.episodes["level_of_care"] != "iop"]
    m = sm.measures[sm.measures["episode_id"].isin(eps["episode_id"])]
    s = section_measures(m, eps, sd=RCI_SD)
    assert any("No comparison with iop" in x for x in s.sentences) and "comparison" not in s.tables
    only_uds = section_measures(m[m["instrument"] == "uds"], eps)
    assert "urine" in only_uds.tables and any("No phq9 measurements" in x for x in only_uds.sentences)


def test_one_suppression_rule_for_the_page(section):
    level_tables = {n: t for n, t in section.tables.items() if "level" in t.values.columns and len(t.values)}
    hidden = set()
    for t in level_tables.values():
        if "n" in t.mask.columns:
            hidden |= set(t.values.loc[t.mask["n"].to_numpy(), "level"].astype(str))
    assert hidden  # the small levels of the synthetic program
    for name, t in level_tables.items():
        rows = t.values["level"].astype(str).isin(hidden)
        assert t.mask.drop(columns="level")[rows.to_numpy()].all().all(), name
        assert (t.summary.drop(columns="level")[rows.to_numpy()] == "<11").all().all(), name
    assert any("withheld across the section" in s for s in section.sentences)
