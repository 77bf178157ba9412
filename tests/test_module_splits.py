"""The split headline and report-table modules: every name stays importable from
its old module and is the one object defined in its new home."""

from __future__ import annotations

import subprocess
import sys

import pytest

from iopstats.compare import headline, headline_counts
from iopstats.report import tables, tables_base, tables_outcomes, tables_quality, tables_survival

# Names other code imports from iopstats.compare.headline besides __all__
# (report/config.py: _check_covariates; benchmarks/bench_scaling.py: _needed) and the count-step helpers.
HEADLINE_PRIVATE = ["_check_covariates", "_needed", "_dask_counts", "_derive", "_derive_packed", "_canonical_frame",
                    "_plan", "_pack", "_unpack", "_resolve_as_of", "_is_dask", "_CANONICAL", "_STAY_COLUMNS"]
TABLE_SECTIONS = [tables_base, tables_quality, tables_outcomes, tables_survival]


def test_headline_reexports_the_count_step():
    for name in [*headline_counts.__all__, *HEADLINE_PRIVATE]:
        assert getattr(headline, name) is getattr(headline_counts, name), name
    assert set(headline_counts.__all__) < set(headline.__all__)
    assert headline.headline_counts.__module__ == "iopstats.compare.headline_counts"
    assert headline.headline_estimates.__module__ == "iopstats.compare.headline"


def test_headline_counts_does_not_import_the_estimates():
    assert not hasattr(headline_counts, "headline_estimates")
    assert not hasattr(headline_counts, "HeadlineResult")


def test_tables_reexports_every_section_name():
    sections = [n for m in TABLE_SECTIONS for n in m.__all__]
    assert len(sections) == len(set(sections))
    assert sorted(sections) == sorted(tables.__all__)
    for module in TABLE_SECTIONS:
        for name in module.__all__:
            assert getattr(tables, name) is getattr(module, name), name
    assert tables.T is tables_base.T
    assert tables._fmt is tables_base._fmt and tables._suppressed is tables_base._suppressed
    assert tables._EFFECT_FORMATS is tables_outcomes._EFFECT_FORMATS


@pytest.mark.parametrize("module", ["iopstats.report.tables_survival", "iopstats.report.tables_quality",
                                    "iopstats.compare.headline_counts"])
def test_new_module_imports_first_in_a_fresh_interpreter(module):
    old = "iopstats.compare.headline" if "compare" in module else "iopstats.report.tables"
    code = f"import {module}, {old}; print(len({old}.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == (7 if "compare" in module else 24)
