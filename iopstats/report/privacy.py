"""The one suppression layer every published table and figure annotation passes through.

Rules (CMS cell-size policy with CalHHS-style complementary suppression;
42 CFR Part 2 output must not identify any patient):

1. **Primary suppression.** A count of 1 to ``threshold - 1`` (default 1-10)
   is suppressed. Zero may show.
2. **Complementary suppression.** Tables are read as two-way tables whose row
   and column totals are assumed public (they leak elsewhere: cohort size,
   group sizes). In every line (row or column, totals included) holding a
   suppressed cell, at least two cells are suppressed; when the suppressed
   cells of a line with a published total sum to under ``threshold``, one
   more is suppressed. Complementary cells are the smallest non-zero cells,
   preferring cells whose other line already has a suppression.
3. **Audit.** Each suppressed cell's feasible range given every published
   number is computed by linear programming; a cell whose range is a single
   value (recoverable, e.g. a bridge between two suppression cycles) gets a
   further complementary suppression, until none is recoverable.
4. **Derived values.** Rates, percentages, means and intervals of a row with
   any suppressed count are suppressed too. For a rate ``events / n`` the
   count ``n - events`` is a cell of the table as well, so 48 of 50 is
   suppressed (2 non-events).
5. **Identifiers.** Text that looks like an SSN, e-mail address, phone
   number, URL, IP address, exact date or long numeric identifier never
   prints: :func:`redact_identifiers` replaces it, :func:`find_identifiers`
   reports it (used by tests and the nightly publish check).

Published cells show :data:`MARKER` (``"<11"`` for the default threshold)
and the table carries :func:`footnote`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from iopstats.exceptions import IopstatsError

__all__ = [
    "DEFAULT_THRESHOLD",
    "marker",
    "footnote",
    "Suppression",
    "suppress_matrix",
    "suppression_mask",
    "suppress_counts",
    "suppress_at_risk",
    "feasible_intervals",
    "IDENTIFIER_PATTERNS",
    "find_identifiers",
    "redact_identifiers",
    "FORBIDDEN_COLUMNS",
    "check_publishable",
    "suppress_text_counts",
]

#: Smallest count that may be published (CMS: no cell of 1-10).
DEFAULT_THRESHOLD = 11


def marker(threshold: int = DEFAULT_THRESHOLD) -> str:
    """Text shown in place of a suppressed value.

    Examples
    --------
    >>> marker(), marker(5)
    ('<11', '<5')
    """
    return f"<{int(threshold)}"


def footnote(threshold: int = DEFAULT_THRESHOLD) -> str:
    """The footnote every suppressed table carries.

    Examples
    --------
    >>> footnote().startswith("<11: suppressed")
    True
    """
    t = int(threshold)
    return (
        f"{marker(t)}: suppressed. Counts of 1-{t - 1} are not shown, nor the rates, "
        f"percentages, means and intervals built on them; further cells are suppressed "
        f"so that a hidden count cannot be worked out from row or column totals."
    )


def _check_threshold(threshold) -> int:
    try:
        t = int(threshold)
    except (TypeError, ValueError):
        raise IopstatsError(
            "suppression threshold must be a whole number", value=threshold, fix="use e.g. threshold=11"
        ) from None
    if t < 1 or t != threshold:
        raise IopstatsError(
            "suppression threshold must be a whole number of at least 1",
            value=threshold,
            fix="use threshold=11 (CMS cell-size rule) or larger",
        )
    return t


# --------------------------------------------------------------------------- core


@dataclass(frozen=True)
class Suppression:
    """Which cells of a two-way count table (and its totals) are suppressed.

    Attributes
    ----------
    cells : DataFrame of bool
        Same shape and labels as the input table.
    row_totals : Series of bool or None
        Suppression of the row totals (``None`` when rows are not relations).
    col_totals : Series of bool or None
        Suppression of the column totals (``None`` when columns are not relations).
    grand_total : bool
        Suppression of the grand total (when both kinds of totals exist).
    """

    cells: pd.DataFrame
    row_totals: pd.Series | None
    col_totals: pd.Series | None
    grand_total: bool


def _lines(R: int, C: int, rows: bool, cols: bool) -> list[list[tuple[int, int]]]:
    """Line relations of the extended table, each a list of cells (last = total)."""
    Re = R + (1 if cols else 0)  # a totals row exists when columns sum to totals
    Ce = C + (1 if rows else 0)
    lines = []
    if rows:
        for i in range(Re):
            lines.append([(i, j) for j in range(Ce)])
    if cols:
        for j in range(Ce):
            lines.append([(i, j) for i in range(Re)])
    return lines


def feasible_intervals(
    extended: np.ndarray, hidden: np.ndarray, lines: Sequence[Sequence[tuple[int, int]]]
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest value each hidden cell can take given the published ones.

    ``extended`` holds the table with its totals, ``hidden`` marks suppressed
    cells and each line is a list of cells whose last cell is the sum of the
    others. Non-negativity is assumed. Returns arrays ``lo, hi`` shaped like
    ``extended`` (NaN for published cells; ``hi`` may be ``inf``).

    Examples
    --------
    >>> ext = np.array([[3, 20, 23], [5, 30, 35], [8, 50, 58]])
    >>> hid = np.zeros_like(ext, dtype=bool); hid[0, 0] = hid[1, 0] = True
    >>> lo, hi = feasible_intervals(ext, hid, _lines(2, 2, True, True))
    >>> lo[0, 0], hi[0, 0]   # column total and row total pin it down
    (np.float64(3.0), np.float64(3.0))
    """
    ext = np.asarray(extended, dtype=float)
    hidden = np.asarray(hidden, dtype=bool)
    lo = np.full(ext.shape, np.nan)
    hi = np.full(ext.shape, np.nan)
    idx = {cell: k for k, cell in enumerate(zip(*np.nonzero(hidden)))}
    if not idx:
        return lo, hi
    n = len(idx)
    A, b = [], []
    for line in lines:
        *members, total = line
        row = np.zeros(n)
        rhs = 0.0
        for cell in members:
            if cell in idx:
                row[idx[cell]] += 1.0
            else:
                rhs -= ext[cell]
        if total in idx:
            row[idx[total]] -= 1.0
        else:
            rhs += ext[total]
        if np.any(row != 0):
            A.append(row)
            b.append(rhs)
    A_eq = np.array(A) if A else None
    b_eq = np.array(b) if b else None
    for cell, k in idx.items():
        c = np.zeros(n)
        c[k] = 1.0
        r_min = linprog(c, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        r_max = linprog(-c, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        lo[cell] = r_min.fun if r_min.status == 0 else np.nan
        hi[cell] = -r_max.fun if r_max.status == 0 else np.inf
    return lo, hi


def _pick(ext, hidden, candidates, lines_of):
    """Best complementary cell among unsuppressed ``candidates`` (or None)."""
    free = [c for c in candidates if not hidden[c]]
    if not free:
        return None
    R, C = ext.shape

    def key(cell):
        i, j = cell
        is_total = i == R - 1 and lines_of.get("has_total_row") or j == C - 1 and lines_of.get("has_total_col")
        others = sum(1 for line in lines_of[cell] if any(hidden[x] for x in line))
        return (bool(is_total), ext[cell] == 0, -others, ext[cell], i, j)

    return min(free, key=key)


def suppress_matrix(
    counts: pd.DataFrame | np.ndarray,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    rows: bool = True,
    cols: bool = True,
    primary: pd.DataFrame | np.ndarray | None = None,
    row_totals: Sequence[float] | None = None,
) -> Suppression:
    """Primary and complementary suppression of a two-way count table.

    Parameters
    ----------
    counts : DataFrame or 2-d array of non-negative whole numbers
        Interior cells.
    threshold : int
        Counts from 1 to ``threshold - 1`` are suppressed.
    rows, cols : bool
        Whether row totals / column totals are public relations. Both by
        default (the conservative reading).
    primary : bool array, optional
        Extra cells to suppress from the start (besides small counts).
    row_totals : sequence, optional
        Row totals when they are not the sum of the cells shown (not used for
        the relation itself; the cells must add up to them).

    Returns
    -------
    Suppression

    Examples
    --------
    >>> t = pd.DataFrame({"yes": [3, 40, 25], "no": [30, 35, 28]}, index=["a", "b", "c"])
    >>> s = suppress_matrix(t)
    >>> s.cells
         yes     no
    a   True   True
    b  False  False
    c   True   True
    """
    t = _check_threshold(threshold)
    labels = None
    if isinstance(counts, pd.DataFrame):
        labels = (counts.index, counts.columns)
        values = counts.to_numpy()
    else:
        values = np.asarray(counts)
    if values.ndim != 2:
        raise IopstatsError("suppress_matrix needs a two-way table", fix="pass a DataFrame of counts")
    try:
        v = values.astype(float)
    except (TypeError, ValueError):
        raise IopstatsError("counts must be numbers", fix="pass a table of whole-number counts") from None
    if np.isnan(v).any() or (v < 0).any() or (np.round(v) != v).any():
        raise IopstatsError(
            "counts must be non-negative whole numbers without missing values",
            fix="fill missing counts with 0 and pass counts, not rates",
        )
    R, C = v.shape
    ext = np.zeros((R + (1 if cols else 0), C + (1 if rows else 0)))
    ext[:R, :C] = v
    if rows:
        ext[:R, C] = v.sum(axis=1)
    if cols:
        ext[R, :C] = v.sum(axis=0)
    if rows and cols:
        ext[R, C] = v.sum()
    hidden = (ext >= 1) & (ext < t)
    if primary is not None:
        p = np.asarray(primary, dtype=bool)
        if p.shape != (R, C):
            raise IopstatsError("primary mask must have the shape of the table")
        hidden[:R, :C] |= p
    lines = _lines(R, C, rows, cols)
    lines_of: dict = {"has_total_row": cols, "has_total_col": rows}
    for line in lines:
        for cell in line:
            lines_of.setdefault(cell, []).append(line)

    def rules_pass() -> bool:
        changed = False
        for line in lines:
            hid = [c for c in line if hidden[c]]
            if not hid:
                continue
            *members, total = line
            need = len(hid) == 1
            if not need and not hidden[total]:
                need = sum(ext[c] for c in members if hidden[c]) < t
            if need:
                cell = _pick(ext, hidden, members, lines_of) or _pick(ext, hidden, [total], lines_of)
                if cell is not None:
                    hidden[cell] = True
                    changed = True
        return changed

    for _ in range(ext.size + 1):
        while rules_pass():
            pass
        lo, hi = feasible_intervals(ext, hidden, lines)
        exposed = [c for c in zip(*np.nonzero(hidden)) if hi[c] - lo[c] < 1 - 1e-9]
        if not exposed:
            break
        cell = exposed[0]
        cands = [x for line in lines_of.get(cell, []) for x in line]
        pick = _pick(ext, hidden, cands, lines_of)
        if pick is None:  # everything around it is hidden already; widen anywhere
            pick = _pick(ext, hidden, [c for c in np.ndindex(ext.shape)], lines_of)
        if pick is None:
            break
        hidden[pick] = True
    cells = hidden[:R, :C]
    rt = hidden[:R, C] if rows else None
    ct = hidden[R, :C] if cols else None
    gt = bool(hidden[R, C]) if rows and cols else False
    if labels is not None:
        cells_df = pd.DataFrame(cells, index=labels[0], columns=labels[1])
        rt_s = None if rt is None else pd.Series(rt, index=labels[0])
        ct_s = None if ct is None else pd.Series(ct, index=labels[1])
    else:
        cells_df = pd.DataFrame(cells)
        rt_s = None if rt is None else pd.Series(rt)
        ct_s = None if ct is None else pd.Series(ct)
    return Suppression(cells=cells_df, row_totals=rt_s, col_totals=ct_s, grand_total=gt)


# --------------------------------------------------------------------------- tidy tables


def _as_counts(table: pd.DataFrame, col: str) -> np.ndarray:
    if col not in table.columns:
        raise IopstatsError(
            "count column not found", column=col, fix=f"use one of {list(table.columns)}"
        )
    s = pd.to_numeric(table[col], errors="coerce")
    if s.isna().any():
        raise IopstatsError(
            "count column has missing or non-numeric values",
            column=col,
            fix="suppress counts before formatting them, and fill empty cells with 0",
        )
    return s.to_numpy(dtype=float)


def suppression_mask(
    table: pd.DataFrame,
    count_cols: Sequence[str],
    threshold: int = DEFAULT_THRESHOLD,
    *,
    total: str | None = None,
    derived: Mapping[str, Iterable[str]] | str | None = "row",
) -> pd.DataFrame:
    """Boolean mask (same shape as ``table``) of the cells to suppress.

    See :func:`suppress_counts` for the parameters.

    Examples
    --------
    >>> t = pd.DataFrame({"level": ["iop", "op", "res"], "n": [50, 80, 30],
    ...                   "events": [48, 40, 12], "rate": [0.96, 0.5, 0.4]})
    >>> suppression_mask(t, ["events"], total="n")["rate"].tolist()
    [True, False, True]
    """
    t = _check_threshold(threshold)
    count_cols = list(count_cols)
    if not count_cols:
        raise IopstatsError("no count columns given", fix="name the count columns, e.g. ['n', 'events']")
    mats = [_as_counts(table, c) for c in count_cols]
    names = list(count_cols)
    if total is not None:
        tot = _as_counts(table, total)
        rest = tot - np.sum(mats, axis=0)
        if (rest < 0).any():
            raise IopstatsError(
                "counts add up to more than the total",
                column=total,
                fix=f"check that {count_cols} are parts of {total!r}",
            )
        mats.append(rest)
        names.append("__rest__")
    M = np.column_stack(mats) if len(table) else np.zeros((0, len(mats)))
    mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    if len(table) == 0:
        return mask
    multi = M.shape[1] > 1
    s = suppress_matrix(M, t, rows=multi, cols=True)
    cells = s.cells.to_numpy()
    for k, name in enumerate(count_cols):
        mask[name] = cells[:, k]
    if total is not None:
        # the total is the row total of the table (parts + rest)
        mask[total] = s.row_totals.to_numpy() if s.row_totals is not None else cells[:, 0]
    any_row = mask[list(count_cols) + ([total] if total else [])].any(axis=1)
    if derived == "row":
        exclude = set(count_cols) | ({total} if total else set())
        for col in table.columns:
            if col in exclude:
                continue
            if pd.api.types.is_numeric_dtype(table[col]) and not pd.api.types.is_bool_dtype(table[col]):
                mask[col] = any_row
    elif derived:
        for col, bases in dict(derived).items():
            if col not in table.columns:
                raise IopstatsError("derived column not found", column=col, fix="name columns of the table")
            bases = [bases] if isinstance(bases, str) else list(bases)
            mask[col] = mask[bases].any(axis=1) if bases else any_row
    return mask


def suppress_counts(
    table: pd.DataFrame,
    count_cols: Sequence[str],
    threshold: int = DEFAULT_THRESHOLD,
    *,
    total: str | None = None,
    derived: Mapping[str, Iterable[str]] | str | None = "row",
    marker_text: str | None = "default",
) -> pd.DataFrame:
    """Suppress small counts (and what is derived from them) in a tidy table.

    Each row of ``table`` is a row of a two-way table whose columns are the
    ``count_cols`` (plus ``total - sum(count_cols)`` when ``total`` is given,
    e.g. non-events beside events). Row and column totals are assumed public.

    Parameters
    ----------
    table : DataFrame
        Not modified.
    count_cols : sequence of str
        Count columns (e.g. ``["events"]``, or ``["n"]`` for group sizes).
    threshold : int, default 11
        Counts 1 to ``threshold - 1`` are suppressed; zero may show.
    total : str, optional
        Column holding each row's total (e.g. ``"n"`` for ``events`` of ``n``).
    derived : "row", mapping or None
        ``"row"`` (default): every other numeric column (rates, intervals,
        means, effects) of a row with a suppressed count is suppressed. A
        mapping ``{column: [count columns]}`` names the dependencies instead.
    marker_text : str or None
        Text placed in suppressed cells (default ``"<threshold>"``). ``None``
        puts missing values instead (for figures), keeping numeric dtypes.

    Returns
    -------
    DataFrame
        A copy; with a marker the affected columns hold text.

    Examples
    --------
    >>> t = pd.DataFrame({"level": ["iop", "op", "res"], "n": [50, 80, 30],
    ...                   "events": [4, 40, 12], "rate": [0.08, 0.5, 0.4]})
    >>> suppress_counts(t, ["events"], total="n")
      level   n events rate
    0   iop  50    <11  <11
    1    op  80     40  0.5
    2   res  30    <11  <11
    """
    t = _check_threshold(threshold)
    mask = suppression_mask(table, count_cols, t, total=total, derived=derived)
    text = marker(t) if marker_text == "default" else marker_text
    out = table.copy()
    for col in out.columns:
        m = mask[col].to_numpy()
        if not m.any():
            continue
        if text is None:
            s = pd.to_numeric(out[col], errors="coerce").astype("float64")
            s[m] = np.nan
            out[col] = s
        else:
            s = out[col].astype(object)
            s[m] = text
            out[col] = s
    return out


def suppress_at_risk(
    at_risk: pd.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    group: str = "group",
    time: str = "time",
    count: str = "n_at_risk",
) -> pd.DataFrame:
    """Suppress a Kaplan-Meier number-at-risk table (tidy: group, time, count).

    Numbers at risk 1 to ``threshold - 1`` are suppressed; with more than one
    group the numbers at risk at each time are treated as a column of a
    groups x times table whose per-time totals are public (a pooled curve),
    so complementary suppression applies down each time point.

    Returns the same rows with ``count`` as text (marker where suppressed).

    Examples
    --------
    >>> ar = pd.DataFrame({"group": ["a", "a", "b", "b"], "time": [0, 30, 0, 30],
    ...                    "n_at_risk": [40, 5, 60, 30]})
    >>> suppress_at_risk(ar)["n_at_risk"].tolist()
    ['40', '<11', '60', '<11']
    """
    t = _check_threshold(threshold)
    for c in (group, time, count):
        if c not in at_risk.columns:
            raise IopstatsError("column not found in the at-risk table", column=c)
    wide = at_risk.pivot_table(index=group, columns=time, values=count, aggfunc="sum", observed=True).fillna(0)
    s = suppress_matrix(wide, t, rows=False, cols=len(wide) > 1)
    out = at_risk.copy()
    vals = []
    for g, tm, n in zip(at_risk[group], at_risk[time], at_risk[count]):
        hidden = bool(s.cells.loc[g, tm]) or (1 <= n < t)
        vals.append(marker(t) if hidden else f"{int(n):,}")
    out[count] = vals
    return out


# --------------------------------------------------------------------------- identifiers

#: kind -> regex for text that must never reach published output.
IDENTIFIER_PATTERNS: dict[str, str] = {
    "ssn": r"(?<!\d)\d{3}[- ]\d{2}[- ]\d{4}(?!\d)",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "phone": r"(?<![\d-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\d-])",
    "url": r"\b(?:https?://|www\.)\S+",
    "ip_address": r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])",
    "exact_date": r"(?<!\d)(?:(?:19|20)\d{2}-[01]\d-[0-3]\d|[01]?\d/[0-3]?\d/(?:19|20)\d{2})(?!\d)",
    "long_number": r"(?<![\d.,])\d{7,}(?![\d.,])",
}
_ID_RX = {k: re.compile(v) for k, v in IDENTIFIER_PATTERNS.items()}

