"""The nightly runner: publish layout, self-contained HTML, privacy scan, failure modes."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


from fake_data import PLANTED
from iopstats.report.config import ReportConfig
from iopstats.report.nightly import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, run_reports
from tests.report.html_pages import html_tables, strip_images

COUNT_HEADERS = {
    "n", "events", "input_rows", "loaded", "quarantined", "n_missing", "n_values", "n_due", "n_responded",
    "admitted", "retained_30", "retained_60", "retained_90", "completed",
}
# the pages' headers are words with units: a count column names what it counts
_COUNT_WORDS = re.compile(r"\b(episodes?|events?|rows?|clients?|loaded|quarantined|missing|admitted|completed|"
                          r"retained|at risk|exits?|number)\b", re.I)
_NOT_COUNT = re.compile(r"\b(days?|median|mean|rate|share|percent|%|ci|interval|p-value|ratio|difference|week)\b", re.I)


def _is_count_header(h: str) -> bool:
    return h in COUNT_HEADERS or (bool(_COUNT_WORDS.search(h)) and not _NOT_COUNT.search(h))


def _html_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.html"))


def test_good_run_publishes_dated_run_current_and_index(good_run):
    assert good_run["code"] == EXIT_OK
    out = good_run["out"]
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == 1 and re.fullmatch(r"\d{8}T\d{6}", runs[0].name)
    assert (out / "current").is_symlink()
    assert (out / "current").resolve() == runs[0].resolve()
    # the test inputs hold several programs and sites, so the programs-and-sites page is published
    assert sorted(p.name for p in runs[0].iterdir()) == [
        "data_quality.html", "iop_outcomes.html", "manifest.json", "programs_sites.html"]
    private = out.parent / "reports.private"
    for name in ("manifest.json", "iop_outcomes.ipynb", "data_quality.ipynb", "programs_sites.ipynb"):
        assert (private / "runs" / runs[0].name / name).exists(), name
    index = (out / "index.html").read_text()
    assert "current/iop_outcomes.html" in index and f"runs/{runs[0].name}/data_quality.html" in index
    assert (private / "iopstats.log").read_text().count("published run") == 1
    assert sorted(p.name for p in out.iterdir()) == ["current", "index.html", "runs"]
    assert not list(out.glob(".tmp-*"))


def test_manifest_records_inputs_rows_versions_timings(good_run, inputs_dir):
    run = next((good_run["out"] / "runs").iterdir())
    m = json.loads((good_run["out"].parent / "reports.private" / "runs" / run.name / "manifest.json").read_text())
    assert m["status"] == "ok"
    import hashlib

    by_table = {i["table"]: i for i in m["inputs"]}
    assert set(by_table) == {"episodes", "followups", "sessions"}
    want = hashlib.sha256((inputs_dir / "episodes.csv").read_bytes()).hexdigest()
    assert by_table["episodes"]["sha256"] == want
    eps = m["rows"]["episodes"]
    assert eps["loaded"] + eps["quarantined"] == eps["input"] > 0
    assert m["packages"]["pandas"] and m["packages"]["iopstats"]
    steps = {s["step"]: s for s in m["steps"]}
    assert steps["execute iop_outcomes"]["status"] == "ok" and steps["execute iop_outcomes"]["seconds"] > 0
    assert m["reports"] == ["iop_outcomes.html", "data_quality.html", "programs_sites.html"]


def test_html_is_self_contained(good_run):
    for path in _html_files(good_run["out"]):
        text = path.read_text()
        assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", text, re.I), path
        assert "<script" not in text.lower(), path
        if path.name == "iop_outcomes.html":
            # every figure is drawn or replaced by a sentence saying why it is empty
            drawn = text.count("data:image/png;base64,")
            assert drawn >= 1 and "<img" in text
            assert drawn + text.count("iopstats-empty") >= 5


def test_no_planted_identifiers_ids_or_dates_in_any_html(good_run, inputs_dir):
    import pandas as pd

    eps = pd.read_csv(inputs_dir / "episodes.csv")
    ids = set(eps["client_id"]) | set(eps["episode_id"])
    dates = set(eps["admit_date"].dropna()) | set(eps["discharge_date"].dropna())
    for path in _html_files(good_run["out"]):
        text = strip_images(path.read_text())
        for planted in PLANTED:
            assert planted not in text, (path.name, planted)
        assert not re.search(r"\d{3}-\d{2}-\d{4}", text), path
        assert not re.search(r"[\w.]+@[\w-]+\.\w+", text), path
        for ident in list(ids)[:400]:
            assert not re.search(rf"\b{re.escape(ident)}\b", text), (path.name, ident)
        for d in list(dates)[:400]:
            assert d not in text, (path.name, d)


def test_no_small_counts_in_published_tables(good_run):
    checked = 0
    for path in _html_files(good_run["out"] / "runs"):
        for table in html_tables(path.read_text()):
            heads = table["headers"]
            is_transition = heads and heads[0] == "from \\ to"
            for row in table["rows"]:
                for h, cell in zip(heads, row):
                    if _is_count_header(h) or (is_transition and h != heads[0]):
                        if re.fullmatch(r"[\d,]+", cell):
                            v = int(cell.replace(",", ""))
                            assert v == 0 or v >= 11, (path.name, heads, row)
                            checked += 1
    assert checked > 50
    text = (good_run["out"] / "current" / "iop_outcomes.html").read_text()
    assert "&lt;11" in text


def test_same_input_gives_same_tables(good_run, inputs_dir, tmp_path):
    cfg = ReportConfig(source="files", episodes=str(inputs_dir / "episodes.csv"),
                       followups=str(inputs_dir / "followups.csv"), sessions=str(inputs_dir / "sessions.csv"),
                       out=str(tmp_path / "again"), notebooks=("data_quality",))
    assert run_reports(cfg, echo=None).exit_code == EXIT_OK
    first = (good_run["out"] / "current" / "data_quality.html").read_text()
    second = (tmp_path / "again" / "current" / "data_quality.html").read_text()
    assert strip_images(first) == strip_images(second)


_TOY: dict[str, Path] = {}


def _toy_episodes() -> str:
    """A small valid episodes file for the runs with toy notebooks (the runner loads it before any notebook)."""
    if "episodes" not in _TOY:
        import tempfile

        from fake_data import make_inputs

        path = Path(tempfile.mkdtemp(prefix="iopstats-toy-")) / "episodes.csv"
        make_inputs(n_clients=40, small_level=False)["episodes"].to_csv(path, index=False)
        _TOY["episodes"] = path
    return str(_TOY["episodes"])


def _toy_cfg(out, **kw):
    return ReportConfig(source="files", episodes=_toy_episodes(), out=str(out), **kw)


def test_failing_cell_keeps_previous_report(tmp_path, toy_dirs):
    out = tmp_path / "reports"
    ok = run_reports(_toy_cfg(out), echo=None, notebook_dir=toy_dirs["ok"])
    assert ok.exit_code == EXIT_OK
    before = {p.name: p.read_bytes() for p in (out / "current").iterdir()}
    target_before = os.readlink(out / "current")
    lines = []
    bad = run_reports(_toy_cfg(out), echo=lines.append, notebook_dir=toy_dirs["raise"])
    assert bad.exit_code == EXIT_FAILED and bad.status == "failed"
    assert os.readlink(out / "current") == target_before
    assert {p.name: p.read_bytes() for p in (out / "current").iterdir()} == before
    m = json.loads((bad.run_dir / "manifest.json").read_text())
    assert m["status"] == "failed" and "data_quality" in m["error"] and "RuntimeError" in m["error"]
    failed_nb = (bad.private_dir / "data_quality.ipynb").read_text()
    assert "planted failure in a cell" in failed_nb  # kept for diagnosis
    index = (out / "index.html").read_text()
    assert bad.run_dir.name in index and "failed" in index and "class='alert'" in index
    assert any("failed" in ln for ln in lines)
    assert not list(out.glob(".tmp-*"))


def test_bad_input_fails_before_the_notebooks_and_keeps_previous(good_run, tmp_path):
    out = tmp_path / "reports"
    shutil.copytree(good_run["out"], out, symlinks=True)
    shutil.copytree(good_run["out"].parent / "reports.private", tmp_path / "reports.private", symlinks=True)
    target_before = os.readlink(out / "current")
    bad_csv = tmp_path / "episodes.csv"
    bad_csv.write_text("foo,bar\n1,2\n")
    cfg = ReportConfig(source="files", episodes=str(bad_csv), out=str(out), notebooks=("data_quality",))
    res = run_reports(cfg, echo=None)
    assert res.exit_code == EXIT_FAILED
    assert os.readlink(out / "current") == target_before
    assert not (res.private_dir / "data_quality.ipynb").exists()  # the runner's own load check stopped it
    assert "missing required columns" in res.manifest["error"] or "required" in res.manifest["error"]
    public = json.loads((res.run_dir / "manifest.json").read_text())
    assert public["status"] == "failed" and "could not be loaded" in public["error"]


def test_cell_timeout_fails_cleanly(tmp_path, toy_dirs):
    out = tmp_path / "reports"
    res = run_reports(_toy_cfg(out, cell_timeout=2), echo=None, notebook_dir=toy_dirs["slow"])
    assert res.exit_code == EXIT_FAILED
    m = json.loads((res.run_dir / "manifest.json").read_text())
    assert "timed out" in m["error"] and "private log" in m["error"]
    assert not (out / "current").exists()
    assert "timed out" in (out / "index.html").read_text()


def _wait_for(pred, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def test_lock_refuses_second_run_and_kill_leaves_report_untouched(tmp_path, toy_dirs):
    out = tmp_path / "reports"
    assert run_reports(_toy_cfg(out), echo=None, notebook_dir=toy_dirs["ok"]).exit_code == EXIT_OK
    target_before = os.readlink(out / "current")
    index_before = (out / "index.html").read_text()
    code = (
        "import sys\n"
        "from iopstats.report.config import ReportConfig\n"
        "from iopstats.report.nightly import run_reports\n"
        f"cfg = ReportConfig(source='files', episodes={_toy_episodes()!r}, out={str(out)!r})\n"
        f"sys.exit(run_reports(cfg, echo=None, notebook_dir={str(toy_dirs['slow'])!r}).exit_code)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def executing():
            for m in out.glob(".tmp-*/manifest.json"):
                try:
                    steps = json.loads(m.read_text())["steps"]
                except (ValueError, KeyError):
                    return False
                return any(s["step"].startswith("execute") for s in steps)
            return False

        assert _wait_for(executing), "runner did not start executing"
        # a second run refuses cleanly while the first holds the lock
        lines = []
        second = run_reports(_toy_cfg(out), echo=lines.append, notebook_dir=toy_dirs["ok"])
        assert second.exit_code == EXIT_LOCKED
        assert f"pid {proc.pid}" in second.manifest["error"]
        assert any("another report run" in ln for ln in lines)
        from iopstats.cli import main

        assert main(["report", "--episodes", _toy_episodes(), "--out", str(out), "--quiet"]) == EXIT_LOCKED
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGKILL)  # runner and its kernel, mid-cell
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert os.readlink(out / "current") == target_before
    assert (out / "index.html").read_text() == index_before
    assert list(out.glob(".tmp-*"))  # the killed run's temporary folder is left behind
    # the next run takes the lock, recovers the stale folder and publishes
    nxt = run_reports(_toy_cfg(out), echo=None, notebook_dir=toy_dirs["ok"])
    assert nxt.exit_code == EXIT_OK
    assert not list(out.glob(".tmp-*"))
    statuses = {json.loads((d / "manifest.json").read_text())["status"] for d in (out / "runs").iterdir()}
    assert statuses == {"ok", "interrupted"}
    assert os.readlink(out / "current") == f"runs/{nxt.run_dir.name}"
    with open(out.parent / "reports.private" / ".lock") as fh:  # lock is free again
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fh, fcntl.LOCK_UN)


def test_index_suppresses_small_counts_and_redacts_error_text(tmp_path):
    from iopstats.report.nightly import build_index

    out = tmp_path / "reports"
    for rid, status, loaded, err in [("20240101T000000", "ok", 5, None),
                                     ("20240102T000000", "failed", 40, "bad value 123-45-6789 in notes")]:
        d = out / "runs" / rid
        d.mkdir(parents=True)
        m = {"run_id": rid, "status": status, "rows": {"episodes": {"loaded": loaded}}, "threshold": 11,
             "reports": ["iop_outcomes.html"] if status == "ok" else [], "seconds": 3.0}
        if err:
            m["error"] = err
        (d / "manifest.json").write_text(json.dumps(m))
    os.symlink("runs/20240101T000000", out / "current")
    text = build_index(out).read_text()
    assert "123-45-6789" not in text and "[redacted]" in text
    assert "&lt;11" in text and ">5<" not in text
    assert "current/iop_outcomes.html" in text and "class='alert'" in text


def test_programs_page_is_not_published_when_the_data_hold_one_unit(inputs_dir, tmp_path):
    # the page's summary says publish = False for a single program and site: no page, no link
    from conftest import toy_notebook

    from iopstats.report.config import ReportConfig
    from iopstats.report.nightly import run_reports

    nbdir = tmp_path / "nb"
    for name in ("iop_outcomes", "data_quality"):
        toy_notebook(nbdir / f"{name}.ipynb", "print('ok')")
    toy_notebook(nbdir / "programs_sites.ipynb",
                 "import json\njson.dump({'data': {'publish': False}}, open(summary_path, 'w'))")
    out = tmp_path / "reports"
    cfg = ReportConfig(source="files", episodes=str(inputs_dir / "episodes.csv"), out=str(out))
    result = run_reports(cfg, echo=None, notebook_dir=nbdir)
    assert result.exit_code == 0, result
    published = sorted(p.name for p in (out / "current").iterdir())
    assert "programs_sites.html" not in published and "iop_outcomes.html" in published
    assert "programs_sites" not in (out / "index.html").read_text()
