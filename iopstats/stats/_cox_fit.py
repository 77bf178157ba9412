"""Numerical core of the Cox model: partial likelihood, score and information by risk-set sums.

Data arrive as *units*: rows, or cells of rows sharing (stratum, covariate pattern,
[cluster], time, event) with summed weights. Event times are *slots* (stratum, time),
sorted by stratum then time. For each slot j the risk-set sums are

    S0_j = sum_{T_i >= t_j} w_i exp(eta_i),   S1_j = sum w_i exp(eta_i) x_i,

obtained from one ``np.bincount`` per covariate (categorical covariates: over
(slot, level) codes) and a reverse cumulative sum within the stratum. Ties are
handled as R's ``coxph`` does (Efron: the k-th of n tied deaths sees the tied
deaths down-weighted by k/n; Breslow: no correction).

The information matrix never forms S2_j = sum w exp(eta) x x' per slot. Its
second-moment part is

    sum_j [a0_j S2_j - a1_j D2_j] = X' diag(w_i exp(eta_i) (H(T_i) - delta_i a1_j(i))) X,

with a0_j, a1_j the per-slot Efron weights (a1 = 0 for Breslow), H the cumulative sum
of a0 over slots up to the unit's time and D2_j the same sum over the deaths at slot
j: one weighted cross product, done per covariate pattern (for indicators this is a
contingency table from ``np.bincount``). The first-moment part needs only the J x k
matrices S1 and D1.

Tie counting: with frequency weights (``tie_count="weight"``) a unit of weight w is
w tied rows, so the fit on a collapsed table equals the fit on the expanded rows.
With case weights (``tie_count="rows"``, used for non-integer weights) the Efron
correction counts rows, as R's ``coxph(weights=)`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from iopstats.exceptions import IopstatsError

__all__ = ["CoxData", "State", "evaluate", "newton", "score_residual_crossprod", "information"]

_CHUNK = 1 << 18


@dataclass(frozen=True)
class CoxData:
    """Units and their coding, ready for :func:`evaluate`.

    Attributes (all arrays over units unless noted): ``slot`` (int), ``dead``
    (bool), ``w`` (summed weights), ``w2`` (summed squared weights), ``nrows``
    (rows in the unit), ``pattern`` (int into ``Xp``), ``cluster`` (int or None).
    ``Xp`` (n_patterns x k): pattern rows with numeric columns centred.
    ``blocks``: per covariate, ("cat", codes per pattern, n_levels, column slice)
    or ("num", None, 0, column slice). ``slot_start`` / ``slot_next`` (per slot):
    first slot of the slot's stratum and first slot of the next stratum.
    """

    slot: np.ndarray
    dead: np.ndarray
    w: np.ndarray
    w2: np.ndarray
    nrows: np.ndarray
    pattern: np.ndarray
    cluster: np.ndarray | None
    n_clusters: int
    Xp: np.ndarray
    blocks: tuple
    n_slots: int
    slot_start: np.ndarray
    slot_next: np.ndarray
    efron: bool
    tie_count: str
    unit_codes: tuple | None = field(default=None, repr=False)
    # derived once in __post_init__
    sd: np.ndarray = field(init=False, repr=False)
    unit_idx: tuple = field(init=False, repr=False)
    dead_wx: np.ndarray = field(init=False, repr=False)
    dead_wp: np.ndarray = field(init=False, repr=False)
    ntie: np.ndarray = field(init=False, repr=False)
    deadwt: np.ndarray = field(init=False, repr=False)
    fslot: np.ndarray = field(init=False, repr=False)
    ffrac: np.ndarray = field(init=False, repr=False)
    fslots_with: np.ndarray = field(init=False, repr=False)
    fstarts: np.ndarray = field(init=False, repr=False)
    pair_idx: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        J = self.n_slots
        P = self.Xp.shape[0]
        set_ = object.__setattr__
        sd = self.slot * 2
        sd += self.dead
        set_(self, "sd", sd)
        idx = []
        for i, (kind, pcodes, L, _sl) in enumerate(self.blocks):
            if kind == "cat":
                uc = self.unit_codes[i] if self.unit_codes is not None else pcodes[self.pattern]
                key = uc * (2 * J)  # level-major: (level, slot, dead)
                key += sd
                idx.append(key)
            else:
                idx.append(None)
        set_(self, "unit_idx", tuple(idx))
        wd = self.w * self.dead  # no boolean-mask copies of long arrays
        dead_wp = np.bincount(self.pattern, wd, minlength=P)
        set_(self, "dead_wp", dead_wp)
        set_(self, "dead_wx", dead_wp @ self.Xp)
        deadwt = np.bincount(self.slot, wd, minlength=J)
        if self.tie_count == "weight":
            ntie = np.rint(deadwt)
        else:
            ntie = np.bincount(self.slot, self.nrows * self.dead, minlength=J)
        if not self.efron:
            ntie = (ntie > 0).astype(float)
        set_(self, "deadwt", deadwt)
        set_(self, "ntie", ntie)
        nt = ntie.astype(np.int64)
        if nt.sum() > 50_000_000:
            raise IopstatsError(
                f"Efron's tie correction would need {int(nt.sum()):,} terms (weights sum to very many tied events)",
                fix='use ties="breslow" for tables of very large counts',
            )
        fslot = np.repeat(np.arange(J), nt)
        starts = np.cumsum(nt) - nt
        k = np.arange(fslot.size) - np.repeat(starts, nt)
        set_(self, "fslot", fslot)
        with_ = np.flatnonzero(nt > 0)
        set_(self, "fslots_with", with_)
        set_(self, "fstarts", starts[with_])
        set_(self, "ffrac", k / np.maximum(ntie[fslot], 1.0))
        set_(self, "pair_idx", {})

    @property
    def k(self) -> int:
        return self.Xp.shape[1]


@dataclass
class State:
    """Partial likelihood and derivatives at ``beta`` plus the slot sums behind them."""

    beta: np.ndarray
    loglik: float
    U: np.ndarray
    imat: np.ndarray | None
    e_p: np.ndarray
    r: np.ndarray
    S0: np.ndarray
    S1: np.ndarray
    D1: np.ndarray
    c0: np.ndarray
    c1: np.ndarray
    wtave: np.ndarray
    q0: np.ndarray
    q1: np.ndarray
    q2: np.ndarray


def _revcum(cd: CoxData, a: np.ndarray) -> np.ndarray:
    """Sum over slots at or after each slot, within its stratum."""
    t = np.cumsum(a[::-1], axis=0)[::-1]
    t = np.concatenate([t, np.zeros((1,) + a.shape[1:])], axis=0)
    return t[:-1] - t[cd.slot_next]


def _cum(cd: CoxData, a: np.ndarray) -> np.ndarray:
    """Sum over slots up to and including each slot, within its stratum."""
    c = np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)], axis=0)
    return c[1:] - c[cd.slot_start]


def _pattern_cross(cd: CoxData, v: np.ndarray, dense: bool | None = None) -> np.ndarray:
    """X_p' diag(v) X_p: dense product for small designs, else contingency tables per block pair."""
    Xp = cd.Xp
    P, k = Xp.shape
    if dense is None:
        dense = P * k * k <= 4_000_000 or all(b[0] == "num" for b in cd.blocks)
    if dense:
        return (Xp * v[:, None]).T @ Xp
    out = np.empty((k, k))
    bl = cd.blocks
    for a in range(len(bl)):
        ka, ca, La, sa = bl[a]
        for b in range(a, len(bl)):
            kb, cb, Lb, sb = bl[b]
            if ka == "cat" and kb == "cat":
                if a == b:
                    m = np.diag(np.bincount(ca, v, minlength=La)[1:])
                else:
                    key = cd.pair_idx.get((a, b))
                    if key is None:
                        key = ca * Lb + cb
                        cd.pair_idx[(a, b)] = key
                    m = np.bincount(key, v, minlength=La * Lb).reshape(La, Lb)[1:, 1:]
            elif ka == "cat":
                m = np.bincount(ca, v * Xp[:, sb.start], minlength=La)[1:, None]
            elif kb == "cat":
                m = np.bincount(cb, v * Xp[:, sa.start], minlength=Lb)[None, 1:]
            else:
                m = np.array([[np.dot(v * Xp[:, sa.start], Xp[:, sb.start])]])
            out[sa, sb] = m
            out[sb, sa] = m.T
    return out


