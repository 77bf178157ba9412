"""Shared input checks and count tables for the survival estimators.

:func:`prepare` validates a (time, status, group, strata, weight) selection of a
DataFrame once, without touching the caller's frame, and returns plain numpy
arrays with integer codes. :func:`count_table` turns them into the collapsed
(group, time) x status table every estimator in :mod:`iopstats.stats` works from:
one ``np.unique`` over integer-coded keys plus one ``np.bincount``, so the cost is
a sort of the rows and everything after it is proportional to the number of
distinct times.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from iopstats.exceptions import IopstatsError

__all__ = ["SurvInput", "prepare", "count_table", "group_codes", "integer_counts"]


@dataclass(frozen=True)
class SurvInput:
    """Validated survival data as arrays (rows with missing values removed).

    ``status`` holds 0 for censored rows and 1..k for the event (k = 1) or for
    the causes in ``status_labels`` (competing risks). ``group`` and ``strata``
    are codes into ``group_labels`` / ``strata_labels``.
    """

    time: np.ndarray
    status: np.ndarray
    group: np.ndarray
    group_labels: tuple[Any, ...]
    strata: np.ndarray
    strata_labels: tuple[Any, ...]
    weight: np.ndarray
    status_labels: tuple[Any, ...]
    remarks: tuple[str, ...]


def _require_frame(data: Any, func: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise IopstatsError(
            f"{func}() needs a pandas DataFrame, got {type(data).__name__}",
            fix="pass a DataFrame with one row per episode (or a collapsed count table with weights=)",
        )
    if len(data) == 0:
        raise IopstatsError(f"{func}() got an empty DataFrame", fix="pass data with at least one row")


def _require_columns(data: pd.DataFrame, cols: dict[str, str | None]) -> None:
    for role, col in cols.items():
        if col is None:
            continue
        if not isinstance(col, str) or col not in data.columns:
            shown = list(map(str, data.columns[:15]))
            raise IopstatsError(
                f"{role} column not found",
                column=str(col),
                fix=f"pass {role}= one of the columns in the data: {shown}",
            )


def group_codes(values: pd.Series) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Integer codes (-1 for missing) and labels, in sorted / category order.

    Examples
    --------
    >>> codes, labels = group_codes(pd.Series(["b", "a", None, "b"]))
    >>> codes.tolist(), labels
    ([1, 0, -1, 1], ('a', 'b'))
    """
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # mixed types that do not sort: order by their text
        codes, uniques = pd.factorize(values.astype("string"), sort=True)
    if isinstance(uniques, pd.CategoricalIndex | pd.Categorical):
        uniques = list(uniques.astype(object))
    labels = tuple(u.item() if isinstance(u, np.generic) else u for u in list(uniques))
    return np.asarray(codes, dtype=np.int64), labels


def _numeric_time(s: pd.Series, col: str) -> np.ndarray:
    if is_bool_dtype(s.dtype) or not is_numeric_dtype(s.dtype):
        if pd.api.types.is_timedelta64_dtype(s.dtype):
            raise IopstatsError(
                "time column holds timedeltas", column=col,
                fix=f"convert to days first, e.g. data['{col}'].dt.days",
            )
        conv = pd.to_numeric(s, errors="coerce")
        bad = s.notna() & conv.isna()
        if bad.any() or is_bool_dtype(s.dtype):
            example = s[bad].iloc[0] if bad.any() else s.iloc[0]
            raise IopstatsError(
                f"time column must be numeric (days or weeks); {int(bad.sum()) or len(s)} value(s) are not",
                column=col, value=example,
                fix="convert the column to numbers (e.g. pd.to_numeric) and check the source file",
            )
        s = conv
    return s.to_numpy(dtype="float64", na_value=np.nan)


