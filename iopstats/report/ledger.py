"""One protected description of every count a run publishes.

Each published count is registered with the rows it counts (a boolean mask
over one *universe*: the input rows of a table). The rows fall into *finest
cells* (atoms): rows that every registered count treats alike. Every
published count is then a sum of finest cells, and the whole run is audited
jointly: an attacker who knows every published number, how they relate
(sums of the same cells) and that counts are non-negative whole numbers must
not be able to pin any count of 1 to ``threshold - 1``.

A quantity is **disclosed** when its feasible range given everything
published lies inside ``[1, threshold - 1]``. The quantities audited are
every finest cell, every registered count, every *implied* count (e.g. the
exits of an interval that are not events) and every difference of two nested
registered counts (e.g. non-events = n - events).

:meth:`Ledger.protect` hides every count of 1 to ``threshold - 1`` (primary
suppression), then hides further counts (detail before headline counts, smallest first, cohort
totals last) until the linear-programming audit finds nothing
disclosed. Tables, sentences, figures and curves then read each count
through :meth:`Ledger.shown` so they publish exactly what was audited.

Examples
--------
>>> import numpy as np
>>> led = Ledger(60)
>>> a = np.zeros(60, bool); a[:25] = True
>>> ev = np.zeros(60, bool); ev[:20] = True      # 20 events, 5 non-events in a
>>> led.count("a.n", a); led.count("a.events", ev); led.count("all", np.ones(60, bool))
25
20
60
>>> led.protect()
>>> led.shown("a.events") is None or led.shown("a.n") is None   # 5 = 25 - 20 must not be pinned
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from iopstats.exceptions import IopstatsError

__all__ = ["Ledger", "Quantity"]

_EPS = 1e-7


@dataclass(frozen=True)
class Quantity:
    """An audited count: its name, the finest cells it sums and its true value."""

    name: str
    cells: np.ndarray  # 0/1 over atoms
    value: int


class Ledger:
    """Registry of the counts a run publishes over one universe of rows (see the module docstring)."""

    def __init__(self, n_units: int, threshold: int = 11, name: str = "episodes"):
        if int(threshold) != threshold or threshold < 1:
            raise IopstatsError("suppression threshold must be a whole number of at least 1", value=threshold)
        self.n_units = int(n_units)
        self.threshold = int(threshold)
        self.name = name
        self._masks: dict[str, np.ndarray] = {}
        self._priority: dict[str, int] = {}
        self._implied: dict[str, np.ndarray] = {}
        self.hidden: set[str] = set()
        self._protected = False

    # ------------------------------------------------------------------ registration
    def _mask(self, mask) -> np.ndarray:
        m = np.asarray(mask)
        if m.dtype != bool:
            m = np.asarray(pd_fill(m), dtype=bool)
        if m.shape != (self.n_units,):
            raise IopstatsError("a count's mask must cover the universe", value=m.shape,
                                fix=f"pass a boolean array of length {self.n_units}")
        return m

    def count(self, key: str, mask, *, priority: int = 1) -> int:
        """Register a published count (idempotent for the same key and rows); returns its true value.

        When a further count must be hidden, the one with the highest ``priority``
        goes first (2: detail such as subgroups, intervals, transitions; 1: headline
        counts; 0: cohort totals, hidden only as a last resort), the smallest first.
        """
        m = self._mask(mask)
        if key in self._masks:
            if not np.array_equal(self._masks[key], m):
                raise IopstatsError("two different counts registered under one name", value=key)
            return int(m.sum())
        if self._protected:
            raise IopstatsError("count registered after protection", value=key,
                                fix="register every count before Ledger.protect()")
        self._masks[key] = m
        self._priority[key] = int(priority)
        return int(m.sum())

    def implied(self, key: str, mask) -> None:
        """Register a count that is not printed but follows from printed ones (audited, never shown)."""
        self._implied[key] = self._mask(mask)

    def value(self, key: str) -> int:
        """True value of a registered count (never publish it without :meth:`shown`)."""
        return int(self._masks[key].sum())

    @property
    def keys(self) -> list[str]:
        return list(self._masks)

    def shown(self, key: str) -> int | None:
        """The count as published: its value, or ``None`` when hidden."""
        if not self._protected:
            raise IopstatsError("ledger not protected yet", fix="call Ledger.protect() before publishing")
        if key not in self._masks:
            raise IopstatsError("count not registered with the ledger", value=key,
                                fix="register every published count with Ledger.count()")
        return None if key in self.hidden else self.value(key)

    def primary(self, key: str) -> bool:
        """Whether a count is hidden because it is itself 1 to ``threshold - 1``."""
        return 1 <= self.value(key) < self.threshold

    def is_hidden(self, *keys: str) -> bool:
        return any(self.shown(k) is None for k in keys)

    # ------------------------------------------------------------------ finest cells
    def atoms(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(A, w, keys)``: ``A[k, a]`` = 1 when count ``keys[k]`` includes finest cell ``a`` of size ``w[a]``."""
        keys = list(self._masks) + [f"__implied__{k}" for k in self._implied]
        cols = list(self._masks.values()) + list(self._implied.values())
        if not cols:
            return np.zeros((0, 1), dtype=np.int8), np.array([self.n_units]), []
        S = np.column_stack(cols)
        packed = np.packbits(S, axis=1)
        uniq, inverse, w = np.unique(packed, axis=0, return_inverse=True, return_counts=True)
        A = np.unpackbits(uniq, axis=1, count=S.shape[1]).T.astype(np.int8)
        return A, w.astype(int), keys

    def quantities(self) -> tuple[list[Quantity], np.ndarray, np.ndarray, list[str]]:
        """The audited quantities of 1 to ``threshold - 1`` plus ``(A, w, keys)``."""
        A, w, keys = self.atoms()
        t = self.threshold
        qs: list[Quantity] = []
        for a in np.nonzero((w >= 1) & (w < t))[0]:
            v = np.zeros(len(w), dtype=np.int8)
            v[a] = 1
            qs.append(Quantity(f"cell {a}", v, int(w[a])))
        vals = A.astype(np.int64) @ w
        for k, key in enumerate(keys):
            if 1 <= vals[k] < t:
                qs.append(Quantity(key, A[k].copy(), int(vals[k])))
        pub = [k for k in range(len(self._masks))]
        if pub:
            Af = A[pub].astype(np.float32)
            outside = Af @ (1 - Af).T  # outside[i, j] = cells of i not in j
            for i, j in zip(*np.nonzero(outside == 0)):
                if i == j:
                    continue
                d = A[j] - A[i]
                dv = int(vals[j] - vals[i])
                if 1 <= dv < t and d.min() >= 0:
                    qs.append(Quantity(f"{keys[j]} minus {keys[i]}", d.astype(np.int8), dv))
        seen, unique = set(), []
        for q in qs:
            sig = q.cells.tobytes()
            if sig not in seen:
                seen.add(sig)
                unique.append(q)
        return unique, A, w, keys

    # ------------------------------------------------------------------ audit
    def disclosed(self, hidden: Iterable[str] | None = None) -> list[Quantity]:
        """Quantities whose LP range given the published counts lies inside ``[1, threshold - 1]``.

        The LP relaxation's range contains the integer range, so this finds
        every disclosure an integer attacker could make (and may flag more).
        """
        hidden = set(self.hidden if hidden is None else hidden)
        qs, A, w, keys = self.quantities()
        return _audit(qs, A, w, self._published_rows(keys, hidden), self.threshold)

    def _published_rows(self, keys, hidden) -> list[int]:
        return [k for k, key in enumerate(keys[: len(self._masks)]) if key not in hidden]

    def protect(self, max_rounds: int = 500) -> None:
        """Primary suppression, then joint complementary suppression until nothing is disclosed."""
        t = self.threshold
        self.hidden = {k for k, m in self._masks.items() if 1 <= m.sum() < t}
        qs, A, w, keys = self.quantities()
        pub_keys = list(self._masks)
        vals = A[: len(pub_keys)].astype(np.int64) @ w
        same: dict[bytes, list[str]] = {}  # counts of the same rows are one count: hidden together
        for k, key in enumerate(pub_keys):
            same.setdefault(A[k].tobytes(), []).append(key)
        twins = {key: group for group in same.values() for key in group}
        Af = A[: len(pub_keys)].astype(np.float32)
        inside = (Af @ (1 - Af).T) == 0  # inside[i, j]: count i lies within count j
        todo = qs
        for _ in range(max_rounds):
            todo = _audit(todo, A, w, self._published_rows(keys, self.hidden), t)
            if not todo:
                break
            for q in todo:
                pick = self._complement(q, A, vals, pub_keys, twins, inside)
                if pick is not None:
                    self.hidden.update(twins[pub_keys[pick]])
        else:  # pragma: no cover - hide everything rather than publish a disclosure
            self.hidden = set(pub_keys)
        self._protected = True

    def _complement(self, q, A, vals, pub_keys, twins, inside):
        """The count to hide next for a disclosed quantity ``q`` (index, or None).

        Every shown count holding all of ``q``'s cells is a sum that pins it; walking
        them from the smallest, the first without another hidden part gets one: its
        smallest part apart from ``q`` (detail before headline counts). When every
        such sum already has one, the smallest count touching ``q`` is hidden.
        """
        P = A[: len(pub_keys)].astype(np.int64)
        over = P @ q.cells
        holds = over == int(q.cells.sum())
        shown = np.array([k not in self.hidden for k in pub_keys])
        prio = np.array([max(self._priority[x] for x in twins[k]) for k in pub_keys])
        for par in sorted(np.nonzero(holds & shown)[0], key=lambda k: vals[k]):
            parts = inside[:, par] & (over == 0) & (np.arange(len(pub_keys)) != par)
            if (parts & ~shown & (vals > 0)).any():
                continue  # this sum already has another hidden part
            cand = np.nonzero(parts & shown & (vals > 0))[0]
            if len(cand):
                return int(min(cand, key=lambda k: (-prio[k], vals[k], k)))
        touch = np.nonzero((over > 0) & shown & (vals > 0))[0]
        if not len(touch):
            return None
        return int(min(touch, key=lambda k: (-prio[k], vals[k], k)))

    def share_hidden(self, keys: Iterable[str] | None = None) -> float:
        """Share of the given (default: all) registered counts that are hidden."""
        keys = list(self._masks if keys is None else keys)
        return float(np.mean([k in self.hidden for k in keys])) if keys else 0.0


