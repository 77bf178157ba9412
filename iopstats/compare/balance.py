"""Covariate balance between levels of care: standardized mean differences.

Raw level-of-care comparisons are confounded when patients are placed by
severity. Before trusting an adjusted comparison, check that the adjustment
balances the covariates: :func:`balance_table` reports, for every covariate
indicator and every level against the reference level, the standardized mean
difference (SMD) before and (with ``balancing_weights``) after weighting.

Conventions follow R ``cobalt::bal.tab`` / ``tableone``:

* categorical, boolean and text covariates give one indicator per observed
  level (``"col[level]"``, every level, the first one included); numeric
  covariates enter as they are; a categorical covariate with missing values
  gets a ``"col[missing]"`` indicator, a numeric one is averaged over its
  non-missing rows and gets a ``"col[missing]"`` indicator too;
* SMD = (mean in the level - mean in the reference) / pooled SD, pooled SD =
  ``sqrt((s_level^2 + s_ref^2) / 2)``; binary indicators use ``p (1 - p)`` as
  the variance, numeric columns the sample variance (denominator ``n - 1``);
* the pooled SD is always the one *before* balancing weights (cobalt's
  default), so ``smd_before`` and ``smd_after`` differ only through the means;
* ``|SMD| > 0.1`` is flagged as imbalance (Austin 2009).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from iopstats._checks import check_frame, column_list, frequency_weights, group_order, treatment_levels
from iopstats.exceptions import IopstatsError

__all__ = ["balance_table"]


def _indicators(data: pd.DataFrame, covariates: Sequence[str]) -> tuple[np.ndarray, list, list, np.ndarray]:
    """Indicator/numeric matrix, (covariate, term) names, binary flags and a per-cell usable mask."""
    cols, covs, terms, binary, usable = [], [], [], [], []
    for c in covariates:
        s = data[c]
        dt = s.dtype
        miss = s.isna().to_numpy()
        numeric = (
            pd.api.types.is_numeric_dtype(dt)
            and not pd.api.types.is_bool_dtype(dt)
            and not isinstance(dt, pd.CategoricalDtype)
        )
        if numeric:
            v = s.to_numpy(dtype=float, na_value=np.nan)
            if np.isinf(v).any():
                raise IopstatsError("covariate has infinite values", column=c,
                                    fix="replace them or drop those rows")
            vals = v[~np.isnan(v)]
            cols.append(np.nan_to_num(v))
            covs.append(c)
            terms.append(c)
            binary.append(bool(np.isin(vals, (0.0, 1.0)).all()) if len(vals) else False)
            usable.append(~np.isnan(v))
        else:
            for level in group_order(s):
                cols.append((s == level).fillna(False).to_numpy(dtype=float))
                covs.append(c)
                terms.append(f"{c}[{level}]")
                binary.append(True)
                usable.append(np.ones(len(s), dtype=bool))
        if miss.any():
            cols.append(miss.astype(float))
            covs.append(c)
            terms.append(f"{c}[missing]")
            binary.append(True)
            usable.append(np.ones(len(s), dtype=bool))
    X = np.column_stack(cols) if cols else np.empty((len(data), 0))
    U = np.column_stack(usable) if usable else np.empty((len(data), 0), dtype=bool)
    return X, list(zip(covs, terms)), binary, U


def _group_moments(X, U, code, w, K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group (K x q): weight sums over usable cells, weighted means, weighted sums of squares."""
    q = X.shape[1]
    sw = np.zeros((K, q))
    sx = np.zeros((K, q))
    wu = U * w[:, None]
    np.add.at(sw, code, wu)
    np.add.at(sx, code, wu * X)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sx / sw
    dev = np.where(U, X - mean[code], 0.0)
    ss = np.zeros((K, q))
    np.add.at(ss, code, wu * dev * dev)
    return sw, mean, ss


