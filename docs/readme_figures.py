"""Draw the README's example figures (docs/images/*.png) from the public test data.

Run from the repository root:  .venv/bin/python docs/readme_figures.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

import iopstats  # noqa: E402
from iopstats import plots  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference"
OUT = ROOT / "docs" / "images"


def save(ax, name: str) -> None:
    fig = ax.figure
    fig.savefig(OUT / name, dpi=72, bbox_inches="tight", metadata={"Software": None})


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    addicts = pd.read_csv(REF / "survival" / "addicts.csv")
    addicts["clinic"] = "clinic " + addicts["clinic"].astype(str)
    ctn = pd.read_csv(REF / "pipeline" / "ctn0094_outcomes.csv")
    km = iopstats.kaplan_meier(addicts, "survt", "status", by="clinic")
    save(km.plot(title="Retention in methadone treatment (addicts)", xlabel="days"), "km.png")
    ci = iopstats.cumulative_incidence(ctn, "time_in_treatment", "exit_cause", by="level_of_care",
                                       censor_code="censored")
    save(ci.plot(title="Ways of leaving treatment (CTN-0094)", xlabel="days"), "cif.png")
    fit = iopstats.cox(addicts, "survt", "status", ["clinic", "prison", "dose"])
    save(fit.plot(title="Cox model of leaving treatment (addicts)"), "cox.png")
    comp = iopstats.compare_rates(ctn, "completed", by="level_of_care", reference="outpatient")
    save(comp.plot(title="Completion, outpatient minus detox (CTN-0094)"), "comparison.png")
    syn = iopstats.synth(n_episodes=6000, seed=14, start="2019-01-01", end="2024-12-31", sessions=False)
    out = iopstats.build_outcomes(syn.episodes)
    out = out[out["level_of_care"].isin(["iop", "outpatient", "residential_short"])]
    r = iopstats.rates(out, "completed", by=["admit_year", "level_of_care"])
    save(plots.trend(r[r["n"] >= 11], x="admit_year", group="level_of_care",
                     title="Completion by admission year (synthetic)", ylabel="completed"), "trend.png")


if __name__ == "__main__":
    main()
