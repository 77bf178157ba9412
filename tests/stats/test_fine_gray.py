"""fine_gray() against R cmprsk::crr (tests/reference/fine_gray/fine_gray_reference.R).

Real data: CTN-0094 episodes (dropout / completion as competing causes; also administratively
censored at day 70). Tied synthetic data: whole days, three causes (../survival/competing_risks.csv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats import fine_gray
from iopstats.exceptions import IopstatsError

REF = Path(__file__).resolve().parents[1] / "reference"
CTN = pd.read_csv(REF / "pipeline" / "ctn0094_outcomes.csv")
ADM = CTN.assign(
    exit_cause=np.where(CTN["time_in_treatment"] > 70, "censored", CTN["exit_cause"]),
    time_in_treatment=np.minimum(CTN["time_in_treatment"], 70),
)
CR = pd.read_csv(REF / "survival" / "competing_risks.csv")
COV_CTN = ["level_of_care", "sex", "race"]
CASES = {  # name -> (data, time, cause, covariates, event, censor_code)
    "ctn_dropout": (CTN, "time_in_treatment", "exit_cause", COV_CTN, "dropped_out", "censored"),
    "ctn_completed": (CTN, "time_in_treatment", "exit_cause", COV_CTN, "completed", "censored"),
    "ctn_admin": (ADM, "time_in_treatment", "exit_cause", COV_CTN, "dropped_out", "censored"),
    "cr_cause1": (CR, "time", "cause", ["group", "stratum"], 1, 0),
    "cr_cause3": (CR, "time", "cause", ["group", "stratum"], 3, 0),
}
COEF = pd.read_csv(REF / "fine_gray" / "crr_coef.csv")
BASE = pd.read_csv(REF / "fine_gray" / "crr_baseline.csv")
PRED = pd.read_csv(REF / "fine_gray" / "crr_predict.csv")


def _fit(name, **kw):
    data, t, c, covs, ev, cens = CASES[name]
    return fine_gray(data, t, c, covs, event=ev, censor_code=cens, **kw)


@pytest.mark.parametrize("name", list(CASES))
def test_fine_gray_against_R(name):
    fit = _fit(name)
    ref = COEF[COEF["case"] == name]
    assert fit.converged
    np.testing.assert_allclose(fit.summary["coef"], ref["coef"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(fit.summary["se"], ref["se"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(fit.summary["coef"], ref["coef"], rtol=1e-7)  # in fact far closer
    np.testing.assert_allclose(fit.summary["se"], ref["se"], rtol=1e-7)
    assert fit.loglik == pytest.approx(ref["loglik"].iloc[0], rel=1e-10)
    base = BASE[BASE["case"] == name]
    np.testing.assert_allclose(fit.baseline["time"], base["time"])
    np.testing.assert_allclose(fit.baseline["jump"], base["jump"], rtol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_fine_gray_predict_against_R(name):
    data, t, c, covs, ev, cens = CASES[name]
    fit = _fit(name)
    first = data.dropna(subset=covs).iloc[[0]]
    ref_profile = first.copy()
    for b in fit.design.blocks:
        ref_profile[b.name] = b.levels[0]
    pred = PRED[PRED["case"] == name]
    got = fit.predict(pd.concat([first, ref_profile], ignore_index=True), times=pred["time"])
    np.testing.assert_allclose(got.iloc[:, 0], pred["cif_row1"], rtol=1e-6)
    np.testing.assert_allclose(got.iloc[:, 1], pred["cif_ref"], rtol=1e-6)


def test_fine_gray_collapsed_table_equals_rows():
    rows = _fit("ctn_admin")
    table = ADM.groupby(["time_in_treatment", "exit_cause"] + COV_CTN, as_index=False).size()
    coll = fine_gray(table, "time_in_treatment", "exit_cause", COV_CTN, event="dropped_out",
                     censor_code="censored", weights="size")
    pd.testing.assert_frame_equal(rows.summary, coll.summary, rtol=1e-10)
    assert coll.n == rows.n == len(ADM.dropna(subset=COV_CTN))


def test_adjusted_cif_averages_the_predictions():
    fit = _fit("ctn_admin")
    adj = fit.adjusted_cif(ADM, by="level_of_care", times=[7, 30, 70])
    assert list(adj["group"].unique()) == ["detox_inpatient", "outpatient"]
    rows = ADM.dropna(subset=COV_CTN)
    manual = fit.predict(rows.assign(level_of_care="outpatient"), times=[30]).to_numpy().mean()
    got = adj[(adj["group"] == "outpatient") & (adj["time"] == 30)]["cif"].iloc[0]
    assert got == pytest.approx(manual, rel=1e-12)
    assert adj["cif"].between(0, 1).all()


def test_fine_gray_bad_input():
    with pytest.raises(IopstatsError, match="cause of interest"):
        fine_gray(CTN, "time_in_treatment", "exit_cause", ["sex"], event="relapse")
    with pytest.raises(IopstatsError, match="covariate"):
        fine_gray(CTN, "time_in_treatment", "exit_cause", [], event="dropped_out")
    with pytest.raises(IopstatsError, match="whole-number frequency weights"):
        fine_gray(CR.assign(w=0.5), "time", "cause", ["group"], weights="w")
    with pytest.raises(IopstatsError, match="categorical covariate"):
        _fit("cr_cause1").adjusted_cif(CR, by="time")


def test_fine_gray_interval_coverage_by_simulation():
    """Data from a true Fine-Gray model (Fine & Gray 1999, section 5): the 95% interval of the
    coefficient covers the true value in about 95% of trials, with administrative censoring."""
    rng = np.random.default_rng(1999)
    beta, p, hits, est = 0.5, 0.4, 0, []
    for _ in range(200):
        n = 300
        x = rng.integers(0, 2, n).astype(float)
        e = np.exp(beta * x)
        f1_inf = 1 - (1 - p) ** e
        u = rng.random(n)
        cause1 = u < f1_inf
        with np.errstate(invalid="ignore"):  # only the cause-1 rows are used
            t1 = -np.log(1 - (1 - (1 - u) ** (1 / e)) / p)
        t2 = rng.exponential(1 / np.exp(0.3 * x))
        t = np.where(cause1, t1, t2)
        c = rng.uniform(0.5, 3.0, n)
        df = pd.DataFrame({"t": np.minimum(t, c), "cause": np.where(t <= c, np.where(cause1, 1, 2), 0), "x": x})
        r = fine_gray(df, "t", "cause", ["x"]).summary.iloc[0]
        est.append(r["coef"])
        hits += np.log(r["shr_ci_low"]) <= beta <= np.log(r["shr_ci_high"])
    assert abs(np.mean(est) - beta) < 0.05
    assert 0.91 <= hits / 200 <= 0.99