def balance_table(
    data: pd.DataFrame,
    treatment: str,
    covariates: str | Sequence[str],
    weights: str | None = None,
    reference: object = "iop",
    balancing_weights: str | pd.Series | np.ndarray | None = None,
    threshold: float = 0.1,
) -> pd.DataFrame:
    """Standardized mean differences of covariates, each level against the reference.

    Parameters
    ----------
    data : DataFrame
        One row per episode (or a collapsed table with ``weights``). Not modified.
    treatment : str
        Column of the level of care (the groups compared).
    covariates : str or list of str
        Columns to check. Categorical/boolean/text columns give one indicator
        per level; numeric columns enter as they are.
    weights : str, optional
        Column of frequency weights (counts); results equal the row level.
    reference : object
        Level every other level is compared with (default ``"iop"``).
    balancing_weights : str, Series or array, optional
        Weights whose balance is checked (e.g. ``iptw(...).weights``): a
        column name, a Series aligned to ``data.index`` or an array of
        ``len(data)``. Rows with a missing balancing weight are left out of the
        weighted means. Adds ``ref_mean_weighted``, ``level_mean_weighted`` and
        ``smd_after``.
    threshold : float
        ``|SMD|`` above which a row is flagged ``imbalanced`` (after weighting
        when balancing weights are given, else before).

    Returns
    -------
    DataFrame
        ``covariate``, ``term`` (indicator name), ``level``, ``ref_mean``,
        ``level_mean``, ``smd_before``, [``ref_mean_weighted``,
        ``level_mean_weighted``, ``smd_after``], ``imbalanced``. One row per
        term and non-reference level. The SMD is NaN when a level has no
        usable rows, and 0 (equal means) or +/-inf when the pooled SD is 0.

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop"] * 4 + ["op"] * 4,
    ...                    "sex": ["f", "f", "m", "m", "f", "m", "m", "m"]})
    >>> balance_table(df, "loc", "sex")[["term", "level", "ref_mean", "level_mean", "smd_before"]]
         term level  ref_mean  level_mean  smd_before
    0  sex[f]    op       0.5        0.25   -0.534522
    1  sex[m]    op       0.5        0.75    0.534522
    """
    covs = column_list(covariates, "covariates")
    if not covs:
        raise IopstatsError("give at least one covariate", fix='e.g. covariates=["age_group", "sex"]')
    check_frame(data, [treatment, *covs] + ([weights] if weights else []))
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        threshold = float("nan")
    if not threshold > 0:
        raise IopstatsError("threshold must be a positive number", value=threshold, fix="e.g. threshold=0.1")
    f = frequency_weights(data, weights)
    f = np.ones(len(data)) if f is None else f
    levels = treatment_levels(data, treatment, reference)
    if len(levels) < 2:
        raise IopstatsError("only one level of care in the data: nothing to compare", column=treatment,
                            value=reference, fix="pass data with at least two levels")
    pos = {lv: i for i, lv in enumerate(levels)}
    code = data[treatment].map(pos).to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(code) & (f > 0)
    bw = None
    if balancing_weights is not None:
        bw = _balancing(data, balancing_weights)
    X, names, binary, U = _indicators(data, covs)
    code_k = code[keep].astype(np.int64)
    X, U, fk = X[keep], U[keep], f[keep]
    K = len(levels)
    sw, mean, ss = _group_moments(X, U, code_k, fk, K)
    binary = np.asarray(binary, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(binary[None, :], mean * (1.0 - mean), ss / (sw - 1.0))
    r = pos[reference]
    others = [i for i in range(K) if i != r]
    after = None
    if bw is not None:
        bk = bw[keep]
        ok = ~np.isnan(bk)
        _, after, _ = _group_moments(X[ok], U[ok], code_k[ok], fk[ok] * bk[ok], K)
    rows = []
    for j, (cov, term) in enumerate(names):
        for i in others:
            sd = np.sqrt((var[i, j] + var[r, j]) / 2.0)
            row = {"covariate": cov, "term": term, "level": levels[i], "ref_mean": mean[r, j],
                   "level_mean": mean[i, j], "smd_before": _smd(mean[i, j] - mean[r, j], sd)}
            if after is not None:
                row["ref_mean_weighted"] = after[r, j]
                row["level_mean_weighted"] = after[i, j]
                row["smd_after"] = _smd(after[i, j] - after[r, j], sd)
            rows.append(row)
    out = pd.DataFrame(rows)
    check = out["smd_after"] if after is not None else out["smd_before"]
    out["imbalanced"] = check.abs().to_numpy() > threshold
    return out


def _smd(diff: float, sd: float) -> float:
    if np.isnan(diff) or np.isnan(sd):
        return float("nan")
    if sd == 0:
        return 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
    return float(diff / sd)


def _balancing(data: pd.DataFrame, bw) -> np.ndarray:
    if isinstance(bw, str):
        if bw not in data.columns:
            raise IopstatsError("balancing_weights column not found", column=bw,
                                fix="pass a column name of data, a Series or an array")
        s = data[bw]
    elif isinstance(bw, pd.Series):
        if not bw.index.equals(data.index):
            raise IopstatsError("balancing_weights Series is not aligned to the data index",
                                fix="pass iptw(data, ...).weights computed on this same data")
        s = bw
    else:
        arr = np.asarray(bw)
        if arr.ndim != 1 or len(arr) != len(data):
            raise IopstatsError("balancing_weights must have one value per row of data",
                                value=f"shape {arr.shape}", fix=f"pass an array of length {len(data)}")
        s = pd.Series(arr, index=data.index)
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        raise IopstatsError("balancing_weights must be numeric", fix="pass inverse-probability weights")
    w = s.to_numpy(dtype=float, na_value=np.nan)
    if (np.isinf(w) | (w < 0)).any():
        raise IopstatsError("balancing_weights must be finite and non-negative",
                            value=float(w[np.isinf(w) | (w < 0)][0]), fix="check the weights")
    return w
