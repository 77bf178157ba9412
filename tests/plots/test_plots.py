"""Result objects draw themselves (Agg backend): Axes returned, ax= honoured, privacy of the risk table."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import iopstats  # noqa: E402
from iopstats import plots  # noqa: E402
from iopstats.exceptions import IopstatsError  # noqa: E402

REF = Path(__file__).resolve().parents[1] / "reference"
ADDICTS = pd.read_csv(REF / "survival" / "addicts.csv")
CTN = pd.read_csv(REF / "pipeline" / "ctn0094_outcomes.csv")
CR = pd.read_csv(REF / "survival" / "competing_risks.csv")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_km_plot_with_number_at_risk_table():
    km = iopstats.kaplan_meier(ADDICTS, "survt", "status", by="clinic")
    ax = km.plot(times=[0, 200, 400, 600, 800], suppress_below=None)
    assert ax.get_lines() and len(ax.get_lines()) == 2
    texts = _texts(ax)
    assert "Number at risk" in texts
    # at time 0 everyone is at risk; R: summary(survfit(...), times = 400)$n.risk = 79 and 23
    n0 = km.summary["n"].astype(str).tolist()
    assert n0[0] in texts and n0[1] in texts
    s400 = km.table[(km.table["time"] >= 400)].groupby("group")["n_at_risk"].first()
    assert str(int(s400.loc[1])) in texts and str(int(s400.loc[2])) in texts


def test_km_plot_hides_small_counts_by_default():
    named = ADDICTS.assign(clinic="clinic " + ADDICTS["clinic"].astype(str))
    km = iopstats.kaplan_meier(named, "survt", "status", by="clinic")
    ax = km.plot(times=[0, 800, 900])
    texts = _texts(ax)
    assert "<11" in texts
    assert not any(t.isdigit() and 0 < int(t) < 11 for t in texts)
    for line in ax.get_lines():  # curves stop where fewer than 11 are at risk
        x = line.get_xdata()
        last = km.table[km.table["n_at_risk"] >= 11]["time"].max()
        assert np.max(x) <= last


def test_plots_draw_into_a_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    km = iopstats.kaplan_meier(ADDICTS, "survt", "status", by="clinic")
    assert km.plot(ax=ax) is ax
    with pytest.raises(IopstatsError, match="Axes"):
        km.plot(ax="not an axes")


def test_cif_cox_comparison_and_trend_plots():
    ci = iopstats.cumulative_incidence(CR, "time", "cause", by="group")
    ax = ci.plot()
    assert len(ax.get_lines()) == 9  # 3 groups x 3 causes
    fit = iopstats.cox(ADDICTS.assign(clinic=ADDICTS["clinic"].astype(str)), "survt", "status",
                       ["clinic", "prison", "dose"])
    ax = fit.plot()
    assert [t.get_text() for t in ax.get_yticklabels()] == list(fit.summary.index)
    assert ax.get_xscale() == "log"
    comp = iopstats.compare_rates(CTN, "completed", by="level_of_care", reference="outpatient")
    ax = comp.plot()
    assert [t.get_text() for t in ax.get_yticklabels()] == list(comp.summary["level"].astype(str))
    r = iopstats.rates(CTN, "completed", by=["sex", "level_of_care"])
    ax = plots.trend(r, x="sex", group="level_of_care")
    assert len(ax.get_lines()) == 2


def test_new_results_plot():
    rm = iopstats.rmst_difference(ADDICTS, "survt", "status", by="clinic", tau=365)
    assert rm.plot().get_yticklabels()[0].get_text() == "2"
    fg = iopstats.fine_gray(CR, "time", "cause", ["group", "stratum"])
    assert fg.plot() is not None
    adj = fg.adjusted_cif(CR, by="group", times=np.arange(0, 61, 5))
    ax = plots.cif(adj, estimate="cif")
    assert len(ax.get_lines()) == 3
    em = iopstats.effect_modification(CTN.dropna(subset=["race"]), "level_of_care", "sex", model="logistic",
                                      outcome="completed")
    assert len(em.plot().get_yticklabels()) == 2
