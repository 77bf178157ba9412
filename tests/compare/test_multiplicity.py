"""Tests for iopstats.compare.multiplicity against R's p.adjust."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats.compare.multiplicity import benjamini_hochberg, holm
from iopstats.exceptions import IopstatsError

REF = Path(__file__).resolve().parents[1] / "reference" / "rates"


def test_holm_and_bh_against_R():
    # R: p.adjust(p, "holm"), p.adjust(p, "BH") with p = c(0.01, 0.04, 0.03, 0.2, 0.0005, 0.04)
    ref = pd.read_csv(REF / "p_adjust.csv")
    np.testing.assert_allclose(holm(ref["p"]), ref["holm"], rtol=1e-12)
    np.testing.assert_allclose(benjamini_hochberg(ref["p"]), ref["bh"], rtol=1e-12)


def test_missing_p_values_are_kept_missing_and_not_counted():
    out = holm([0.01, np.nan, 0.04])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], holm([0.01, 0.04]))
    assert benjamini_hochberg([]).shape == (0,)


def test_adjusted_never_below_raw_and_capped_at_one():
    rng = np.random.default_rng(0)
    p = rng.random(50)
    for f in (holm, benjamini_hochberg):
        q = f(p)
        assert np.all(q >= p - 1e-15) and np.all(q <= 1)


def test_bad_p_values_raise():
    with pytest.raises(IopstatsError, match="between 0 and 1"):
        holm([0.5, 1.5])