def _slot_sum(cd: CoxData, a: np.ndarray) -> np.ndarray:
    """Per-slot sums of an array laid out slot by slot over the tied deaths (``fslot``)."""
    out = np.zeros(cd.n_slots)
    if cd.fstarts.size:
        out[cd.fslots_with] = np.add.reduceat(a, cd.fstarts)
    return out


def evaluate(cd: CoxData, beta: np.ndarray, need_info: bool = True) -> State:
    """Log partial likelihood, score vector and information matrix at ``beta``."""
    J, k = cd.n_slots, cd.k
    eta_p = cd.Xp @ beta
    eta_p = eta_p - eta_p.max()  # a constant shift changes none of the results
    e_p = np.exp(eta_p)
    r = cd.w * e_p[cd.pattern]
    z = np.bincount(cd.sd, r, minlength=2 * J).reshape(J, 2)
    S0 = _revcum(cd, z.sum(axis=1))
    D0 = z[:, 1]
    R1 = np.empty((J, k))
    D1 = np.empty((J, k))
    for (kind, _pc, L, sl), idx in zip(cd.blocks, cd.unit_idx, strict=True):
        if kind == "cat":
            zz = np.bincount(idx, r, minlength=J * L * 2).reshape(L, J, 2)[1:]
            R1[:, sl] = (zz[:, :, 0] + zz[:, :, 1]).T
            D1[:, sl] = zz[:, :, 1].T
        else:
            zz = np.bincount(cd.sd, r * cd.Xp[cd.pattern, sl.start], minlength=2 * J).reshape(J, 2)
            R1[:, sl.start] = zz.sum(axis=1)
            D1[:, sl.start] = zz[:, 1]
    S1 = _revcum(cd, R1)
    fs, ff = cd.fslot, cd.ffrac
    den = S0[fs] - ff * D0[fs]
    inv = 1.0 / den
    c0 = _slot_sum(cd, inv)
    c1 = _slot_sum(cd, ff * inv)
    lg = _slot_sum(cd, np.log(den))
    wtave = np.divide(cd.deadwt, cd.ntie, out=np.zeros(J), where=cd.ntie > 0)
    loglik = float(cd.dead_wp @ eta_p - wtave @ lg)
    a0, a1 = wtave * c0, wtave * c1
    U = cd.dead_wx - a0 @ S1 + a1 @ D1
    inv2 = inv * inv
    finv2 = ff * inv2
    q0 = _slot_sum(cd, inv2)
    q1 = _slot_sum(cd, finv2)
    q2 = _slot_sum(cd, ff * finv2)
    st = State(beta, loglik, U, None, e_p, r, S0, S1, D1, c0, c1, wtave, q0, q1, q2)
    if need_info:
        st.imat = information(cd, st)
    return st


