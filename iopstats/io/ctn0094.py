"""Load the NIDA CTN-0094 harmonised trial data as canonical tables.

CTN-0094 (R package ``public.ctn0094data``) harmonises three opioid-use-disorder
trials: CTN-0027 (methadone vs outpatient buprenorphine), CTN-0030 (outpatient
buprenorphine with standard or enhanced medical management) and CTN-0051
(buprenorphine vs XR-naltrexone induced during an inpatient detox stay).
:func:`load_ctn0094` turns the files into canonical episodes, sessions and
follow-ups with the shipped mappings ``iopstats/io/mappings/ctn0094_*.toml``.

Decisions (also in the load report notes)
-----------------------------------------
* **Episodes**: one per randomized participant (``randomized_outcomes.csv``,
  whose arm and day equal the first randomisation in ``randomization.csv``).
  ``client_id = episode_id = who``. Site from ``site_masked.csv``; age, sex,
  race, ethnicity from ``randomized_outcomes.csv``; employment from
  ``demographics.csv``.
* **Level of care**: CTN-0051 arms ("Inpatient BUP", "Inpatient NR-NTX") were
  randomized and inducted on an inpatient withdrawal-management unit ->
  ``detox_inpatient``; follow-on care was outpatient, so CTN-0051 retention
  mixes the detox stay with outpatient medication treatment. CTN-0027
  ("Methadone", "Outpatient BUP") and CTN-0030 (both "Outpatient BUP" arms) are
  ASAM level 1 medication treatment -> ``outpatient``. **There is no IOP arm**:
  CTN-0094 cannot compare IOP with anything; it exercises the pipeline.
* **Dates**: study days (day 0 = consent) on a nominal calendar from
  2000-01-01. Admission = randomisation day. Discharge = randomisation day +
  7 x ``ctn0094_dropout_time`` (CTNote retention endpoint, whole weeks);
  ``ctn0094_dropout_event`` 1 -> ``dropped_out``, 0 -> ``completed`` (retained
  to the end of the endpoint window). Visits are not used to move discharge.
* **Sessions**: every ``visit.csv`` row; ``what`` visit/final -> attended,
  "no visit" -> not attended, "MISSING" or empty -> attendance unknown
  (``missing_required``). Baseline and screening visits before randomisation
  are ``session_outside_episode``; visits of participants never randomized are
  ``orphan_session``.
* **Follow-ups**: urine screens, one per participant-day. ``uds.csv`` lists only
  positive results (one row per substance); a day with an attended visit and
  no ``uds.csv`` row is taken as a **negative screen** (assumes a screen at
  every attended visit). Use = positive for "Opioid" (methadone and
  buprenorphine positives are medication). Canonical follow-ups are
  post-discharge, so screens taken before discharge (during treatment,
  including screening visits before randomisation) are quarantined as
  ``in_treatment_screen``: valid records outside the follow-up table's scope,
  not data errors (:data:`iopstats.io.validate.OUT_OF_SCOPE_REASONS`).
* **Accounting**: ``result.extras["accounting"]`` gives, for each source file
  feeding the table, rows by status (loaded / quarantined / not_used) and
  reason; the counts add up to the file's row count.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.io.load import load_episodes, load_followups, load_sessions
from iopstats.io.mapping import MAPPINGS_DIR
from iopstats.io.readers import read_source
from iopstats.io.result import LoadResult, make_report

__all__ = ["load_ctn0094", "CTN0094_FILES"]

#: Source files read by :func:`load_ctn0094`.
CTN0094_FILES = ("randomized_outcomes.csv", "randomization.csv", "site_masked.csv", "demographics.csv",
                 "visit.csv", "uds.csv")

_NOTES = (
    "CTN-0094 has no intensive outpatient (IOP) arm: CTN-0051 inpatient-induction arms are detox_inpatient, "
    "CTN-0027 and CTN-0030 arms are outpatient.",
    "Discharge = randomisation day + 7 x ctn0094_dropout_time (CTNote retention endpoint, weeks); "
    "event 1 = dropped_out, 0 = completed (retained to the end of the window).",
)


def _read(folder: Path, name: str) -> pd.DataFrame:
    return read_source(folder / name, format="csv", delimiter=",").frame


def _status(result: LoadResult) -> pd.DataFrame:
    """Per input row: status and reason (row order = input order)."""
    n = result.report.n_input
    status = np.full(n, "loaded", dtype=object)
    reason = np.full(n, "", dtype=object)
    q = result.quarantine
    idx = q["row"].to_numpy() - 1
    status[idx] = "quarantined"
    reason[idx] = q["reason"].to_numpy()
    return pd.DataFrame({"status": status, "reason": reason})


def _accounting(file: str, status: pd.DataFrame) -> pd.DataFrame:
    g = status.groupby(["status", "reason"], sort=True).size().rename("n").reset_index()
    g.insert(0, "file", file)
    return g


def _with_accounting(result: LoadResult, parts: list[pd.DataFrame], notes=()) -> LoadResult:
    acc = pd.concat(parts, ignore_index=True)
    rep = result.report
    source = "CTN-0094 " + ", ".join(dict.fromkeys(f.split(" ")[0] for f in acc["file"]))
    report = make_report(source, rep.table, rep.n_input, result.data, result.quarantine,
                         identifier_flags=rep.identifier_flags, dropped_columns=rep.dropped_columns,
                         notes=tuple(notes) + rep.notes)
    return LoadResult(result.data, result.quarantine, report, extras={**result.extras, "accounting": acc})


def load_ctn0094(folder: str | os.PathLike = "../shared/data/ctn0094") -> dict[str, LoadResult]:
    """Load CTN-0094 as canonical episodes, sessions and follow-ups.

    Parameters
    ----------
    folder : path
        Folder holding the public.ctn0094data CSV files (:data:`CTN0094_FILES`).

    Returns
    -------
    dict
        ``{"episodes": LoadResult, "followups": LoadResult, "sessions": LoadResult}``;
        each has ``extras["accounting"]`` (file, status, reason, n) covering every
        row of the source files it used.

    Raises
    ------
    IopstatsError
        A file is missing or unreadable.

    Notes
    -----
    See the module docstring for the level-of-care, discharge and urine-screen
    decisions.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise IopstatsError("CTN-0094 folder not found", file=str(folder),
                            fix="pass folder= pointing at the public.ctn0094data CSV files")
    missing = [f for f in CTN0094_FILES if not (folder / f).is_file()]
    if missing:
        raise IopstatsError(f"CTN-0094 files missing: {', '.join(missing)}", file=str(folder),
                            fix="copy the public.ctn0094data CSV exports into the folder")
    ro = _read(folder, "randomized_outcomes.csv")
    rz = _read(folder, "randomization.csv")
    site = _read(folder, "site_masked.csv")
    demo = _read(folder, "demographics.csv")
    visit = _read(folder, "visit.csv")
    uds = _read(folder, "uds.csv")
    for name, df, cols in (
        ("randomized_outcomes.csv", ro, ["who", "project", "arm", "rand_day", "ctn0094_dropout_time",
                                         "ctn0094_dropout_event"]),
        ("randomization.csv", rz, ["who", "treatment", "which", "when"]),
        ("site_masked.csv", site, ["who", "site_masked"]),
        ("demographics.csv", demo, ["who", "job"]),
        ("visit.csv", visit, ["who", "what", "when"]),
        ("uds.csv", uds, ["who", "what", "when"]),
    ):
        absent = [c for c in cols if c not in df.columns]
        if absent:
            raise IopstatsError(f"unexpected CTN-0094 layout: columns {absent} missing", file=name,
                                fix="use the public.ctn0094data 1.0.x CSV exports")

    # ---- episodes: randomized_outcomes + site + demographics (first row per who)
    eps_src = ro.copy()
    eps_src = eps_src.merge(site.drop_duplicates("who"), on="who", how="left")
    eps_src = eps_src.merge(demo[["who", "job"]].drop_duplicates("who"), on="who", how="left").fillna("")
    rand = pd.to_numeric(eps_src["rand_day"], errors="coerce")
    weeks = pd.to_numeric(eps_src["ctn0094_dropout_time"], errors="coerce")
    eps_src["discharge_day"] = (rand + 7 * weeks).map(lambda v: "" if pd.isna(v) else str(int(v)))
    eps_src["program"] = "CTN-" + eps_src["project"].str.zfill(4) + " " + eps_src["arm"]
    episodes = load_episodes(eps_src, MAPPINGS_DIR / "ctn0094_episodes.toml")

    ep_status = _status(episodes)
    ep_status["who"] = ro["who"].to_numpy()
    by_who = ep_status.drop_duplicates("who").set_index("who")

    def lookup_status(df: pd.DataFrame, used: np.ndarray, unused_reason: str) -> pd.DataFrame:
        st = pd.DataFrame({"status": "not_used", "reason": unused_reason}, index=df.index)
        hit = df["who"].isin(by_who.index).to_numpy() & used
        st.loc[hit, "status"] = df.loc[hit, "who"].map(by_who["status"])
        st.loc[hit, "reason"] = df.loc[hit, "who"].map(by_who["reason"])
        return st

    first = (rz["which"] == "1").to_numpy()
    rz_first = rz[first].drop_duplicates("who")
    check = rz_first.merge(ro[["who", "arm", "rand_day"]], on="who", how="inner")
    mismatch = check[(check["treatment"] != check["arm"]) | (check["when"] != check["rand_day"])]
    if len(mismatch):
        raise IopstatsError("randomization.csv and randomized_outcomes.csv disagree on the first arm or day",
                            file="randomization.csv", value=mismatch["who"].iloc[0],
                            fix="use the matching public.ctn0094data release of both files")
    rz_status = lookup_status(rz, first & ~rz.duplicated(["who", "which"]).to_numpy(),
                              "later randomisation: not a separate episode")
    site_status = lookup_status(site, ~site.duplicated("who").to_numpy(), "participant never randomized")
    site_status.loc[~site["who"].isin(ro["who"]).to_numpy(), "reason"] = "participant never randomized"
    demo_status = lookup_status(demo, ~demo.duplicated("who").to_numpy(), "participant never randomized")
    episodes = _with_accounting(
        episodes,
        [_accounting("randomized_outcomes.csv", ep_status), _accounting("randomization.csv", rz_status),
         _accounting("site_masked.csv", site_status), _accounting("demographics.csv", demo_status)],
        _NOTES,
    )

    # ---- sessions: every visit.csv row
    sessions = load_sessions(visit, MAPPINGS_DIR / "ctn0094_sessions.toml", episodes=episodes)
    sessions = _with_accounting(sessions, [_accounting("visit.csv", _status(sessions))])

    # ---- follow-ups: one urine screen per participant-day
    has_day = uds["when"].str.strip() != ""
    pos = uds[has_day].groupby(["who", "when"], sort=False)["what"].agg(
        lambda s: ";".join(sorted(set(s)))).rename("positive_substances").reset_index()
    pos["opioid_positive"] = pos["positive_substances"].str.split(";").map(lambda x: "yes" if "Opioid" in x else "no")
    pos["origin"] = "uds.csv"
    attended = visit[visit["what"].isin(["visit", "final"]) & (visit["when"].str.strip() != "")]
    neg = attended[["who", "when"]].drop_duplicates()
    neg = neg.merge(pos[["who", "when"]], on=["who", "when"], how="left", indicator=True)
    neg = neg[neg["_merge"] == "left_only"].drop(columns="_merge")
    neg = neg.assign(positive_substances="", opioid_positive="no", origin="visit.csv (attended, no positive screen)")
    undated = uds[~has_day].rename(columns={"what": "positive_substances"}).assign(
        opioid_positive=lambda d: np.where(d["positive_substances"] == "Opioid", "yes", "no"), origin="uds.csv")
    fu_src = pd.concat([pos, undated[pos.columns], neg[pos.columns]], ignore_index=True)
    followups = load_followups(fu_src, MAPPINGS_DIR / "ctn0094_followups.toml", episodes=episodes)
    fu_status = _status(followups)
    n_pos = len(pos)
    key_status = fu_status.iloc[:n_pos].set_index(pd.MultiIndex.from_frame(pos[["who", "when"]]))
    uds_status = pd.DataFrame({"status": "", "reason": ""}, index=uds.index)
    dated_keys = pd.MultiIndex.from_frame(uds.loc[has_day, ["who", "when"]])
    uds_status.loc[has_day, "status"] = key_status["status"].reindex(dated_keys).to_numpy()
    uds_status.loc[has_day, "reason"] = key_status["reason"].reindex(dated_keys).to_numpy()
    und = fu_status.iloc[n_pos:n_pos + int((~has_day).sum())]
    uds_status.loc[~has_day, "status"] = und["status"].to_numpy()
    uds_status.loc[~has_day, "reason"] = und["reason"].to_numpy()
    derived = fu_status.iloc[n_pos + int((~has_day).sum()):]
    followups = _with_accounting(
        followups,
        [_accounting("uds.csv", uds_status),
         _accounting("visit.csv (derived negative screens)", derived.reset_index(drop=True))],
        ("Urine screens: uds.csv lists positive results only; an attended visit day without one is a negative "
         "screen. Use = opioid-positive. Screens taken before discharge are quarantined as in_treatment_screen: "
         "valid in-treatment monitoring, out of scope for post-discharge follow-ups (not data errors).",),
    )
    return {"episodes": episodes, "followups": followups, "sessions": sessions}
