"""The README's cron line works on the first night, on a machine where nothing has run yet."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

from fake_data import write_inputs

REPO = Path(__file__).resolve().parents[2]


def _documented_cron_command() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```cron\n(.*?)```", readme, re.S)
    assert block, "README has no cron block"
    line = next(ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#"))
    fields = line.split(None, 5)
    assert len(fields) == 6 and fields[:5] == ["30", "2", "*", "*", "*"], line
    return fields[5]


def test_documented_cron_line_works_on_the_first_night(tmp_path):
    command = _documented_cron_command()
    assert command.startswith("cd /srv/iopstats && ")
    home = tmp_path / "srv" / "iopstats"  # a fresh install: no reports/, no private folder yet
    inputs = write_inputs(tmp_path / "exports", n_clients=60, small_level=False)
    (home / ".venv" / "bin").mkdir(parents=True)
    exe = home / ".venv" / "bin" / "iopstats"  # the console script, run from this checkout
    exe.write_text(f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(REPO))} exec {shlex.quote(sys.executable)} "
                   '-m iopstats.cli "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    (home / "report.toml").write_text(f'[data]\nepisodes = "{inputs["episodes"]}"\n'
                                      '[run]\nnotebooks = ["data_quality"]\n')
    command = command.replace("cd /srv/iopstats", f"cd {shlex.quote(str(home))}", 1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=600)
    log = home / "reports.private" / "cron.log"
    assert res.returncode == 0, (res.stdout, res.stderr, log.read_text() if log.exists() else "")
    assert res.stdout == res.stderr == ""  # everything went to the log
    assert "published" in log.read_text()
    assert (home / "reports" / "current" / "data_quality.html").exists()
    assert stat.S_IMODE((home / "reports.private").stat().st_mode) == 0o700
    assert not (home / "reports" / "cron.log").exists()  # the log is not in the published folder
