"""Report configuration (TOML) and the ``iopstats report`` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from iopstats.cli import build_parser
from iopstats.exceptions import IopstatsError
from iopstats.report.config import ReportConfig, load_config, sample_dir


def test_full_config_round_trip(tmp_path):
    (tmp_path / "in").mkdir()
    cfg_file = tmp_path / "report.toml"
    cfg_file.write_text("""
[data]
episodes = "in/episodes.csv"
followups = "in/followups.csv"
mapping = "in/mapping.toml"

[analysis]
period_start = "2023-01"
period_end = "2024-06"
reference = "iop"
margin = 0.05
adjust = ["age_group", "sex"]
seed = 3

[privacy]
threshold = 20

[run]
out = "out"
cell_timeout = 120
notebooks = ["data_quality"]
keep_runs = 5
""")
    cfg = load_config(cfg_file)
    assert cfg.source == "files"
    assert cfg.episodes == str(tmp_path / "in" / "episodes.csv")
    assert cfg.out == str(tmp_path / "out")
    assert cfg.margin == 0.05 and cfg.threshold == 20 and cfg.cell_timeout == 120
    assert cfg.adjust == ("age_group", "sex") and cfg.notebooks == ("data_quality",)
    p = cfg.notebook_parameters()
    assert p["threshold"] == 20 and p["period_end"] == "2024-06" and p["adjust"] == ["age_group", "sex"]
    assert set(cfg.input_paths()) == {"episodes", "followups", "mapping"}


@pytest.mark.parametrize("text, match", [
    ("[privacy]\nthreshold = 5\n", "at least 11"),
    ("[analysis]\nmargin = 10\n", "margin"),
    ("[analysis]\nreference = 'iopp'\n", "reference level"),
    ("[analysis]\nperiod_start = '2024-13'\n", "YYYY-MM"),
    ("[data]\nsource = 'files'\n", "no episodes file"),
    ("[datta]\nx = 1\n", "unknown config section"),
    ("[run]\ntimeout = 3\n", "unknown config key"),
    ("[run]\nnotebooks = ['nope']\n", "unknown report notebook"),
    ("[run\n", "not valid TOML"),
])
def test_bad_config_gives_clear_error(tmp_path, text, match):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(IopstatsError, match=match):
        load_config(f)


def test_missing_config_file():
    with pytest.raises(IopstatsError, match="config file not found"):
        load_config("/nonexistent/report.toml")


def test_sample_dir_env_and_overrides(tmp_path, monkeypatch):
    (tmp_path / "episodes.csv").write_text("x\n")
    monkeypatch.setenv("IOPSTATS_SAMPLE_DIR", str(tmp_path))
    assert sample_dir() == tmp_path.resolve()
    cfg = ReportConfig()
    assert cfg.source == "sample"
    assert cfg.notebook_parameters()["episodes_path"] == str(tmp_path.resolve() / "episodes.csv")
    assert cfg.with_overrides(episodes="e.csv").source == "files"
    assert cfg.with_overrides(out=None).out == "reports"


def test_parser_has_report_subcommand_with_documented_options():
    parser = build_parser()
    args = parser.parse_args(["report", "--config", "r.toml", "--episodes", "e.csv", "--followups", "f.csv",
                              "--sessions", "s.csv", "--out", "o"])
    assert args.config == "r.toml" and args.out == "o" and callable(args._run)
    out = subprocess.run([sys.executable, "-m", "iopstats.cli", "report", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--episodes" in out.stdout and "--out" in out.stdout


def test_cli_bad_config_exits_2(tmp_path, capsys):
    from iopstats.cli import main

    f = tmp_path / "c.toml"
    f.write_text("[privacy]\nthreshold = 3\n")
    assert main(["report", "--config", str(f)]) == 2
    assert "threshold" in capsys.readouterr().err
