"""Urine-screen outcomes per episode, as addiction trials report them.

Screens are the canonical measures with ``instrument = "uds"`` (one row per
substance tested or found; a screen day is any day with a ``uds`` row). A
screen is **positive** for a substance when a row of that substance (item,
case-insensitive) has value 1 that day, negative otherwise.

Time is cut into the whole **weeks** of the window (days ``lo`` to ``lo + 7k - 1``;
the days of a last partial week are left out),
the unit of the trials' weekly screening schedules (e.g. CTN-0051, Lee et al.
2018 Lancet 391:309-318: a missed weekly screen counted as positive). A week
is positive when any screen in it is positive, negative when it has screens and
all are negative, missing when it has none. Two conventions for missing weeks
are reported side by side, never mixed:

* ``mp`` (**missing = positive**): every week of the window counts; a missing
  week is a positive one. The usual primary analysis in opioid trials;
* ``ig`` (**ignoring missing**): only screened weeks count.

Per episode: ``n_weeks`` in the window, ``n_screened`` weeks, ``n_negative``
weeks, ``share_negative_mp`` = negative / n_weeks, ``share_negative_ig`` =
negative / screened, ``longest_negative_run_mp`` (consecutive negative weeks,
a missing week breaks the run), ``longest_negative_run_ig`` (missing weeks
skipped), ``negative_at_end_mp`` (the last week of the window was screened and
negative) and ``negative_at_end_ig`` (the last screened week was negative).
The window is treatment (``window="treatment"``: admission to discharge; open
episodes up to their last screen) or a stated range of days from admission.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError

__all__ = ["urine_outcomes", "longest_run"]


def longest_run(flags) -> int:
    """Longest run of True values.

    Examples
    --------
    >>> longest_run([True, True, False, True, True, True, False])
    3
    """
    best = cur = 0
    for f in flags:
        cur = cur + 1 if f else 0
        best = max(best, cur)
    return best


def _week_status(screens: pd.DataFrame, substance: str) -> pd.DataFrame:
    """One row per episode-week: positive / negative."""
    pos = (screens["item"].astype(str).str.lower() == substance.lower()) & (screens["value"] == 1)
    g = screens.assign(pos=pos.to_numpy()).groupby(["episode_id", "week"])["pos"].any()
    return g.rename("positive").reset_index()


def _one(positive: dict[int, bool], n_weeks: int) -> dict:
    status = [positive.get(w) for w in range(n_weeks)]  # True positive, False negative, None missing
    neg_mp = [s is False for s in status]
    screened = [s for s in status if s is not None]
    neg_ig = [s is False for s in screened]
    n_neg = sum(neg_mp)
    return {
        "n_weeks": n_weeks, "n_screened": len(screened), "n_negative": n_neg,
        "share_negative_mp": n_neg / n_weeks if n_weeks else np.nan,
        "share_negative_ig": n_neg / len(screened) if screened else np.nan,
        "longest_negative_run_mp": longest_run(neg_mp),
        "longest_negative_run_ig": longest_run(neg_ig),
        "negative_at_end_mp": bool(neg_mp[-1]) if n_weeks else pd.NA,
        "negative_at_end_ig": bool(neg_ig[-1]) if screened else pd.NA,
    }


def urine_outcomes(
    measures,
    episodes,
    substance: str = "opioid",
    *,
    window: str | tuple[int, int] = "treatment",
    start: int = 0,
) -> pd.DataFrame:
    """Negative-screen share, longest negative run and negative at end, per episode.

    Parameters
    ----------
    measures : DataFrame or LoadResult
        Canonical measures with ``uds`` rows and ``day`` (days from admission).
    episodes : DataFrame or LoadResult
        Canonical episodes; every episode gets a row (no screens: all weeks missing).
    substance : str
        The substance screened (item of the ``uds`` rows), e.g. ``"opioid"``.
    window : "treatment" or (lo, hi)
        Treatment (day ``start`` to the discharge day) or days from admission.
    start : int
        First day of the treatment window (0 = admission day).

    Returns
    -------
    DataFrame
        The episode columns and the outcomes of the module docstring;
        ``attrs["conventions"]`` states them in words.

    Examples
    --------
    >>> eps = pd.DataFrame({"episode_id": ["a"], "level_of_care": ["iop"],
    ...     "admit_date": pd.to_datetime(["2024-01-01"]), "discharge_date": pd.to_datetime(["2024-02-05"])})
    >>> m = pd.DataFrame({"episode_id": "a", "instrument": "uds", "day": [0, 7, 14, 28, 34],
    ...     "item": ["opioid", "none", "none", "none", "none"], "value": [1, 0, 0, 0, 0]})
    >>> u = urine_outcomes(m, eps)
    >>> print(u[["n_weeks", "n_screened", "share_negative_mp", "share_negative_ig", "longest_negative_run_mp",
    ...    "longest_negative_run_ig", "negative_at_end_mp"]].iloc[0].to_string())
    n_weeks                       5
    n_screened                    4
    share_negative_mp           0.6
    share_negative_ig          0.75
    longest_negative_run_mp       2
    longest_negative_run_ig       3
    negative_at_end_mp         True
    """
    data = getattr(measures, "data", measures)
    eps = getattr(episodes, "data", episodes)
    for name, frame, cols in (("measures", data, ["episode_id", "instrument", "item", "value", "day"]),
                              ("episodes", eps, ["episode_id", "admit_date"])):
        if not isinstance(frame, pd.DataFrame) or not set(cols) <= set(frame.columns):
            raise IopstatsError(f"{name} must be canonical {name} with columns {cols}",
                                fix="pass load_measures(..., episodes=...) and load_episodes(...) results")
    out = eps.copy()
    out["episode_id"] = out["episode_id"].astype("string")
    adm = pd.to_datetime(out["admit_date"])
    end_day = ((pd.to_datetime(out["discharge_date"]) - adm).dt.days if "discharge_date" in out.columns
               else pd.Series(np.nan, index=out.index))
    s = data[data["instrument"] == "uds"].copy()
    s["episode_id"] = s["episode_id"].astype("string")
    s["day"] = pd.to_numeric(s["day"], errors="coerce")
    s = s[s["day"].notna()]
    if isinstance(window, str):
        if window != "treatment":
            raise IopstatsError("window must be 'treatment' or (lo, hi) days from admission", value=window)
        last_screen = s.groupby("episode_id")["day"].max()
        hi = end_day.where(end_day.notna(), out["episode_id"].map(last_screen)).to_numpy(dtype=float)
        lo = np.full(len(out), float(start))
    else:
        lo = np.full(len(out), float(window[0]))
        hi = np.full(len(out), float(window[1]))
    bounds = pd.DataFrame({"episode_id": out["episode_id"], "lo": lo, "hi": hi})
    s = s.merge(bounds, on="episode_id", how="inner")
    s = s[(s["day"] >= s["lo"]) & (s["day"] <= s["hi"])]
    s["week"] = ((s["day"] - s["lo"]) // 7).astype(int)
    s = s[s["week"] < np.floor((s["hi"] - s["lo"] + 1) / 7)]  # whole weeks only
    weeks = _week_status(s, substance)
    by_ep = {e: dict(zip(g["week"], g["positive"])) for e, g in weeks.groupby("episode_id")}
    n_weeks = np.where(np.isnan(hi) | (hi < lo), 0, np.floor((hi - lo + 1) / 7)).astype(int)
    rows = [_one(by_ep.get(e, {}), int(n)) for e, n in zip(out["episode_id"], n_weeks)]
    res = pd.concat([out.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    for c in ("negative_at_end_mp", "negative_at_end_ig"):
        res[c] = res[c].astype("boolean")
    res.attrs["conventions"] = (
        f"Weekly {substance} screens from day {start} of the window; a week is positive if any screen in it is. "
        "mp = missing week counted positive (every week of the window counts); ig = missing weeks ignored "
        "(screened weeks only).")
    return res
