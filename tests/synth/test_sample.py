"""The committed sample in data/sample is exactly synth(4000, seed=2024) and loads cleanly.

Regenerate with: ``iopstats synth --n 4000 --seed 2024 --out data/sample``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from iopstats.io.schema import coerce_dtypes
from iopstats.synthetic import synth

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
TABLES = ("episodes", "followups", "sessions")


@pytest.fixture(scope="module")
def regenerated():
    return synth(n_episodes=4000, seed=2024)


def test_sample_files_present_and_small():
    files = [SAMPLE / f"{t}.csv" for t in TABLES] + [SAMPLE / "truth.json"]
    assert all(f.is_file() for f in files)
    assert sum(f.stat().st_size for f in files) < 5 * 1024**2


@pytest.mark.parametrize("table", TABLES)
def test_sample_equals_regenerated_output(regenerated, table):
    back = coerce_dtypes(pd.read_csv(SAMPLE / f"{table}.csv"), table)
    pd.testing.assert_frame_equal(back, getattr(regenerated, table))


def test_sample_truth_equals_regenerated_truth(regenerated):
    stored = json.loads((SAMPLE / "truth.json").read_text())
    assert stored == json.loads(json.dumps(regenerated.truth))
    assert stored["generation"]["seed"] == 2024 and stored["n_episodes"] == 4000


def test_sample_has_every_table_populated(regenerated):
    ep = regenerated.episodes
    assert len(ep) == 4000 and ep.discharge_date.isna().any()
    assert len(regenerated.followups) > 5000 and len(regenerated.sessions) > 20000


@pytest.mark.skipif(importlib.util.find_spec("iopstats.io.load") is None, reason="loader not installed")
def test_sample_loads_with_zero_quarantined_rows(regenerated):
    from iopstats import load_episodes, load_followups, load_sessions

    ep = load_episodes(SAMPLE / "episodes.csv")
    fu = load_followups(SAMPLE / "followups.csv", episodes=ep.data)
    se = load_sessions(SAMPLE / "sessions.csv", episodes=ep.data)
    for res, table in ((ep, "episodes"), (fu, "followups"), (se, "sessions")):
        assert res.report.n_quarantined == 0, str(res.report)
        pd.testing.assert_frame_equal(res.data, getattr(regenerated, table))
