"""Shared fixtures for the report tests: input files and one successful run."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fake_data  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def inputs_dir(tmp_path_factory) -> Path:
    """Canonical episodes/followups/sessions CSVs with planted identifiers and a tiny level."""
    d = tmp_path_factory.mktemp("inputs")
    fake_data.write_inputs(d)
    return d


@pytest.fixture(scope="session")
def good_run(inputs_dir, tmp_path_factory):
    """One successful run of the real notebooks through the CLI with no data arguments.

    ``IOPSTATS_SAMPLE_DIR`` points the no-argument default at the test inputs.
    """
    import os

    from iopstats.cli import main

    out = tmp_path_factory.mktemp("reports") / "reports"
    old = os.environ.get("IOPSTATS_SAMPLE_DIR")
    os.environ["IOPSTATS_SAMPLE_DIR"] = str(inputs_dir)
    try:
        code = main(["report", "--out", str(out), "--quiet"])
    finally:
        if old is None:
            os.environ.pop("IOPSTATS_SAMPLE_DIR", None)
        else:
            os.environ["IOPSTATS_SAMPLE_DIR"] = old
    return {"code": code, "out": out}


def toy_notebook(path: Path, body: str) -> None:
    """A tiny notebook with a parameters cell and one code cell."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("summary_path = None\nthreshold = 11", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("# Toy report"),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def toy_dirs(tmp_path):
    """Notebook folders for the failure-mode tests: ok, raising, slow."""
    dirs = {}
    for kind, body in {
        "ok": "print('toy report ok')",
        "raise": "raise RuntimeError('planted failure in a cell')",
        "slow": "import time\nfor _ in range(600):\n    time.sleep(0.1)",
    }.items():
        d = tmp_path / f"nb_{kind}"
        for name in ("iop_outcomes", "data_quality", "programs_sites"):
            toy_notebook(d / f"{name}.ipynb", body if (kind != "raise" or name == "data_quality") else "print('ok')")
        dirs[kind] = d
    return dirs
