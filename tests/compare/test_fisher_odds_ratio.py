"""Conditional MLE odds ratio and exact interval beside Fisher's test, against R fisher.test.

Reference: tests/reference/fisher/fisher_reference.R (fisher_or.csv). R solves for the
estimate and the limits with uniroot at its default tolerance (eps^0.25, about 1e-4), scipy
to full precision: R's values are matched at 5e-4 (R is off by up to 2e-4), and the
exact values through their definitions in Fisher's noncentral hypergeometric distribution
(the estimate's conditional mean equals the observed count; each limit leaves (1 - conf) / 2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scipy.stats import nchypergeom_fisher

from iopstats import compare_rates
from iopstats.compare.rates import _fisher_odds_ratio

REF = pd.read_csv(Path(__file__).resolve().parents[1] / "reference" / "fisher" / "fisher_or.csv")


@pytest.mark.parametrize("row", list(REF.itertuples(index=False)), ids=lambda r: f"{r.x1}/{r.n1}-{r.x2}/{r.n2}-{r.conf}")
def test_fisher_conditional_odds_ratio_against_R(row):
    est, lo, hi = _fisher_odds_ratio(row.x1, row.n1, row.x2, row.n2, row.conf)
    for got, want, rel in ((est, row.estimate, 5e-4), (lo, row.ci_low, 5e-4), (hi, row.ci_high, 5e-4)):
        if np.isinf(want) or want == 0:
            assert got == want
        else:
            assert got == pytest.approx(want, rel=rel)
    # exact limits: P(X >= x1 | lo) = P(X <= x1 | hi) = (1 - conf) / 2
    M, n, N = row.n1 + row.n2, row.n1, row.x1 + row.x2
    half = (1 - row.conf) / 2
    if 0 < est < np.inf:
        assert nchypergeom_fisher.mean(M, n, N, est) == pytest.approx(row.x1, rel=1e-10)
    if lo > 0:
        assert nchypergeom_fisher.sf(row.x1 - 1, M, n, N, lo) == pytest.approx(half, rel=1e-8)
    if np.isfinite(hi):
        assert nchypergeom_fisher.cdf(row.x1, M, n, N, hi) == pytest.approx(half, rel=1e-8)


def _frame(x1, n1, x2, n2):
    return pd.DataFrame({
        "loc": ["iop"] * n1 + ["op"] * n2,
        "y": [1] * x1 + [0] * (n1 - x1) + [1] * x2 + [0] * (n2 - x2),
    })


def test_compare_rates_reports_it_only_with_fisher():
    small = compare_rates(_frame(2, 12, 7, 11), "y", by="loc").summary.iloc[0]
    assert small["test"] == "fisher"
    ref = REF[(REF.x1 == 2) & (REF.n1 == 12) & (REF.conf == 0.95)].iloc[0]
    assert small["fisher_odds_ratio"] == pytest.approx(ref["estimate"], rel=5e-4)
    assert small["fisher_or_ci_low"] == pytest.approx(ref["ci_low"], rel=5e-4)
    assert small["fisher_or_ci_high"] == pytest.approx(ref["ci_high"], rel=5e-4)
    big = compare_rates(_frame(56, 70, 48, 80), "y", by="loc").summary.iloc[0]
    assert big["test"] == "chi-square" and np.isnan(big["fisher_odds_ratio"])