#: Column names that are row-level identifiers or exact dates and never publish.
FORBIDDEN_COLUMNS = frozenset(
    {
        "client_id",
        "episode_id",
        "admit_date",
        "discharge_date",
        "followup_date",
        "session_date",
        "row",
        "value",
    }
)


def find_identifiers(text: str, kinds: Iterable[str] | None = None) -> dict[str, int]:
    """Count identifier-looking substrings in ``text`` by kind (values not returned).

    Examples
    --------
    >>> find_identifiers("call 555-123-4567 or mail a.b@example.org; SSN 123-45-6789")
    {'ssn': 1, 'email': 1, 'phone': 1}
    """
    found = {}
    for kind, rx in _ID_RX.items():
        if kinds is not None and kind not in kinds:
            continue
        n = len(rx.findall(str(text)))
        if n:
            found[kind] = n
    return found


def redact_identifiers(table: pd.DataFrame, replacement: str = "[redacted]") -> pd.DataFrame:
    """Copy of ``table`` with identifier-looking text cells (and labels) replaced.

    Examples
    --------
    >>> t = pd.DataFrame({"site": ["North", "jo@x.org"], "n": [12, 30]})
    >>> redact_identifiers(t)["site"].tolist()
    ['North', '[redacted]']
    """

    def clean(v):
        if isinstance(v, str) and find_identifiers(v):
            return replacement
        return v

    out = table.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(object).map(clean)
    if out.index.dtype == object:
        out.index = pd.Index([clean(v) for v in out.index], name=out.index.name)
    out.columns = pd.Index([clean(c) for c in out.columns])
    return out


