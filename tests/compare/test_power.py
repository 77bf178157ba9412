"""Tests for iopstats.compare.power against R's power.prop.test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.compare.power import power_two_proportions, sample_size_two_proportions
from iopstats.exceptions import IopstatsError

REF = Path(__file__).resolve().parents[1] / "reference" / "rates"
POWER = pd.read_csv(REF / "power.csv", skipinitialspace=True)


def _alt(r) -> str:
    if r.alternative == "two.sided":
        return "two-sided"
    return "greater" if r.p1 > r.p2 else "less"  # R's one.sided uses |p1 - p2|


def test_power_two_proportions_against_R():
    # R: power.prop.test(n = n, p1 = p1, p2 = p2, sig.level = alpha, alternative = alt)$power
    for r in POWER.itertuples():
        got = power_two_proportions(r.p1, r.p2, r.n, alpha=r.alpha, alternative=_alt(r))
        assert got == pytest.approx(r.power, rel=1e-6)


def test_sample_size_two_proportions_against_R():
    # R: power.prop.test(p1 = p1, p2 = p2, power = target, sig.level = alpha,
    #                    alternative = alt, tol = 1e-12)$n
    for r in POWER.itertuples():
        res = sample_size_two_proportions(r.p1, r.p2, power=r.target, alpha=r.alpha,
                                          alternative=_alt(r))
        assert res["n1_exact"] == pytest.approx(r.n_for_target, rel=1e-6)
        assert res["n1"] == int(np.ceil(r.n_for_target)) == res["n2"]
        assert res["total"] == res["n1"] + res["n2"]
        assert res["power"] >= r.target


def test_unequal_groups_and_ratio_consistent():
    res = sample_size_two_proportions(0.4, 0.55, power=0.8, ratio=2.0)
    assert res["n2_exact"] == pytest.approx(2 * res["n1_exact"])
    p = power_two_proportions(0.4, 0.55, res["n1_exact"], res["n2_exact"])
    assert p == pytest.approx(0.8, abs=1e-9)
    # power grows with n and is symmetric in the groups
    assert power_two_proportions(0.4, 0.55, 100, 150) == pytest.approx(
        power_two_proportions(0.55, 0.4, 150, 100))
    assert power_two_proportions(0.4, 0.55, 200) > power_two_proportions(0.4, 0.55, 100)


def test_power_by_simulation_matches_formula():
    # the formula is for the uncorrected chi-square test: check it against simulated tests
    rng = np.random.default_rng(3)
    p1, p2, n1, n2 = 0.4, 0.55, 150, 120
    x1 = rng.binomial(n1, p1, 20_000)
    x2 = rng.binomial(n2, p2, 20_000)
    pbar = (x1 + x2) / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / np.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    sim = np.mean(np.abs(z) > 1.959963984540054)
    assert sim == pytest.approx(power_two_proportions(p1, p2, n1, n2), abs=0.02)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: power_two_proportions(1.2, 0.5, 100), "p1"),
        (lambda: power_two_proportions(0.4, 0.5, 0), "n1"),
        (lambda: power_two_proportions(0.4, 0.5, 100, alternative="two.sided"), "alternative"),
        (lambda: sample_size_two_proportions(0.5, 0.5), "equal"),
        (lambda: sample_size_two_proportions(0.4, 0.5, alternative="greater"), "opposite"),
        (lambda: sample_size_two_proportions(0.4, 0.5, power=1.0), "power"),
        (lambda: sample_size_two_proportions(0.4, 0.5, ratio=0), "ratio"),
    ],
)
def test_power_bad_input_raises_iopstats_error(call, match):
    with pytest.raises(IopstatsError, match=match):
        call()
