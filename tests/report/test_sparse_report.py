"""Defaults do not fail the report: an age group without completions is merged, and the page says so."""

from __future__ import annotations

import html

from fake_data import make_inputs
from iopstats.report.config import ReportConfig
from iopstats.report.nightly import EXIT_OK, run_reports


def test_age_group_without_completions_is_merged_and_the_page_says_so(tmp_path):
    tables = make_inputs(n_clients=300, small_level=False)
    eps = tables["episodes"]
    young = eps["age"].between(18, 20) & eps["discharge_reason"].notna()
    assert young.sum() >= 5
    eps.loc[young & (eps["discharge_reason"] == "completed"), "discharge_reason"] = "dropped_out"
    path = tmp_path / "episodes.csv"
    eps.to_csv(path, index=False)
    cfg = ReportConfig(source="files", episodes=str(path), out=str(tmp_path / "reports"),
                       notebooks=("iop_outcomes",))
    res = run_reports(cfg, echo=None)
    assert res.exit_code == EXIT_OK, res.manifest.get("error")
    page = html.unescape((tmp_path / "reports" / "current" / "iop_outcomes.html").read_text())
    assert "age_group: level 18-20 has no events of completed" in page
    assert "merged with the neighbouring level 21-24" in page
