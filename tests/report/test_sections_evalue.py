"""E-values beside the adjusted comparisons of the outcomes page."""

from __future__ import annotations

import pandas as pd

from iopstats.report.blocks import Derived
from iopstats.report.sections import _e_value_cells


def test_e_value_cells_match_vanderweele_ding_example():
    # VanderWeele & Ding (2017): RR 3.9 (1.8 to 8.7) -> E-values 7.26 and 3.00
    a = pd.Series({"adj_risk_ratio": 3.9, "rr_ci_low": 1.8, "rr_ci_high": 8.7})
    ratio, ev = _e_value_cells(a, ("k1",))
    assert isinstance(ratio, Derived) and ratio.value == "3.90 (1.80 to 8.70)" and ratio.deps == ("k1",)
    assert ev.value == "7.26 / 3.00" and ev.deps == ("k1",)


def test_e_value_of_a_protective_ratio_uses_its_inverse_and_an_interval_holding_one_gives_one():
    # RR 0.4: E = 1/0.4 + sqrt(1/0.4 * (1/0.4 - 1)) = 2.5 + sqrt(3.75) = 4.44; the interval holds 1
    a = pd.Series({"adj_risk_ratio": 0.4, "rr_ci_low": 0.2, "rr_ci_high": 1.1})
    _, ev = _e_value_cells(a, ())
    assert ev.value == "4.44 / 1.00"


def test_e_value_cells_say_not_estimable_without_a_finite_ratio():
    a = pd.Series({"adj_risk_ratio": float("nan"), "rr_ci_low": float("nan"), "rr_ci_high": float("nan")})
    ratio, ev = _e_value_cells(a, ())
    assert ratio.value is None and ratio.why == "not estimable" and ev.why == "not estimable"
