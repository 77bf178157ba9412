import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.parquet import read_episodes_parquet, write_episodes_parquet
from tests.engines.conftest import make_episodes


def test_parquet_round_trip_keeps_canonical_values_and_dtypes(tmp_path):
    eps = make_episodes(3000)
    before = eps.copy()
    write_episodes_parquet(eps, tmp_path / "ds")
    pd.testing.assert_frame_equal(eps, before)  # input not modified
    back = read_episodes_parquet(tmp_path / "ds")
    back = back.sort_values("episode_id", ignore_index=True)[eps.columns]
    pd.testing.assert_frame_equal(back, eps, check_dtype=True)


def test_parquet_is_partitioned_by_discharge_year(tmp_path):
    eps = make_episodes(2000)
    write_episodes_parquet(eps, tmp_path / "ds")
    parts = sorted(p.name for p in (tmp_path / "ds").iterdir())
    years = sorted({f"discharge_year={y}" for y in eps.discharge_date.dt.year.dropna().astype(int)})
    assert set(years) <= set(parts)
    one = read_episodes_parquet(tmp_path / "ds", years=[2016], columns=["episode_id", "discharge_date"])
    assert len(one) and (one.discharge_date.dt.year.fillna(2016) == 2016).all()


def test_parquet_column_pruning_reads_only_requested_columns(tmp_path):
    eps = make_episodes(500)
    write_episodes_parquet(eps, tmp_path / "ds")
    got = read_episodes_parquet(tmp_path / "ds", columns=["level_of_care", "los_days"])
    assert list(got.columns) == ["level_of_care", "los_days"]
    assert got.level_of_care.dtype == eps.level_of_care.dtype


def test_parquet_errors_name_the_fix(tmp_path):
    with pytest.raises(IopstatsError, match="iopstats convert"):
        read_episodes_parquet(tmp_path / "nope")
    with pytest.raises(IopstatsError, match="engine"):
        write_episodes_parquet(make_episodes(10), tmp_path / "ds")
        read_episodes_parquet(tmp_path / "ds", engine="spark")
    with pytest.raises(IopstatsError, match="canonical"):
        write_episodes_parquet(pd.DataFrame({"x": [1]}), tmp_path / "ds2")