def pd_fill(m):
    """Missing values in a mask count as False (a row not counted)."""
    import pandas as pd

    return pd.Series(m).fillna(False).astype(bool).to_numpy()


def _redundant(A: np.ndarray, rows: list[int]) -> set[int]:
    """Published rows equal to a disjoint union of other published rows (they add no constraint)."""
    out: set[int] = set()
    if len(rows) < 2:
        return out
    Af = A[rows].astype(np.float32)
    size = Af.sum(axis=1)
    subset = (Af @ (1 - Af).T) == 0  # subset[i, j]: row i lies inside row j
    for j in np.argsort(-size, kind="stable"):
        cand = [i for i in np.nonzero(subset[:, j])[0] if i != j and rows[i] not in out and size[i] > 0
                and size[i] < size[j]]
        cover = np.zeros(A.shape[1], dtype=bool)
        for i in sorted(cand, key=lambda i: -size[i]):  # greedy: largest first, disjoint
            m = Af[i] > 0
            if not (m & cover).any():
                cover |= m
        if cand and np.array_equal(cover, Af[j] > 0):
            out.add(rows[j])
    return out


def _audit(qs: list[Quantity], A: np.ndarray, w: np.ndarray, rows: list[int], t: int) -> list[Quantity]:
    """Disclosed quantities, solving one LP problem per connected block of finest cells."""
    if not qs:
        return []
    red = _redundant(A, rows)
    rows = [r for r in rows if r not in red]
    if not rows:
        return []
    from scipy.sparse.csgraph import connected_components

    n_atoms = A.shape[1]
    B = sparse.csr_matrix(A[rows].astype(float))
    adj = sparse.bmat([[None, B], [B.T, None]]).tocsr()
    _, lab = connected_components(adj, directed=False)
    atom_lab = lab[len(rows):]
    row_lab = lab[: len(rows)]
    groups: dict[tuple, list[Quantity]] = {}
    for q in qs:
        comps = tuple(sorted(set(atom_lab[q.cells > 0])))
        groups.setdefault(comps, []).append(q)
    out = []
    for comps, group in groups.items():
        atoms = np.nonzero(np.isin(atom_lab, comps))[0]
        rr = [r for r, lb in zip(rows, row_lab) if lb in comps]
        if not rr:
            continue  # no published count touches these cells: they can be anything
        sub = A[np.ix_(rr, atoms)].astype(float)
        A_eq = sparse.csr_matrix(sub)
        b_eq = (A[rr].astype(np.int64) @ w).astype(float)
        sq = [Quantity(q.name, q.cells[atoms], q.value) for q in group]
        hit = {id(x) for x in _pinned(sq, A_eq, b_eq, len(atoms), t)}
        out.extend(q for q, x in zip(group, sq) if id(x) in hit)
    return out


