"""Shared fixtures for the io tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "io"
CTN = Path(__file__).resolve().parents[3] / "shared" / "data" / "ctn0094"
MAPPINGS = Path(__file__).resolve().parents[2] / "iopstats" / "io" / "mappings"


def episodes_frame() -> pd.DataFrame:
    """Five valid canonical episodes as text."""
    return pd.DataFrame(
        {
            "client_id": ["c1", "c2", "c3", "c4", "c5"],
            "episode_id": ["e1", "e2", "e3", "e4", "e5"],
            "level_of_care": ["iop", "outpatient", "iop", "residential_short", "php"],
            "admit_date": ["2024-01-02", "2024-01-10", "2024-02-01", "2024-02-03", "2024-03-01"],
            "discharge_date": ["2024-02-15", "2024-03-01", "", "2024-02-20", "2024-03-01"],
            "discharge_reason": ["completed", "dropped_out", "", "transferred", "completed"],
            "age": ["34", "45", "29", "61", "22"],
        }
    )


@pytest.fixture
def episodes_df() -> pd.DataFrame:
    return episodes_frame()


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def make_episodes():
    """Factory for fresh copies of the valid episodes frame."""
    return episodes_frame
