"""``iopstats synth`` subcommand."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from iopstats.cli import main
from iopstats.io.schema import coerce_dtypes
from iopstats.synthetic import synth


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cli_writes_the_same_data_as_synth(tmp_path, capsys, fmt):
    out = tmp_path / "out"
    assert main(["synth", "--n", "150", "--seed", "5", "--out", str(out), "--format", fmt]) == 0
    assert "150 episodes" in capsys.readouterr().out
    expected = synth(150, seed=5)
    for table in ("episodes", "followups", "sessions"):
        path = out / f"{table}.{fmt}"
        back = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
        pd.testing.assert_frame_equal(coerce_dtypes(back, table), getattr(expected, table))
    assert json.loads((out / "truth.json").read_text()) == expected.truth


def test_cli_dates_passed_through(tmp_path):
    out = tmp_path / "d"
    assert main(["synth", "--n", "50", "--out", str(out), "--start", "2021-01-01", "--end", "2021-06-30",
                 "--as-of", "2022-01-01"]) == 0
    ep = pd.read_csv(out / "episodes.csv", parse_dates=["admit_date"])
    assert ep.admit_date.between("2021-01-01", "2021-06-30").all()


def test_cli_bad_input_exits_2_with_a_fix(tmp_path, capsys):
    assert main(["synth", "--n", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "n_episodes" in err and "Fix:" in err


def test_cli_requires_out():
    with pytest.raises(SystemExit):
        main(["synth", "--n", "10"])
