"""iopstats.stats.cox_zph beyond the R references: options, weights, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.stats.cox import cox
from iopstats.stats.cox_zph import cox_zph

REF = Path(__file__).resolve().parents[1] / "reference" / "cox"


@pytest.fixture(scope="module")
def fit():
    d = pd.read_csv(REF / "ctn0094.csv")
    return cox(d, "ctn0094_dropout_time", "ctn0094_dropout_event", ["arm", "age", "is_male"])


def test_cox_zph_terms_false_gives_one_test_per_column(fit):
    z = cox_zph(fit, terms=False)
    assert list(z.index) == list(fit.summary.index) + ["GLOBAL"]
    assert (z["df"].iloc[:-1] == 1).all() and z.loc["GLOBAL", "df"] == len(fit.summary)
    # the global test does not depend on the grouping
    np.testing.assert_allclose(z.loc["GLOBAL", "chisq"], cox_zph(fit).loc["GLOBAL", "chisq"], rtol=1e-12)


@pytest.mark.parametrize("transform", ["km", "identity", "log", "rank"])
def test_cox_zph_transforms_valid(fit, transform):
    z = cox_zph(fit, transform=transform)
    assert z["chisq"].ge(0).all() and z["p_value"].between(0, 1).all()
    assert list(z.columns) == ["chisq", "df", "p_value"]


def test_cox_zph_rank_equals_identity_on_times_one_to_n():
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"t": rng.permutation(np.arange(1, 201)).astype(float),
                      "e": rng.integers(0, 2, 200), "x": rng.normal(size=200)})
    f = cox(d, "t", "e", ["x"])
    # with times 1..200, rank(time) == time, so "rank" and "identity" coincide
    pd.testing.assert_frame_equal(cox_zph(f, "rank"), cox_zph(f, "identity"))


def test_cox_zph_detects_non_proportional_hazards():
    rng = np.random.default_rng(11)
    n = 3000
    g = rng.integers(0, 2, n)
    # group 1: high early hazard that vanishes after day 20 (crossing hazards)
    t_early = rng.exponential(np.where(g == 1, 10.0, 60.0))
    t = np.where((g == 1) & (t_early > 20), 20 + rng.exponential(200.0, n), t_early)
    d = pd.DataFrame({"t": np.ceil(np.minimum(t, 150)), "e": (t < 150).astype(int),
                      "g": np.where(g == 1, "b", "a")})
    assert cox_zph(cox(d, "t", "e", ["g"])).loc["g", "p_value"] < 1e-6


def test_cox_zph_errors(fit):
    with pytest.raises(IopstatsError, match="unknown transform"):
        cox_zph(fit, transform="sqrt")
    with pytest.raises(IopstatsError, match="iopstats.cox"):
        cox_zph(fit.summary)
