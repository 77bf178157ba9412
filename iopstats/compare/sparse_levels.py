"""Covariate levels that would break an adjusted model: merge them, or drop the covariate, and say so.

A logistic model cannot be fitted when a level of a categorical covariate has
no events or no non-events among the rows it uses (separation: that level's
odds ratio is infinite). With the default adjustment set this happens on real
site data (an age group without a single completion), and it must not stop a
report. :func:`merge_sparse_levels` rewrites such covariates on a copy of the
model's columns:

* an **ordered** covariate (an ordered ``Categorical`` such as ``age_group``)
  merges the level with its nearest present neighbour in the order (the
  smaller of the two neighbours, the lower one on a tie), repeatedly, so
  "18-20" without completions becomes "18-20 + 21-24";
* an **unordered** covariate pools such levels into ``"other"`` (with an
  existing ``"other"`` level if there is one); while ``"other"`` itself has
  no events or no non-events, the smallest remaining level joins it;
* a covariate that cannot be saved (a two-level or boolean covariate, or
  one where merging would leave a single level) is **dropped** from the
  adjustment.

Each change is returned as a sentence (no counts) for the result's remarks,
so the page states what the adjusted comparison was adjusted for.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({
...     "done": [0, 0, 1, 0, 1, 1, 0, 1],
...     "age": pd.Categorical(["a", "a", "b", "b", "c", "c", "c", "b"],
...                           categories=["a", "b", "c"], ordered=True)})
>>> model, kept, remarks = merge_sparse_levels(df, "done", ["age"])
>>> list(model["age"].cat.categories), kept
(['a + b', 'c'], ['age'])
>>> print(remarks[0])
age: level a has no events of done among the rows of the adjusted model (it would make the model inestimable), so it was merged with the neighbouring level b for the adjustment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from iopstats._checks import binary_outcome, frequency_weights

__all__ = ["merge_sparse_levels"]

_OTHER = "other"


def _model_rows(data: pd.DataFrame, outcome: str, columns: Sequence[str], weights: str | None) -> np.ndarray:
    y = binary_outcome(data, outcome)
    ok = ~np.isnan(y)
    for c in columns:
        ok &= data[c].notna().to_numpy()
    w = frequency_weights(data, weights)
    if w is not None:
        ok &= w > 0
    return ok


def _level_counts(s: pd.Series, y: np.ndarray, w: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"level": s.astype(object).to_numpy(), "m": w, "e": y * w})
    return frame.groupby("level", sort=False)[["m", "e"]].sum()


def _sparse(counts: pd.DataFrame) -> list:
    bad = counts[(counts["m"] > 0) & ((counts["e"] <= 0) | (counts["e"] >= counts["m"]))]
    return list(bad.index)


def _what(counts: pd.DataFrame, level, outcome: str) -> str:
    return f"no events of {outcome}" if counts.loc[level, "e"] <= 0 else f"only events of {outcome}"


def _merge_ordered(order: list, groups: dict, counts: pd.DataFrame, level) -> tuple[str, str]:
    """Merge ``level`` into its smaller present neighbour; return (new label, neighbour)."""
    i = order.index(level)
    neighbours = [order[j] for j in (i - 1, i + 1) if 0 <= j < len(order)]
    target = min(neighbours, key=lambda lv: (counts.loc[lv, "m"], order.index(lv)))
    a, b = sorted([level, target], key=order.index)
    label = f"{a} + {b}"
    groups[label] = groups.pop(a) + groups.pop(b)
    order[order.index(a)] = label
    order.remove(b)
    return label, target


def _dropped(name: str, level, why: str) -> str:
    return (f"{name}: level {level} has {why} among the rows of the adjusted model and no level is left to merge "
            f"it into, so {name} was left out of the adjustment.")


def _fix_column(s: pd.Series, y: np.ndarray, w: np.ndarray, name: str, outcome: str
                ) -> tuple[dict | None, list, list[str]]:
    """Level -> merged label for one covariate (``None`` when it is dropped), the label order, remarks."""
    dt = s.dtype
    if not (isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dt)
            or pd.api.types.is_object_dtype(dt) or pd.api.types.is_string_dtype(dt)):
        return {}, [], []  # numeric covariates enter linearly: no levels to merge
    counts = _level_counts(s, y, w)
    if not _sparse(counts):
        return {}, [], []
    ordered = isinstance(dt, pd.CategoricalDtype) and dt.ordered
    if isinstance(dt, pd.CategoricalDtype):
        order = [lv for lv in dt.categories if lv in counts.index and counts.loc[lv, "m"] > 0]
    else:
        order = list(counts.index[counts["m"] > 0])
    groups = {lv: [lv] for lv in order}
    remarks: list[str] = []
    while True:
        mapping = {orig: lab for lab, members in groups.items() for orig in members}
        counts = _level_counts(s.astype(object).map(mapping), y, w)
        bad = _sparse(counts)
        if not bad:
            return mapping, order, remarks
        level = bad[0]
        why = _what(counts, level, outcome)
        if len(order) <= 2:
            return None, [], remarks + [_dropped(name, level, why)]
        if ordered:
            _, target = _merge_ordered(order, groups, counts, level)
            remarks.append(f"{name}: level {level} has {why} among the rows of the adjusted model (it would make "
                           f"the model inestimable), so it was merged with the neighbouring level {target} for the "
                           "adjustment.")
            continue
        pool = [lv for lv in bad if lv != _OTHER]
        if not pool:  # 'other' itself lacks events or non-events: pool the smallest level into it too
            smallest = min((lv for lv in order if lv != _OTHER), key=lambda lv: (counts.loc[lv, "m"], order.index(lv)))
            groups[_OTHER] = groups.pop(_OTHER) + groups.pop(smallest)
            order = [lv for lv in order if lv != smallest]
            remarks.append(f"{name}: the pooled level '{_OTHER}' has {why} among the rows of the adjusted model, so "
                           f"the smallest level {smallest} was pooled into it too.")
            continue
        members = sum((groups.pop(lv) for lv in pool), [])
        groups[_OTHER] = groups.pop(_OTHER, []) + members
        order = [lv for lv in order if lv not in pool and lv != _OTHER] + [_OTHER]
        several = len(pool) > 1
        remarks.append(f"{name}: level{'s' if several else ''} {', '.join(map(str, pool))} "
                       f"{'have' if several else 'has'} no events or only events of {outcome} among the rows of "
                       f"the adjusted model, so {'they were' if several else 'it was'} pooled into '{_OTHER}' "
                       "for the adjustment.")


def merge_sparse_levels(
    data: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    by: str | None = None,
    weights: str | None = None,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Merge covariate levels without events or non-events; drop covariates that cannot be saved.

    Parameters
    ----------
    data : DataFrame
        Not modified.
    outcome : str
        Binary outcome of the model (rows with it missing are not used).
    covariates : list of str
        Adjustment covariates.
    by : str, optional
        Treatment column; its missing rows are not used (its levels are never merged).
    weights : str, optional
        Frequency weights.

    Returns
    -------
    model : DataFrame
        A copy of the columns the model uses, with merged covariates.
    kept : list of str
        Covariates still in the adjustment, in the given order.
    remarks : list of str
        One sentence per merge or drop (no counts).
    """
    covs = list(covariates)
    cols = [outcome] + ([by] if by else []) + covs + ([weights] if weights else [])
    model = data[list(dict.fromkeys(cols))].copy()
    ok = _model_rows(model, outcome, ([by] if by else []) + covs, weights)
    y = binary_outcome(model, outcome)[ok]
    w = frequency_weights(model, weights)
    w = np.ones(int(ok.sum())) if w is None else w[ok]
    kept, remarks = [], []
    for c in covs:
        mapping, order, notes = _fix_column(model.loc[ok, c], y, w, c, outcome)
        remarks.extend(notes)
        if mapping is None:
            continue
        if mapping:
            col = model[c]
            labels = col.astype(object).map(lambda v: mapping.get(v, v), na_action="ignore")
            extra = [v for v in pd.unique(labels.dropna()) if v not in order]  # levels outside the model rows
            ordered = isinstance(col.dtype, pd.CategoricalDtype) and col.dtype.ordered
            model[c] = pd.Categorical(labels, categories=order + extra, ordered=ordered)
        kept.append(c)
    return model, kept, remarks
