"""Shared CTN-0094 fixtures for the repeated-measures tests (loaded once per session)."""

from pathlib import Path

import pytest

CTN = Path(__file__).resolve().parents[3] / "shared" / "data" / "ctn0094"


@pytest.fixture(scope="session")
def ctn():
    from iopstats.io.ctn0094 import load_ctn0094

    if not CTN.is_dir():
        pytest.skip("CTN-0094 data not available")
    return load_ctn0094(CTN)


@pytest.fixture(scope="session")
def ctn_measures(ctn):
    from iopstats.io.ctn0094_measures import load_ctn0094_measures

    return load_ctn0094_measures(CTN, episodes=ctn["episodes"])
