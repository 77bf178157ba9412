"""``iopstats tedsd``: report, level-of-care counts, Parquet and quarantine output, errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

from iopstats.io import tedsd_cli
from iopstats.io.tedsd import read_tedsd

DATA = Path(__file__).resolve().parents[1] / "data" / "tedsd"
F2019 = DATA / "tedsd_2019_known.csv"


def _run(argv):
    p = argparse.ArgumentParser()
    tedsd_cli.configure(p)
    return tedsd_cli.run(p.parse_args(argv))


def test_prints_report_and_counts(capsys):
    assert _run([str(F2019)]) == 0
    out = capsys.readouterr().out
    assert "19 input rows: 11 loaded, 8 quarantined" in out
    assert "Discharges by level of care:" in out
    counts = tedsd_cli.level_of_care_counts(read_tedsd(F2019).data).set_index("level_of_care")
    assert counts.loc["outpatient", "n"] == 3 and counts.loc["outpatient", "completed"] == 2
    assert counts.loc["iop", "completed_percent"] == 50.0
    assert counts["n"].sum() == 11


def test_writes_parquet_and_quarantine(tmp_path, capsys):
    out, q = tmp_path / "sub" / "eps.parquet", tmp_path / "q.csv"
    assert _run([str(F2019), "--out", str(out), "--quarantine-out", str(q), "--columns", "DAYWAIT"]) == 0
    back = pd.read_parquet(out)
    expected = read_tedsd(F2019, columns=["DAYWAIT"]).data
    pd.testing.assert_frame_equal(back, expected, check_dtype=False, check_categorical=False)
    assert len(pd.read_csv(q)) == 8


def test_main_dispatch_and_error_exit_code(tmp_path, capsys):
    from iopstats.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["tedsd", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "missing column(s) CASEID, SERVICES_D or SERVICES, REASON, LOS" in err and "Fix:" in err


def test_year_option(capsys, tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("CASEID,DISYR,SERVICES,REASON,LOS,AGE\n1,2010,7,1,5,2\n")
    assert _run([str(p), "--year", "2010"]) == 0
    assert "2006-2014" in capsys.readouterr().out


def test_counts_of_empty_frame():
    empty = read_tedsd(F2019).data.iloc[:0]
    assert len(tedsd_cli.level_of_care_counts(empty)) == 0


@pytest.mark.parametrize("flag", ["--out", "--quarantine-out"])
def test_unwritable_output_raises(tmp_path, flag):
    from iopstats.exceptions import IopstatsError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(IopstatsError, match="could not write"):
        _run([str(F2019), flag, str(blocker / "out.x")])


def test_setting_harmonize_and_outpatient_day_options(tmp_path, capsys):
    from iopstats.synthetic.tedsd import write_tedsd_csv

    p = write_tedsd_csv(tmp_path / "t.csv", n=300, year=2019, seed=1)
    out = tmp_path / "eps.parquet"
    assert _run([str(p), "--level-of-care", "admission", "--harmonize", "--keep-outpatient-day",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "service setting at admission: SERVICES" in text and "LOS as published" in text
    back = pd.read_parquet(out)
    expected = read_tedsd(p, level_of_care="admission", harmonize=True, outpatient_day=False).data
    pd.testing.assert_frame_equal(back, expected, check_dtype=False, check_categorical=False)
    assert "tedsd_age_pooled" in back.columns
    assert _run([str(p)]) == 0
    assert "service setting at discharge: SERVICES_D" in capsys.readouterr().out
