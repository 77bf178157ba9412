"""The split modules keep their public names, share one definition, and the shared checks behave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iopstats import _checks
from iopstats.compare import adjust, adjust_survival, noninferiority, propensity
from iopstats.compare import rates as compare_rates_module
from iopstats.compare.relapse import DEFAULT_COVARIATES
from iopstats.exceptions import IopstatsError
from iopstats.outcomes import build, definitions


def test_adjust_reexports_the_split_functions():
    assert adjust.iptw_cox is adjust_survival.iptw_cox
    assert adjust.iptw_kaplan_meier is adjust_survival.iptw_kaplan_meier
    assert adjust.iptw is propensity.iptw and adjust.IPTWResult is propensity.IPTWResult
    assert compare_rates_module.newcombe_interval is noninferiority.newcombe_interval
    assert compare_rates_module.farrington_manning is noninferiority.farrington_manning
    for name in adjust.__all__:
        assert callable(getattr(adjust, name))


def test_covariate_list_defined_once():
    assert build.COVARIATES is definitions.COVARIATES
    assert DEFAULT_COVARIATES is definitions.COVARIATES
    d = definitions.outcome_definitions()
    assert d.loc[d["group"] == "covariate", "name"].tolist() == list(definitions.COVARIATES)


def _frame():
    rng = np.random.default_rng(5)
    n = 400
    return pd.DataFrame({
        "level_of_care": rng.choice(["iop", "outpatient", "php"], n),
        "sex": rng.choice(["f", "m"], n),
        "age_group": rng.choice(["18-24", "25-34", "35-44"], n),
        "done": rng.integers(0, 2, n),
    })


def test_standardized_rates_equal_compare_rates_adjusted_exactly():
    df = _frame()
    std = adjust.standardized_rates(df, "done", ["sex", "age_group"])
    adj = compare_rates_module.compare_rates(df, "done", adjust=["sex", "age_group"]).adjusted
    mine = std.set_index("level").loc[adj["level"]]
    np.testing.assert_array_equal(mine["adj_rate"].to_numpy(), adj["adj_rate"].to_numpy())
    np.testing.assert_array_equal(mine["adj_risk_difference"].to_numpy(), adj["adj_risk_difference"].to_numpy())


@pytest.mark.parametrize("bad", [0, 1, -0.5, "x", None, float("nan")])
def test_check_confidence_rejects(bad):
    with pytest.raises(IopstatsError, match="strictly between 0 and 1"):
        _checks.check_confidence(bad)


def test_checks_do_not_modify_input_and_report_columns():
    df = _frame()
    df.loc[3, "done"] = np.nan
    df["n"] = 2
    before = df.copy(deep=True)
    assert _checks.column_list(["sex"], "covariates") == ["sex"]
    _checks.check_frame(df, ["done", "sex", "n"])
    y = _checks.binary_outcome(df, "done")
    f = _checks.frequency_weights(df, "n")
    assert _checks.treatment_levels(df, "level_of_care", "iop") == ["iop", "outpatient", "php"]
    pd.testing.assert_frame_equal(df, before)
    assert np.isnan(y[3]) and set(np.unique(y[~np.isnan(y)])) <= {0.0, 1.0}
    assert f.dtype == float and (f == 2).all()
    with pytest.raises(IopstatsError) as e:
        _checks.check_frame(df, ["nope"])
    assert e.value.column == "nope"
    with pytest.raises(IopstatsError, match="used twice"):
        _checks.check_frame(df, ["sex", "sex"])
    with pytest.raises(IopstatsError, match="DataFrame"):
        _checks.check_frame(df.to_numpy(), ["sex"])
    with pytest.raises(IopstatsError, match="column names"):
        _checks.column_list([1, 2], "covariates")
    with pytest.raises(IopstatsError, match="reference level not found"):
        _checks.treatment_levels(df, "level_of_care", "residential")


def test_binary_outcome_and_weights_reject_bad_values():
    df = pd.DataFrame({"y": [0, 2, 1], "s": ["a", "b", "a"], "w": [1.0, -1.0, 2.0]})
    with pytest.raises(IopstatsError, match="binary") as e:
        _checks.binary_outcome(df, "y")
    assert e.value.value == 2
    with pytest.raises(IopstatsError, match="binary"):
        _checks.binary_outcome(df, "s")
    with pytest.raises(IopstatsError, match="non-negative") as e:
        _checks.frequency_weights(df, "w")
    assert e.value.row == 1
    with pytest.raises(IopstatsError, match="numeric"):
        _checks.frequency_weights(df, "s")
    obj = pd.DataFrame({"y": pd.Series([True, None, False], dtype=object)})
    np.testing.assert_array_equal(_checks.binary_outcome(obj, "y"), [1.0, np.nan, 0.0])
