"""Score item-level measures into instrument scores under the shipped rules (:mod:`.rules`).

An *administration* is one episode on one day (``day``, else ``measure_date``).
Item values must be whole numbers within the instrument's item range: any
other value is **quarantined** (``item_out_of_range``), never clipped, and the
item then counts as missing. Items the instrument does not have are
``unknown_item``. A scale with missing items is prorated (mean of the answered
items x number of items) when the instrument's rule allows that many missing
items, otherwise it has no score (``valid`` false). Rows whose item is a scale
name (``"total"``; the BAM's ``"use"``, ``"risk"``, ``"protective"``) are taken
as already-scored scale scores and checked against the scale's range
(``total_out_of_range``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from iopstats._results import Result
from iopstats.exceptions import IopstatsError
from iopstats.instruments.rules import RULES, Instrument

__all__ = ["score_instrument", "ScoreResult"]

_OPS = {"ge": np.greater_equal, "le": np.less_equal, "gt": np.greater, "lt": np.less}
_KEY = ["episode_id", "day", "measure_date"]


@dataclass(frozen=True, repr=False)
class ScoreResult(Result):
    """Scores (``.scores``, one row per administration and scale) and quarantined item rows."""

    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)


def _frame(df) -> pd.DataFrame:
    data = getattr(df, "data", df)
    if not isinstance(data, pd.DataFrame):
        raise IopstatsError("score_instrument needs a measures DataFrame or LoadResult",
                            fix="pass load_measures(...) or a DataFrame with episode_id, day, instrument, item, value")
    need = {"episode_id", "instrument", "item", "value"}
    missing = sorted(need - set(data.columns))
    if missing or not ({"day", "measure_date"} & set(data.columns)):
        raise IopstatsError(f"measures columns missing: {missing or ['day or measure_date']}", column=(missing or ['day'])[0],
                            fix="pass canonical measures (iopstats.load_measures)")
    out = data.copy()
    for c in ("day", "measure_date"):
        if c not in out.columns:
            out[c] = pd.NA if c == "day" else pd.NaT
    return out


def _check_items(sel: pd.DataFrame, rule: Instrument) -> tuple[pd.DataFrame, pd.DataFrame]:
    lo, hi = rule.item_range
    v = pd.to_numeric(sel["value"], errors="coerce").astype(float)
    is_total = sel["item"].isin(list(rule.scales)).to_numpy()  # pre-scored scale rows ("total", BAM "use", ...)
    n_items = sel["item"].map(lambda i: len(rule.scales.get(i, ()))).to_numpy(dtype=float)
    total_ok = is_total & (v >= lo * n_items).to_numpy() & (v <= hi * n_items).to_numpy()
    known = sel["item"].isin(rule.items).to_numpy()
    in_range = known & (v >= lo).to_numpy() & (v <= hi).to_numpy() & (np.floor(v) == v).to_numpy()
    reason = np.where(is_total, np.where(total_ok, "", "total_out_of_range"),
                      np.where(~known, "unknown_item", np.where(in_range, "", "item_out_of_range")))
    bad = reason != ""
    detail = np.where(reason == "unknown_item", f"not an item of {rule.key}: {', '.join(rule.items[:3])}, ...",
                      np.where(reason == "total_out_of_range", "scale score outside its range (items x item range)",
                               f"item responses are whole numbers {lo}-{hi}"))
    q = sel[bad].copy()
    q.insert(0, "reason", reason[bad])
    q.insert(1, "detail", detail[bad])
    return sel[~bad].assign(value=v[~bad]), q.reset_index(drop=True)


def _score_scales(items: pd.DataFrame, rule: Instrument) -> pd.DataFrame:
    lo, hi = rule.item_range
    vals = items.copy()
    rev = vals["item"].isin(rule.reverse)
    vals.loc[rev, "value"] = lo + hi - vals.loc[rev, "value"]
    wide = vals.pivot_table(index=_KEY, columns="item", values="value", aggfunc="first", dropna=False,
                            observed=True) if len(vals) else pd.DataFrame()
    wide = wide.dropna(how="all")
    parts = []
    for scale, its in rule.scales.items():
        block = wide.reindex(columns=list(its))
        answered = block.notna().sum(axis=1)
        n_missing = len(its) - answered
        ok = n_missing <= rule.max_prorated
        score = (block.mean(axis=1) * len(its)).where(ok & (answered > 0))
        parts.append(pd.DataFrame({"scale": scale, "score": score, "n_items": len(its), "n_answered": answered,
                                   "prorated": ok & (n_missing > 0), "valid": score.notna()}))
    return pd.concat(parts).reset_index()


def score_instrument(df, instrument: str) -> ScoreResult:
    """Score one instrument's item rows (and check pre-scored totals) from canonical measures.

    Parameters
    ----------
    df : DataFrame or LoadResult
        Canonical measures (:func:`iopstats.load_measures`); rows of other
        instruments are ignored. Not modified.
    instrument : {"phq9", "gad7", "bam", "pcl5", "auditc", "dast10"}

    Returns
    -------
    ScoreResult
        ``.scores``: episode_id, day, measure_date, instrument, scale, score,
        n_items, n_answered, prorated, valid, band (severity band of a total),
        flag (the scale's clinical flag or score >= cut-off), ``.quarantine``:
        rejected item rows with ``reason`` and ``detail``; ``.summary`` counts.

    Examples
    --------
    >>> m = pd.DataFrame({"episode_id": "e1", "day": [0] * 9 + [28] * 9, "instrument": "phq9",
    ...     "item": [f"phq9_{i}" for i in range(1, 10)] * 2,
    ...     "value": [2, 2, 3, 2, 1, 2, 1, 2, 0] + [1, 1, 0, 1, 0, 1, 0, 0, 7]})
    >>> res = score_instrument(m, "phq9")
    >>> res.scores[["day", "score", "prorated", "band"]]
       day  score  prorated               band
    0    0   15.0     False  moderately severe
    1   28    4.5      True            minimal
    >>> res.quarantine[["item", "value", "reason"]]
         item  value             reason
    0  phq9_9      7  item_out_of_range
    """
    if instrument not in RULES:
        raise IopstatsError(f"unknown instrument {instrument!r}", value=instrument,
                            fix=f"use one of {', '.join(RULES)}")
    rule = RULES[instrument]
    data = _frame(df)
    sel = data[data["instrument"] == instrument]
    sel = sel[sel["value"].notna()]
    good, quarantine = _check_items(sel, rule)
    pre_scored = good["item"].isin(list(rule.scales))
    items = good[~pre_scored]
    scores = _score_scales(items, rule) if len(items) else pd.DataFrame(columns=[*_KEY, "scale", "score"])
    totals = good[pre_scored]
    if len(totals):
        n = totals["item"].map(lambda i: len(rule.scales[i]))
        pre = totals[_KEY].assign(scale=totals["item"], score=totals["value"], n_items=n, n_answered=n,
                                  prorated=False, valid=True)
        scores = pd.concat([scores, pre], ignore_index=True) if len(scores) else pre.reset_index(drop=True)
    scores.insert(3, "instrument", instrument)
    scores["band"] = [rule.band(s) if sc == "total" else None for s, sc in zip(scores["score"], scores["scale"])]
    scores["flag"] = _flags(scores, rule)
    scores = scores.sort_values(["episode_id", "day", "measure_date", "scale"], ignore_index=True)
    summary = pd.DataFrame({"measure": ["item rows", "quarantined item rows", "administrations scored", "valid scores"],
                            "n": [len(sel), len(quarantine), scores[_KEY].drop_duplicates().shape[0],
                                  int(scores["valid"].sum())]})
    return ScoreResult(summary=summary, title=f"{rule.name}: scores", scores=scores, quarantine=quarantine,
                       remarks=(f"Missing items: {rule.citations.get('missing', '')}",
                                "Out-of-range item values are quarantined, never clipped."))


def _flags(scores: pd.DataFrame, rule: Instrument) -> pd.Series:
    out = pd.Series(pd.NA, index=scores.index, dtype="boolean")
    for scale, (op, t) in ({rule.primary: ("ge", rule.cutoff)} if rule.cutoff is not None else {}).items() | rule.flags.items():
        m = (scores["scale"] == scale) & scores["score"].notna()
        out[m] = _OPS[op](scores.loc[m, "score"], t)
    return out
