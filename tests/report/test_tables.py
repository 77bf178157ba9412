"""Report tables: every number passes the suppression layer; inputs unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.result import make_report
from iopstats.report import tables


def _rates():
    return pd.DataFrame({
        "level_of_care": ["inpatient", "residential_short", "php", "iop", "outpatient"],
        "n": [4, 95, 51, 188, 160], "events": [1, 49, 25, 99, 94],
        "rate": [0.25, 0.516, 0.49, 0.527, 0.5875], "ci_low": [0.05, 0.42, 0.36, 0.46, 0.51],
        "ci_high": [0.7, 0.61, 0.62, 0.6, 0.66], "n_missing": [0, 1, 2, 11, 12],
    })


def test_rate_table_suppresses_small_level_and_a_complement():
    r = _rates()
    before = r.copy(deep=True)
    t = tables.rate_table(r, title="Completion")
    pd.testing.assert_frame_equal(r, before)
    s = t.summary.set_index("level_of_care")
    assert s.loc["inpatient", "n"] == "<11" and s.loc["inpatient", "rate"] == "<11"
    hidden_events = (s["events"] == "<11").sum()
    assert hidden_events >= 2  # complementary suppression in the events column
    assert s.loc["iop", "rate"] in ("52.7%", "<11")
    assert "n_missing" not in s.columns
    assert np.isnan(t.values.loc[0, "rate"])
    html = t.to_html()
    assert "&lt;11: suppressed" in html and "Completion" in html


def test_rate_table_complement_of_events_is_protected():
    r = pd.DataFrame({"level_of_care": ["a", "b", "c"], "n": [50, 80, 70], "events": [45, 40, 30],
                      "rate": [0.9, 0.5, 0.43], "ci_low": [0.8, 0.4, 0.3], "ci_high": [0.95, 0.6, 0.55]})
    s = tables.rate_table(r).summary
    assert s.loc[0, "rate"] == "<11"  # 5 non-completers in level a


def _comparison():
    return pd.DataFrame({
        "level": ["inpatient", "residential_short", "outpatient"], "n": [4, 95, 160], "events": [1, 49, 94],
        "rate": [0.25, 0.516, 0.5875], "ref_n": [188] * 3, "ref_events": [99] * 3, "ref_rate": [0.527] * 3,
        "risk_difference": [0.27, 0.01, -0.06], "rd_ci_low": [-0.17, -0.11, -0.16], "rd_ci_high": [0.49, 0.13, 0.04],
        "p_value": [0.35, 0.86, 0.25], "conclusion": ["x", "y", "z"],
    })


def test_comparison_table_hides_effects_built_on_small_counts():
    c = _comparison()
    t = tables.comparison_table(c)
    s = t.summary.set_index("level")
    assert s.loc["inpatient", "risk_difference"] == "<11"
    assert s.loc["inpatient", "conclusion"] == "<11"
    assert s.loc["inpatient", "ref_rate"] != "<11"
    # at least one other level is hidden too (complement for the 1 event)
    assert (s["events"] == "<11").sum() >= 2
    shown = s[s["risk_difference"] != "<11"]
    assert all(v.endswith("pp") for v in shown["risk_difference"])


def test_adjusted_table_follows_raw_suppression():
    c = _comparison()
    raw = tables.comparison_table(c)
    adj = pd.DataFrame({"level": c["level"], "n": [4, 95, 160], "adj_risk_difference": [0.2, 0.02, -0.05],
                        "ci_low": [-0.3, -0.1, -0.15], "ci_high": [0.7, 0.14, 0.05]})
    t = tables.adjusted_table(adj, raw)
    hidden_raw = raw.mask["risk_difference"].tolist()
    assert t.mask["adj_risk_difference"].tolist() == hidden_raw
    assert t.summary.loc[0, "adj_risk_difference"] == "<11"


def test_describe_comparison_states_estimand_and_is_suppressed_with_numbers():
    row = {"level": "residential_short", "adj_risk_difference": -0.052, "ci_low": -0.09, "ci_high": -0.013,
           "conclusion": "inconclusive"}
    text = tables.describe_comparison(row, outcome="completion", adjusted_for=["age_group", "sex"], margin=0.1,
                                      keys=("adj_risk_difference", "ci_low", "ci_high"))
    assert "IOP minus residential_short" in text and "adjusted for age group, sex" in text
    assert "-5.2 percentage points (95% interval -9.0 to -1.3)" in text
    assert "margin of 10 points: inconclusive" in text
    hidden = tables.describe_comparison({"level": "php", "risk_difference": None, "rd_ci_low": None,
                                         "rd_ci_high": None}, outcome="completion")
    assert "not shown" in hidden and "%" not in hidden


def test_relapse_table_hides_all_methods_of_a_level_with_small_cells():
    rel = pd.DataFrame({
        "level": ["iop"] * 3 + ["php"] * 3 + ["outpatient"] * 3,
        "method": ["complete_case", "missing_is_use", "multiple_imputation"] * 3,
        "n_due": [181] * 3 + [40] * 3 + [153] * 3, "n_responded": [124] * 3 + [35] * 3 + [106] * 3,
        "response_rate": [0.685] * 3 + [0.875] * 3 + [0.69] * 3,
        "rate": [0.41, 0.6, 0.4, 0.3, 0.4, 0.3, 0.43, 0.6, 0.44],
        "ci_low": [0.3] * 9, "ci_high": [0.5] * 9,
    })
    t = tables.relapse_table(rel)
    s = t.summary
    assert (s.loc[s.level == "php", "rate"] == "<11").all()  # 5 non-responders
    assert (s["rate"] == "<11").sum() >= 6  # and a complementary level


def test_km_summary_and_at_risk_and_truncation():
    data = pd.DataFrame({"t": np.r_[np.arange(1, 31), np.arange(1, 6)], "e": 1,
                         "g": ["a"] * 30 + ["b"] * 5})
    summ = pd.DataFrame({"group": ["a", "b"], "n": [30, 5], "events": [30, 5], "median": [15.5, 3.0],
                         "median_ci_low": [10, 1], "median_ci_high": [20, 5], "rmean": [15.5, 3], "rmean_se": [1, 1]})
    s = tables.km_summary_table(summ).summary.set_index("group")
    assert s.loc["b", "median"] == "<11" and s.loc["b", "n"] == "<11"
    ar = tables.at_risk_table(data, "t", "g", [0, 10, 25])
    got = dict(zip(zip(ar.group, ar.time), ar.n_at_risk))
    # b has 5 at risk; with the pooled total public, a's 30 would give b away: both hidden
    assert got[("b", 0)] == "<11" and got[("a", 0)] == "<11" and got[("a", 25)] == "<11"
    three = pd.concat([data, pd.DataFrame({"t": np.arange(1, 41), "e": 1, "g": "c"})], ignore_index=True)
    ar3 = tables.at_risk_table(three, "t", "g", [0, 10])
    got3 = dict(zip(zip(ar3.group, ar3.time), ar3.n_at_risk))
    assert got3[("b", 0)] == "<11" and sum(v == "<11" for (g, t), v in got3.items() if t == 0) == 2
    assert got3[("a", 10)] == "21" and got3[("c", 10)] == "31"
    curve = pd.DataFrame({"group": ["a"] * 30, "time": np.arange(1, 31), "survival": np.linspace(1, 0, 30)})
    kept = tables.truncate_curve(curve, data, "t", "g")
    assert kept["time"].max() == 20  # at t=20, 11 remain at risk; at 21 only 10


def test_funnel_and_transition_and_p_chart():
    rng = np.random.default_rng(3)
    n = 300
    o = pd.DataFrame({
        "level_of_care": rng.choice(["iop", "outpatient", "php"], n, p=[0.5, 0.45, 0.05]),
        "retained_30": rng.random(n) < 0.8, "retained_60": rng.random(n) < 0.6, "retained_90": rng.random(n) < 0.4,
        "completed": rng.random(n) < 0.5,
        "client_id": [f"c{i // 2}" for i in range(n)],
        "admit_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        "admit_period": None,
    })
    o["admit_period"] = o["admit_date"].dt.strftime("%Y-%m")
    f = tables.funnel_table(o)
    assert list(f.summary.columns) == ["level", "admitted", "retained_30", "retained_60", "retained_90", "completed"]
    php = f.summary[f.summary.level == "php"].iloc[0]
    assert php["admitted"] == "<11" or int(php["admitted"]) >= 11
    tr = tables.transition_table(o)
    assert tr.summary.columns[0] == "from \\ to"
    for col in tr.summary.columns[1:]:
        for v in tr.summary[col]:
            assert v == "<11" or v == "" or v == "0" or int(v.replace(",", "")) >= 11
    pc = tables.p_chart_table(o, "completed")
    assert {"period", "n", "events", "rate", "center", "lcl", "ucl", "signal"} <= set(pc.values.columns)
    ok = pc.values.dropna(subset=["rate"])
    assert ((ok["lcl"] <= ok["center"]) & (ok["center"] <= ok["ucl"])).all()
    assert "client_id" not in pc.summary.columns and "admit_date" not in pc.summary.columns


def test_data_quality_tables_never_show_values():
    q = pd.DataFrame({"row": [1, 2, 3], "reason": ["bad_code"] * 3, "column": ["sex"] * 3,
                      "value": ["123-45-6789"] * 3, "detail": [""] * 3})
    rep = make_report("x.csv", "episodes", 100, pd.DataFrame(index=range(97)), q,
                      identifier_flags=pd.DataFrame({"column": ["notes"], "kind": ["ssn"], "n_values": [3]}))
    t = tables.quarantine_reasons(rep)
    assert t.summary["n"].tolist() == ["<11"]
    assert "123-45-6789" not in t.to_html()
    f = tables.identifier_flags(rep)
    assert f.summary["n_values"].tolist() == ["<11"] and "123-45-6789" not in f.to_html()
    m = tables.missingness(pd.DataFrame({"a": [None] * 3 + [1] * 40, "b": range(43)}))
    s = m.summary.set_index("column")
    assert s.loc["a", "n_missing"] == "<11" and s.loc["a", "pct_missing"] == "<11"
    assert s.loc["b", "n_missing"] == "0"


def test_make_table_refuses_row_level_ids_and_redacts_identifier_labels():
    with pytest.raises(IopstatsError):
        tables.make_table(pd.DataFrame({"episode_id": ["e1"], "n": [20]}))
    t = tables.make_table(pd.DataFrame({"site": ["jane@x.org", "North"], "n": [20, 30]}), formats={"n": "count"})
    assert t.summary["site"].tolist() == ["[redacted]", "North"]


def test_filter_period_and_kpis():
    o = pd.DataFrame({"admit_period": ["2023-12", "2024-01", "2024-02", None], "client_id": ["a", "b", "c", "d"],
                      "level_of_care": ["iop"] * 4})
    assert len(tables.filter_period(o, "2024-01", "2024-01")) == 1
    kp = dict(tables.cohort_kpis(o))
    assert kp["episodes"] == "<11" and kp["clients"] == "<11"
