"""Tests for iopstats.stats.rates: Wilson intervals and per-group rates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse
from iopstats.stats.rates import rates, wilson_interval

REF = Path(__file__).resolve().parents[1] / "reference" / "rates"


def test_wilson_interval_against_R():
    # R: prop.test(x, n, conf.level = conf, correct = FALSE)$conf.int  (make_reference.R, part 1)
    ref = pd.read_csv(REF / "wilson.csv")
    for conf, grp in ref.groupby("conf"):
        lo, hi = wilson_interval(grp["x"], grp["n"], confidence=conf)
        np.testing.assert_allclose(lo, grp["ci_low"], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(hi, grp["ci_high"], rtol=1e-9)


def test_wilson_interval_vectorized_and_empty_group():
    lo, hi = wilson_interval(np.array([0, 3, 0]), np.array([0, 10, 7]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert lo[2] == 0.0 and 0 < hi[2] < 1
    assert lo.shape == (3,)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(IopstatsError, match="between 0 and n"):
        wilson_interval(5, 3)
    with pytest.raises(IopstatsError, match="confidence"):
        wilson_interval(1, 3, confidence=1.5)


def test_wilson_coverage_by_simulation():
    # 95% Wilson intervals for p = 0.4, n = 150 and p = 0.55, n = 120: 20,000 replications each
    rng = np.random.default_rng(20240601)
    for p, n in [(0.4, 150), (0.55, 120), (0.1, 60)]:
        x = rng.binomial(n, p, size=20_000)
        lo, hi = wilson_interval(x, n)
        cover = np.mean((lo <= p) & (p <= hi))
        assert 0.935 <= cover <= 0.965, (p, n, cover)


def _frame():
    return pd.DataFrame({
        "level_of_care": pd.Categorical(
            ["outpatient", "iop", "iop", "php", "iop", "outpatient", "php", "iop"],
            categories=["php", "iop", "outpatient", "residential_short"], ordered=True),
        "sex": ["m", "f", "m", "m", "f", "f", "m", "f"],
        "completed": pd.array([True, True, False, None, True, False, True, True], dtype="boolean"),
    })


def test_rates_counts_missing_and_categorical_order():
    out = rates(_frame(), "completed")
    assert list(out["level_of_care"]) == ["php", "iop", "outpatient"]  # categorical order
    assert list(out.columns) == ["level_of_care", "n", "events", "rate", "ci_low", "ci_high",
                                 "n_missing"]
    php = out.iloc[0]
    assert (php["n"], php["events"], php["n_missing"]) == (1, 1, 1)
    iop = out.iloc[1]
    assert (iop["n"], iop["events"]) == (4, 3) and iop["rate"] == 0.75
    lo, hi = wilson_interval(3, 4)
    assert iop["ci_low"] == pytest.approx(float(lo)) and iop["ci_high"] == pytest.approx(float(hi))


def test_rates_subgroup_and_overall():
    out = rates(_frame(), "completed", subgroup="sex")
    assert list(out.columns[:2]) == ["level_of_care", "sex"]
    assert out["n"].sum() + out["n_missing"].sum() == 8
    overall = rates(_frame(), "completed", by=None)
    assert overall.loc[0, "n"] == 7 and overall.loc[0, "events"] == 5


def test_rates_weights_equal_row_level():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"level_of_care": rng.choice(["iop", "outpatient", "php"], 500),
                       "age_group": rng.choice(["18-20", "21-24"], 500),
                       "retained_90": rng.random(500) < 0.45})
    rows = rates(df, "retained_90", subgroup="age_group")
    table = collapse(df, ["level_of_care", "age_group", "retained_90"])
    weighted = rates(table, "retained_90", subgroup="age_group", weights="n")
    for col in ["n", "events", "rate", "ci_low", "ci_high", "n_missing"]:
        np.testing.assert_allclose(rows[col].astype(float), weighted[col].astype(float), rtol=1e-12)
    assert list(rows["level_of_care"]) == list(weighted["level_of_care"])


def test_rates_does_not_modify_input():
    df = _frame()
    before = df.copy()
    rates(df, "completed", subgroup="sex")
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"outcome": "missing_col"}, "column not found"),
        ({"outcome": "sex"}, "binary"),
        ({"outcome": "completed", "by": "nope"}, "column not found"),
        ({"outcome": "completed", "weights": "sex"}, "weights"),
        ({"outcome": "completed", "confidence": 0}, "confidence"),
    ],
)
def test_rates_bad_input_raises_iopstats_error(kwargs, match):
    with pytest.raises(IopstatsError, match=match):
        rates(_frame(), **kwargs)


def test_rates_numeric_outcome_not_binary_raises():
    df = pd.DataFrame({"level_of_care": ["iop", "iop"], "y": [0, 2]})
    with pytest.raises(IopstatsError, match="binary"):
        rates(df, "y")


def test_rates_negative_weight_raises():
    df = pd.DataFrame({"level_of_care": ["iop", "iop"], "y": [0, 1], "w": [1.0, -1.0]})
    with pytest.raises(IopstatsError, match="non-negative"):
        rates(df, "y", weights="w")
