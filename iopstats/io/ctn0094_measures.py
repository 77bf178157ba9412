"""CTN-0094 repeated measures: urine screens, timeline follow-back and withdrawal ratings.

:func:`load_ctn0094_measures` loads, through the shipped mappings
``iopstats/io/mappings/ctn0094_measures_*.toml``:

* ``uds.csv`` (positive urine screens, one row per substance and day) as
  instrument ``uds``, item = substance, value 1;
* negative screen days, derived as in :mod:`iopstats.io.ctn0094`: an attended
  visit (``visit.csv`` "visit"/"final") with no ``uds.csv`` row that day is a
  screen with no positive result, item ``none``, value 0. This assumes a
  screen at every attended visit (the trials' protocols collected urine at
  each visit);
* ``tlfb.csv`` (self-reported use days) as instrument ``tlfb``, value 1;
* ``withdrawal.csv`` (harmonised withdrawal level 0-3) as
  ``withdrawal_level``.

The other clinical files (``fagerstrom.csv``, ``rbs.csv``, ``psychiatric.csv``,
``qol.csv``, ``asi.csv``) carry one undated assessment per participant: they are
baseline covariates, not repeated measures, and are not loaded here.
``uds_temp.csv`` (specimen temperature check) is specimen validity, not an outcome.

Every row of the four sources is accounted for:
``result.extras["accounting"]`` (file, status, reason, n) sums to each file's
row count, and ``n_loaded + n_quarantined == n_input``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.io.ctn0094 import _accounting, _read, _status, load_ctn0094
from iopstats.io.mapping import MAPPINGS_DIR
from iopstats.io.measures import load_measures
from iopstats.io.result import LoadResult, make_report

__all__ = ["load_ctn0094_measures", "CTN0094_MEASURE_FILES"]

#: Source files of the CTN-0094 repeated measures, with the shipped mapping of each.
CTN0094_MEASURE_FILES = {
    "uds.csv": "ctn0094_measures_uds.toml",
    "tlfb.csv": "ctn0094_measures_tlfb.toml",
    "withdrawal.csv": "ctn0094_measures_withdrawal.toml",
}
_NEGATIVE = "visit.csv (derived negative screens)"


def _negative_screens(folder: Path, uds: pd.DataFrame) -> pd.DataFrame:
    visit = _read(folder, "visit.csv")
    attended = visit[visit["what"].isin(["visit", "final"]) & (visit["when"].str.strip() != "")]
    days = attended[["who", "when"]].drop_duplicates()
    hit = days.merge(uds[["who", "when"]].drop_duplicates(), on=["who", "when"], how="left", indicator=True)
    return hit.loc[hit["_merge"] == "left_only", ["who", "when"]].reset_index(drop=True)


def _negative_mapping() -> dict:
    with open(MAPPINGS_DIR / CTN0094_MEASURE_FILES["uds.csv"], "rb") as fh:
        m = tomllib.load(fh)
    m["columns"] = {k: v for k, v in m["columns"].items() if k != "item"}
    m["constants"] = {**m["constants"], "item": "none", "value": "0"}
    return m


def load_ctn0094_measures(folder: str | os.PathLike = "../shared/data/ctn0094",
                          episodes: LoadResult | None = None) -> LoadResult:
    """Load the CTN-0094 urine screens, TLFB and withdrawal ratings as canonical measures.

    Parameters
    ----------
    folder : path
        Folder holding the public.ctn0094data CSV files.
    episodes : LoadResult, optional
        CTN-0094 episodes (``load_ctn0094(folder)["episodes"]``); loaded when omitted.

    Returns
    -------
    LoadResult
        ``.data`` canonical measures (``day`` = days from randomisation),
        ``.quarantine`` with a ``file`` column, ``extras["accounting"]`` and
        ``extras["parts"]`` (the LoadResult of each source file).

    Raises
    ------
    IopstatsError
        A file is missing or unreadable.
    """
    folder = Path(folder)
    missing = [f for f in (*CTN0094_MEASURE_FILES, "visit.csv") if not (folder / f).is_file()]
    if missing:
        raise IopstatsError(f"CTN-0094 files missing: {', '.join(missing)}", file=str(folder),
                            fix="pass folder= pointing at the public.ctn0094data CSV exports")
    if episodes is None:
        episodes = load_ctn0094(folder)["episodes"]
    parts: dict[str, LoadResult] = {}
    for file, mapping in CTN0094_MEASURE_FILES.items():
        parts[file] = load_measures(folder / file, MAPPINGS_DIR / mapping, episodes=episodes)
    neg = _negative_screens(folder, _read(folder, "uds.csv"))
    parts[_NEGATIVE] = load_measures(neg, _negative_mapping(), episodes=episodes)

    data = pd.concat([r.data for r in parts.values()], ignore_index=True)
    quarantine = pd.concat([r.quarantine.assign(file=f) for f, r in parts.items()], ignore_index=True)
    accounting = pd.concat([_accounting(f, _status(r)) for f, r in parts.items()], ignore_index=True)
    n_input = sum(r.report.n_input for r in parts.values())
    notes = (
        "Urine screens: uds.csv lists positive results only; an attended visit day without one is a screen with no "
        "positive result (item 'none', value 0). Methadone and buprenorphine positives are treatment medication.",
        "TLFB rows are self-reported use days (value 1); days without a row had no reported use in the recall period.",
        "Study days are placed on a nominal calendar from 2000-01-01; day = days from randomisation.",
    )
    report = make_report("CTN-0094 " + ", ".join(parts), "measures", n_input, data, quarantine, notes=notes)
    return LoadResult(data, quarantine, report, extras={"accounting": accounting, "parts": parts})
