"""The count-table step gives the same table, to the last digit, on pandas and Dask."""

import pandas as pd
import pytest

from iopstats.io.parquet import read_episodes_parquet, write_episodes_parquet
from iopstats.stats.counts import collapse
from tests.engines.conftest import make_episodes

KEYS = ["level_of_care", "sex", "age_group", "psych_problem", "payer", "los_days", "discharge_reason"]


@pytest.mark.slow
def test_collapse_dask_equals_pandas_on_a_two_worker_cluster(tmp_path, dask_client):
    eps = make_episodes(20000, seed=3)
    write_episodes_parquet(eps, tmp_path / "ds")
    pdf = read_episodes_parquet(tmp_path / "ds", columns=KEYS)
    ddf = read_episodes_parquet(tmp_path / "ds", columns=KEYS, engine="dask")
    assert ddf.npartitions > 1
    want = collapse(pdf, KEYS)
    got = collapse(ddf, KEYS)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert want["n"].sum() == len(eps)
