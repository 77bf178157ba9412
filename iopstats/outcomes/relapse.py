"""Relapse at post-discharge follow-up windows, and time to detected relapse.

Documented choices
------------------
* **Window matching.** For a window of *w* days after discharge, the follow-up
  used is the *response* (``responded`` true and ``any_use`` known) whose
  ``days_after_discharge`` is nearest to *w* within the tolerance (ties: the
  earlier one). Default tolerances: +/- 15 days for windows up to 30 days,
  +/- 30 up to 90 days, +/- 45 beyond (so 30: 15-45, 90: 60-120, 180:
  135-225, 365: 320-410). A follow-up outside every tolerance is not used for
  any window. A responded contact with ``any_use`` missing is not a response.
* **Due.** A window is due when it has closed: ``as_of >= discharge_date + w +
  tolerance``. Before that all three window columns are missing, even if a
  response is already in (so every due discharge has had the same chance to be
  reached). Open episodes are never due. When the discharge date is unknown
  (e.g. binned TEDS stays without dates) the extract is taken as closed and
  the window as due.
* ``relapse_<w>_responded``: a response was obtained in the window.
  ``relapse_<w>_cc``: any use at that response, missing for non-responders
  (complete case). ``relapse_<w>_mu``: the same, with non-responders counted
  as relapsed (missing = use).
* **Time to relapse**: days from discharge to the first response with use
  (``relapse_event = 1``); otherwise censored at the last response without use
  (``relapse_event = 0``); missing without any response. Use is only detected
  at contacts, so this is the detection time (the relapse happened between the
  previous negative contact and this one). Follow-ups after ``as_of`` and
  before discharge (negative days) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError

__all__ = ["default_tolerance", "resolve_tolerances", "relapse_outcomes"]


def default_tolerance(window: int) -> int:
    """Default matching tolerance (days) for a follow-up window.

    Examples
    --------
    >>> [default_tolerance(w) for w in (30, 90, 180, 365)]
    [15, 30, 45, 45]
    """
    if window <= 30:
        return 15
    if window <= 90:
        return 30
    return 45


def resolve_tolerances(windows: Sequence[int], window_tolerance=None) -> dict[int, int]:
    """Tolerance per window from ``None`` (defaults), one number, or a mapping.

    Examples
    --------
    >>> resolve_tolerances((30, 90), None)
    {30: 15, 90: 30}
    >>> resolve_tolerances((30, 90), 10)
    {30: 10, 90: 10}
    >>> resolve_tolerances((30, 90), {90: 20})
    {30: 15, 90: 20}
    """
    out = {}
    for w in windows:
        if window_tolerance is None:
            tol = default_tolerance(w)
        elif isinstance(window_tolerance, Mapping):
            tol = window_tolerance.get(w, default_tolerance(w))
        else:
            tol = window_tolerance
        try:
            tol = int(tol)
        except (TypeError, ValueError):
            tol = -1
        if tol < 0:
            raise IopstatsError(
                "window tolerance must be a non-negative whole number of days",
                value=window_tolerance,
                fix="pass window_tolerance=None (defaults), a number, or a dict {window: days}",
            )
        out[int(w)] = tol
    return out


def relapse_outcomes(
    ep: pd.DataFrame,
    followups: pd.DataFrame | None,
    as_of: pd.Timestamp,
    windows: Sequence[int] = (30, 90, 180, 365),
    window_tolerance=None,
) -> pd.DataFrame:
    """Per-episode relapse columns for each follow-up window.

    Parameters
    ----------
    ep : DataFrame
        Prepared episodes (episode_id, discharge_date, ``_discharged``).
    followups : DataFrame or None
        Canonical follow-ups. Without them every relapse column is missing.
    as_of : Timestamp
    windows : sequence of int
    window_tolerance : None, int or dict

    Returns
    -------
    DataFrame
        relapse_<w>_responded, relapse_<w>_cc, relapse_<w>_mu for each window,
        then time_to_relapse and relapse_event.

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["a", "b", "c"],
    ...                    "discharge_date": pd.to_datetime(["2024-01-01"] * 3),
    ...                    "_discharged": [True, True, True]})
    >>> fu = pd.DataFrame({"episode_id": ["a", "a", "b"],
    ...                    "days_after_discharge": [28, 95, 50],
    ...                    "responded": [True, True, True],
    ...                    "any_use": [False, True, True]})
    >>> r = relapse_outcomes(ep, fu, pd.Timestamp("2025-01-01"), windows=(30, 90))
    >>> r[["relapse_30_responded", "relapse_30_cc", "relapse_30_mu"]]
       relapse_30_responded  relapse_30_cc  relapse_30_mu
    0                  True          False          False
    1                 False           <NA>           True
    2                 False           <NA>           True
    >>> r[["relapse_90_cc", "time_to_relapse", "relapse_event"]]
       relapse_90_cc  time_to_relapse  relapse_event
    0           True             95.0              1
    1           <NA>             50.0              1
    2           <NA>              NaN           <NA>
    """
    tolerances = resolve_tolerances(windows, window_tolerance)
    n = len(ep)
    idx = ep.index
    out: dict[str, object] = {}
    disc = ep["_discharged"].to_numpy(dtype=bool)
    ddate = ep["discharge_date"]
    if followups is None:
        for w in tolerances:
            for suffix in ("responded", "cc", "mu"):
                out[f"relapse_{w}_{suffix}"] = pd.array([pd.NA] * n, dtype="boolean")
        out["time_to_relapse"] = np.full(n, np.nan)
        out["relapse_event"] = pd.array([pd.NA] * n, dtype="Int64")
        return pd.DataFrame(out, index=idx)

    pos = pd.Series(np.arange(n), index=ep["episode_id"].to_numpy())
    fu = followups[followups["episode_id"].isin(pos.index)]
    days = fu["days_after_discharge"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    valid = fu["responded"].fillna(False).to_numpy(dtype=bool) & fu["any_use"].notna().to_numpy()
    resp = pd.DataFrame(
        {
            "row": pos.reindex(fu["episode_id"].to_numpy()).to_numpy(),
            "days": days,
            "use": fu["any_use"].fillna(False).to_numpy(dtype=bool),
        }
    )[valid & ~np.isnan(days) & (days >= 0)]
    resp = resp[disc[resp["row"].to_numpy()]]

    for w, tol in tolerances.items():
        due = disc & ~(ddate + pd.Timedelta(days=w + tol) > as_of).to_numpy()
        cand = resp[(resp["days"] - w).abs() <= tol].copy()
        cand["dist"] = (cand["days"] - w).abs()
        best = cand.sort_values(["row", "dist", "days"], kind="stable").drop_duplicates("row")
        responded = np.zeros(n, dtype=bool)
        use = np.zeros(n, dtype=bool)
        responded[best["row"].to_numpy()] = True
        use[best["row"].to_numpy()] = best["use"].to_numpy()
        r = pd.array(responded, dtype="boolean")
        cc = pd.array(use, dtype="boolean")
        mu = pd.array(use | ~responded, dtype="boolean")
        cc[~responded] = pd.NA
        for arr in (r, cc, mu):
            arr[~due] = pd.NA
        out[f"relapse_{w}_responded"] = r
        out[f"relapse_{w}_cc"] = cc
        out[f"relapse_{w}_mu"] = mu

    # time to detected relapse, from follow-ups on or before as_of
    when = ddate.to_numpy()[resp["row"].to_numpy()] + pd.to_timedelta(resp["days"].to_numpy(), unit="D")
    seen = resp[~(when > np.datetime64(as_of))]
    t = np.full(n, np.nan)
    ev = pd.array([pd.NA] * n, dtype="Int64")
    first_use = seen[seen["use"]].groupby("row")["days"].min()
    last_neg = seen[~seen["use"]].groupby("row")["days"].max()
    t[last_neg.index.to_numpy()] = last_neg.to_numpy()
    ev[last_neg.index.to_numpy()] = 0
    t[first_use.index.to_numpy()] = first_use.to_numpy()
    ev[first_use.index.to_numpy()] = 1
    out["time_to_relapse"] = t
    out["relapse_event"] = ev
    return pd.DataFrame(out, index=idx)
