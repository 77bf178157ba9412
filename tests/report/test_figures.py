"""Figures take suppressed tidy tables and return matplotlib Figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from iopstats.exceptions import IopstatsError
from iopstats.io.schema import LEVELS_OF_CARE
from iopstats.report import figures


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]


def test_palette_defined_once_for_every_level():
    assert set(figures.PALETTE) == set(LEVELS_OF_CARE)
    assert len(set(figures.PALETTE.values())) == len(LEVELS_OF_CARE)
    assert figures.level_color("iop") == figures.PALETTE["iop"]


def test_km_figure_uses_level_colours_and_prints_suppressed_at_risk():
    curve = pd.DataFrame({"group": ["iop"] * 3 + ["outpatient"] * 3, "time": [5, 10, 20] * 2,
                          "survival": [0.9, 0.8, 0.6, 0.95, 0.9, 0.85], "ci_low": [0.8, 0.7, 0.5, 0.9, 0.8, 0.7],
                          "ci_high": [1, 0.9, 0.7, 1, 1, 0.95]})
    at_risk = pd.DataFrame({"group": ["iop", "iop", "outpatient", "outpatient"], "time": [0, 20] * 2,
                            "n_at_risk": ["40", "<11", "60", "<11"]})
    fig = figures.km_figure(curve, at_risk)
    assert isinstance(fig, Figure)
    lines = fig.axes[0].get_lines()
    assert lines[0].get_color() == figures.PALETTE["iop"]
    assert "<11" in _texts(fig) and "40" in _texts(fig)
    assert figures.to_png(fig)[:4] == b"\x89PNG"


def test_png_is_deterministic():
    r = pd.DataFrame({"by": ["iop", "php"], "rate": [0.5, np.nan], "ci_low": [0.4, np.nan], "ci_high": [0.6, np.nan]})
    assert figures.to_png(figures.rate_bars(r)) == figures.to_png(figures.rate_bars(r))


def test_rate_bars_label_suppressed_levels():
    r = pd.DataFrame({"by": ["iop", "php"], "rate": [0.5, np.nan], "ci_low": [0.4, np.nan], "ci_high": [0.6, np.nan]})
    fig = figures.rate_bars(r)
    assert "suppressed" in _texts(fig)
    assert len(fig.axes[0].patches) == 1


def test_cuminc_forest_funnel_heatmap_pchart_render():
    ci = pd.DataFrame({"group": ["iop"] * 4, "cause": ["completed", "completed", "dropped_out", "dropped_out"],
                       "time": [10, 20, 10, 20], "estimate": [0.1, 0.3, 0.05, 0.1], "ci_low": [0.05, 0.2, 0.01, 0.05],
                       "ci_high": [0.2, 0.4, 0.1, 0.2]})
    assert len(figures.cuminc_figure(ci).axes) == 2
    fo = pd.DataFrame({"label": ["php (completion)", "outpatient (completion)"], "estimate": [0.02, np.nan],
                       "ci_low": [-0.05, np.nan], "ci_high": [0.09, np.nan]})
    fig = figures.forest_plot(fo, margin=0.1)
    assert "suppressed" in _texts(fig) and " non-inferiority margin" in _texts(fig)
    fu = pd.DataFrame({"level": ["iop", "php"], "admitted": [100.0, 50.0], "retained_30": [80.0, np.nan],
                       "completed": [40.0, 20.0]})
    assert isinstance(figures.funnel_figure(fu), Figure)
    tr = pd.DataFrame({"from \\ to": ["iop", "php"], "iop": [20.0, np.nan], "php": [np.nan, 30.0]})
    fig = figures.transition_heatmap(tr)
    assert "<11" in _texts(fig) and "20" in _texts(fig)
    pc = pd.DataFrame({"period": ["2024-01", "2024-02"], "rate": [0.5, np.nan], "center": [0.5, 0.5],
                       "lcl": [0.3, np.nan], "ucl": [0.7, np.nan]})
    assert isinstance(figures.p_chart(pc), Figure)


def test_empty_and_bad_inputs():
    empty = pd.DataFrame({"group": [], "time": [], "survival": [], "ci_low": [], "ci_high": []})
    assert "Too few episodes to draw (suppressed)" in _texts(figures.km_figure(empty))
    with pytest.raises(IopstatsError, match="needs column"):
        figures.rate_bars(pd.DataFrame({"by": ["a"]}))


def test_figures_do_not_modify_input():
    r = pd.DataFrame({"by": ["iop", "php"], "rate": [0.5, np.nan], "ci_low": [0.4, np.nan], "ci_high": [0.6, np.nan]})
    before = r.copy(deep=True)
    figures.rate_bars(r)
    pd.testing.assert_frame_equal(r, before)