def prepare(
    data: pd.DataFrame,
    time: str,
    status: str,
    *,
    by: str | None = None,
    strata: str | None = None,
    weights: str | None = None,
    func: str = "kaplan_meier",
    competing: bool = False,
    censor_code: Any = 0,
) -> SurvInput:
    """Validate the columns of a survival analysis and return coded arrays.

    Rows with a missing time, status, group or stratum are dropped and counted
    in a remark. Negative or infinite times, status values other than 0/1
    (unless ``competing``), and bad weights raise :class:`IopstatsError`.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [3, 1, None], "e": [1, 0, 1]})
    >>> s = prepare(df, "t", "e")
    >>> s.time.tolist(), s.status.tolist(), s.remarks
    ([3.0, 1.0], [1, 0], ('1 of 3 rows dropped: missing time, event or group (1 missing in t).',))
    """
    _require_frame(data, func)
    role_status = "cause" if competing else "event"
    _require_columns(data, {"time": time, role_status: status, "by": by, "strata": strata, "weights": weights})

    n_rows = len(data)
    t = _numeric_time(data[time], time)
    s_col = data[status]
    missing = np.isnan(t)
    miss_parts = {time: int(missing.sum())}

    if competing:
        s_na = s_col.isna().to_numpy()
        is_cens = (s_col == censor_code).fillna(False).to_numpy(dtype=bool)
        causes = s_col[~s_na & ~is_cens]
        cause_codes, cause_labels = group_codes(causes)
        st = np.zeros(n_rows, dtype=np.int64)
        st[np.flatnonzero(~s_na & ~is_cens)] = cause_codes + 1
        status_labels = cause_labels
    else:
        s_na = s_col.isna().to_numpy()
        st = _event_codes(s_col, status, s_na)
        status_labels = (1,)
    missing |= s_na
    miss_parts[status] = int(s_na.sum())

    if by is not None:
        g, g_labels = group_codes(data[by])
        missing |= g < 0
        miss_parts[by] = int((g < 0).sum())
    else:
        g, g_labels = np.zeros(n_rows, dtype=np.int64), ("all",)
    if strata is not None:
        k, k_labels = group_codes(data[strata])
        missing |= k < 0
        miss_parts[strata] = int((k < 0).sum())
    else:
        k, k_labels = np.zeros(n_rows, dtype=np.int64), (None,)

    if weights is not None:
        w = _weights(data[weights], weights)
    else:
        w = np.ones(n_rows)

    remarks: list[str] = []
    n_missing = int(missing.sum())
    if n_missing:
        detail = ", ".join(f"{v} missing in {c}" for c, v in miss_parts.items() if v)
        remarks.append(
            f"{n_missing} of {n_rows} rows dropped: missing time, {role_status} or group ({detail})."
        )
    keep = ~missing & (w > 0)
    if not keep.any():
        raise IopstatsError(
            f"{func}() has no usable rows: every row has a missing time, {role_status} or group, or zero weight",
            column=time,
            fix="check the column names and drop or fill missing values before the analysis",
        )
    t_k = t[keep]
    bad_inf = ~np.isfinite(t_k)
    if bad_inf.any():
        raise IopstatsError(
            f"{int(bad_inf.sum())} row(s) have an infinite time", column=time,
            fix="record open episodes with their follow-up time so far and a censored status",
        )
    neg = t_k < 0
    if neg.any():
        raise IopstatsError(
            f"{int(neg.sum())} row(s) have a negative time", column=time, value=float(t_k[neg][0]),
            fix=f"drop these rows (data[data['{time}'] >= 0]) or fix the dates they were computed from",
        )

    # Recode groups / strata to the labels actually present after dropping rows.
    g_k, g_present = _recode(g[keep], g_labels)
    k_k, k_present = _recode(k[keep], k_labels)
    st_k = st[keep]
    if competing:
        used = np.unique(st_k[st_k > 0])
        remap = np.zeros(len(status_labels) + 1, dtype=np.int64)
        remap[used] = np.arange(1, len(used) + 1)
        st_k = remap[st_k]
        status_labels = tuple(status_labels[i - 1] for i in used)
    return SurvInput(
        time=t_k, status=st_k, group=g_k, group_labels=g_present, strata=k_k,
        strata_labels=k_present, weight=w[keep], status_labels=tuple(status_labels),
        remarks=tuple(remarks),
    )


