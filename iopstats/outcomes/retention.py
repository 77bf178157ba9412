"""Completion, length of stay, time in treatment, exit cause and retention.

All functions take the *prepared* episode frame built by
:func:`iopstats.outcomes.build.build_outcomes` (canonical dtypes, one row per
episode, ``_discharged`` flag already resolved against ``as_of``) and return
new columns aligned to it. They never modify their input.

Documented choices
------------------
* **Open episodes.** An episode is open (censored) when it has no discharge
  date, no discharge reason and no length of stay, or when its discharge date
  falls after ``as_of``. Its time in treatment is ``as_of - admit_date``.
* **Length of stay** comes from the source's ``los_days`` / ``los_min`` /
  ``los_max`` when given (they are the source's own statement of the stay and
  the only truthful one when dates are nominal, e.g. TEDS-D), otherwise from
  the dates: ``discharge_date - admit_date``, a stay under one day counting as
  one day.
* **Binned stays** (``los_min < los_max``, TEDS-D LOS codes 31-37):
  ``los_days`` is missing; ``time_in_treatment`` is the bin midpoint, except
  for an open-ended bin (``los_max`` infinite, "more than 365 days") where it
  is the lower bound with ``left_treatment = 0`` (right-censored: all we know
  is that the client was still in treatment then). Retention at day *t* is
  ``True`` when ``t <= los_min``, ``False`` when ``t > los_max`` and missing
  when *t* falls inside the bin. Use ``los_min``/``los_max`` for an
  interval-censored analysis.
* **Exit cause** groups discharge reasons for competing-risks analysis:
  completed; dropped_out (dropped out or terminated by the facility);
  transferred; other (incarcerated, died, other, or reason unknown);
  censored (open, or right-censored open-ended bin).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["EXIT_CAUSES", "length_of_stay", "completion", "retention"]

#: Categories of ``exit_cause``, in this order.
EXIT_CAUSES: tuple[str, ...] = ("censored", "completed", "dropped_out", "transferred", "other")

_EXIT_MAP = {
    "completed": "completed",
    "dropped_out": "dropped_out",
    "terminated": "dropped_out",
    "transferred": "transferred",
    "incarcerated": "other",
    "died": "other",
    "other": "other",
}


def length_of_stay(ep: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Length of stay, its bounds, time in treatment and the event indicator.

    Parameters
    ----------
    ep : DataFrame
        Prepared canonical episodes with a boolean ``_discharged`` column.
    as_of : Timestamp
        Date at which open episodes are censored.

    Returns
    -------
    DataFrame
        ``los_days`` (exact stay or missing), ``los_min``, ``los_max``
        (bounds; missing while open), ``time_in_treatment`` (float days) and
        ``left_treatment`` (Int64 0/1).

    Examples
    --------
    >>> ep = pd.DataFrame({
    ...     "admit_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01", "2024-01-01"]),
    ...     "discharge_date": pd.to_datetime(["2024-01-01", "2024-01-11", None, None]),
    ...     "los_days": [np.nan, np.nan, np.nan, np.nan],
    ...     "los_min": [np.nan, np.nan, 31.0, np.nan],
    ...     "los_max": [np.nan, np.nan, 45.0, np.nan],
    ...     "_discharged": [True, True, True, False]})
    >>> length_of_stay(ep, pd.Timestamp("2024-02-01"))
       los_days  los_min  los_max  time_in_treatment  left_treatment
    0       1.0      1.0      1.0                1.0               1
    1      10.0     10.0     10.0               10.0               1
    2       NaN     31.0     45.0               38.0               1
    3       NaN      NaN      NaN               31.0               0
    """
    disc = ep["_discharged"].to_numpy(dtype=bool)
    src_days = ep["los_days"].to_numpy(dtype=float)
    src_min = ep["los_min"].to_numpy(dtype=float)
    src_max = ep["los_max"].to_numpy(dtype=float)
    date_days = (ep["discharge_date"] - ep["admit_date"]).dt.days.to_numpy(dtype=float)
    date_days = np.where(np.isnan(date_days), np.nan, np.maximum(date_days, 1.0))

    has_exact = ~np.isnan(src_days)
    has_bin = ~has_exact & (~np.isnan(src_min) | ~np.isnan(src_max))
    lo = np.where(has_exact, src_days, np.where(has_bin, np.where(np.isnan(src_min), 1.0, src_min), date_days))
    hi = np.where(has_exact, src_days, np.where(has_bin, np.where(np.isnan(src_max), np.inf, src_max), date_days))
    lo = np.where(disc, np.maximum(lo, 1.0), np.nan)
    hi = np.where(disc, np.maximum(hi, 1.0), np.nan)
    exact = disc & (lo == hi)
    los_days = np.where(exact, lo, np.nan)

    open_days = (as_of - ep["admit_date"]).dt.days.to_numpy(dtype=float)
    finite_bin = disc & ~exact & np.isfinite(hi)
    open_bin = disc & ~exact & ~np.isfinite(hi) & ~np.isnan(lo)
    tit = np.where(exact, lo, np.nan)
    tit = np.where(finite_bin, (lo + hi) / 2.0, tit)
    tit = np.where(open_bin, lo, tit)
    tit = np.where(~disc, np.maximum(open_days, 0.0), tit)
    left = np.where(disc & ~open_bin, 1, 0)
    return pd.DataFrame(
        {
            "los_days": los_days,
            "los_min": lo,
            "los_max": hi,
            "time_in_treatment": tit,
            "left_treatment": pd.array(left, dtype="Int64"),
        },
        index=ep.index,
    )


