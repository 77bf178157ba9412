"""Every column build_outcomes returns has a plain-language definition."""

from __future__ import annotations

import pandas as pd

from iopstats.io.schema import coerce_dtypes
from iopstats.outcomes.build import build_outcomes
from iopstats.outcomes.definitions import outcome_definitions


def _episodes():
    return coerce_dtypes(pd.DataFrame({"client_id": ["a", "b"], "episode_id": ["x", "y"],
                                       "level_of_care": ["iop", "residential_short"],
                                       "admit_date": ["2024-01-01", "2024-01-01"],
                                       "discharge_date": ["2024-02-01", None],
                                       "discharge_reason": ["completed", None]}), "episodes")


def test_every_output_column_is_defined_in_output_order():
    out = build_outcomes(_episodes(), as_of="2025-01-01")
    defs = outcome_definitions()
    assert defs["name"].tolist() == list(out.columns)
    assert defs["name"].is_unique


def test_definitions_follow_custom_windows():
    kw = dict(retention_days=(14, 180), followup_windows=(60,), window_tolerance=10,
              readmission_days=(7,), continuity_days=(3, 30))
    out = build_outcomes(_episodes(), as_of="2025-01-01", **kw)
    defs = outcome_definitions(**kw)
    assert defs["name"].tolist() == list(out.columns)
    text = defs.set_index("name").loc["relapse_60_responded", "definition"]
    assert "50-70 days after discharge" in text


def test_definitions_are_filled_plain_sentences():
    defs = outcome_definitions()
    for c in ("definition", "denominator", "source"):
        assert defs[c].str.len().gt(5).all(), c
    assert set(defs["group"]) == {"key", "covariate", "completion", "length of stay", "retention", "engagement",
                                  "relapse", "readmission", "continuity of care"}
    assert defs["definition"].str.endswith(".").all()
