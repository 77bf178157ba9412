"""iptw(estimand="ATO") and aipw() against R (tests/reference/ato_aipw/ato_aipw_reference.R).

Real data: CTN-0094 episodes (two levels of care). Synthetic confounded data with three levels
(tests/reference/adjust/adjust_data.csv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats import aipw, iptw, iptw_rates
from iopstats.exceptions import IopstatsError

REF = Path(__file__).resolve().parents[1] / "reference"
R = REF / "ato_aipw"
ADJ = pd.read_csv(REF / "adjust" / "adjust_data.csv")
CTN = pd.read_csv(REF / "pipeline" / "ctn0094_outcomes.csv").dropna(subset=["race"]).reset_index(drop=True)
CASES = {  # name -> (data, outcome, covariates, reference)
    "adjust": (ADJ, "done", ["sev", "sex", "age"], "iop"),
    "ctn": (CTN, "completed", ["sex", "race"], "detox_inpatient"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_ato_weights_against_R(name):
    data, y, covs, ref = CASES[name]
    res = iptw(data, "level_of_care", covs, reference=ref, estimand="ATO", stabilized=False)
    key = "id" if name == "adjust" else "episode_id"
    r = pd.read_csv(R / f"ato_weights_{name}.csv")
    got = pd.Series(res.weights.to_numpy(), index=data[key]).loc[r[key]]
    np.testing.assert_allclose(got.to_numpy(), r["ato"], rtol=1e-6)
    rates = iptw_rates(data, y, covs, reference=ref, estimand="ATO")
    rr = pd.read_csv(R / "ato_rates.csv")
    rr = rr[rr["data"] == name].set_index("level")["rate"]
    np.testing.assert_allclose(rates.set_index("level")["rate"].loc[rr.index], rr, rtol=1e-6)


def test_ato_balances_two_levels_exactly_and_reports_balance():
    res = iptw(CTN, "level_of_care", ["sex", "race"], reference="detox_inpatient", estimand="ATO")
    assert res.balance["smd_after"].abs().max() < 1e-8
    raw = iptw(CTN, "level_of_care", ["sex", "race"], reference="detox_inpatient", estimand="ATO", stabilized=False)
    assert 0 < raw.weights.min() and raw.weights.max() < 1  # overlap weights are bounded by 1
    three = iptw(ADJ, "level_of_care", ["sev", "sex", "age"], estimand="ATO")
    assert {"smd_before", "smd_after"} <= set(three.balance.columns)
    assert set(three.balance["level"]) == {"outpatient", "residential_short"}
    # stabilized ATO weights average 1 within each level; estimates do not change
    stab = three.weights.groupby(ADJ["level_of_care"]).mean()
    np.testing.assert_allclose(stab, 1.0, rtol=1e-12)


@pytest.mark.parametrize("nuisance", ["known", "estimated"])
@pytest.mark.parametrize("name", list(CASES))
def test_aipw_against_R(name, nuisance):
    data, y, covs, ref = CASES[name]
    res = aipw(data, y, covs, reference=ref, nuisance=nuisance)
    kn = nuisance == "known"
    m = pd.read_csv(R / "aipw_mean_risk.csv")
    m = m[(m["data"] == name) & (m["known_nuisance"] == kn)].set_index("level")
    s = res.summary.set_index("level").loc[m.index]
    np.testing.assert_allclose(s["risk"], m["risk"], rtol=1e-6)
    np.testing.assert_allclose(s["se"], m["se"], rtol=1e-5)
    d = pd.read_csv(R / "aipw_diff_risk.csv")
    d = d[(d["data"] == name) & (d["known_nuisance"] == kn) & (d["A"] == ref)].set_index("B")
    s2 = res.summary.set_index("level").loc[d.index]
    np.testing.assert_allclose(-s2["risk_difference"], d["difference"], rtol=1e-6)  # R: B - A
    np.testing.assert_allclose(s2["rd_se"], d["se"], rtol=1e-5)


def test_aipw_collapsed_table_equals_rows():
    rows = aipw(CTN, "completed", ["sex", "race"], reference="detox_inpatient")
    table = CTN.groupby(["level_of_care", "sex", "race", "completed"], as_index=False).size()
    coll = aipw(table, "completed", ["sex", "race"], reference="detox_inpatient", weights="size")
    pd.testing.assert_frame_equal(rows.summary, coll.summary, rtol=1e-8, check_dtype=False)
    assert len(coll.balance) == len(rows.balance)


def test_aipw_is_doubly_robust_by_simulation():
    """Right (saturated) placement model, misspecified outcome model (logistic main effects for
    additive risks): mean estimate near the truth (-0.1) and interval coverage near 95%."""
    rng = np.random.default_rng(3)
    hits, est = 0, []
    for _ in range(200):
        n = 600
        sev = rng.choice(["lo", "hi"], size=n)
        p_trt = np.where(sev == "hi", 0.7, 0.3)
        a = np.where(rng.random(n) < p_trt, "op", "iop")
        p_y = 0.3 + 0.3 * (sev == "hi") + 0.1 * (a == "op")
        y = (rng.random(n) < p_y).astype(int)
        df = pd.DataFrame({"loc": a, "sev": sev, "y": y})
        r = aipw(df, "y", ["sev"], treatment="loc").summary.iloc[1]
        est.append(r["risk_difference"])
        hits += r["rd_ci_low"] <= -0.1 <= r["rd_ci_high"]
    assert abs(np.mean(est) + 0.1) < 0.01
    assert 0.91 <= hits / 200 <= 0.99


def test_aipw_bad_input():
    with pytest.raises(IopstatsError, match="nuisance"):
        aipw(ADJ, "done", ["sev"], nuisance="maybe")
    with pytest.raises(IopstatsError, match="reference"):
        aipw(ADJ, "done", ["sev"], reference="php")
    with pytest.raises(IopstatsError, match="whole-number frequency weights"):
        aipw(ADJ, "done", ["sev"], weights="iptw")
    with pytest.raises(IopstatsError, match="estimand"):
        iptw(ADJ, "level_of_care", ["sev"], estimand="ATC")
