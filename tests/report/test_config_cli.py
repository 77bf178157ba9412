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


# ----------------------------------------------------------------------------- one mapping per table


def _site(tmp_path):
    """A site export: renamed episode columns (episodes mapping), follow-ups with their own mapping."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from fake_data import make_inputs

    tables = make_inputs(n_clients=60, small_level=False)
    eps = tables["episodes"].rename(columns={"client_id": "Patient Key", "episode_id": "Encounter ID"})
    fu = tables["followups"].rename(columns={"episode_id": "Encounter"})
    d = tmp_path / "site"
    d.mkdir()
    eps.to_csv(d / "episodes.csv", index=False)
    fu.to_csv(d / "followups.csv", index=False)
    tables["sessions"].to_csv(d / "sessions.csv", index=False)
    (d / "episodes.toml").write_text('table = "episodes"\n[columns]\nclient_id = "Patient Key"\n'
                                     'episode_id = "Encounter ID"\n')
    (d / "followups.toml").write_text('table = "followups"\n[columns]\nepisode_id = "Encounter"\n')
    return d, {name: len(t) for name, t in tables.items()}


def test_config_takes_one_mapping_per_table(tmp_path):
    f = tmp_path / "report.toml"
    f.write_text('[data]\nepisodes = "e.csv"\nepisodes_mapping = "e.toml"\nfollowups = "f.csv"\n'
                 'followups_mapping = "f.toml"\nsessions_mapping = "s.toml"\n')
    cfg = load_config(f)
    assert cfg.mapping == str(tmp_path / "e.toml")  # episodes_mapping is the same setting as mapping
    assert cfg.followups_mapping == str(tmp_path / "f.toml") and cfg.sessions_mapping == str(tmp_path / "s.toml")
    assert cfg.notebook_parameters()["mapping_path"] == {
        "episodes": str(tmp_path / "e.toml"), "followups": str(tmp_path / "f.toml"),
        "sessions": str(tmp_path / "s.toml")}
    assert {"mapping", "followups_mapping", "sessions_mapping"} <= set(cfg.input_paths())
    f.write_text('[data]\nepisodes = "e.csv"\nmapping = "e.toml"\nepisodes_mapping = "x.toml"\n')
    with pytest.raises(IopstatsError, match="same setting"):
        load_config(f)
    only = ReportConfig(source="files", episodes="e.csv", mapping=str(tmp_path / "e.toml"))
    assert only.notebook_parameters()["mapping_path"] == str(tmp_path / "e.toml")  # unchanged for one mapping


def test_cli_mapping_options_reach_the_config(tmp_path, monkeypatch):
    from iopstats.report import nightly

    d, _ = _site(tmp_path)
    seen = {}

    def fake_run(cfg, echo=None):
        seen["cfg"] = cfg
        return nightly.RunOutcome(0, "ok", tmp_path, {})

    monkeypatch.setattr(nightly, "run_reports", fake_run)
    from iopstats.cli import main

    assert main(["report", "--episodes", str(d / "episodes.csv"), "--mapping", str(d / "episodes.toml"),
                 "--followups", str(d / "followups.csv"), "--followups-mapping", str(d / "followups.toml"),
                 "--out", str(tmp_path / "r"), "--quiet"]) == 0
    cfg = seen["cfg"]
    assert cfg.mapping == str(d / "episodes.toml") and cfg.followups_mapping == str(d / "followups.toml")
    assert cfg.sessions_mapping is None and cfg.private_dir is None
    assert main(["report", "--episodes", str(d / "episodes.csv"), "--private-dir", str(tmp_path / "p"),
                 "--quiet"]) == 0
    assert seen["cfg"].private_dir == str(tmp_path / "p")
    assert main(["report", "--episodes", str(d / "episodes.csv"), "--episodes-mapping", str(d / "episodes.toml"),
                 "--quiet"]) == 0
    assert seen["cfg"].mapping == str(d / "episodes.toml")
    assert main(["report", "--episodes", str(d / "episodes.csv"), "--sessions-mapping", str(d / "nope.toml"),
                 "--quiet"]) == 2


def test_load_inputs_gives_each_table_its_own_mapping(tmp_path):
    from iopstats.report.config import load_inputs

    d, n = _site(tmp_path)
    data = load_inputs("files", str(d / "episodes.csv"), str(d / "followups.csv"), str(d / "sessions.csv"),
                       {"episodes": str(d / "episodes.toml"), "followups": str(d / "followups.toml")})
    assert data["episodes"].report.n_loaded == n["episodes"]
    assert data["followups"].report.n_loaded == n["followups"]
    assert data["sessions"].report.n_input == n["sessions"]
    # one mapping (a path) is the episodes mapping; follow-ups in canonical form need none
    import pandas as pd

    canon = pd.read_csv(d / "followups.csv").rename(columns={"Encounter": "episode_id"})
    canon.to_csv(d / "followups_canonical.csv", index=False)
    data = load_inputs("files", str(d / "episodes.csv"), str(d / "followups_canonical.csv"), None,
                       str(d / "episodes.toml"))
    assert data["followups"].report.n_loaded == n["followups"]


def test_site_with_an_episodes_mapping_and_followups_runs(tmp_path):
    import json

    from iopstats.report.nightly import EXIT_OK, run_reports

    d, n = _site(tmp_path)
    cfg = ReportConfig(source="files", episodes=str(d / "episodes.csv"), mapping=str(d / "episodes.toml"),
                       followups=str(d / "followups.csv"), followups_mapping=str(d / "followups.toml"),
                       out=str(tmp_path / "reports"), notebooks=("data_quality",))
    res = run_reports(cfg, echo=None)
    assert res.exit_code == EXIT_OK, res.manifest.get("error")
    rows = json.loads((res.private_dir / "manifest.json").read_text())["rows"]
    assert rows["episodes"]["loaded"] == n["episodes"] and rows["followups"]["loaded"] == n["followups"]
    assert "followups" in (tmp_path / "reports" / "current" / "data_quality.html").read_text()
