"""kaplan_meier(cluster=) and non-integer weights against R survfit(id=, robust=TRUE).

Reference: tests/reference/rmst/rmst_reference.R (km_robust.csv: survfit(..., weights=, id=,
robust=TRUE) std.err = se of S and limits; rmst_robust_groups.csv: infinitesimal-jackknife
se of the restricted mean from influence.surv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.stats.kaplan_meier import kaplan_meier

REF = Path(__file__).resolve().parents[1] / "reference"
ADDICTS = pd.read_csv(REF / "rmst" / "addicts_w.csv")
TIED = pd.read_csv(REF / "rmst" / "tied.csv")
ADJ = pd.read_csv(REF / "adjust" / "adjust_data.csv")
KM = pd.read_csv(REF / "rmst" / "km_robust.csv")
RM = pd.read_csv(REF / "rmst" / "rmst_robust_groups.csv")
CASES = {  # name -> (data, time, event, by, weights, cluster)
    "addicts_w": (ADDICTS, "survt", "status", "clinic", "w", None),
    "addicts_cl": (ADDICTS, "survt", "status", "clinic", None, "cl"),
    "addicts_w_cl": (ADDICTS, "survt", "status", "clinic", "w", "cl"),
    "tied_w": (TIED, "time", "event", "group", "w", None),
    "tied_cl": (TIED, "time", "event", "group", None, "client"),
    "tied_w_cl": (TIED, "time", "event", "group", "w", "client"),
    "adjust_iptw": (ADJ, "days", "left", "level_of_care", "iptw", None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_km_robust_against_R(name):
    data, t, e, by, w, cl = CASES[name]
    km = kaplan_meier(data, t, e, by=by, weights=w, cluster=cl)
    assert km.variance == "robust"
    ref = KM[KM["data"] == name].reset_index(drop=True)
    tab = km.table
    assert len(tab) == len(ref)
    np.testing.assert_allclose(tab["time"], ref["time"])
    np.testing.assert_allclose(tab["survival"], ref["survival"], rtol=1e-12)
    np.testing.assert_allclose(tab["std_err"], ref["std_err"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(tab["ci_low"], ref["ci_low"], rtol=1e-9)
    np.testing.assert_allclose(tab["ci_high"], ref["ci_high"], rtol=1e-9)


@pytest.mark.parametrize("name", list(CASES))
def test_km_robust_rmean_se_against_R(name):
    data, t, e, by, w, cl = CASES[name]
    for tau in RM.loc[RM["data"] == name, "tau"].unique():
        km = kaplan_meier(data, t, e, by=by, weights=w, cluster=cl, tau=tau)
        ref = RM[(RM["data"] == name) & (RM["tau"] == tau)]
        np.testing.assert_allclose(km.summary["rmean"], ref["rmst"], rtol=1e-10)
        np.testing.assert_allclose(km.summary["rmean_se"], ref["se"], rtol=1e-9)


def test_non_integer_weights_never_silently_greenwood():
    with pytest.raises(IopstatsError, match="robust=False"):
        kaplan_meier(ADDICTS, "survt", "status", weights="w", robust=False)
    with pytest.raises(IopstatsError, match="cluster"):
        kaplan_meier(ADDICTS, "survt", "status", cluster="cl", robust=False)
    whole = ADDICTS.assign(f=np.ceil(ADDICTS["w"]))
    assert kaplan_meier(whole, "survt", "status", weights="f").variance == "greenwood"


def test_robust_frequency_weights_equal_expanded_rows():
    """robust=True with whole-number weights: each original row its own cluster (collapsed == rows)."""
    table = TIED.groupby(["group", "time", "event"], as_index=False).size()
    rows = kaplan_meier(TIED, "time", "event", by="group", robust=True, tau=30)
    coll = kaplan_meier(table, "time", "event", by="group", weights="size", robust=True, tau=30)
    pd.testing.assert_frame_equal(rows.table, coll.table, rtol=1e-12)
    pd.testing.assert_frame_equal(rows.summary, coll.summary, rtol=1e-12)


def test_one_episode_per_cluster_is_the_unclustered_robust_variance():
    a = kaplan_meier(ADDICTS, "survt", "status", by="clinic", cluster="id")
    b = kaplan_meier(ADDICTS, "survt", "status", by="clinic", robust=True)
    pd.testing.assert_frame_equal(a.table, b.table, rtol=1e-12)


def test_missing_cluster_rows_are_dropped_and_counted():
    d = TIED.copy()
    d.loc[:4, "client"] = None
    km = kaplan_meier(d, "time", "event", by="group", cluster="client")
    assert km.summary["n"].sum() == len(d) - 5
    assert any("5 of" in r for r in km.remarks)


def test_clustered_interval_coverage_by_simulation():
    """Clients with 1-6 correlated episodes (shared frailty): the robust 95% interval of S(20)
    covers the truth about 95% of the time; Greenwood's, ignoring the clustering, covers less."""
    rng = np.random.default_rng(42)
    hits_r = hits_g = 0
    reps = 200
    # true marginal S(20) = E[exp(-0.03 * 20 * Z)], Z ~ Gamma(shape 0.5, scale 2): (1 + 2 * 0.6) ** -0.5
    truth = (1 + 2 * 0.6) ** -0.5
    for _ in range(reps):
        k = rng.integers(1, 7, 150)
        z = np.repeat(rng.gamma(0.5, 2.0, 150), k)
        t = rng.exponential(1 / (0.03 * z))
        c = rng.uniform(10, 60, len(t))
        df = pd.DataFrame({"t": np.minimum(t, c), "e": (t <= c).astype(int), "id": np.repeat(np.arange(150), k)})
        rob = kaplan_meier(df, "t", "e", cluster="id").survival_at([20]).iloc[0]
        gw = kaplan_meier(df, "t", "e").survival_at([20]).iloc[0]
        hits_r += rob["ci_low"] <= truth <= rob["ci_high"]
        hits_g += gw["ci_low"] <= truth <= gw["ci_high"]
    assert 0.91 <= hits_r / reps <= 0.99
    assert hits_g < hits_r
