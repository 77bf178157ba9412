"""logrank(rho=, gamma=) against R survdiff(rho=) and the Fleming-Harrington G(rho, gamma) test.

Reference: tests/reference/logrank_fh/logrank_fh_reference.R (survdiff for gamma = 0, the
survMisc / FHtest definition computed from survfit for gamma > 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse
from iopstats.stats.logrank import logrank

REF = Path(__file__).resolve().parents[1] / "reference"
ADDICTS = pd.read_csv(REF / "survival" / "addicts.csv")
CTN = pd.read_csv(REF / "survival" / "ctn0094_outcomes.csv")
TIED = pd.read_csv(REF / "rmst" / "tied.csv")
TIED["half"] = np.where(TIED["client"].str[1:].astype(int) % 2 == 0, "even", "odd")
CASES = {
    "addicts_clinic": (ADDICTS, "survt", "status", "clinic", None),
    "addicts_clinic_prison": (ADDICTS, "survt", "status", "clinic", "prison"),
    "ctn_arm": (CTN, "ctn0094_dropout_time", "ctn0094_dropout_event", "arm", None),
    "tied_group": (TIED, "time", "event", "group", None),
    "tied_group_half": (TIED, "time", "event", "group", "half"),
}
SUMMARY = pd.read_csv(REF / "logrank_fh" / "fh_summary.csv")
TABLE = pd.read_csv(REF / "logrank_fh" / "fh_table.csv")


@pytest.mark.parametrize("row", list(SUMMARY.itertuples(index=False)), ids=lambda r: f"{r.case}-{r.rho}-{r.gamma}")
def test_weighted_logrank_against_R(row):
    data, t, e, by, strata = CASES[row.case]
    res = logrank(data, t, e, by=by, strata=strata, rho=row.rho, gamma=row.gamma)
    assert res.summary["statistic"].iloc[0] == pytest.approx(row.statistic, rel=1e-9)
    assert res.summary["df"].iloc[0] == row.df
    assert res.summary["p_value"].iloc[0] == pytest.approx(row.p_value, rel=1e-7)
    tab = TABLE[(TABLE["case"] == row.case) & (TABLE["rho"] == row.rho) & (TABLE["gamma"] == row.gamma)]
    np.testing.assert_allclose(res.table["observed"], tab["observed"], rtol=1e-10)
    np.testing.assert_allclose(res.table["expected"], tab["expected"], rtol=1e-10)
    np.testing.assert_allclose((res.table["observed"] - res.table["expected"]) ** 2 / res.table["chisq_over_variance"],
                               tab["variance"], rtol=1e-9)


def test_weighted_logrank_collapsed_equals_rows():
    rows = logrank(CTN, "ctn0094_dropout_time", "ctn0094_dropout_event", by="arm", rho=1, gamma=0.5, pairwise=True)
    table = collapse(CTN, ["arm", "ctn0094_dropout_time", "ctn0094_dropout_event"])
    coll = logrank(table, "ctn0094_dropout_time", "ctn0094_dropout_event", by="arm", rho=1, gamma=0.5,
                   weights="n", pairwise=True)
    pd.testing.assert_frame_equal(rows.summary, coll.summary, rtol=1e-12)
    pd.testing.assert_frame_equal(rows.pairwise, coll.pairwise, rtol=1e-10)


def test_rho_zero_is_the_logrank_and_names_the_test():
    a = logrank(ADDICTS, "survt", "status", by="clinic")
    b = logrank(ADDICTS, "survt", "status", by="clinic", rho=0, gamma=0)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    assert logrank(ADDICTS, "survt", "status", by="clinic", rho=1).title.startswith("Peto-Peto")
    assert "G(0, 1)" in logrank(ADDICTS, "survt", "status", by="clinic", gamma=1).title


@pytest.mark.parametrize("bad", [{"rho": -1}, {"gamma": float("nan")}, {"rho": "one"}])
def test_bad_rho_gamma(bad):
    with pytest.raises(IopstatsError, match="must be a number >= 0"):
        logrank(ADDICTS, "survt", "status", by="clinic", **bad)