def _recode(codes: np.ndarray, labels: tuple[Any, ...]) -> tuple[np.ndarray, tuple[Any, ...]]:
    present = np.flatnonzero(np.bincount(codes, minlength=len(labels)))
    if len(present) == len(labels):
        return codes, labels
    remap = np.full(len(labels), -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    return remap[codes], tuple(labels[i] for i in present)


def _event_codes(s: pd.Series, col: str, na: np.ndarray) -> np.ndarray:
    vals = s[~na]
    if is_bool_dtype(vals.dtype):
        return s.fillna(False).to_numpy(dtype=bool).astype(np.int64)
    if not is_numeric_dtype(vals.dtype):
        conv = pd.to_numeric(vals, errors="coerce")
        if conv.isna().any():
            bad = vals[conv.isna()].iloc[0]
            raise IopstatsError(
                "event column must be 0/1 or True/False", column=col, value=bad,
                fix="code the event as 1 (event happened) and 0 (censored)",
            )
        vals = conv
    arr = vals.to_numpy(dtype="float64")
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        shown = sorted(set(arr[bad].tolist()))[:5]
        raise IopstatsError(
            f"event column must be 0/1 or True/False; {int(bad.sum())} row(s) hold other values",
            column=col, value=shown,
            fix="code the event as 1 (event happened) and 0 (censored); for several causes use cumulative_incidence()",
        )
    out = np.zeros(len(s), dtype=np.int64)
    out[~na] = arr.astype(np.int64)
    return out


def _weights(s: pd.Series, col: str) -> np.ndarray:
    if is_bool_dtype(s.dtype) or not is_numeric_dtype(s.dtype):
        raise IopstatsError(
            "weights column must be numeric frequency weights", column=col,
            fix="pass the count column of a collapsed table (iopstats.stats.counts.collapse gives 'n')",
        )
    w = s.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise IopstatsError(
            f"{int(bad.sum())} weight(s) are missing, negative or infinite", column=col,
            value=float(w[bad][0]) if np.isfinite(w[bad][0]) or np.isinf(w[bad][0]) else None,
            fix="frequency weights must be counts >= 0; drop or fix those rows",
        )
    return w


def count_table(
    time: np.ndarray, group: np.ndarray, status: np.ndarray, weight: np.ndarray, n_status: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Collapse rows to distinct (group, time) with weighted counts per status.

    Returns ``(group_code, time, counts)`` sorted by group then time, where
    ``counts[:, s]`` is the weight of rows with status ``s`` (0 = censored).

    Examples
    --------
    >>> g, t, c = count_table(np.array([2., 1., 2.]), np.array([0, 0, 0]),
    ...                       np.array([1, 0, 0]), np.ones(3), 2)
    >>> t.tolist(), c.tolist()
    ([1.0, 2.0], [[1.0, 0.0], [1.0, 1.0]])
    """
    t_idx, t_vals = pd.factorize(time, sort=True)  # hash-based: O(n), sorted uniques
    t_vals = np.asarray(t_vals, dtype=float)
    n_t = len(t_vals)
    key = group.astype(np.int64) * n_t + t_idx
    n_keys = (int(group.max()) + 1) * n_t
    if n_keys * n_status <= max(4 * len(time), 1_000_000):
        # small key space (e.g. whole days x groups): dense bincount, no second sort
        dense = np.bincount(key * n_status + status, weights=weight, minlength=n_keys * n_status)
        dense = dense.reshape(n_keys, n_status)
        ukey = np.flatnonzero(np.bincount(key, minlength=n_keys))
        counts = dense[ukey]
    else:
        ukey, inv = np.unique(key, return_inverse=True)
        counts = np.bincount(
            inv * n_status + status, weights=weight, minlength=len(ukey) * n_status
        ).reshape(len(ukey), n_status)
    return ukey // n_t, t_vals[ukey % n_t], counts


def integer_counts(frame: pd.DataFrame, cols: Iterable[str]) -> None:
    """Cast count columns of a freshly built result frame to int64 when whole numbers.

    Row-level data (and integer frequency weights) give whole counts; fractional
    weights keep floats.
    """
    for col in cols:
        v = frame[col].to_numpy()
        if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
            frame[col] = v.astype(np.int64)
