"""The "Programs and sites" page end to end on synthetic data with a planted outlier and a small program."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import iopstats
from iopstats import IopstatsError
from iopstats.report.section_units import MERGED_LABEL, prepare_units, units_section, units_to_compare

REPO = Path(__file__).resolve().parents[2]
OUTLIER, SMALL, TINY = "IOP program 3", "IOP program 8", "IOP program 9"


def planted_episodes(n=6000, seed=3) -> pd.DataFrame:
    """Synthetic episodes; IOP episodes spread over nine programs: program 3 completes far more often
    (planted outlier), program 8 has 40 episodes with low completion, program 9 has 6 episodes."""
    eps = iopstats.synth(n, seed=seed, sessions=False).episodes.copy()
    rng = np.random.default_rng(seed)
    iop = np.flatnonzero((eps["level_of_care"] == "iop").to_numpy())
    names = np.array([f"IOP program {i}" for i in range(1, 8)], dtype=object)
    prog = names[rng.integers(0, len(names), len(iop))]
    prog[:40] = SMALL
    prog[40:46] = TINY
    eps["program"] = eps["program"].astype(object)
    eps.loc[eps.index[iop], "program"] = prog
    eps["program"] = eps["program"].astype("string")
    closed = eps["discharge_date"].notna().to_numpy()
    reason = eps["discharge_reason"].copy()
    out_rows = eps.index[iop][(prog == OUTLIER) & closed[iop]]
    reason.loc[out_rows] = np.where(rng.random(len(out_rows)) < 0.85, "completed", "dropped_out")
    small_rows = eps.index[iop][(prog == SMALL) & closed[iop]]
    reason.loc[small_rows] = np.where(np.arange(len(small_rows)) % 3 == 0, "completed", "dropped_out")
    eps["discharge_reason"] = reason
    return eps


@pytest.fixture(scope="module")
def outcomes():
    return iopstats.build_outcomes(planted_episodes())


@pytest.fixture(scope="module")
def section(outcomes):
    return units_section(outcomes)


def test_units_to_compare(outcomes):
    assert units_to_compare(outcomes) == "program"
    one = outcomes.assign(program="only", site="only")
    assert units_to_compare(one) is None
    with pytest.raises(IopstatsError, match="nothing to compare"):
        units_section(one)


def test_funnel_flags_planted_outlier_not_small_program(section, outcomes):
    funnel = section.tables["completed/funnel"].values.set_index("unit")
    assert funnel.loc[OUTLIER, "flag"] == "above 99.8%"
    assert funnel.loc[SMALL, "flag"] == "within"
    assert funnel.loc[SMALL, "n"] >= 11
    assert not funnel.drop(index=OUTLIER)["flag"].dropna().str.endswith("99.8%").any()
    assert section.flags["Completion"] == [OUTLIER]
    oe = section.tables["completed/oe"].values.set_index("unit")
    assert oe.loc[OUTLIER, "flag"].startswith("above") and oe.loc[OUTLIER, "ratio"] > 1.3
    assert any(OUTLIER in s for s in section.statements)
    assert any("does not mean" in s for s in section.statements)


def test_tiny_program_is_merged_or_left_out(section, outcomes):
    d, merged, left_out = prepare_units(outcomes[outcomes["level_of_care"] == "iop"], "program")
    assert merged == () and left_out == 1  # 6 episodes cannot be merged into a group of 11
    units = set(section.tables["completed/funnel"].values["unit"])
    assert TINY not in units and section.n_left_out == 1
    toy = pd.DataFrame({"program": ["a"] * 50 + ["b"] * 8 + ["c"] * 5})
    d, merged, left_out = prepare_units(toy, "program")
    assert merged == ("b", "c") and left_out == 0
    assert d["_unit"].value_counts().to_dict() == {"a": 50, MERGED_LABEL: 13}
    d, merged, left_out = prepare_units(toy[toy["program"] != "c"], "program")
    assert merged == () and left_out == 1 and set(d["_unit"]) == {"a"}


def test_no_published_count_between_1_and_10(section):
    assert section.tables and section.figures
    for key, table in section.tables.items():
        vals, mask = table.values, table.mask
        for col in ("n", "events"):
            if col not in vals:
                continue
            shown = vals[col][~mask[col]].dropna().astype(float)
            assert not ((shown >= 1) & (shown <= 10)).any(), key
            non = (vals["n"] - vals["events"])[~mask["events"]].dropna() if col == "events" else pd.Series(dtype=float)
            assert not ((non >= 1) & (non <= 10)).any(), key
        # anything built on a hidden count is hidden too
        if "events" in vals:
            hidden = mask["events"]
            for col in ("rate", "ratio", "shrunken_rate", "adjusted_rate", "flag"):
                if col in vals:
                    assert mask.loc[hidden, col].all(), (key, col)
        html = table.to_html()
        assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", html)


def test_section_figures_and_outcomes(section):
    parts = {"completed/funnel", "completed/oe_funnel", "completed/shrunken", "completed/control"}
    assert parts <= set(section.figures)
    assert any(k.startswith("retained_or_completed_90/") for k in section.tables)
    for fig in section.figures.values():
        assert isinstance(fig, Figure)


def test_section_with_national_model(outcomes, tmp_path):
    path = iopstats.write_tedsd_csv(tmp_path / "teds.csv", n=5000, year=2019, seed=8)
    model = iopstats.national_model(iopstats.read_tedsd(path).data, ["age_group", "prior_treatment"])
    sec = units_section(outcomes, model=model, outcomes_to_compare=("completed",))
    assert "TEDS-D" in " ".join(sec.tables["completed/oe"].remarks)


def test_notebook_is_thin_and_clean():
    import nbformat

    shipped = REPO / "iopstats" / "report" / "notebooks" / "programs_sites.ipynb"
    assert shipped.read_bytes() == (REPO / "notebooks" / "programs_sites.ipynb").read_bytes()
    nb = nbformat.read(shipped, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "units_section(" in "".join(c.source for c in code)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    names = set(re.findall(r"^(\w+)\s*=", tagged[0].source, re.M))
    from iopstats.report.config import ReportConfig

    assert names == set(ReportConfig(source="files", episodes="x").notebook_parameters()) | {"summary_path"}


def test_notebook_runs_on_planted_data(tmp_path):
    import papermill as pm

    eps = planted_episodes(3000, seed=5)
    path = tmp_path / "episodes.csv"
    eps.to_csv(path, index=False, date_format="%Y-%m-%d")
    nb = REPO / "iopstats" / "report" / "notebooks" / "programs_sites.ipynb"
    out = tmp_path / "run.ipynb"
    summary = tmp_path / "summary.json"
    pm.execute_notebook(str(nb), str(out), parameters={"source": "files", "episodes_path": str(path),
                                                       "summary_path": str(summary)},
                        progress_bar=False, cwd=str(tmp_path), log_output=False, kernel_name="python3")
    import json

    info = json.loads(summary.read_text())
    assert info["data"] == {"publish": True} and info["rows"]["programs_sites"]["unit"] == "program"
    text = out.read_text()
    assert "Programs and sites" in text and "Traceback" not in text
    assert OUTLIER in text


def test_unit_with_a_small_count_is_left_out_of_the_comparison(outcomes):
    """Five completions out of 30: hiding only the row would leak it through the centre, phi, tau2 and
    the shrinkage, so the unit leaves the whole completion comparison and the page says so."""
    o = outcomes.copy()
    rows = o.index[((o["program"] == "IOP program 1") & o["completed"].notna()).to_numpy()][:30]
    o.loc[rows, "program"] = "IOP program 10"
    o.loc[rows, "completed"] = [True] * 5 + [False] * 25
    sec = units_section(o, outcomes_to_compare=("completed",))
    for key, table in sec.tables.items():
        assert "IOP program 10" not in set(table.values["unit"]), key
        assert not table.mask.to_numpy().any(), key  # nothing left to hide
    assert any("1 program is left out" in s for s in sec.statements)
    base = units_section(outcomes, outcomes_to_compare=("completed",))
    # the other units' figures are those of a comparison without the left-out rows
    without = units_section(o[o["program"] != "IOP program 10"], outcomes_to_compare=("completed",))
    pd.testing.assert_frame_equal(sec.tables["completed/shrunken"].values, without.tables["completed/shrunken"].values)
    assert set(base.tables["completed/funnel"].values["unit"]) >= set(sec.tables["completed/funnel"].values["unit"])


def test_remarks_hide_small_counts_of_rows(outcomes):
    o = outcomes[outcomes["completed"].notna()].copy()
    rows = o.index[(o["level_of_care"] == "iop").to_numpy()][:7]
    o.loc[rows, "prior_treatment"] = None  # 7 rows left out of the case-mix model
    sec = units_section(o, outcomes_to_compare=("completed",))
    text = " ".join(sec.tables["completed/oe"].remarks)
    assert "<11 rows left out" in text and "7 rows" not in text
