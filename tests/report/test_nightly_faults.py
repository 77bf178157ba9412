"""Faults of the nightly job: each exits with its documented code and a one-line fix, and the next run heals.

Runs use the toy notebooks of ``conftest.toy_dirs`` (a few seconds each) on a
small valid episodes file, except where the real notebooks are the point.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import stat
from pathlib import Path

import pytest

from fake_data import make_inputs
from iopstats.cli import main
from iopstats.report import nightly
from iopstats.report.config import ReportConfig
from iopstats.report.index import build_index
from iopstats.report.nightly import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_UNWRITABLE, EXIT_USAGE, run_reports

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def episodes(tmp_path) -> Path:
    path = tmp_path / "in" / "episodes.csv"
    path.parent.mkdir()
    make_inputs(n_clients=40, small_level=False)["episodes"].to_csv(path, index=False)
    return path


def _cfg(out: Path, episodes: Path, **kw) -> ReportConfig:
    return ReportConfig(source="files", episodes=str(episodes), out=str(out), **kw)


def _published_text(out: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ----------------------------------------------------------------------------- the index


@pytest.mark.parametrize("content", [b"[]", b"null", b"\xff\xfe\x00garbage", b'"text"', b"{",
                                     json.dumps({"status": 3, "reports": "x.html", "seconds": "soon",
                                                 "rows": [], "error": {"a": 1}, "period": 7}).encode()])
def test_malformed_earlier_manifest_is_skipped_with_a_warning(tmp_path, content, caplog):
    out = tmp_path / "reports"
    good, bad = out / "runs" / "20240102T000000", out / "runs" / "20240101T000000"
    good.mkdir(parents=True)
    bad.mkdir()
    (good / "manifest.json").write_text(json.dumps({"status": "ok", "reports": ["iop_outcomes.html"],
                                                    "rows": {"episodes": {"loaded": "about 600"}}}))
    (bad / "manifest.json").write_bytes(content)
    os.symlink("runs/20240102T000000", out / "current")
    with caplog.at_level(logging.WARNING, logger="iopstats.report.index"):
        text = build_index(out).read_text()
    assert "current/iop_outcomes.html" in text and "about 600" in text
    if content.startswith(b"{\"status\": 3"):  # an object with wrong types: listed, bad fields blank
        assert "20240101T000000" in text and "x.html" not in text
    else:
        assert "20240101T000000" not in text
        assert any("20240101T000000" in r.getMessage() for r in caplog.records)


def test_malformed_earlier_manifest_does_not_fail_the_run(tmp_path, episodes, toy_dirs):
    out = tmp_path / "reports"
    (out / "runs" / "20200101T000000").mkdir(parents=True)
    (out / "runs" / "20200101T000000" / "manifest.json").write_text("[]")
    res = run_reports(_cfg(out, episodes), echo=None, notebook_dir=toy_dirs["ok"])
    assert res.exit_code == EXIT_OK, res.manifest.get("error")
    assert f"runs/{res.run_dir.name}/iop_outcomes.html" in (out / "index.html").read_text()


# ----------------------------------------------------------------------------- usage errors: exit 2


@pytest.mark.parametrize("content, words", [
    (b'[run]\nout = "r\xe9ports"\n', "UTF-8"),
    (None, "folder"),
    (b'[analysis]\nseed = "abc"\n', "seed"),
    (b"[analysis]\nseed = -1\n", "seed"),
    (b"[run]\ncell_timeout = true\n", "cell timeout"),
    (b"[run]\nkeep_runs = true\n", "keep_runs"),
    (b"[run]\nout = 3\n", "text value"),
    (b"[privacy]\nmax_quarantine_share = 2\n", "max_quarantine_share"),
    (b"[privacy]\nmax_quarantine_share = {visits = 0.1}\n", "unknown table"),
])
def test_bad_config_exits_2_with_one_line_and_the_fix(tmp_path, capsys, content, words):
    cfg = tmp_path / "report.toml"
    if content is None:
        cfg.mkdir()
    else:
        cfg.write_bytes(content)
    assert main(["report", "--config", str(cfg), "--out", str(tmp_path / "reports")]) == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert words in line and "Fix:" in line


def test_out_naming_a_file_exits_2(tmp_path, episodes, capsys):
    target = tmp_path / "reports"
    target.write_text("not a folder")
    assert main(["report", "--episodes", str(episodes), "--out", str(target), "--quiet"]) == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert "names a file" in line and str(target) in line


def test_out_below_a_file_exits_2(tmp_path, episodes, capsys):
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "reports"
    assert main(["report", "--episodes", str(episodes), "--out", str(out), "--quiet"]) == EXIT_USAGE
    assert "is a file" in _one_line(capsys.readouterr().err)


def test_private_dir_inside_published_folder_is_refused(tmp_path, episodes):
    out = tmp_path / "reports"
    res = run_reports(_cfg(out, episodes, private_dir=str(out / "private")), echo=None)
    assert res.exit_code == EXIT_USAGE and "outside the published folder" in res.manifest["error"]


def test_missing_episodes_option_names_the_path_and_exits_2(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "episodes.csv"
    assert main(["report", "--episodes", str(missing), "--out", str(tmp_path / "r"), "--quiet"]) == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert str(missing) in line and "--episodes" in line and "check the paths in the config" not in line
    assert not (tmp_path / "r").exists()  # nothing was run


def test_missing_input_from_config_names_the_key_and_exits_2(tmp_path, capsys):
    cfg = tmp_path / "report.toml"
    cfg.write_text('[data]\nepisodes = "eps.csv"\nfollowups = "gone.csv"\n')
    (tmp_path / "eps.csv").write_text("x\n")
    assert main(["report", "--config", str(cfg), "--out", str(tmp_path / "r"), "--quiet"]) == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert "gone.csv" in line and "data.followups" in line
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------- write faults: exit 4


@pytest.mark.parametrize("quiet", [["--quiet"], []])
def test_unwritable_output_exits_4_with_the_fix(capsys, episodes, quiet):
    out = Path("/sys/iopstats-test-reports")  # mkdir there fails even for root (EPERM)
    assert main(["report", "--episodes", str(episodes), "--out", str(out), *quiet]) == EXIT_UNWRITABLE
    line = _one_line(capsys.readouterr().err)
    assert "cannot write" in line and "Fix:" in line


def test_read_only_output_exits_4(tmp_path, episodes, monkeypatch):
    real = Path.write_bytes

    def read_only(self, data):
        if self.name.startswith(".write-test-"):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", read_only)
    res = run_reports(_cfg(tmp_path / "reports", episodes), echo=None)
    assert res.exit_code == EXIT_UNWRITABLE and "read-only" in res.manifest["error"]


def test_disk_full_exits_4_cleans_up_and_next_run_recovers(tmp_path, episodes, toy_dirs, monkeypatch, capsys):
    out = tmp_path / "reports"

    def full(executed, path, title):
        path.write_text("partial page")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    real_run = nightly.run_reports
    monkeypatch.setattr(nightly, "export_html", full)
    monkeypatch.setattr(nightly, "run_reports",
                        lambda cfg, echo=None: real_run(cfg, echo=echo, notebook_dir=toy_dirs["ok"]))
    assert main(["report", "--episodes", str(episodes), "--out", str(out), "--quiet"]) == EXIT_UNWRITABLE
    line = _one_line(capsys.readouterr().err)
    assert "no space left" in line and "free space" in line
    assert not list(out.glob(".tmp-*")) and not list(out.rglob("*.tmp[0-9]*"))
    assert not (out / "current").exists()
    monkeypatch.undo()
    res = run_reports(_cfg(out, episodes), echo=None, notebook_dir=toy_dirs["ok"])
    assert res.exit_code == EXIT_OK, res.manifest.get("error")
    assert os.readlink(out / "current") == f"runs/{res.run_dir.name}"


def test_malformed_leftover_tmp_manifests_do_not_stop_later_runs(tmp_path, episodes, toy_dirs):
    out = tmp_path / "reports"
    (out / "runs").mkdir(parents=True)
    leftovers = {".tmp-20200101T000000-999": b"[]", ".tmp-20200102T000000-998": b"null",
                 ".tmp-20200103T000000-997": b"\xff\xfe", ".tmp-20200104T000000-996": b'{"steps": 3}',
                 ".tmp-garbage": b"{"}
    for name, content in leftovers.items():
        (out / name).mkdir()
        (out / name / "manifest.json").write_bytes(content)
        (out / name / "iop_outcomes.html").write_text("half a page")
    (out / ".tmp-file").write_text("not a folder")
    res = run_reports(_cfg(out, episodes), echo=None, notebook_dir=toy_dirs["ok"])
    assert res.exit_code == EXIT_OK, res.manifest.get("error")
    assert not list(out.glob(".tmp-*"))
    for rid in ("20200101T000000", "20200102T000000", "20200103T000000", "20200104T000000"):
        recovered = out / "runs" / rid
        assert json.loads((recovered / "manifest.json").read_text())["status"] == "interrupted"
        assert not (recovered / "iop_outcomes.html").exists()  # an unfinished run's pages are not served
    assert "20200101T000000" in (out / "index.html").read_text()


# ----------------------------------------------------------------------------- nothing private is published


def _headerless(tmp_path: Path) -> tuple[Path, list[str]]:
    eps = make_inputs(n_clients=40, small_level=False)["episodes"]
    path = tmp_path / "in" / "headerless.csv"
    path.parent.mkdir(exist_ok=True)
    eps.to_csv(path, index=False, header=False)
    first = eps.iloc[0]
    return path, [first["client_id"], first["episode_id"], first["admit_date"]]


def test_failed_run_publishes_no_ids_dates_or_notebooks(tmp_path, toy_dirs):
    out = tmp_path / "reports"
    path, secrets = _headerless(tmp_path)
    res = run_reports(_cfg(out, path), echo=None, notebook_dir=toy_dirs["ok"])
    assert res.exit_code == EXIT_FAILED
    published = _published_text(out)
    for s in secrets:
        assert s not in published, s
    assert not list(out.rglob("*.ipynb")) and not list(out.rglob("*.log"))
    assert "private log" in (out / "index.html").read_text()
    private = res.private_dir.parent.parent
    log = (private / "iopstats.log").read_text()
    assert "failed" in log and str(res.private_dir) in log  # the log says where the private files are


def test_failing_cell_message_is_not_published(tmp_path, episodes):
    from conftest import toy_notebook

    nbs = tmp_path / "nb"
    toy_notebook(nbs / "iop_outcomes.ipynb", "raise ValueError('client C00042 admitted 2023-05-17')")
    toy_notebook(nbs / "data_quality.ipynb", "print('ok')")
    out = tmp_path / "reports"
    res = run_reports(_cfg(out, episodes), echo=None, notebook_dir=nbs)
    assert res.exit_code == EXIT_FAILED
    assert "C00042" in res.manifest["error"]  # private
    published = _published_text(out)
    assert "C00042" not in published and "2023-05-17" not in published
    assert "notebook iop_outcomes failed (ValueError)" in (out / "index.html").read_text()
    assert "C00042" in (res.private_dir / "iop_outcomes.ipynb").read_text()


def test_private_folder_is_owner_only_and_manifest_shows_no_small_count(tmp_path, episodes, toy_dirs):
    eps = make_inputs(n_clients=200, small_level=False)["episodes"]
    eps.loc[[3, 7, 11], "admit_date"] = "not a date"  # 3 quarantined rows: a count of 1-10
    path = tmp_path / "in" / "three_bad.csv"
    eps.to_csv(path, index=False)
    out = tmp_path / "reports"
    res = run_reports(_cfg(out, path), echo=None, notebook_dir=toy_dirs["ok"])
    assert res.exit_code == EXIT_OK, res.manifest.get("error")
    assert res.manifest["rows"]["episodes"]["quarantined"] == 3  # exact, privately
    public = (res.run_dir / "manifest.json").read_text()
    assert "quarantined" not in public and "sha256" not in public and str(path) not in public
    for number in re.findall(r"\"(?:loaded|counted|input|episodes_in_period)\": (\d+)", public):
        assert not 1 <= int(number) <= 10
    assert json.loads(public)["rows"]["episodes"]["loaded"] == f"about {(len(eps) - 3 + 5) // 10 * 10:,}"
    private = res.private_dir.parent.parent
    assert private == out.parent / "reports.private"
    qfile = res.private_dir / "quarantine" / "episodes.csv"
    assert qfile.exists() and "not a date" in qfile.read_text()
    for p in [private, *private.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))


# ----------------------------------------------------------------------------- quarantine gate


def test_large_quarantine_fails_before_publishing_naming_top_reasons(tmp_path, episodes, toy_dirs):
    import pandas as pd

    eps = pd.read_csv(episodes)
    n_bad = len(eps) // 4
    eps.loc[: n_bad - 1, "admit_date"] = "32/13/2023"
    eps.loc[n_bad: n_bad + 2, "level_of_care"] = "IOPP"
    path = tmp_path / "in" / "bad_quarter.csv"
    eps.to_csv(path, index=False)
    out = tmp_path / "reports"
    assert run_reports(_cfg(out, episodes), echo=None, notebook_dir=toy_dirs["ok"]).exit_code == EXIT_OK
    before = os.readlink(out / "current")
    lines = []
    res = run_reports(_cfg(out, path), echo=lines.append, notebook_dir=toy_dirs["ok"])
    assert res.exit_code == EXIT_FAILED
    err = res.manifest["error"]
    assert "above the limit of 5%" in err and "unparseable_date" in err and "unknown_code" in err
    assert err.index("unparseable_date") < err.index("unknown_code")  # top reason first
    assert str(res.private_dir / "quarantine" / "episodes.csv") in err
    assert not any(s["step"].startswith("execute") for s in res.manifest["steps"])  # before any notebook
    assert os.readlink(out / "current") == before
    public = json.loads((res.run_dir / "manifest.json").read_text())
    assert "unparseable_date" in public["error"] and not re.search(r"\d+ rows|\d+(\.\d+)?%\)", public["error"])
    assert (res.private_dir / "quarantine" / "episodes.csv").exists()
    assert any("quarantine" in ln and str(res.private_dir) in ln for ln in lines)  # the log says where
    # a configured limit lets the same input through
    res = run_reports(_cfg(out, path, max_quarantine_share=0.5), echo=None, notebook_dir=toy_dirs["ok"])
    assert res.exit_code == EXIT_OK, res.manifest.get("error")


# ----------------------------------------------------------------------------- console output


def test_lock_message_prints_once(tmp_path, episodes, capsys):
    out = tmp_path / "reports"
    private = tmp_path / "reports.private"
    private.mkdir(mode=0o700)
    with open(private / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write("4242\n")
        fh.flush()
        for extra in ([], ["--quiet"]):
            assert main(["report", "--episodes", str(episodes), "--out", str(out), *extra]) == EXIT_LOCKED
            err = capsys.readouterr().err
            assert err.count("another report run") == 1, err


def test_kernel_talks_ipc_so_no_unencrypted_tcp_warning(tmp_path, episodes, toy_dirs, capfd):
    res = run_reports(_cfg(tmp_path / "reports", episodes), echo=None, notebook_dir=toy_dirs["ok"])
    assert res.exit_code == EXIT_OK, res.manifest.get("error")
    captured = capfd.readouterr()  # file descriptors: includes what the kernel processes print
    assert "without encryption" not in captured.err + captured.out


# ----------------------------------------------------------------------------- empty period


def test_empty_reporting_period_gives_a_page_that_says_so(tmp_path, episodes, toy_dirs):
    out = tmp_path / "reports"
    res = run_reports(_cfg(out, episodes, period_start="2031-01", period_end="2031-12"), echo=None,
                      notebook_dir=toy_dirs["ok"])
    assert res.exit_code == EXIT_OK, res.manifest.get("error")
    page = (out / "current" / "iop_outcomes.html").read_text()
    assert "holds no episodes" in page and "2031-01 to 2031-12" in page
    assert (out / "current" / "data_quality.html").exists()
    assert json.loads((res.run_dir / "manifest.json").read_text())["empty_period"] is True


def test_page_with_identifier_text_never_enters_the_published_tree(tmp_path, episodes):
    from conftest import toy_notebook

    nbs = tmp_path / "nb"
    toy_notebook(nbs / "iop_outcomes.ipynb", "print('contact jane.roe@example.org')")
    toy_notebook(nbs / "data_quality.ipynb", "print('ok')")
    out = tmp_path / "reports"
    res = run_reports(_cfg(out, episodes), echo=None, notebook_dir=nbs)
    assert res.exit_code == EXIT_FAILED and "identifier-like text (email)" in res.manifest["error"]
    assert "jane.roe" not in _published_text(out)
    assert not list(out.rglob("*.html")) or [p.name for p in out.rglob("*.html")] == ["index.html"]
    assert "jane.roe@example.org" in (res.private_dir / "iop_outcomes.html").read_text()  # kept for diagnosis


def test_disk_full_when_moving_the_finished_run_keeps_current(tmp_path, episodes, toy_dirs, monkeypatch):
    out = tmp_path / "reports"
    first = run_reports(_cfg(out, episodes), echo=None, notebook_dir=toy_dirs["ok"])
    assert first.exit_code == EXIT_OK
    real = os.replace

    def full(src, dst):
        if Path(src).name.startswith(".tmp-") and Path(dst).parent.name == "runs":
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", full)
    res = run_reports(_cfg(out, episodes), echo=None, notebook_dir=toy_dirs["ok"])
    monkeypatch.undo()
    assert res.exit_code == EXIT_UNWRITABLE and res.status == "failed"
    assert os.readlink(out / "current") == f"runs/{first.run_dir.name}"
    assert (out / "current" / "iop_outcomes.html").exists()
    assert not list(out.glob(".tmp-*"))