def information(cd: CoxData, st: State, c: np.ndarray | None = None) -> np.ndarray:
    """Information matrix, optionally with each slot's contribution multiplied by ``c[j]``."""
    wt = st.wtave if c is None else st.wtave * c
    a0, a1 = wt * st.c0, wt * st.c1
    b0, b1, b2 = wt * st.q0, wt * st.q1, wt * st.q2
    H = _cum(cd, a0)
    g = np.stack([H, H - a1], axis=1).ravel()
    v = st.r * g[cd.sd]
    vp = np.bincount(cd.pattern, v, minlength=cd.Xp.shape[0])
    M2 = _pattern_cross(cd, vp)
    S1, D1 = st.S1, st.D1
    cross = (S1 * b1[:, None]).T @ D1
    M1 = (S1 * b0[:, None]).T @ S1 - cross - cross.T + (D1 * b2[:, None]).T @ D1
    out = M2 - M1
    return (out + out.T) / 2


def score_parts(cd: CoxData, st: State) -> tuple[np.ndarray, ...]:
    """Per-slot pieces of the score residuals (see :func:`score_residual_crossprod`)."""
    a0, a1 = st.wtave * st.c0, st.wtave * st.c1
    b0, b1, b2 = st.wtave * st.q0, st.wtave * st.q1, st.wtave * st.q2
    S1, D1 = st.S1, st.D1
    H = _cum(cd, a0)
    M = _cum(cd, S1 * b0[:, None] - D1 * b1[:, None])
    ntie = np.maximum(cd.ntie, 1.0)
    mbar = (S1 * st.c0[:, None] - D1 * st.c1[:, None]) / ntie[:, None]
    mB = S1 * b1[:, None] - D1 * b2[:, None]
    return H, M, a1, mbar, mB


def score_residual_crossprod(cd: CoxData, st: State, weighting: str) -> tuple[np.ndarray, np.ndarray]:
    """Cross product A'A of weighted score residuals aggregated by cluster, and their sum.

    Score residuals follow R's ``residuals(coxph, "score")`` (coxscore2.c). With a
    cluster, A has one row per cluster: the sum of w_i L_i. Without, A'A is
    sum_i q_i L_i L_i' with q = w (frequency weights: every unit of weight w is w
    independent rows) or q = w^2 (case weights, as R).
    """
    k = cd.k
    H, M, a1, mbar, mB = score_parts(cd, st)
    G = np.zeros((k, k))
    total = np.zeros(k)
    agg = np.zeros((cd.n_clusters, k)) if cd.cluster is not None else None
    n = cd.slot.size
    # with a cluster, walk the units in cluster order so each chunk sums contiguous runs
    order = np.argsort(cd.cluster, kind="stable") if agg is not None else None
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, min(n, lo + _CHUNK)) if order is None else order[lo:lo + _CHUNK]
        pat, slot, dead, w = cd.pattern[sl], cd.slot[sl], cd.dead[sl], cd.w[sl]
        x = cd.Xp[pat]
        e = st.e_p[pat][:, None]
        L = -e * (x * H[slot][:, None] - M[slot])
        di = np.flatnonzero(dead)
        if di.size:
            sj = slot[di]
            L[di] += x[di] - mbar[sj] + e[di] * (x[di] * a1[sj][:, None] - mB[sj])
        total += w @ L
        if agg is not None:
            cl = cd.cluster[sl]
            starts = np.flatnonzero(np.r_[True, cl[1:] != cl[:-1]])
            agg[cl[starts]] += np.add.reduceat(L * w[:, None], starts, axis=0)
        else:
            q = w if weighting == "weight" else cd.w2[sl]
            G += (L * q[:, None]).T @ L
    if agg is not None:
        G = agg.T @ agg
    return G, total


