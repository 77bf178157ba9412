"""Design matrices for regression models: indicators against the first level, by pattern.

:func:`design_matrix` turns covariate columns of a DataFrame into model columns:

* categorical covariates (``category``, ``object``/``string`` and ``bool`` dtypes) become
  0/1 indicator columns, one per level except the first (the reference level).
  Level order: category order for ``category`` columns, sorted values otherwise
  (``False`` before ``True``). Levels that do not occur in the rows used are dropped
  (with a remark), so the reference is the first level that occurs.
* numeric covariates are used as they are (one column each).
* interactions (:func:`with_interactions`) are derived columns added to a copy of the
  data: a factor-by-factor pair ``a:b`` is one categorical column whose first level
  ("reference") holds every row at the reference of ``a`` or of ``b`` and whose other
  levels are the cells ``"<a level>:<b level>"``, so its indicators are exactly the
  products of the indicators of ``a`` and ``b`` (R's ``a:b`` under ``a * b``); a
  numeric-by-factor pair gives one numeric column per non-reference level,
  ``"<x>:<b>[<level>]"``; numeric-by-numeric the product ``"<x>:<z>"``.

Column names: ``"<covariate>[<level>]"`` for an indicator, e.g.
``"level_of_care[residential_short]"`` (the hazard or odds of that level against the
reference level), and ``"<covariate>"`` for a numeric covariate.

Many rows share a covariate *pattern* (one combination of covariate values). The
design keeps the distinct patterns (``patterns``, one row each) and a code per row
(``pattern_codes``), so estimators can do their heavy sums per pattern instead of per
row; ``Design.X`` expands to the row-level matrix when it is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from iopstats.exceptions import IopstatsError

__all__ = ["Block", "Design", "design_matrix", "is_categorical", "with_interactions"]

# Largest mixed-radix key range coded densely (bincount) instead of by hashing.
_DENSE_LIMIT = 1 << 24


@dataclass(frozen=True)
class Block:
    """One covariate in a design.

    ``kind`` is ``"categorical"`` (``codes`` hold 0..L-1 into ``levels``; the
    columns are the indicators of levels 1..L-1) or ``"numeric"`` (``values``;
    one column). Arrays cover the rows used by the design.
    """

    name: str
    kind: str
    columns: tuple[str, ...]
    levels: tuple[Any, ...] = ()
    codes: np.ndarray | None = field(default=None, repr=False)
    values: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_levels(self) -> int:
        return len(self.levels)


@dataclass(frozen=True)
class Design:
    """Model columns of a set of covariates, stored by covariate pattern.

    Attributes
    ----------
    covariates : tuple of str
        The covariates, in the order given.
    columns : tuple of str
        Model column names (see the module docstring for the naming).
    blocks : tuple of Block
        One per covariate with its codes or values and its columns.
    rows : ndarray of int
        Positions (0-based) of the rows of ``data`` that are used: rows with a
        missing covariate value (or excluded by ``keep``) are left out.
    pattern_codes : ndarray of int
        For each used row, the index of its covariate pattern in ``patterns``.
    patterns : ndarray, shape (n_patterns, n_columns)
        The distinct rows of the model matrix.
    remarks : tuple of str
        Rows dropped for missing values, unused levels dropped.
    """

    covariates: tuple[str, ...]
    columns: tuple[str, ...]
    blocks: tuple[Block, ...]
    rows: np.ndarray = field(repr=False)
    pattern_codes: np.ndarray = field(repr=False)
    patterns: np.ndarray = field(repr=False)
    remarks: tuple[str, ...] = ()

    @property
    def X(self) -> np.ndarray:
        """Row-level model matrix, shape (n_rows_used, n_columns)."""
        return self.patterns[self.pattern_codes]

    @property
    def n_patterns(self) -> int:
        return int(self.patterns.shape[0])

    def term_columns(self) -> dict[str, list[int]]:
        """Column positions of each covariate, e.g. ``{"arm": [0, 1], "age": [2]}``."""
        out: dict[str, list[int]] = {}
        pos = 0
        for b in self.blocks:
            out[b.name] = list(range(pos, pos + len(b.columns)))
            pos += len(b.columns)
        return out

    def matrix_for(self, data: pd.DataFrame) -> np.ndarray:
        """Model matrix of new ``data`` with this design's levels and columns.

        Unknown levels and missing values raise :class:`IopstatsError`.
        """
        missing = [c for c in self.covariates if c not in data.columns]
        if missing:
            raise IopstatsError("covariate column not found in the new data", column=missing[0],
                                fix="pass data with the covariates the model was fitted on")
        parts = []
        for b in self.blocks:
            s = data[b.name]
            if b.kind == "numeric":
                v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                if np.isnan(v).any():
                    raise IopstatsError("missing or non-numeric values in the new data", column=b.name,
                                        fix="fill or drop them first")
                parts.append(v[:, None])
            else:
                lookup = {lev: i for i, lev in enumerate(b.levels)}
                vals = s.astype(object).tolist()
                codes = np.array([lookup.get(v, -1) for v in vals], dtype=np.int64)
                if (codes < 0).any():
                    bad = vals[int(np.flatnonzero(codes < 0)[0])]
                    raise IopstatsError("level not seen when the model was fitted (or missing)",
                                        column=b.name, value=bad,
                                        fix=f"use one of the levels {list(b.levels)}")
                parts.append((codes[:, None] == np.arange(1, b.n_levels)[None, :]).astype(float))
        return np.hstack(parts) if parts else np.zeros((len(data), 0))


def is_categorical(s: pd.Series) -> bool:
    """True for columns expanded to indicators: category, object, string and bool dtypes.

    Examples
    --------
    >>> is_categorical(pd.Series(["a", "b"])), is_categorical(pd.Series([1.5, 2.0]))
    (True, False)
    """
    return bool(
        isinstance(s.dtype, pd.CategoricalDtype)
        or is_bool_dtype(s.dtype)
        or not is_numeric_dtype(s.dtype)
    )


def _categorical_codes(s: pd.Series) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Codes (-1 = missing) and levels in category order (categoricals) or sorted order."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = np.asarray(s.cat.codes, dtype=np.int64)
        levels = tuple(s.cat.categories)
    else:
        try:
            codes, uniques = pd.factorize(s, sort=True)
        except TypeError:  # mixed types that do not sort: order by their text
            codes, uniques = pd.factorize(s.astype("string"), sort=True)
        codes = np.asarray(codes, dtype=np.int64)
        levels = tuple(uniques)
    levels = tuple(v.item() if isinstance(v, np.generic) else v for v in levels)
    return codes, levels


def _numeric_values(s: pd.Series, name: str) -> np.ndarray:
    v = s.to_numpy(dtype="float64", na_value=np.nan)
    if np.isinf(v).any():
        raise IopstatsError("covariate has infinite values", column=name,
                            fix="replace them with finite numbers or drop those rows")
    return v


def _pattern_codes(keys: list[tuple[np.ndarray, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Combine per-covariate integer codes (each with its cardinality) into pattern codes.

    Returns (codes 0..P-1 for each row, index of one row of each pattern).
    """
    if not keys:
        return np.zeros(n, dtype=np.int64), np.zeros(1 if n else 0, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for codes, card in keys:
        card = max(int(card), 1)
        if span * card >= (1 << 62):  # compress before the key overflows
            key, uniq = pd.factorize(key)
            key = np.asarray(key, dtype=np.int64)
            span = len(uniq)
        key = key * card + codes
        span *= card
    if span <= max(_DENSE_LIMIT, 4 * n):
        present = np.bincount(key, minlength=span) > 0
        remap = np.cumsum(present) - 1
        pcodes = remap[key]
        n_pat = int(present.sum())
    else:
        pcodes, uniq = pd.factorize(key)
        pcodes = np.asarray(pcodes, dtype=np.int64)
        n_pat = len(uniq)
    rep = np.empty(n_pat, dtype=np.int64)
    rep[pcodes] = np.arange(n, dtype=np.int64)  # any row of each pattern represents it
    return pcodes, rep


def design_matrix(
    data: pd.DataFrame,
    covariates: Sequence[str] | str,
    keep: np.ndarray | None = None,
) -> Design:
    """Expand covariates to model columns (indicators against the first level), by pattern.

    Parameters
    ----------
    data : DataFrame
        Not modified.
    covariates : str or sequence of str
        Column names. Categorical columns (category, object/string, bool) become
        indicators named ``"<covariate>[<level>]"`` against their first level
        (category order, else sorted); numeric columns are used as they are.
    keep : boolean array, optional
        Rows to consider (e.g. rows with a valid outcome). Rows with a missing
        covariate value are dropped as well (counted in ``remarks``).

    Returns
    -------
    Design
        ``X`` (row-level matrix of the used rows), ``columns`` (names),
        ``pattern_codes`` and ``patterns`` (distinct rows of ``X``), ``rows``
        (positions of the used rows in ``data``), ``blocks`` (per covariate).

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop", "op", "res", "op"], "age": [30, 41, 25, 41]})
    >>> d = design_matrix(df, ["loc", "age"])
    >>> d.columns
    ('loc[op]', 'loc[res]', 'age')
    >>> d.X
    array([[ 0.,  0., 30.],
           [ 1.,  0., 41.],
           [ 0.,  1., 25.],
           [ 1.,  0., 41.]])
    >>> d.n_patterns, d.pattern_codes.tolist()
    (3, [0, 1, 2, 1])
    """
    if not isinstance(data, pd.DataFrame):
        raise IopstatsError(f"design_matrix() needs a pandas DataFrame, got {type(data).__name__}",
                            fix="pass the data as a DataFrame")
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates)
    if not covariates:
        raise IopstatsError("no covariates given", fix="pass covariates=[...] with at least one column")
    dup = [c for c in covariates if covariates.count(c) > 1]
    if dup:
        raise IopstatsError("covariate listed twice", column=dup[0], fix="list each covariate once")
    for c in covariates:
        if c not in data.columns:
            raise IopstatsError("covariate column not found", column=str(c),
                                fix=f"use columns present in the data: {list(map(str, data.columns[:15]))}")
    n_all = len(data)
    use = np.ones(n_all, dtype=bool) if keep is None else np.asarray(keep, dtype=bool).copy()
    n_kept_before = int(use.sum())
    raw: list[tuple[str, str, Any, Any]] = []
    missing_counts: dict[str, int] = {}
    for c in covariates:
        s = data[c]
        if is_categorical(s):
            codes, levels = _categorical_codes(s)
            miss = codes < 0
            raw.append((c, "categorical", codes, levels))
        else:
            vals = _numeric_values(s, c)
            miss = np.isnan(vals)
            raw.append((c, "numeric", vals, None))
        m = int((miss & use).sum())
        if m:
            missing_counts[c] = m
        use &= ~miss
    rows = np.flatnonzero(use)
    n = rows.size
    remarks: list[str] = []
    if missing_counts:
        detail = ", ".join(f"{v} in {k}" for k, v in missing_counts.items())
        remarks.append(f"{n_kept_before - n} of {n_kept_before} rows dropped for missing covariate values ({detail}).")
    if n == 0:
        raise IopstatsError("no rows left: every row has a missing covariate value",
                            column=next(iter(missing_counts), None),
                            fix="fill or drop the missing values, or leave that covariate out")
    subset = n != n_all
    blocks: list[Block] = []
    keys: list[tuple[np.ndarray, int]] = []
    for name, kind, arr, levels in raw:
        arr = arr[rows] if subset else arr
        if kind == "categorical":
            counts = np.bincount(arr, minlength=len(levels))
            present = counts > 0
            if not present.all():
                unused = [levels[i] for i in np.flatnonzero(~present)]
                shown = ", ".join(map(str, unused[:5])) + (" ..." if len(unused) > 5 else "")
                remarks.append(f"{name}: level(s) with no rows dropped ({shown}).")
                remap = np.cumsum(present) - 1
                arr = remap[arr]
                levels = tuple(lv for lv, p in zip(levels, present, strict=True) if p)
            if len(levels) < 2:
                raise IopstatsError(
                    f"covariate {name!r} has a single level ({levels[0]!r}) in the rows used, so it is constant",
                    column=name, value=levels[0],
                    fix="leave it out of the covariates (or check the filtering that removed its other levels)",
                )
            cols = tuple(f"{name}[{lv}]" for lv in levels[1:])
            blocks.append(Block(name, "categorical", cols, levels=tuple(levels), codes=arr))
            keys.append((arr, len(levels)))
        else:
            blocks.append(Block(name, "numeric", (name,), values=arr))
            vcodes, uniq = pd.factorize(arr)
            keys.append((np.asarray(vcodes, dtype=np.int64), len(uniq)))
    pcodes, rep = _pattern_codes(keys, n)
    columns = tuple(col for b in blocks for col in b.columns)
    patterns = np.zeros((rep.size, len(columns)))
    pos = 0
    for b in blocks:
        if b.kind == "categorical":
            c = b.codes[rep]
            hit = np.flatnonzero(c > 0)
            patterns[hit, pos + c[hit] - 1] = 1.0
        else:
            patterns[:, pos] = b.values[rep]
        pos += len(b.columns)
    if len(set(columns)) != len(columns):
        dupc = next(c for c in columns if columns.count(c) > 1)
        raise IopstatsError("two model columns get the same name", column=dupc,
                            fix="rename a covariate so that '<covariate>[<level>]' names are unique")
    return Design(tuple(covariates), columns, tuple(blocks), rows, pcodes, patterns, tuple(remarks))


