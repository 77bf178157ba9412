"""trajectories: linear mixed model of score over weeks by level of care, against R lme4 / nlme.

Reference: tests/reference/mixed/mixed_reference.R (lme4 1.1-31 and nlme 3.1-162 on R 4.2) fitted to
tests/reference/mixed/mixed_data.csv (make_data.py); values committed in mixed_reference.json.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import iopstats

REF = Path(__file__).resolve().parents[1] / "reference" / "mixed"
TERMS = {"(Intercept)": "(Intercept)", "week": "week", "leveloutpatient": "level[outpatient]",
         "levelresidential_short": "level[residential_short]", "leveloutpatient:week": "level[outpatient]:week",
         "levelresidential_short:week": "level[residential_short]:week"}


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "mixed_reference.json").read_text())


@pytest.fixture(scope="module")
def data():
    d = pd.read_csv(REF / "mixed_data.csv", dtype={"episode_id": str, "client_id": str})
    m = d.drop(columns="score").assign(instrument="score", item="total", value=d["score"])
    eps = d.drop_duplicates("episode_id")[["episode_id", "client_id", "level_of_care"]].assign(
        admit_date=pd.Timestamp("2024-01-01"))
    return m, eps


def _check(fit, r, vc_names):
    s = fit.summary.set_index("term")
    for k, v in r["fixef"].items():
        assert s.loc[TERMS[k], "estimate"] == pytest.approx(v, abs=1e-5), k
    for k, v in r["se"].items():
        assert s.loc[TERMS[k], "se"] == pytest.approx(v, abs=1e-5), k
    assert fit.loglik == pytest.approx(r["loglik"], abs=1e-6)
    vc = fit.variance_components.set_index("component")["variance"]
    for row in r["varcorr"]:
        key = vc_names[(row["grp"].split(".")[0], row["var1"], row["var2"])]
        assert vc[key] == pytest.approx(row["vcov"], rel=1e-4, abs=1e-5), key


EPISODE_VC = {("episode_id", "(Intercept)", None): "episode intercept", ("episode_id", "week", None): "episode slope (week)",
              ("episode_id", "(Intercept)", "week"): "intercept-slope", ("Residual", None, None): "residual"}
CLIENT_VC = {("client_id", "(Intercept)", None): "client intercept", ("ce", "(Intercept)", None): "episode intercept",
             ("ce", "week", None): "episode slope (week)", ("Residual", None, None): "residual"}


def test_trajectories_reml_against_R(data, ref):
    m, eps = data
    fit = iopstats.trajectories(m, eps, "score", reml=True, client=False)
    _check(fit, ref["episode_reml"], EPISODE_VC)
    # nlme::lme gives the same fixed effects (two independent R implementations)
    for k, v in ref["episode_reml_nlme"]["fixef"].items():
        assert fit.summary.set_index("term").loc[TERMS[k], "estimate"] == pytest.approx(v, abs=1e-5)


def test_trajectories_ml_against_R(data, ref):
    m, eps = data
    fit = iopstats.trajectories(m, eps, "score", reml=False, client=False)
    _check(fit, ref["episode_ml"], EPISODE_VC)
    for k, v in ref["episode_ml_nlme"]["se"].items():
        assert fit.summary.set_index("term").loc[TERMS[k], "se"] == pytest.approx(v, abs=1e-5)


def test_trajectories_client_level_reml_against_R(data, ref):
    m, eps = data
    fit = iopstats.trajectories(m, eps, "score")  # "auto": 30 clients have two episodes
    assert fit.n_clients == 120 and fit.n_episodes == 150
    _check(fit, ref["client_reml"], CLIENT_VC)


def test_trajectories_client_level_ml_against_R(data, ref):
    m, eps = data
    _check(iopstats.trajectories(m, eps, "score", reml=False), ref["client_ml"], CLIENT_VC)


def test_curves_are_linear_predictions_with_wald_bands(data):
    m, eps = data
    fit = iopstats.trajectories(m, eps, "score", client=False, weeks=[0, 4, 8])
    b = fit.summary.set_index("term")["estimate"]
    c = fit.curves.set_index(["level", "week"])
    assert c.loc[("iop", 8.0), "mean"] == pytest.approx(b["(Intercept)"] + 8 * b["week"])
    op = b["(Intercept)"] + b["level[outpatient]"] + 8 * (b["week"] + b["level[outpatient]:week"])
    assert c.loc[("outpatient", 8.0), "mean"] == pytest.approx(op)
    assert c.loc[("iop", 0.0), "se"] == pytest.approx(fit.summary.set_index("term").loc["(Intercept)", "se"])
    np.testing.assert_allclose(c["ci_high"] - c["mean"], 1.959963984540054 * c["se"], rtol=1e-9)
    assert "lme4" not in fit.to_html() and "(week | episode)" in fit.to_html()


def test_short_measurement_span_is_flagged(data):
    m, eps = data
    early = m[~(m["level_of_care"].eq("outpatient") & (m["day"] > 7))]
    fit = iopstats.trajectories(early, eps, "score", client=False)
    assert any("outpatient span less than two weeks" in r for r in fit.remarks)