@dataclass(frozen=True)
class NewtonResult:
    beta: np.ndarray
    state: State
    null_state: State
    n_iter: int
    converged: bool
    infinite: np.ndarray
    singular: int | None


def _first_singular(imat: np.ndarray, tol: float = 1e-10) -> int | None:
    """Index of the first column that is (numerically) constant or a combination of earlier ones."""
    k = imat.shape[0]
    diag = np.diag(imat).copy()
    scale = np.where(diag > 0, diag, 1.0)
    A = imat / np.sqrt(np.outer(scale, scale))
    for j in range(k):
        if diag[j] <= 0:
            return j
        sub = A[:j, :j]
        col = A[:j, j]
        resid = A[j, j] - (col @ np.linalg.lstsq(sub, col, rcond=None)[0] if j else 0.0)
        if resid <= tol:
            return j
    return None


def newton(cd: CoxData, max_iter: int = 30, init: np.ndarray | None = None) -> NewtonResult:
    """Newton-Raphson with step halving, like R's coxph (start at 0).

    Converged when the next Newton step is below 1e-9 (relative for
    coefficients larger than 1), or when the
    log-likelihood changes by less than 1e-10 relative between iterations
    (R's criterion; then coefficients whose next step is still large are
    reported as possibly infinite, as R warns; otherwise the pending step is
    taken so the estimate is the maximum, not one iteration short of it).
    """
    k = cd.k
    beta = np.zeros(k) if init is None else np.asarray(init, dtype=float)
    st = evaluate(cd, beta)
    null_state = st
    sing = _first_singular(st.imat)
    if sing is not None:
        return NewtonResult(beta, st, null_state, 0, False, np.zeros(k, bool), sing)
    prev = None
    it = 0
    converged = False
    infinite = np.zeros(k, dtype=bool)
    halvings = 0
    while True:
        try:
            chol = np.linalg.cholesky(st.imat)
            step = np.linalg.solve(chol.T, np.linalg.solve(chol, st.U))
        except np.linalg.LinAlgError:
            sing = _first_singular(st.imat)
            return NewtonResult(beta, st, null_state, it, False, infinite, sing if sing is not None else 0)
        if np.all(np.abs(step) <= 1e-9 * np.maximum(1.0, np.abs(beta))):
            converged = True
            # take the last (tiny) step too: the estimate is then the maximum to
            # machine precision, as Newton converges quadratically
            final = evaluate(cd, beta + step)
            if np.isfinite(final.loglik) and final.loglik >= st.loglik - 1e-12 * abs(st.loglik):
                beta, st = beta + step, final
            break
        if prev is not None and abs(st.loglik - prev.loglik) <= 1e-10 * abs(st.loglik):
            converged = True
            infinite = (np.abs(step) > 1e-9) & (np.abs(step) > np.sqrt(1e-9) * np.abs(beta))
            if not infinite.any():
                # The log-likelihood is flat but the pending Newton step is finite:
                # take it, so the estimate sits at the maximum (score ~ 0, as R's)
                # rather than one iteration short of it.
                polished = evaluate(cd, beta + step)
                if np.isfinite(polished.loglik) and polished.loglik >= st.loglik - 1e-12 * abs(st.loglik):
                    beta, st = beta + step, polished
            break
        if it >= max_iter:
            break
        it += 1
        new_beta = beta + step
        new = evaluate(cd, new_beta)
        while not np.isfinite(new.loglik) or new.loglik < st.loglik - 1e-12 * abs(st.loglik):
            halvings += 1
            if halvings > 60:
                break
            new_beta = (new_beta + beta) / 2
            new = evaluate(cd, new_beta)
        prev, st, beta = st, new, new_beta
    return NewtonResult(beta, st, null_state, it, converged, infinite, None)