_INTERACTION_REF = "reference"


def _pair_list(interactions) -> list[tuple[str, str]]:
    if interactions is None:
        return []
    if isinstance(interactions, str) or not all(
            isinstance(p, Sequence) and not isinstance(p, str) and len(p) == 2 for p in interactions):
        raise IopstatsError("interactions must be a list of column pairs", value=interactions,
                            fix='e.g. interactions=[("level_of_care", "sex")]')
    return [(str(a), str(b)) for a, b in interactions]


def with_interactions(
    data: pd.DataFrame, covariates: Sequence[str], interactions: Sequence[tuple[str, str]] | None
) -> tuple[pd.DataFrame, list[str], dict[tuple[str, str], list[str]]]:
    """A copy of ``data`` with interaction columns added, the covariate list and the new columns per pair.

    Both members of each pair must be covariates (main effects stay in the model).
    Without interactions the data are returned as they are (not copied).

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop", "op", "op", "iop"], "sex": ["f", "f", "m", "m"],
    ...                    "age": [30.0, 40.0, 50.0, 20.0]})
    >>> work, covs, new = with_interactions(df, ["loc", "sex", "age"], [("loc", "sex"), ("age", "loc")])
    >>> covs
    ['loc', 'sex', 'age', 'loc:sex', 'age:loc[op]']
    >>> work["loc:sex"].tolist(), work["age:loc[op]"].tolist()
    (['reference', 'reference', 'op:m', 'reference'], [0.0, 40.0, 50.0, 0.0])
    """
    pairs = _pair_list(interactions)
    covs = list(covariates)
    if not pairs:
        return data, covs, {}
    work = data.copy()
    added: dict[tuple[str, str], list[str]] = {}
    for a, b in pairs:
        for c in (a, b):
            if c not in covs:
                raise IopstatsError("an interaction member is not a covariate", column=c,
                                    fix=f"add {c!r} to the covariates (main effects stay in the model)")
        if a == b or (a, b) in added or (b, a) in added:
            raise IopstatsError("interaction listed twice or with itself", value=(a, b),
                                fix="list each pair of different covariates once")
        added[(a, b)] = _add_pair(work, data, a, b)
        covs.extend(added[(a, b)])
    return work, covs, added


