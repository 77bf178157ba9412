"""Change on a repeated instrument per episode: baseline, end score, reliable change, categories.

For every episode (none is dropped) :func:`change_outcomes` finds

* the **baseline**: the first valid score with ``day`` (days from admission)
  within ``baseline_window`` (default 14 days before to 7 days after
  admission);
* the **end score**: the last valid score after the baseline and during
  treatment (``end="treatment"``: up to the discharge day; open episodes use
  every later score), or the last within a stated window of days from
  admission (``end=(lo, hi)``, e.g. ``(76, 104)`` for a 90-day follow-up);
* ``change = end - baseline`` and the Jacobson-Truax (1991) **reliable change
  index** ``rci = change / s_diff`` with ``s_diff = sqrt(2) * se`` and
  ``se = sd * sqrt(1 - reliability)``. ``sd`` is the standard deviation of the
  baseline scores of the episodes analysed (Jacobson & Truax used the
  pre-treatment sample SD) unless given; ``reliability`` is the instrument's
  published coefficient (:mod:`iopstats.instruments.rules`) unless given;
* the **category** (Jacobson & Truax 1991): ``recovered`` (reliable
  improvement, |rci| > 1.96 in the good direction, and a move from the
  clinical to the non-clinical side of the cut-off), ``improved`` (reliable
  improvement otherwise), ``unchanged``, ``deteriorated`` (reliable worsening);
  episodes with a baseline but no end score are ``single_measurement``;
  episodes without a baseline ``no_baseline``;
* **response** (a reduction of at least the instrument's fraction, PHQ-9 50%)
  and **remission** (end score below the instrument's threshold, PHQ-9 < 5).

Binary outcomes come in two columns each: ``<name>_cc`` (complete case:
missing without an end score) and ``<name>_itt`` (intention to treat among
episodes with a baseline: no end score = not improved / not in remission).
Multiple imputation of the missing end scores is
:func:`iopstats.compare.change.change_rates`. The table has one row per
episode with the episode's columns, so it plugs into :func:`iopstats.rates`
and :func:`iopstats.compare_rates` (``adjust=["baseline_score", ...]``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.instruments.rules import RULES
from iopstats.instruments.scoring import score_instrument

__all__ = ["change_outcomes", "classify_scores", "reliable_change", "jacobson_truax_cutoff", "CATEGORIES", "BINARY_OUTCOMES"]

CATEGORIES: tuple[str, ...] = ("recovered", "improved", "unchanged", "deteriorated", "single_measurement",
                               "no_baseline")
BINARY_OUTCOMES: tuple[str, ...] = ("reliable_improvement", "recovered", "deteriorated", "response", "remission")
_Z = 1.959963984540054  # two-sided 95% normal quantile, Jacobson & Truax's 1.96


def reliable_change(baseline, end, sd: float, reliability: float) -> np.ndarray:
    """Jacobson-Truax reliable change index ``(end - baseline) / (sqrt(2) * sd * sqrt(1 - reliability))``.

    Examples
    --------
    >>> # sd 5, reliability 0.84: se = 2, s_diff = 2.828; 18 -> 9 gives -9 / 2.828
    >>> float(np.round(reliable_change(18, 9, sd=5.0, reliability=0.84), 4))
    -3.182
    """
    if not (np.isfinite(sd) and sd > 0) or not 0 <= reliability < 1:
        raise IopstatsError("the reliable change index needs sd > 0 and 0 <= reliability < 1",
                            value=(sd, reliability), fix="pass sd= and reliability= (published values)")
    s_diff = np.sqrt(2.0) * sd * np.sqrt(1.0 - reliability)
    return (np.asarray(end, dtype=float) - np.asarray(baseline, dtype=float)) / s_diff


def jacobson_truax_cutoff(clinical_mean: float, clinical_sd: float, functional_mean: float,
                          functional_sd: float) -> float:
    """Jacobson & Truax (1991) criterion *c*: the weighted midpoint of clinical and functional norms.

    ``c = (sd_clin * mean_func + sd_func * mean_clin) / (sd_clin + sd_func)``.

    Examples
    --------
    >>> jacobson_truax_cutoff(20.0, 6.0, 5.0, 4.0)
    11.0
    """
    return float((clinical_sd * functional_mean + functional_sd * clinical_mean) / (clinical_sd + functional_sd))


def _episodes(episodes) -> pd.DataFrame:
    data = getattr(episodes, "data", episodes)
    if not isinstance(data, pd.DataFrame) or not {"episode_id", "level_of_care", "admit_date"} <= set(data.columns):
        raise IopstatsError("episodes must be canonical episodes (episode_id, level_of_care, admit_date)",
                            fix="pass load_episodes(...) or build_outcomes(...) output")
    out = data.copy()
    out["episode_id"] = out["episode_id"].astype("string")
    adm = pd.to_datetime(out["admit_date"])
    dis = pd.to_datetime(out["discharge_date"]) if "discharge_date" in out.columns else pd.Series(pd.NaT, index=out.index)
    out["_end_day"] = (dis - adm).dt.days.astype(float)
    return out


def _scores(measures, instrument: str, scale: str | None, eps: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    data = getattr(measures, "scores", None)
    if data is None:
        data = getattr(measures, "data", measures)
        if not isinstance(data, pd.DataFrame):
            raise IopstatsError("measures must be canonical measures or score_instrument(...) output",
                                fix="pass load_measures(...) data")
        if "scale" not in data.columns and instrument in RULES:
            data = score_instrument(data, instrument).scores
        elif "scale" not in data.columns:  # pre-scored totals of an instrument without shipped rules
            data = (data[data["item"] == "total"].drop(columns=["score"], errors="ignore")
                    .rename(columns={"value": "score"}).assign(scale="total"))
    rule = RULES.get(instrument)
    scale = scale or (rule.primary if rule else "total")
    s = data[(data["instrument"] == instrument) & (data["scale"] == scale)]
    if "valid" in s.columns:
        s = s[s["valid"].astype(bool)]
    s = s[s["score"].notna()].copy()
    s["episode_id"] = s["episode_id"].astype("string")
    day = pd.to_numeric(s["day"], errors="coerce").astype(float) if "day" in s.columns else pd.Series(np.nan, index=s.index)
    if day.isna().any() and "measure_date" in s.columns:
        adm = pd.to_datetime(s["episode_id"].map(eps.set_index("episode_id")["admit_date"]))
        day = day.fillna((pd.to_datetime(s["measure_date"]) - adm).dt.days.astype(float))
    s["day"] = day
    return s[s["day"].notna()].sort_values(["episode_id", "day"]), scale


def _pick(s: pd.DataFrame, eps: pd.DataFrame, baseline_window, end) -> pd.DataFrame:
    b = s[(s["day"] >= baseline_window[0]) & (s["day"] <= baseline_window[1])]
    base = b.groupby("episode_id", sort=False).first()[["day", "score"]].rename(
        columns={"day": "baseline_day", "score": "baseline_score"})
    later = s.join(base, on="episode_id", how="inner")
    later = later[later["day"] > later["baseline_day"]]
    if isinstance(end, str):
        if end != "treatment":
            raise IopstatsError("end must be 'treatment' or a (lo, hi) window of days from admission", value=end)
        stop = later["episode_id"].map(eps.set_index("episode_id")["_end_day"])
        later = later[stop.isna().to_numpy() | (later["day"] <= stop).to_numpy()]
    else:
        lo, hi = end
        later = later[(later["day"] >= lo) & (later["day"] <= hi)]
    last = later.groupby("episode_id", sort=False).last()[["day", "score"]].rename(
        columns={"day": "end_day", "score": "end_score"})
    n = s.groupby("episode_id").size().rename("n_measurements")
    return base.join(last, how="left").join(n, how="left")


def _categorize(t: pd.DataFrame, rci: np.ndarray, worse_up: bool, cutoff: float | None) -> np.ndarray:
    good = -rci if worse_up else rci
    has_base = t["baseline_score"].notna().to_numpy()
    has_end = t["end_score"].notna().to_numpy()
    cat = np.where(~has_base, "no_baseline", np.where(~has_end, "single_measurement", "unchanged")).astype(object)
    both = has_base & has_end
    improved = both & (good > _Z)
    cat[improved] = "improved"
    cat[both & (good < -_Z)] = "deteriorated"
    if cutoff is not None:
        b, e = t["baseline_score"].to_numpy(), t["end_score"].to_numpy()
        crossed = (b >= cutoff) & (e < cutoff) if worse_up else (b <= cutoff) & (e > cutoff)
        cat[improved & crossed] = "recovered"
    return cat


def change_outcomes(
    measures,
    episodes,
    instrument: str = "phq9",
    *,
    scale: str | None = None,
    baseline_window: tuple[float, float] = (-14, 7),
    end: str | tuple[float, float] = "treatment",
    sd: float | None = None,
    reliability: float | None = None,
    cutoff: float | None = None,
) -> pd.DataFrame:
    """Baseline, end score, change, reliable change and categories for every episode.

    Parameters
    ----------
    measures : DataFrame, LoadResult or ScoreResult
        Canonical measures (item rows are scored with
        :func:`iopstats.score_instrument`) or already scored rows.
    episodes : DataFrame or LoadResult
        Canonical episodes or :func:`iopstats.build_outcomes` output: one output
        row per episode, with all its columns.
    instrument : str
        Instrument key (:data:`iopstats.instruments.rules.RULES`) or any
        instrument of pre-scored totals.
    scale : str, optional
        Scale to analyse (default the instrument's first: ``total``; BAM
        ``use``, ``risk`` or ``protective``).
    baseline_window : (lo, hi)
        Days from admission in which the first valid score is the baseline.
    end : "treatment" or (lo, hi)
        Last score during treatment, or last within a window of days from admission.
    sd, reliability : float, optional
        Reliable change constants (module docstring).
    cutoff : float, optional
        Clinical cut-off for "recovered" (default the instrument's; scores
        >= cut-off are clinical).

    Returns
    -------
    DataFrame
        The episode columns, then ``baseline_day``, ``baseline_score``,
        ``end_day``, ``end_score``, ``n_measurements``, ``change``, ``rci``,
        ``category`` (:data:`CATEGORIES`), ``single_measurement`` and, for each
        of :data:`BINARY_OUTCOMES`, ``<name>_cc`` and ``<name>_itt``
        (pandas ``boolean``). ``attrs["rci"]`` holds sd, reliability, s_diff,
        the reliable-change threshold in points and the cut-off used.

    Examples
    --------
    >>> eps = pd.DataFrame({"episode_id": ["a", "b", "c"], "level_of_care": ["iop", "iop", "outpatient"],
    ...     "admit_date": pd.to_datetime(["2024-01-01"] * 3), "discharge_date": pd.to_datetime(["2024-03-01"] * 3)})
    >>> m = pd.DataFrame({"episode_id": ["a", "a", "b", "b", "c"], "day": [0, 42, 0, 42, 1],
    ...     "instrument": "phq9", "item": "total", "value": [18.0, 4.0, 12.0, 14.0, 16.0]})
    >>> t = change_outcomes(m, eps, "phq9", sd=5.0)
    >>> t[["episode_id", "end_score", "category", "response_itt", "remission_cc"]]
      episode_id  end_score            category  response_itt  remission_cc
    0          a        4.0           recovered          True          True
    1          b       14.0           unchanged         False         False
    2          c        NaN  single_measurement         False          <NA>
    """
    rule = RULES.get(instrument)
    eps = _episodes(episodes)
    scores, scale = _scores(measures, instrument, scale, eps)
    picked = _pick(scores, eps, baseline_window, end)
    t = eps.join(picked, on="episode_id")
    worse_up = rule.higher_is_worse if rule else True
    if reliability is None:
        reliability = rule.reliability if rule is not None and scale == rule.primary else None
    if reliability is None:
        raise IopstatsError(f"no published reliability for {instrument} {scale}", value=instrument,
                            fix="pass reliability= (e.g. Cronbach's alpha from the instrument's validation study)")
    if sd is None:
        sd = float(t["baseline_score"].std(ddof=1))
    if cutoff is None and rule is not None and scale == rule.primary:
        cutoff = rule.cutoff
    t["change"] = t["end_score"] - t["baseline_score"]
    rci = reliable_change(t["baseline_score"], t["end_score"], sd, reliability)
    t["rci"] = rci
    t["category"] = pd.Categorical(_categorize(t, rci, worse_up, cutoff), categories=list(CATEGORIES))
    t["single_measurement"] = t["category"] == "single_measurement"
    _binary(t, rule, scale)
    s_diff = float(np.sqrt(2.0) * sd * np.sqrt(1.0 - reliability))
    t = t.drop(columns="_end_day").reset_index(drop=True)
    t.attrs["rci"] = {"instrument": instrument, "scale": scale, "sd": sd, "reliability": reliability,
                      "s_diff": s_diff, "threshold_points": _Z * s_diff, "cutoff": cutoff,
                      "baseline_window": tuple(baseline_window), "end": end}
    return t


def classify_scores(baseline, end, attrs: dict) -> pd.DataFrame:
    """Category and complete-case binary outcomes of baseline/end pairs under a table's ``attrs["rci"]``.

    Used to re-derive outcomes from imputed end scores (:func:`iopstats.compare.change.change_rates`).

    Examples
    --------
    >>> attrs = {"instrument": "phq9", "scale": "total", "sd": 5.0, "reliability": 0.84, "cutoff": 10}
    >>> classify_scores([18, 18, 12], [9, 11, 19], attrs)[["category", "reliable_improvement_cc", "response_cc"]]
           category  reliable_improvement_cc  response_cc
    0     recovered                     True         True
    1      improved                     True        False
    2  deteriorated                    False        False
    """
    rule = RULES.get(attrs["instrument"])
    t = pd.DataFrame({"baseline_score": np.asarray(baseline, dtype=float), "end_score": np.asarray(end, dtype=float)})
    rci = reliable_change(t["baseline_score"], t["end_score"], attrs["sd"], attrs["reliability"])
    worse_up = rule.higher_is_worse if rule else True
    t["category"] = pd.Categorical(_categorize(t, rci, worse_up, attrs["cutoff"]), categories=list(CATEGORIES))
    _binary(t, rule, attrs["scale"])
    return t


def _binary(t: pd.DataFrame, rule, scale: str) -> None:
    has_base = t["baseline_score"].notna()
    has_end = t["end_score"].notna() & has_base
    cat = t["category"].astype(object)
    values = {
        "reliable_improvement": cat.isin(["recovered", "improved"]),
        "recovered": cat == "recovered",
        "deteriorated": cat == "deteriorated",
    }
    primary = rule is not None and scale == rule.primary
    if primary and rule.response_reduction is not None:
        b, e = t["baseline_score"], t["end_score"]
        values["response"] = ((b - e) >= rule.response_reduction * b) & (b > 0)
        values["remission"] = e < rule.remission_below
    for name in BINARY_OUTCOMES:
        v = values.get(name)
        if v is None:
            t[f"{name}_cc"] = pd.array([pd.NA] * len(t), dtype="boolean")
            t[f"{name}_itt"] = pd.array([pd.NA] * len(t), dtype="boolean")
            continue
        cc = pd.array(v.to_numpy(dtype=bool), dtype="boolean")
        cc[~has_end.to_numpy()] = pd.NA
        itt = pd.array(v.to_numpy(dtype=bool), dtype="boolean")
        itt[~has_end.to_numpy()] = False
        itt[~has_base.to_numpy()] = pd.NA
        t[f"{name}_cc"] = cc
        t[f"{name}_itt"] = itt