def completion(ep: pd.DataFrame, left_treatment: pd.Series) -> pd.DataFrame:
    """Completion flags and the exit cause for competing-risks analysis.

    ``completed`` is missing while the episode is open or when the discharge
    reason is unknown. ``exit_cause`` is ``"censored"`` whenever
    ``left_treatment`` is 0.

    Examples
    --------
    >>> ep = pd.DataFrame({"discharge_reason": ["completed", "terminated", None, "died"],
    ...                    "_discharged": [True, True, False, True]})
    >>> completion(ep, pd.Series([1, 1, 0, 1]))
       completed  completed_or_transferred   exit_cause
    0       True                      True    completed
    1      False                     False  dropped_out
    2       <NA>                      <NA>     censored
    3      False                     False        other
    """
    disc = ep["_discharged"].to_numpy(dtype=bool)
    reason = ep["discharge_reason"].astype(object).where(ep["discharge_reason"].notna(), None)
    known = disc & reason.notna().to_numpy()
    completed = pd.array(np.where(known, reason.eq("completed").to_numpy(), False), dtype="boolean")
    completed[~known] = pd.NA
    cot = pd.array(np.where(known, reason.isin(["completed", "transferred"]).to_numpy(), False), dtype="boolean")
    cot[~known] = pd.NA
    cause = reason.map(_EXIT_MAP).fillna("other").to_numpy(dtype=object)
    left = np.asarray(left_treatment, dtype=float) == 1
    cause = np.where(left, cause, "censored")
    return pd.DataFrame(
        {
            "completed": completed,
            "completed_or_transferred": cot,
            "exit_cause": pd.Categorical(cause, categories=list(EXIT_CAUSES)),
        },
        index=ep.index,
    )


def retention(
    ep: pd.DataFrame,
    lower: np.ndarray,
    upper: np.ndarray,
    completed: pd.Series,
    days: Sequence[int] = (30, 60, 90),
) -> pd.DataFrame:
    """Retention at each day *t*: still in treatment at day *t*.

    Parameters
    ----------
    ep : DataFrame
        Prepared episodes (index only is used).
    lower, upper : array
        Bounds on the time in treatment: the exact stay for exact discharges,
        the bin bounds for binned stays and ``(as_of - admit, inf)`` for open
        episodes.
    completed : Series of boolean
        Completion flag (a completion before *t* is *not* retained, but counts
        in ``retained_or_completed_<t>``).
    days : sequence of int

    Examples
    --------
    >>> ep = pd.DataFrame(index=range(4))
    >>> r = retention(ep, np.array([45., 10., 31., 12.]), np.array([45., 10., 45., np.inf]),
    ...               pd.Series([False, True, False, pd.NA], dtype="boolean"), days=(30,))
    >>> r
       retained_30  retained_or_completed_30
    0         True                      True
    1        False                      True
    2         True                      True
    3         <NA>                      <NA>
    """
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    comp = completed.fillna(False).to_numpy(dtype=bool)
    out = {}
    for t in days:
        yes = lower >= t
        no = upper < t
        known = yes | no
        r = pd.array(yes, dtype="boolean")
        r[~known] = pd.NA
        # a completer is retained or completed at every t, whether the stay
        # ended before t or not (so also when a LOS bin straddles t)
        rc = pd.array(yes | comp, dtype="boolean")
        rc[~known & ~comp] = pd.NA
        out[f"retained_{t}"] = r
        out[f"retained_or_completed_{t}"] = rc
    return pd.DataFrame(out, index=ep.index)