def _add_pair(work: pd.DataFrame, data: pd.DataFrame, a: str, b: str) -> list[str]:
    sa, sb = data[a], data[b]
    both = sa.notna() & sb.notna()
    cat_a, cat_b = is_categorical(sa), is_categorical(sb)
    if cat_a and cat_b:
        name = f"{a}:{b}"
        ca, la = _categorical_codes(sa.where(both))
        cb, lb = _categorical_codes(sb.where(both))
        cells = [f"{x}:{y}" for x in la[1:] for y in lb[1:]]
        code = np.where((ca > 0) & (cb > 0), (ca - 1) * max(len(lb) - 1, 1) + (cb - 1) + 1, 0)
        labels = np.array([_INTERACTION_REF] + cells, dtype=object)
        vals = pd.Categorical.from_codes(np.where(both, code, -1), categories=list(labels))
        _no_clash(work, name)
        work[name] = pd.Series(vals, index=data.index)
        return [name]
    if cat_a or cat_b:
        num, fac = (b, a) if cat_a else (a, b)
        x = _numeric_values(data[num], num)
        codes, levels = _categorical_codes(data[fac].where(both))
        names = []
        for i, lv in enumerate(levels[1:], start=1):
            name = f"{num}:{fac}[{lv}]"
            _no_clash(work, name)
            work[name] = np.where(codes < 0, np.nan, x * (codes == i))
            names.append(name)
        return names
    name = f"{a}:{b}"
    _no_clash(work, name)
    work[name] = _numeric_values(sa, a) * _numeric_values(sb, b)
    return [name]


def _no_clash(work: pd.DataFrame, name: str) -> None:
    if name in work.columns:
        raise IopstatsError("the data already hold a column named like an interaction", column=name,
                            fix="rename that column")
