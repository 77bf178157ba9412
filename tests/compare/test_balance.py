"""balance_table: standardized mean differences before / after weighting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iopstats.compare.balance import balance_table
from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 300
    return pd.DataFrame({
        "loc": rng.choice(["iop", "outpatient", "php"], n),
        "sex": rng.choice(["female", "male"], n),
        "age": rng.integers(18, 70, n).astype(float),
        "psych": rng.random(n) < 0.4,
    })


def test_smd_by_hand_binary_and_numeric():
    df = frame()
    out = balance_table(df, "loc", ["sex", "age", "psych"])
    ref, lv = df[df["loc"] == "iop"], df[df["loc"] == "php"]
    # numeric: sample variances (n - 1), pooled as sqrt((s1^2 + s0^2) / 2)
    sd = np.sqrt((ref["age"].var() + lv["age"].var()) / 2)
    row = out[(out["term"] == "age") & (out["level"] == "php")].iloc[0]
    assert row["smd_before"] == pytest.approx((lv["age"].mean() - ref["age"].mean()) / sd, rel=1e-12)
    # binary: p (1 - p)
    p1, p0 = (lv["sex"] == "female").mean(), (ref["sex"] == "female").mean()
    row = out[(out["term"] == "sex[female]") & (out["level"] == "php")].iloc[0]
    expected = (p1 - p0) / np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    assert row["smd_before"] == pytest.approx(expected, rel=1e-12)
    assert set(out["term"]) == {"sex[female]", "sex[male]", "age", "psych[False]", "psych[True]"}
    assert set(out["level"]) == {"outpatient", "php"}
    assert "smd_after" not in out
    assert (out["imbalanced"] == (out["smd_before"].abs() > 0.1)).all()


def test_balancing_weights_change_means_not_denominator():
    df = frame()
    w = np.where(df["loc"] == "iop", 2.0, 1.0) * np.where(df["sex"] == "female", 1.5, 1.0)
    out = balance_table(df, "loc", ["sex", "age"], balancing_weights=w)
    ref = df["loc"] == "iop"
    lv = df["loc"] == "outpatient"
    m_ref = np.average(df.loc[ref, "age"], weights=w[ref])
    m_lv = np.average(df.loc[lv, "age"], weights=w[lv])
    sd = np.sqrt((df.loc[ref, "age"].var() + df.loc[lv, "age"].var()) / 2)
    row = out[(out["term"] == "age") & (out["level"] == "outpatient")].iloc[0]
    assert row["ref_mean_weighted"] == pytest.approx(m_ref)
    assert row["smd_after"] == pytest.approx((m_lv - m_ref) / sd, rel=1e-12)
    # a Series aligned to the index and a column name give the same table
    df2 = df.assign(bw=w)
    pd.testing.assert_frame_equal(out, balance_table(df2, "loc", ["sex", "age"], balancing_weights="bw"))
    pd.testing.assert_frame_equal(
        out, balance_table(df, "loc", ["sex", "age"], balancing_weights=pd.Series(w, index=df.index)))


def test_frequency_weights_equal_row_level():
    df = frame().drop(columns="age")
    rows = balance_table(df, "loc", ["sex", "psych"])
    table = collapse(df, ["loc", "sex", "psych"])
    coll = balance_table(table, "loc", ["sex", "psych"], weights="n")
    pd.testing.assert_frame_equal(rows, coll, check_exact=False, rtol=1e-12)


def test_missing_values_get_an_indicator():
    df = frame()
    df.loc[df.index[:20], "sex"] = None
    df.loc[df.index[20:30], "age"] = np.nan
    out = balance_table(df, "loc", ["sex", "age"])
    assert {"sex[missing]", "age[missing]"} <= set(out["term"])
    ref = df[df["loc"] == "iop"]
    row = out[(out["term"] == "age") & (out["level"] == "php")].iloc[0]
    assert row["ref_mean"] == pytest.approx(ref["age"].mean())  # over non-missing rows


def test_input_not_modified():
    df = frame()
    before = df.copy()
    balance_table(df, "loc", ["sex", "age", "psych"], balancing_weights=np.ones(len(df)))
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("kwargs, match", [
    ({"covariates": ["nope"]}, "column not found"),
    ({"covariates": []}, "at least one covariate"),
    ({"covariates": ["loc"]}, "used twice"),
    ({"covariates": ["sex"], "reference": "detox"}, "reference level not found"),
    ({"covariates": ["sex"], "balancing_weights": np.ones(3)}, "one value per row"),
    ({"covariates": ["sex"], "balancing_weights": "nope"}, "column not found"),
    ({"covariates": ["sex"], "threshold": -1}, "threshold"),
])
def test_errors(kwargs, match):
    with pytest.raises(IopstatsError, match=match):
        balance_table(frame(), "loc", **kwargs)


def test_negative_balancing_weights_rejected():
    df = frame()
    with pytest.raises(IopstatsError, match="non-negative"):
        balance_table(df, "loc", ["sex"], balancing_weights=-np.ones(len(df)))
