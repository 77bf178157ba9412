import numpy as np
import pandas as pd
import pytest

from iopstats.io.schema import CODE_SETS, coerce_dtypes


def make_episodes(n: int, seed: int = 0) -> pd.DataFrame:
    """Canonical episodes with random codes over several discharge years."""
    rng = np.random.default_rng(seed)
    admit = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 365 * 4, n), unit="D")
    los = rng.integers(1, 200, n)
    open_ = rng.random(n) < 0.05
    disc = (admit + pd.to_timedelta(los, unit="D")).where(~open_)
    pick = lambda col: rng.choice(CODE_SETS[col], n)  # noqa: E731
    df = pd.DataFrame(
        {
            "client_id": [f"C{i:07d}" for i in range(n)],
            "episode_id": [f"E{i:08d}" for i in range(n)],
            "level_of_care": pick("level_of_care"),
            "admit_date": admit,
            "discharge_date": disc,
            "discharge_reason": pd.Series(pick("discharge_reason")).where(~open_),
            "los_days": np.where(open_, np.nan, los.astype(float)),
            "los_min": np.where(open_, np.nan, los.astype(float)),
            "los_max": np.where(open_, np.nan, los.astype(float)),
            "sex": pick("sex"),
            "age_group": pick("age_group"),
            "primary_substance": pick("primary_substance"),
            "psych_problem": rng.random(n) < 0.4,
            "payer": pd.Series(pick("payer")).where(rng.random(n) > 0.1),
        }
    )
    return coerce_dtypes(df)


@pytest.fixture(scope="session")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        yield client
