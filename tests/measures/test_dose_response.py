"""dose_response: closed-form least squares with HC3 bands; engagement outcomes from build_outcomes plug in."""

import numpy as np
import pandas as pd
import pytest

import iopstats
from iopstats.stats.dose_response import dose_response
from iopstats.synthetic.measures import RCI_SD, synth_measures


def test_linear_curve_equals_closed_form_ols_with_hc3():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 20, 300)
    y = 1.0 - 0.3 * x + rng.normal(0, 1 + 0.1 * x, 300)
    r = dose_response(pd.DataFrame({"h": x, "y": y}), "y", "h", df=1, grid=[0.0, 5.0, 15.0])
    X = np.column_stack([np.ones_like(x), x])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    e = y - X @ beta
    bread = np.linalg.inv(X.T @ X)
    h = np.einsum("ij,jk,ik->i", X, bread, X)
    cov = bread @ (X.T * (e**2 / (1 - h) ** 2)) @ X @ bread  # HC3 (MacKinnon & White 1985)
    g = np.array([[1, 0.0], [1, 5.0], [1, 15.0]])
    np.testing.assert_allclose(r.curve["estimate"], g @ beta, rtol=1e-10)
    se = np.sqrt(np.einsum("ij,jk,ik->i", g, cov, g))
    np.testing.assert_allclose(r.curve["ci_high"] - r.curve["estimate"], 1.959963984540054 * se, rtol=1e-8)


def test_spline_band_covers_a_curved_truth():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 30, 2000)
    truth = lambda v: -4 * (1 - np.exp(-v / 8))  # noqa: E731 (diminishing returns)
    d = pd.DataFrame({"s": x, "change": truth(x) + rng.normal(0, 2, 2000)})
    r = dose_response(d, "change", "s", df=4, grid=np.linspace(2, 28, 14))
    inside = (r.curve["ci_low"] < truth(r.curve["s"])) & (truth(r.curve["s"]) < r.curve["ci_high"])
    assert inside.mean() >= 0.85


def test_binary_outcome_band_in_unit_interval_and_errors():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 500)
    y = pd.array(rng.random(500) < 1 / (1 + np.exp(-(x - 5) / 2)), dtype="boolean")
    r = dose_response(pd.DataFrame({"x": x, "neg": y}), "neg", "x", df=3)
    assert (r.curve["ci_low"] >= 0).all() and (r.curve["ci_high"] <= 1).all()
    assert r.curve["estimate"].is_monotonic_increasing
    with pytest.raises(iopstats.IopstatsError):
        dose_response(pd.DataFrame({"x": x}), "neg", "x")


def test_change_against_engagement_from_build_outcomes():
    d = iopstats.synth(800, seed=2)
    sm = synth_measures(d, seed=3)
    out = iopstats.build_outcomes(d.episodes, d.followups, d.sessions)
    ch = iopstats.change_outcomes(sm.measures, out, "phq9", sd=RCI_SD)
    iop = ch[ch["level_of_care"] == "iop"]
    for exposure in ("n_sessions_attended", "hours_per_week"):
        r = dose_response(iop, "change", exposure, adjust=["baseline_score"], df=3)
        assert r.n > 50 and np.isfinite(r.curve["estimate"]).all()
        assert "not the effect" in r.to_html()
    u = iopstats.urine_outcomes(sm.measures, out, "opioid")
    r = dose_response(u[u["level_of_care"] == "iop"], "share_negative_mp", "n_sessions_attended", df=2)
    assert r.curve["ci_low"].le(r.curve["estimate"]).all()
