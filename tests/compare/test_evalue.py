"""e_value() against closed forms and published examples.

VanderWeele & Ding (2017), Ann Intern Med 167:268: breastfeeding and infant mortality,
RR 3.9 (95% CI 1.8 to 8.7) -> E-value 7.26, CI 3.0. The other cases are the closed forms of
the EValue R package's own tests (cran/EValue tests/testthat/testthat.R): rare / common OR
and HR conversions, and true values other than the null on each side of the interval.
"""

from __future__ import annotations

import numpy as np
import pytest

from iopstats import e_value
from iopstats.compare.evalue import add_e_values
from iopstats.exceptions import IopstatsError


def _e(rr):
    return rr + np.sqrt(rr * (rr - 1))


def _row(*a, **k):
    return e_value(*a, **k).summary.iloc[0]


def test_published_breastfeeding_example():
    r = _row(3.9, 1.8, 8.7)
    assert round(r["e_value"], 2) == 7.26
    assert r["e_value_ci"] == pytest.approx(3.0, abs=1e-12)  # 1.8 + sqrt(1.8 * 0.8) = 3 exactly
    r = _row(1 / 3.9, 1 / 8.7, 1 / 1.8)  # the same effect, protective
    assert r["e_value"] == pytest.approx(_e(3.9)) and r["e_value_ci"] == pytest.approx(_e(1.8))


def test_e_value_solves_the_bounding_factor():
    """Ding & VanderWeele (2016): a confounder with RR_EU = RR_UD = E has bias factor E^2 / (2E - 1) = RR."""
    for rr in [1.01, 1.3, 2.0, 3.9, 12.0]:
        e = _row(rr)["e_value"]
        assert e * e / (2 * e - 1) == pytest.approx(rr, rel=1e-12)


def test_protective_and_null_interval():
    r = _row(0.80, 0.71, 0.91)
    assert r["e_value"] == pytest.approx(_e(1 / 0.8)) and r["e_value_ci"] == pytest.approx(_e(1 / 0.91))
    assert _row(1.2, 0.9, 1.6)["e_value_ci"] == 1.0
    assert _row(1.0, 0.8, 1.2)["e_value"] == 1.0


def test_odds_and_hazard_ratio_conversions():
    assert _row(5, measure="OR", rare=True)["e_value"] == pytest.approx(_e(5))
    assert _row(5, measure="OR", rare=False, true=2)["e_value"] == pytest.approx(
        (np.sqrt(5) + np.sqrt(np.sqrt(5) * (np.sqrt(5) - np.sqrt(2)))) / np.sqrt(2))
    assert _row(5, 3, measure="OR", rare=False, true=2)["e_value_ci"] == pytest.approx(
        (np.sqrt(3) + np.sqrt(np.sqrt(3) * (np.sqrt(3) - np.sqrt(2)))) / np.sqrt(2))
    assert _row(0.3, measure="HR", rare=True, true=0.4)["e_value"] == pytest.approx(
        (1 / 0.3 + np.sqrt(1 / 0.3 * (1 / 0.3 - 1 / 0.4))) / (1 / 0.4))

    def conv(h):
        return (1 - 0.5 ** np.sqrt(h)) / (1 - 0.5 ** np.sqrt(1 / h))

    r = _row(1.3, 1.2, 1.4, measure="HR", rare=False, true=1.1)
    rr, lo, t = conv(1.3), conv(1.2), conv(1.1)
    assert r["e_value"] == pytest.approx((rr + np.sqrt(rr * (rr - t))) / t)
    assert r["e_value_ci"] == pytest.approx((lo + np.sqrt(lo * (lo - t))) / t)


@pytest.mark.parametrize("true, point, ci", [
    (1.05, (1.3 + np.sqrt(1.3 * 0.25)) / 1.05, (1.1 + np.sqrt(1.1 * 0.05)) / 1.05),
    (1.2, (1.3 + np.sqrt(1.3 * 0.1)) / 1.2, 1.0),
    (1.35, _e(1.35 / 1.3), 1.0),
    (1.5, _e(1.5 / 1.3), _e(1.5 / 1.4)),
])
def test_true_values_other_than_the_null(true, point, ci):
    r = _row(1.3, 1.1, 1.4, true=true)
    assert r["e_value"] == pytest.approx(point) and r["e_value_ci"] == pytest.approx(ci)


def test_vectorized_for_tables():
    res = e_value([0.7, 1.5], [0.6, 1.1], [0.85, 2.0], measure="HR", rare=False)
    assert len(res.summary) == 2
    one = _row(1.5, 1.1, 2.0, measure="HR", rare=False)
    assert res.summary.iloc[1]["e_value"] == pytest.approx(one["e_value"])


def test_bad_input():
    with pytest.raises(IopstatsError, match="rare"):
        e_value(1.5, measure="HR")
    with pytest.raises(IopstatsError, match="inside its confidence interval"):
        e_value(1.2, 1.3, 1.4)
    with pytest.raises(IopstatsError, match="positive"):
        e_value(-0.2)
    with pytest.raises(IopstatsError, match="measure"):
        e_value(1.2, measure="RD")


def test_add_e_values_to_a_table():
    import pandas as pd

    t = pd.DataFrame({"level": ["iop", "op", "res"], "adj_odds_ratio": [np.nan, 0.8, 1.3],
                      "lo": [np.nan, 0.6, 0.9], "hi": [np.nan, 1.1, 1.9]})
    out = add_e_values(t, "adj_odds_ratio", "lo", "hi", "OR", rare=False, prefix="or")
    assert np.isnan(out.loc[0, "or_e_value"]) and "or_e_value" not in t.columns
    assert out.loc[2, "or_e_value"] == pytest.approx(_e(np.sqrt(1.3)))
    assert out.loc[1, "or_e_value_ci"] == 1.0  # interval 0.6 to 1.1 holds the null
