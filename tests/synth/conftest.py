"""Shared synthetic data sets for the synth tests (generated once per session)."""

from __future__ import annotations

import pytest

from iopstats.synthetic import synth


@pytest.fixture(scope="session")
def small():
    """A small default data set (as_of = end, so some episodes are open)."""
    return synth(3000, seed=7)


@pytest.fixture(scope="session")
def large():
    """50,000 episodes followed long enough that every stay has ended (calibration, recovery)."""
    return synth(50_000, seed=11, as_of="2040-12-31")


@pytest.fixture(scope="session")
def large_default():
    """50,000 episodes with the default as_of (open episodes, censoring)."""
    return synth(50_000, seed=12)
