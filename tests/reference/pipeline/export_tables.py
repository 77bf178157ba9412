"""Export the analysis tables the pipeline reference values are computed from.

The tables are built by iopstats itself, through the canonical pipeline:

* ``sample_outcomes.csv``: the bundled synthetic sample ``data/sample/`` loaded with
  ``iopstats.load_episodes`` / ``load_followups`` / ``load_sessions`` and turned into
  per-episode outcomes by ``iopstats.build_outcomes``;
* ``ctn0094_outcomes.csv``: CTN-0094 (``/work/shared/data/ctn0094``) loaded with
  ``iopstats.load_ctn0094`` and ``build_outcomes``;
* ``levels.csv``: the category order of every categorical column (the estimators code
  indicators against the first level that occurs, so R's factors are given the same order).

Only the columns the reference analyses use are kept. Run from this folder:

    ../../../.venv/bin/python export_tables.py
    Rscript pipeline_reference.R

tests/stats/test_pipeline_against_R.py rebuilds both tables through the pipeline and
checks they equal these files, so the reference values stay tied to the code.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import iopstats

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SAMPLE = ROOT / "data" / "sample"
CTN0094 = ROOT.parent / "shared" / "data" / "ctn0094"

#: Exported columns, in order (the categorical covariates differ: the sample carries payer
#: and prior treatment; CTN-0094 has neither but has race and ethnicity).
KEYS = ["episode_id", "client_id", "site", "level_of_care", "time_in_treatment", "left_treatment",
        "exit_cause", "completed"]
SAMPLE_COVARIATES = ["sex", "payer", "prior_treatment", "psych_problem"]
CTN_COVARIATES = ["sex", "race", "ethnicity"]


def sample_outcomes() -> pd.DataFrame:
    """Outcome table of the bundled sample, built by the pipeline."""
    eps = iopstats.load_episodes(SAMPLE / "episodes.csv")
    fu = iopstats.load_followups(SAMPLE / "followups.csv", episodes=eps)
    ses = iopstats.load_sessions(SAMPLE / "sessions.csv", episodes=eps)
    out = iopstats.build_outcomes(eps.data, fu.data, ses.data)
    return out[KEYS + SAMPLE_COVARIATES].reset_index(drop=True)


def ctn0094_outcomes(folder: Path = CTN0094) -> pd.DataFrame:
    """Outcome table of CTN-0094, built by the pipeline."""
    res = iopstats.load_ctn0094(folder)
    out = iopstats.build_outcomes(res["episodes"].data, res["followups"].data, res["sessions"].data)
    return out[KEYS + CTN_COVARIATES].reset_index(drop=True)


def category_levels(*tables: pd.DataFrame) -> pd.DataFrame:
    """column, position, level for every categorical column (category order)."""
    rows = {}
    for t in tables:
        for c in t.columns:
            if isinstance(t[c].dtype, pd.CategoricalDtype):
                rows[c] = list(t[c].cat.categories)
    return pd.DataFrame([{"column": c, "position": i, "level": lev}
                         for c, levs in rows.items() for i, lev in enumerate(levs)])


def main() -> None:
    s = sample_outcomes()
    c = ctn0094_outcomes()
    s.to_csv(HERE / "sample_outcomes.csv", index=False)
    c.to_csv(HERE / "ctn0094_outcomes.csv", index=False)
    category_levels(s, c).to_csv(HERE / "levels.csv", index=False)
    print(f"sample: {len(s)} episodes; CTN-0094: {len(c)} episodes")


if __name__ == "__main__":
    main()
