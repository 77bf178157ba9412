"""iopstats.stats.design.design_matrix: naming, level order, patterns, missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.stats.design import design_matrix, is_categorical


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame({
        "level_of_care": pd.Categorical(["op", "iop", "residential_short", "iop", "op"],
                                        categories=["iop", "op", "residential_short", "php"]),
        "sex": ["male", "female", "male", None, "female"],
        "age": [30.0, 41.0, 25.0, 30.0, 52.0],
        "prior": [True, False, True, True, False],
    })


def test_design_names_and_reference_levels(df):
    d = design_matrix(df, ["level_of_care", "sex", "age", "prior"])
    # category order for categoricals (unused "php" dropped), sorted strings, bools False first
    assert d.columns == ("level_of_care[op]", "level_of_care[residential_short]", "sex[male]",
                         "age", "prior[True]")
    assert d.term_columns() == {"level_of_care": [0, 1], "sex": [2], "age": [3], "prior": [4]}
    assert any("php" in r for r in d.remarks)
    assert any("1 of 5 rows dropped" in r and "sex" in r for r in d.remarks)
    np.testing.assert_array_equal(d.rows, [0, 1, 2, 4])
    np.testing.assert_array_equal(d.X, [[1, 0, 1, 30, 1], [0, 0, 0, 41, 0], [0, 1, 1, 25, 1],
                                        [1, 0, 0, 52, 0]])


def test_design_patterns_reproduce_rows():
    rng = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame({"a": rng.choice(list("xyz"), n), "b": rng.integers(0, 3, n).astype(float),
                       "c": rng.choice(["u", "v"], n)})
    d = design_matrix(df, ["a", "b", "c"])
    assert d.n_patterns == len(df.drop_duplicates())
    # every pattern row equals the rows that carry its code
    X_direct = np.column_stack([(df["a"] == "y"), (df["a"] == "z"), df["b"], (df["c"] == "v")]).astype(float)
    np.testing.assert_array_equal(d.X, X_direct)
    assert len(np.unique(d.patterns, axis=0)) == d.n_patterns


def test_design_many_covariates_key_compression():
    # 25 ten-level covariates: the pattern key would overflow 64 bits without compression
    rng = np.random.default_rng(1)
    df = pd.DataFrame({f"v{i}": rng.integers(0, 10, 300).astype(str) for i in range(25)})
    df = pd.concat([df, df.iloc[:50]], ignore_index=True)  # 50 repeated patterns
    d = design_matrix(df, list(df.columns))
    assert d.n_patterns == 300
    np.testing.assert_array_equal(d.pattern_codes[300:], d.pattern_codes[:50])
    assert d.X.shape == (350, 225)


def test_design_keep_mask_and_input_unchanged(df):
    before = df.copy(deep=True)
    d = design_matrix(df, ["level_of_care", "age"], keep=np.array([True, True, False, True, True]))
    pd.testing.assert_frame_equal(df, before)
    np.testing.assert_array_equal(d.rows, [0, 1, 3, 4])
    assert d.columns == ("level_of_care[op]", "age")  # residential_short unused in kept rows


def test_design_matrix_for_new_data(df):
    d = design_matrix(df, ["level_of_care", "age"])
    new = pd.DataFrame({"level_of_care": ["residential_short", "iop"], "age": [20, 60]})
    np.testing.assert_array_equal(d.matrix_for(new), [[0, 1, 20], [0, 0, 60]])


def test_design_errors(df):
    with pytest.raises(IopstatsError, match="not found"):
        design_matrix(df, ["nope"])
    with pytest.raises(IopstatsError, match="single level"):
        design_matrix(df.assign(site="A"), ["site"])
    with pytest.raises(IopstatsError, match="twice"):
        design_matrix(df, ["age", "age"])
    with pytest.raises(IopstatsError, match="infinite"):
        design_matrix(df.assign(age=np.inf), ["age"])
    with pytest.raises(IopstatsError, match="no rows left"):
        design_matrix(df.assign(sex=None), ["sex"])
    with pytest.raises(IopstatsError, match="no covariates"):
        design_matrix(df, [])


def test_is_categorical():
    assert is_categorical(pd.Series([True, False]))
    assert is_categorical(pd.Series(["a"], dtype="string"))
    assert is_categorical(pd.Series(pd.Categorical([1, 2])))
    assert not is_categorical(pd.Series([1, 2]))
