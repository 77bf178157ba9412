"""The control-chart replacement of the monthly p-chart table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import iopstats
from iopstats.report.tables_control import control_chart_figure, control_chart_table
from iopstats.report.tables_outcomes import p_chart_table


@pytest.fixture(scope="module")
def outcomes():
    return iopstats.build_outcomes(iopstats.synth(4000, seed=11, sessions=False).episodes)


def test_p_chart_equals_current_p_chart_table(outcomes):
    old = p_chart_table(outcomes, "completed")
    new = control_chart_table(outcomes, "completed", chart="p")
    for col in ("period", "n", "events", "rate", "center", "lcl", "ucl"):
        pd.testing.assert_series_equal(new.values[col].astype(old.values[col].dtype), old.values[col],
                                       check_names=False, rtol=1e-12)
    np.testing.assert_array_equal(new.mask["events"].to_numpy(), old.mask["events"].to_numpy())
    assert any("crossings" in r for r in new.remarks)


def test_auto_chooses_laney_when_overdispersed():
    rng = np.random.default_rng(2)
    months = np.repeat([f"2024-{m:02d}" for m in range(1, 13)], 400)
    p = np.repeat(rng.uniform(0.3, 0.6, 12), 400)
    df = pd.DataFrame({"admit_period": months, "completed": rng.random(len(months)) < p})
    t = control_chart_table(df, "completed")
    assert "Laney" in t.title
    plain = control_chart_table(df, "completed", chart="p")
    assert (t.values["ucl"] - t.values["lcl"] > plain.values["ucl"] - plain.values["lcl"]).all()
    assert isinstance(control_chart_figure(t), Figure)