def _lp(c, A_eq, b_eq, n):
    r = linprog(c, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    return r


def _pinned(qs: list[Quantity], A_eq, b_eq, n_atoms: int, t: int) -> list[Quantity]:
    """The quantities whose LP range lies inside [1, t - 1]."""
    if not qs:
        return []
    if A_eq is None:
        return []  # nothing published: every count can be 0
    rest = list(qs)
    # sweep: one LP minimizing the sum of the remaining quantities proves many can be 0
    while rest:
        c = np.sum([q.cells for q in rest], axis=0).astype(float)
        r = _lp(c, A_eq, b_eq, n_atoms)
        if r.status != 0:
            break
        x = r.x
        zero = [q for q in rest if q.cells @ x < _EPS]
        if not zero:
            break
        keep = {id(q) for q in zero}
        rest = [q for q in rest if id(q) not in keep]
    # sweep: one LP maximizing the sum of the rest proves many can reach the threshold
    while rest:
        c = -np.sum([q.cells for q in rest], axis=0).astype(float)
        r = _lp(c, A_eq, b_eq, n_atoms)
        if r.status != 0:
            break
        big = {id(q) for q in rest if q.cells @ r.x >= t - _EPS}
        if not big:
            break
        rest = [q for q in rest if id(q) not in big]
    out = []
    for q in rest:
        c = q.cells.astype(float)
        lo = _lp(c, A_eq, b_eq, n_atoms)
        if lo.status == 0 and lo.fun < _EPS:
            continue
        hi = _lp(-c, A_eq, b_eq, n_atoms)
        top = -hi.fun if hi.status == 0 else np.inf
        if top < t - _EPS:
            out.append(q)
    return out
