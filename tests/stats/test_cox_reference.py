"""iopstats.stats.cox / cox_zph against R's survival::coxph / cox.zph (survival 3.5-3).

Reference values: tests/reference/cox/cox_reference.csv and zph_reference.csv, written by
tests/reference/cox/cox_reference.R from the CSV inputs beside it (make_inputs.py wrote the
synthetic ones, seeded). Each test quotes the R call it reproduces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.stats.cox import cox
from iopstats.stats.cox_zph import cox_zph

REF = Path(__file__).resolve().parents[1] / "reference" / "cox"
RTOL = 1e-6


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "cox_reference.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def zref() -> pd.DataFrame:
    return pd.read_csv(REF / "zph_reference.csv")


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


@pytest.fixture(scope="module")
def addicts() -> pd.DataFrame:
    d = _read("addicts.csv")
    d["clinic"] = d["clinic"].astype(str)  # factor(clinic) in R
    return d


@pytest.fixture(scope="module")
def ctn() -> pd.DataFrame:
    return _read("ctn0094.csv")


@pytest.fixture(scope="module")
def ties_rows() -> pd.DataFrame:
    return _read("ties_rows.csv")


@pytest.fixture(scope="module")
def clustered() -> pd.DataFrame:
    return _read("clustered.csv")


def check_fit(fit, ref: pd.DataFrame, model: str, rtol: float = RTOL) -> None:
    r = ref[ref["model"] == model]
    assert len(r), model
    val = r.assign(value=r["value"].astype(float))
    coef = val[val["what"] == "coef"].set_index("term")["value"]
    # same terms, same order, same names as the R script maps them
    assert list(fit.summary.index) == list(coef.index)
    np.testing.assert_allclose(fit.summary["coef"], coef, rtol=rtol)
    se = val[val["what"] == "se"].set_index("term")["value"]
    np.testing.assert_allclose(fit.summary["se"], se, rtol=rtol)
    naive = val[val["what"] == "naive_se"].set_index("term")["value"]
    if len(naive):
        assert fit.robust
        np.testing.assert_allclose(fit.summary["naive_se"], naive, rtol=rtol)
    else:
        assert not fit.robust and "naive_se" not in fit.summary
    var = val[val["what"] == "var"].set_index("term")["value"]
    ours = {f"{i}|{j}": fit.variance.loc[i, j] for i in fit.variance.index for j in fit.variance.columns}
    np.testing.assert_allclose(pd.Series(ours).reindex(var.index), var, rtol=rtol, atol=1e-14)
    s = val[val["term"] == ""].set_index("what")["value"]
    np.testing.assert_allclose(fit.loglik_null, s["loglik_null"], rtol=1e-10)
    np.testing.assert_allclose(fit.loglik, s["loglik"], rtol=1e-10)
    assert fit.n == s["n"] and fit.n_events == s["n_events"]
    t = fit.tests["statistic"]
    np.testing.assert_allclose(t["likelihood_ratio"], s["lr"], rtol=rtol)
    np.testing.assert_allclose(t["wald"], s["wald"], rtol=rtol)
    np.testing.assert_allclose(t["score"], s["score"], rtol=rtol)
    assert (fit.tests["df"] == s["df"]).all()
    if "robust_score" in s:
        np.testing.assert_allclose(t["robust_score"], s["robust_score"], rtol=rtol)
    assert fit.converged


def check_zph(z: pd.DataFrame, zref: pd.DataFrame, model: str) -> None:
    r = zref[zref["model"] == model].set_index("term")
    assert list(z.index) == list(r.index)
    np.testing.assert_allclose(z["chisq"], r["chisq"], rtol=RTOL)
    np.testing.assert_array_equal(z["df"], r["df"])
    np.testing.assert_allclose(z["p_value"], r["p"], rtol=RTOL, atol=1e-300)


ADD = ["clinic", "prison", "dose"]
CTN = ["arm", "age", "is_male"]
TIES = ["level_of_care", "sex", "age_group", "payer"]
CL = ["level_of_care", "age"]


def test_cox_efron_against_R_addicts(addicts, ref, zref):
    # R: coxph(Surv(survt, status) ~ factor(clinic) + prison + dose, data = addicts)
    fit = cox(addicts, "survt", "status", ADD)
    check_fit(fit, ref, "addicts_efron")
    # the published Kleinbaum & Klein estimates
    np.testing.assert_allclose(fit.summary["coef"].round(3), [-1.010, 0.327, -0.035])
    # R: cox.zph(fit); cox.zph(fit, transform = "identity")
    check_zph(cox_zph(fit), zref, "addicts_efron")
    check_zph(cox_zph(fit, transform="identity"), zref, "addicts_efron_identity")


def test_cox_breslow_against_R_addicts(addicts, ref, zref):
    # R: coxph(Surv(survt, status) ~ factor(clinic) + prison + dose, ties = "breslow")
    fit = cox(addicts, "survt", "status", ADD, ties="breslow")
    check_fit(fit, ref, "addicts_breslow")
    check_zph(cox_zph(fit), zref, "addicts_breslow")  # R: cox.zph(fit)


def test_cox_strata_against_R_addicts(addicts, ref, zref):
    # R: coxph(Surv(survt, status) ~ prison + dose + strata(clinic)); cox.zph(fit)
    fit = cox(addicts, "survt", "status", ["prison", "dose"], strata="clinic")
    check_fit(fit, ref, "addicts_strata")
    check_zph(cox_zph(fit), zref, "addicts_strata")


def test_cox_efron_against_R_ctn0094_retention(ctn, ref, zref):
    # R: coxph(Surv(ctn0094_dropout_time, ctn0094_dropout_event) ~ arm + age + is_male)
    fit = cox(ctn, "ctn0094_dropout_time", "ctn0094_dropout_event", CTN)
    check_fit(fit, ref, "ctn_dropout")
    check_zph(cox_zph(fit), zref, "ctn_dropout")  # R: cox.zph(fit), arm tested on 5 df


def test_cox_breslow_against_R_ctn0094_retention(ctn, ref):
    # R: coxph(Surv(ctn0094_dropout_time, ctn0094_dropout_event) ~ arm + age + is_male, ties = "breslow")
    check_fit(cox(ctn, "ctn0094_dropout_time", "ctn0094_dropout_event", CTN, ties="breslow"),
              ref, "ctn_dropout_breslow")


def test_cox_efron_against_R_ctn0094_relapse(ctn, ref, zref):
    # R: coxph(Surv(ctn0094_relapse_time, ctn0094_relapse_event) ~ arm + age + is_male); cox.zph(fit)
    fit = cox(ctn, "ctn0094_relapse_time", "ctn0094_relapse_event", CTN)
    check_fit(fit, ref, "ctn_relapse")
    check_zph(cox_zph(fit), zref, "ctn_relapse")


def test_cox_cluster_site_against_R_ctn0094(ctn, ref):
    # R: coxph(Surv(ctn0094_relapse_time, ctn0094_relapse_event) ~ arm + age + is_male, cluster = site_masked)
    fit = cox(ctn, "ctn0094_relapse_time", "ctn0094_relapse_event", CTN, cluster="site_masked")
    check_fit(fit, ref, "ctn_relapse_cluster_site")
    assert list(fit.tests.index) == ["likelihood_ratio", "wald", "score", "robust_score"]


def test_cox_heavy_ties_against_R(ties_rows, ref, zref):
    # R: coxph(Surv(days, dropped) ~ level_of_care + sex + age_group + payer, data = rows)
    fit = cox(ties_rows, "days", "dropped", TIES)
    check_fit(fit, ref, "ties_rows_efron")
    check_zph(cox_zph(fit), zref, "ties_rows_efron")
    # R: same with ties = "breslow"
    check_fit(cox(ties_rows, "days", "dropped", TIES, ties="breslow"), ref, "ties_rows_breslow")


def test_cox_frequency_weights_against_R_expanded_rows(ref, zref):
    # R fits the 5000 expanded rows; we fit the 2637-row count table with weights = n:
    # R: coxph(Surv(days, dropped) ~ level_of_care + sex + age_group + payer, data = rows)
    counts = _read("ties_counts.csv")
    assert len(counts) < 5000 and counts["n"].sum() == 5000
    fit = cox(counts, "days", "dropped", TIES, weights="n")
    check_fit(fit, ref, "ties_rows_efron")
    check_zph(cox_zph(fit), zref, "ties_rows_efron")
    check_fit(cox(counts, "days", "dropped", TIES, weights="n", ties="breslow"), ref, "ties_rows_breslow")


def test_cox_strata_heavy_ties_against_R(ties_rows, ref):
    # R: coxph(Surv(days, dropped) ~ level_of_care + sex + age_group + strata(payer), data = rows)
    check_fit(cox(ties_rows, "days", "dropped", TIES[:3], strata="payer"), ref, "ties_rows_strata_payer")


def test_cox_cluster_client_against_R(clustered, ref):
    # R: coxph(Surv(days, readmitted) ~ level_of_care + age, cluster = client_id)
    check_fit(cox(clustered, "days", "readmitted", CL, cluster="client_id"), ref, "clustered_client")
    # R: same with ties = "breslow"
    check_fit(cox(clustered, "days", "readmitted", CL, cluster="client_id", ties="breslow"),
              ref, "clustered_client_breslow")
    # R: coxph(Surv(days, readmitted) ~ level_of_care + age + strata(site), cluster = client_id)
    check_fit(cox(clustered, "days", "readmitted", CL, cluster="client_id", strata="site"),
              ref, "clustered_client_strata_site")


def test_cox_iptw_weights_robust_against_R(clustered, ref):
    # R: coxph(Surv(days, readmitted) ~ level_of_care + age, weights = iptw, robust = TRUE)
    check_fit(cox(clustered, "days", "readmitted", CL, weights="iptw", robust=True), ref, "iptw_robust")
    # R: coxph(..., weights = iptw) turns the robust variance on for non-integer weights
    fit = cox(clustered, "days", "readmitted", CL, weights="iptw")
    check_fit(fit, ref, "iptw_default")
    assert any("case weights" in r for r in fit.remarks)
    # R: coxph(..., weights = iptw, cluster = client_id)
    check_fit(cox(clustered, "days", "readmitted", CL, weights="iptw", cluster="client_id"),
              ref, "iptw_cluster")
