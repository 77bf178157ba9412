"""The report notebooks: stored without outputs, identical in both places, run on real data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from iopstats.report.config import NOTEBOOKS, ReportConfig
from iopstats.report.nightly import EXIT_OK, notebook_path, run_reports

REPO = Path(__file__).resolve().parents[2]
CTN = REPO.parent / "shared" / "data" / "ctn0094"
SAMPLE = REPO / "data" / "sample"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_shipped_notebook_matches_repo_copy_and_has_no_outputs(name):
    shipped = notebook_path(name)
    repo_copy = REPO / "notebooks" / f"{name}.ipynb"
    assert shipped.read_bytes() == repo_copy.read_bytes(), "notebooks/ and iopstats/report/notebooks/ differ"
    nb = nbformat.read(shipped, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = set(re.findall(r"^(\w+)\s*=", tagged[0].source, re.M))
    wanted = set(ReportConfig(source="files", episodes="x").notebook_parameters()) | {"summary_path"}
    assert names == wanted


def _scan(out: Path):
    for page in out.rglob("*.html"):
        text = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\s]+", "", page.read_text())
        assert not re.search(r"\d{3}-\d{2}-\d{4}|[\w.]+@[\w-]+\.\w+", text), page
        assert not re.search(r"(?:src|href)\s*=\s*[\"']?https?://", text), page


@pytest.mark.slow
@pytest.mark.skipif(not CTN.is_dir(), reason="CTN-0094 data not found at ../shared/data/ctn0094")
def test_notebooks_run_on_real_ctn0094_data(tmp_path):
    cfg = ReportConfig(source="ctn0094", ctn0094=str(CTN), out=str(tmp_path / "reports"))
    res = run_reports(cfg, echo=None)
    assert res.exit_code == EXIT_OK, res.manifest.get("error")
    m = json.loads((res.private_dir / "manifest.json").read_text())  # exact counts are private
    eps = m["rows"]["episodes"]
    assert eps["loaded"] > 2000 and eps["loaded"] + eps["quarantined"] == eps["input"]
    assert len(m["inputs"]) > 5 and all(len(i["sha256"]) == 64 for i in m["inputs"])
    html = (tmp_path / "reports" / "current" / "iop_outcomes.html").read_text()
    assert "Kaplan-Meier" in html and "data:image/png;base64," in html
    _scan(tmp_path / "reports")


@pytest.mark.skipif(not (SAMPLE / "episodes.csv").exists(), reason="bundled sample data/sample/ not present yet")
def test_notebooks_run_on_bundled_sample(tmp_path):
    cfg = ReportConfig(source="sample", out=str(tmp_path / "reports"))
    res = run_reports(cfg, echo=None)
    assert res.exit_code == EXIT_OK, res.manifest.get("error")
    _scan(tmp_path / "reports")