def check_publishable(table: pd.DataFrame) -> None:
    """Raise if a table holds row-level identifiers or exact dates.

    Examples
    --------
    >>> check_publishable(pd.DataFrame({"level": ["iop"], "n": [20]}))
    >>> check_publishable(pd.DataFrame({"episode_id": ["e1"]}))
    Traceback (most recent call last):
    ...
    iopstats.exceptions.IopstatsError: table holds a row-level identifier or exact-date column (column 'episode_id'). Fix: publish aggregates only: drop the column or group by a period label
    """
    for col in table.columns:
        if str(col) in FORBIDDEN_COLUMNS or pd.api.types.is_datetime64_any_dtype(table[col]):
            raise IopstatsError(
                "table holds a row-level identifier or exact-date column",
                column=str(col),
                fix="publish aggregates only: drop the column or group by a period label",
            )


_COUNT_WORDS = (r"(?:rows?|episodes?|clients?|records?|discharges?|patients?|people|persons?|responders?|"
                r"non-responders?|admissions?|participants?|cases?|events?)")


def suppress_text_counts(text: str, threshold: int = DEFAULT_THRESHOLD) -> str:
    """Replace small counts of people or records in free text (remarks) by the marker.

    Examples
    --------
    >>> suppress_text_counts("Excluded: 3 rows with a missing outcome and 0 with a missing level; 4 comparisons.")
    'Excluded: <11 rows with a missing outcome and 0 with a missing level; 4 comparisons.'
    >>> suppress_text_counts("standardized to all 498 rows (7 episodes left out)")
    'standardized to all 498 rows (<11 episodes left out)'
    """
    t = _check_threshold(threshold)

    def repl(m):
        n = int(m.group(1).replace(",", ""))
        return f"{marker(t)}{m.group(2)}" if 1 <= n < t else m.group(0)

    return re.sub(rf"(?<![\d.,])(\d[\d,]*)(\s+(?:\w+\s+)?{_COUNT_WORDS})\b", repl, str(text))
