"""Session-based outcomes: early engagement, attendance and service intensity.

Documented choices
------------------
* **Coverage.** Session outcomes are missing for an episode whose level of care
  has no session rows at all in ``sessions`` (the source does not record
  sessions for that level). Within a covered level, an episode without session
  rows had no sessions: 0 attended.
* Sessions dated after ``as_of`` are ignored (not yet held). Session rows for
  episodes not in ``episodes`` are ignored.
* **Engaged** (NIATx early engagement): reached the ``engagement_session``-th
  attended session (4th by default). Missing for an open episode that has not
  reached it yet (it still may).
* **Attendance rate**: attended sessions / session rows (scheduled sessions);
  missing when none were scheduled.
* **Hours per week**: attended hours / weeks in treatment, with weeks =
  ``time_in_treatment / 7`` but at least one week (so a short stay is not
  inflated to an impossible weekly rate). Missing when an attended session
  has no hours or the stay is only known as a bin.
* **Meets ASAM hours**: IOP >= ``iop_hours_threshold`` (9) hours/week for
  adults and >= 6 for clients under 18 (age group 12-14 or 15-17, or ``age``
  < 18; unknown age uses the adult threshold); PHP >= 20 hours/week; missing
  for other levels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["engagement", "ADOLESCENT_GROUPS"]

#: Age groups treated as adolescents (< 18) for the ASAM IOP threshold.
ADOLESCENT_GROUPS: tuple[str, ...] = ("12-14", "15-17")
ADOLESCENT_IOP_HOURS = 6.0
PHP_HOURS = 20.0


def engagement(
    ep: pd.DataFrame,
    sessions: pd.DataFrame | None,
    time_in_treatment: np.ndarray,
    exact_time: np.ndarray,
    as_of: pd.Timestamp,
    engagement_session: int = 4,
    iop_hours_threshold: float = 9.0,
) -> pd.DataFrame:
    """Engagement columns for each prepared episode.

    Parameters
    ----------
    ep : DataFrame
        Prepared episodes (episode_id, level_of_care, age_group, age, ``_discharged``).
    sessions : DataFrame or None
        Canonical sessions (episode_id, session_date, attended, hours).
    time_in_treatment : array
        Days in treatment (from :func:`~iopstats.outcomes.retention.length_of_stay`).
    exact_time : array of bool
        Whether ``time_in_treatment`` is exact (not a binned stay).
    as_of : Timestamp
    engagement_session : int
    iop_hours_threshold : float

    Returns
    -------
    DataFrame
        n_sessions_attended, engaged, attendance_rate, hours_per_week,
        meets_asam_hours.

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["a", "b"], "level_of_care": ["iop", "iop"],
    ...                    "age_group": [None, "15-17"], "age": [pd.NA, pd.NA],
    ...                    "_discharged": [True, True]})
    >>> ses = pd.DataFrame({"episode_id": ["a"] * 5 + ["b"],
    ...                     "session_date": pd.date_range("2024-01-01", periods=6),
    ...                     "attended": [True, True, True, True, False, True],
    ...                     "hours": [3.0] * 6})
    >>> out = engagement(ep, ses, np.array([7.0, 14.0]), np.array([True, True]),
    ...                  pd.Timestamp("2024-03-01"))
    >>> out[["n_sessions_attended", "engaged", "attendance_rate"]]
       n_sessions_attended  engaged  attendance_rate
    0                    4     True              0.8
    1                    1    False              1.0
    >>> out[["hours_per_week", "meets_asam_hours"]]
       hours_per_week  meets_asam_hours
    0            12.0              True
    1             1.5             False
    """
    n = len(ep)
    idx = ep.index
    na_bool = pd.array([pd.NA] * n, dtype="boolean")
    if sessions is None:
        return pd.DataFrame(
            {
                "n_sessions_attended": pd.array([pd.NA] * n, dtype="Int64"),
                "engaged": na_bool,
                "attendance_rate": np.full(n, np.nan),
                "hours_per_week": np.full(n, np.nan),
                "meets_asam_hours": na_bool.copy(),
            },
            index=idx,
        )
    ses = sessions[sessions["episode_id"].isin(ep["episode_id"])]
    ses = ses[~(ses["session_date"] > as_of)]
    level_of = pd.Series(ep["level_of_care"].astype(object).to_numpy(), index=ep["episode_id"].to_numpy())
    covered_levels = set(level_of.reindex(ses["episode_id"].unique()).dropna())
    covered = ep["level_of_care"].astype(object).isin(covered_levels).to_numpy()

    att = ses["attended"].fillna(False).to_numpy(dtype=bool)
    hrs = ses["hours"].to_numpy(dtype=float)
    work = pd.DataFrame(
        {
            "episode_id": ses["episode_id"].to_numpy(dtype=object),
            "scheduled": 1,
            "attended": att.astype(int),
            "hours": np.where(att, hrs, 0.0),
            "hours_missing": (att & np.isnan(hrs)).astype(int),
        }
    )
    agg = work.groupby("episode_id", sort=False).sum()
    agg = agg.reindex(ep["episode_id"].to_numpy()).fillna(0)
    scheduled = agg["scheduled"].to_numpy(dtype=float)
    attended = agg["attended"].to_numpy(dtype=float)
    hours = np.where(agg["hours_missing"].to_numpy() > 0, np.nan, agg["hours"].to_numpy(dtype=float))

    n_att = pd.array(attended.astype(int), dtype="Int64")
    n_att[~covered] = pd.NA

    disc = ep["_discharged"].to_numpy(dtype=bool)
    reached = attended >= engagement_session
    engaged = pd.array(reached, dtype="boolean")
    engaged[~covered | (~reached & ~disc)] = pd.NA

    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(covered & (scheduled > 0), attended / scheduled, np.nan)
        weeks = np.maximum(np.asarray(time_in_treatment, dtype=float), 7.0) / 7.0
        hpw = np.where(covered & np.asarray(exact_time, dtype=bool), hours / weeks, np.nan)

    level = ep["level_of_care"].astype(object).to_numpy()
    adolescent = ep["age_group"].astype(object).isin(ADOLESCENT_GROUPS).to_numpy()
    if "age" in ep.columns:
        age = pd.to_numeric(ep["age"], errors="coerce").to_numpy(dtype=float)
        adolescent = adolescent | (age < 18)
    threshold = np.where(
        level == "iop",
        np.where(adolescent, ADOLESCENT_IOP_HOURS, float(iop_hours_threshold)),
        np.where(level == "php", PHP_HOURS, np.nan),
    )
    meets = pd.array(np.nan_to_num(hpw, nan=-1.0) >= np.nan_to_num(threshold, nan=np.inf), dtype="boolean")
    meets[np.isnan(hpw) | np.isnan(threshold)] = pd.NA
    return pd.DataFrame(
        {
            "n_sessions_attended": n_att,
            "engaged": engaged,
            "attendance_rate": rate,
            "hours_per_week": hpw,
            "meets_asam_hours": meets,
        },
        index=idx,
    )
