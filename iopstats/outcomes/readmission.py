"""Readmission (return to treatment) through client linkage, and continuity of care.

Documented choices
------------------
* **Next episode.** Episodes of the same ``client_id`` are linked. The *next
  episode* of an episode is the client's first other episode admitted on or
  after its admission date (ties: input order).
* **Planned continuation.** The next episode is a planned continuation, not a
  return to treatment, when it starts no later than ``continuation_days``
  (the longest continuity window, 14 by default) after discharge and either
  the episode ended as ``transferred``, or it steps down: from withdrawal
  management (any ``detox_*`` level) to any other level, or from inpatient /
  residential to PHP, IOP or outpatient. Its level is reported in
  ``continuation_level_of_care``.
* **Readmission** within *N* days: the first admission of the same client,
  other than the planned continuation, that starts *after* the discharge date
  and no later than *N* days after it. Episodes that start on or before the
  discharge date (overlaps, same-day transfers) are never readmissions.
  ``days_to_readmission`` and ``next_level_of_care`` describe that admission
  whenever one is observed (any delay). ``readmit_<N>`` is missing for open
  episodes, unknown discharge dates and when ``as_of - discharge_date < N``
  (not enough follow-up, even if a readmission was already seen: the cohort
  for each window is every discharge with the full window observed).
* **Continuity of care** (adapted from NQF 3453; not the certified measure):
  for discharges from inpatient, residential or withdrawal management levels,
  ``continuity_<k>`` is true when the client has a PHP, IOP or outpatient
  episode admitted from the day after discharge through day *k*, an attended
  session of such an episode dated in that period, or such an episode already
  open on the day after discharge (an overlapping transfer / same-day
  step-down). Medication-only follow-up is not seen (it is not dated in the
  canonical data). Missing for other levels, open episodes, unknown discharge
  dates and when ``as_of - discharge_date < k``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from iopstats.io.schema import COMMUNITY_LEVELS, RESIDENTIAL_OR_INPATIENT

__all__ = ["readmission", "continuity"]

_DETOX = ("detox_inpatient", "detox_residential", "detox_ambulatory")
_ACUTE = ("inpatient", "residential_short", "residential_long")


def _pairs(ep: pd.DataFrame) -> pd.DataFrame:
    """All (episode, other episode of the same client) pairs, for linked clients only."""
    base = pd.DataFrame(
        {
            "row": np.arange(len(ep)),
            "client": ep["client_id"].astype(object).to_numpy(),
            "level": ep["level_of_care"].astype(object).to_numpy(),
            "admit": ep["admit_date"].to_numpy(),
            "disch": ep["_disch_eff"].to_numpy(),
            "reason": ep["discharge_reason"].astype(object).to_numpy(),
        }
    )
    base = base[base["client"].notna()]
    multi = base[base.duplicated("client", keep=False)]
    p = multi.merge(multi, on="client", suffixes=("", "_o"))
    return p[p["row"] != p["row_o"]]


def readmission(
    ep: pd.DataFrame,
    as_of: pd.Timestamp,
    days: Sequence[int] = (30, 90, 365),
    continuation_days: int = 14,
) -> pd.DataFrame:
    """Readmission columns for each prepared episode.

    Parameters
    ----------
    ep : DataFrame
        Prepared episodes with ``_disch_eff`` (discharge date, NaT while open).
    as_of : Timestamp
    days : sequence of int
        Readmission windows.
    continuation_days : int
        Longest gap after discharge for a planned continuation.

    Examples
    --------
    >>> ep = pd.DataFrame({"client_id": ["c", "c", "c"],
    ...                    "level_of_care": ["residential_short", "iop", "residential_short"],
    ...                    "admit_date": pd.to_datetime(["2024-01-01", "2024-01-13", "2024-03-01"]),
    ...                    "_disch_eff": pd.to_datetime(["2024-01-10", "2024-02-10", "2024-03-20"]),
    ...                    "discharge_reason": ["completed", "dropped_out", "completed"]})
    >>> r = readmission(ep, pd.Timestamp("2024-12-31"), days=(30, 90))
    >>> r[["readmit_30", "readmit_90", "days_to_readmission"]]
       readmit_30  readmit_90  days_to_readmission
    0       False        True                 51.0
    1        True        True                 20.0
    2       False       False                  NaN
    >>> r["continuation_level_of_care"].tolist()
    ['iop', nan, nan]
    """
    n = len(ep)
    disch = ep["_disch_eff"]
    p = _pairs(ep)
    p = p[p["admit_o"] >= p["admit"]]
    p = p.sort_values(["row", "admit_o", "row_o"], kind="stable")
    nxt = p.drop_duplicates("row")
    gap = (nxt["admit_o"] - nxt["disch"]).dt.days
    step_down = (nxt["level"].isin(_DETOX) & ~nxt["level_o"].isin(_DETOX)) | (
        nxt["level"].isin(_ACUTE) & nxt["level_o"].isin(COMMUNITY_LEVELS)
    )
    is_cont = nxt["disch"].notna() & (gap <= continuation_days) & (nxt["reason"].eq("transferred") | step_down)
    cont = nxt[is_cont.to_numpy()]
    cont_level = np.full(n, np.nan, dtype=object)
    cont_level[cont["row"].to_numpy()] = cont["level_o"].to_numpy()

    later = p[p["disch"].notna() & (p["admit_o"] > p["disch"])]
    cont_keys = set(zip(cont["row"], cont["row_o"]))
    if cont_keys:
        mask = [(r, o) not in cont_keys for r, o in zip(later["row"], later["row_o"])]
        later = later[np.asarray(mask, dtype=bool)]
    first = later.drop_duplicates("row")
    dtr = np.full(n, np.nan)
    dtr[first["row"].to_numpy()] = (first["admit_o"] - first["disch"]).dt.days.to_numpy(dtype=float)
    nlev = np.full(n, np.nan, dtype=object)
    nlev[first["row"].to_numpy()] = first["level_o"].to_numpy()

    followed = (as_of - disch).dt.days.to_numpy(dtype=float)  # NaN while open / unknown
    out: dict[str, object] = {}
    for d in days:
        arr = pd.array(~np.isnan(dtr) & (dtr <= d), dtype="boolean")
        arr[np.isnan(followed) | (followed < d)] = pd.NA
        out[f"readmit_{d}"] = arr
    out["days_to_readmission"] = dtr
    cats = ep["level_of_care"].dtype
    out["next_level_of_care"] = pd.Categorical(nlev, dtype=cats) if isinstance(cats, pd.CategoricalDtype) else nlev
    out["continuation_level_of_care"] = (
        pd.Categorical(cont_level, dtype=cats) if isinstance(cats, pd.CategoricalDtype) else cont_level
    )
    return pd.DataFrame(out, index=ep.index)


def continuity(
    ep: pd.DataFrame,
    sessions: pd.DataFrame | None,
    as_of: pd.Timestamp,
    days: Sequence[int] = (7, 14),
) -> pd.DataFrame:
    """Continuity of care after inpatient, residential or withdrawal-management discharges.

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["r", "i", "r2"], "client_id": ["c", "c", "d"],
    ...                    "level_of_care": ["residential_short", "iop", "residential_short"],
    ...                    "admit_date": pd.to_datetime(["2024-01-01", "2024-01-13", "2024-01-01"]),
    ...                    "_disch_eff": pd.to_datetime(["2024-01-10", "2024-02-10", "2024-01-10"]),
    ...                    "discharge_reason": ["completed", "completed", "completed"]})
    >>> continuity(ep, None, pd.Timestamp("2024-06-30"))
       continuity_7  continuity_14
    0          True           True
    1          <NA>           <NA>
    2         False          False
    """
    n = len(ep)
    disch = ep["_disch_eff"]
    eligible = ep["level_of_care"].astype(object).isin(RESIDENTIAL_OR_INPATIENT).to_numpy() & disch.notna().to_numpy()
    p = _pairs(ep)
    p = p[p["disch"].notna() & p["level_o"].isin(COMMUNITY_LEVELS)]
    start = p["admit_o"] - p["disch"]  # timedelta
    start_days = start.dt.days
    # still open on the day after discharge: admitted on/before discharge, not discharged before day 1
    open_next_day = (start_days <= 0) & ~((p["disch_o"] - p["disch"]).dt.days < 1)
    first_contact = pd.Series(np.where(open_next_day, 1.0, start_days.to_numpy(dtype=float)), index=p.index)
    first_contact[(start_days <= 0) & ~open_next_day] = np.nan
    contact = pd.DataFrame({"row": p["row"].to_numpy(), "day": first_contact.to_numpy()})

    if sessions is not None and len(sessions):
        ses = sessions[sessions["attended"].fillna(False).to_numpy(dtype=bool)]
        ses = ses[~(ses["session_date"] > as_of)]
        meta = pd.DataFrame(
            {
                "episode_id": ep["episode_id"].astype(object).to_numpy(),
                "client": ep["client_id"].astype(object).to_numpy(),
                "level": ep["level_of_care"].astype(object).to_numpy(),
            }
        )
        s = pd.DataFrame({"episode_id": ses["episode_id"].astype(object).to_numpy(), "date": ses["session_date"].to_numpy()})
        s = s.merge(meta, on="episode_id")
        s = s[s["level"].isin(COMMUNITY_LEVELS)]
        base = pd.DataFrame(
            {"row": np.arange(n), "client": meta["client"], "disch": disch.to_numpy(), "episode_id": meta["episode_id"]}
        )[eligible]
        sm = base.merge(s, on="client", suffixes=("", "_s"))
        sm = sm[sm["episode_id"] != sm["episode_id_s"]]
        contact = pd.concat(
            [contact, pd.DataFrame({"row": sm["row"].to_numpy(), "day": (sm["date"] - sm["disch"]).dt.days.to_numpy(dtype=float)})],
            ignore_index=True,
        )
    contact = contact[contact["day"] >= 1]
    first = contact.groupby("row")["day"].min()
    first_day = np.full(n, np.nan)
    first_day[first.index.to_numpy()] = first.to_numpy()

    followed = (as_of - disch).dt.days.to_numpy(dtype=float)
    out = {}
    for k in days:
        arr = pd.array(~np.isnan(first_day) & (first_day <= k), dtype="boolean")
        arr[~eligible | np.isnan(followed) | (followed < k)] = pd.NA
        out[f"continuity_{k}"] = arr
    return pd.DataFrame(out, index=ep.index)
