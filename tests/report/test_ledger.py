"""The run's ledger: primary and joint complementary suppression, audited by LP."""

from __future__ import annotations

import numpy as np
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.report.ledger import Ledger


def _mask(n, idx):
    m = np.zeros(n, dtype=bool)
    m[list(idx)] = True
    return m


def test_a_small_cell_cannot_be_worked_out_from_a_subgroup_table_and_level_totals():
    # level A: 40 episodes, of which sex "other" 1 (completed), male 39 (20 completed)
    n = 100
    led = Ledger(n)
    led.count("A|n", _mask(n, range(40)))
    led.count("A|events", _mask(n, list(range(20)) + [39]))
    led.count("A|other|n", _mask(n, [39]))
    led.count("A|other|events", _mask(n, [39]))
    led.count("A|male|n", _mask(n, range(39)))
    led.count("A|male|events", _mask(n, range(20)))
    led.count("all", np.ones(n, dtype=bool), priority=0)
    led.protect()
    assert led.shown("A|other|n") is None and led.shown("A|other|events") is None
    # with the level totals and the male row both shown, 40 - 39 = 1 would follow
    assert led.is_hidden("A|n", "A|male|n")
    assert led.disclosed() == []
    assert led.shown("all") == 100


def test_nested_difference_is_protected_and_zero_may_show():
    n = 60
    led = Ledger(n)
    led.count("n", _mask(n, range(50)))
    led.count("events", _mask(n, range(46)))  # 4 non-events
    led.count("zero", np.zeros(n, dtype=bool))
    led.protect()
    assert led.is_hidden("n", "events")
    assert led.shown("zero") == 0


def test_ledger_refuses_misuse():
    led = Ledger(5)
    with pytest.raises(IopstatsError):
        led.count("x", np.ones(4, dtype=bool))
    led.count("x", np.ones(5, dtype=bool))
    with pytest.raises(IopstatsError):
        led.count("x", np.zeros(5, dtype=bool))
    with pytest.raises(IopstatsError):
        led.shown("x")  # not protected yet
    led.protect()
    with pytest.raises(IopstatsError):
        led.count("y", np.ones(5, dtype=bool))
