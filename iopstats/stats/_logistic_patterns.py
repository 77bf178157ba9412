"""Logistic regression on collapsed covariate patterns: the engine (internal).

:func:`iopstats.stats.logistic.logistic` and the g-computation of
:mod:`iopstats.compare` share it. Rows are collapsed to distinct covariate
patterns (trials and events per pattern, :func:`_collapse`), the design is
kept in factored form (:class:`_Design`: category codes, never a dense
row-level matrix) and the model is fitted by Newton-Raphson on the patterns
(:func:`_fit_patterns`). :class:`_Standardizer` predicts every pattern's risk
with one column set to a chosen level and averages it over the patterns
(g-computation), with the gradient the delta method needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, special

from iopstats._checks import binary_outcome, frequency_weights
from iopstats.stats._rank import design_rank, triangular_factor
from iopstats.exceptions import IopstatsError

_MAX_ITER = 100
_SUPER_CARD = 256  # cells of a joint code of several categorical columns
_ETA_LIMIT = 30.0  # |linear predictor| beyond which a pattern is treated as separated


# ----------------------------------------------------------------------------
# collapsing rows to covariate patterns
# ----------------------------------------------------------------------------


@dataclass
class _Patterns:
    """Distinct covariate patterns with trials and events (internal)."""

    columns: list[str]
    categorical: list[bool]
    levels: list[np.ndarray]  # per column: level labels (categorical) or values (numeric)
    codes: np.ndarray  # (P, ncol) int: index into levels[j]
    trials: np.ndarray  # (P,) sum of weights
    events: np.ndarray  # (P,) sum of weights * y
    n_rows: int  # rows used (unweighted)
    n_dropped: int  # rows left out for missing values or zero weight


def _column_codes(
    s: pd.Series, name: str, first: object | None, force_categorical: bool = False
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Integer codes (-1 = missing), level labels and whether categorical."""
    dt = s.dtype
    if force_categorical and not (
        isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dt)
    ):
        dt = np.dtype(object)  # numeric codes of a grouping column: levels, not a slope
    if isinstance(dt, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()
        levels = np.asarray(s.cat.categories, dtype=object)
        cat = True
    elif pd.api.types.is_bool_dtype(dt):
        if isinstance(dt, pd.BooleanDtype):
            v = s.to_numpy(dtype=float, na_value=np.nan)
            codes = np.where(np.isnan(v), -1, v).astype(np.int8)
        else:
            codes = s.to_numpy().astype(np.int8)
        levels = np.array([False, True], dtype=object)
        cat = True
    elif pd.api.types.is_numeric_dtype(dt):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        if np.isinf(v).any():
            raise IopstatsError(
                "covariate has infinite values", column=name, fix="replace them or drop those rows"
            )
        bad = np.isnan(v)
        levels, inv = np.unique(np.where(bad, 0.0, v), return_inverse=True)
        codes = np.where(bad, -1, inv).astype(np.int64)
        cat = False
    else:
        codes, uniq = pd.factorize(s, sort=False)
        uniq = np.asarray(uniq, dtype=object)
        try:
            order = np.array(sorted(range(len(uniq)), key=lambda i: uniq[i]), dtype=np.int64)
        except TypeError:  # mixed types: sort by their text
            order = np.argsort(uniq.astype(str), kind="mergesort")
        remap = np.empty(len(uniq), dtype=np.int64)
        remap[order] = np.arange(len(uniq))
        codes = np.where(codes < 0, -1, remap[np.maximum(codes, 0)]) if len(uniq) else codes
        levels = uniq[order]
        cat = True
    if cat and first is not None:
        hit = [i for i, lev in enumerate(levels) if lev == first]
        if not hit:
            raise IopstatsError(
                "reference level not found", column=name, value=first,
                fix=f"use one of {list(levels)[:12]}",
            )
        i0 = hit[0]
        perm = np.r_[i0, np.delete(np.arange(len(levels)), i0)]
        remap = np.empty(len(levels), dtype=np.int64)
        remap[perm] = np.arange(len(levels))
        codes = np.where(codes < 0, -1, remap[np.maximum(codes, 0)])
        levels = levels[perm]
    return np.asarray(codes), levels, cat


def _collapse(
    data: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    weights: str | None,
    first_levels: Mapping[str, object] | None = None,
    categorical: Sequence[str] = (),
) -> _Patterns:
    """Collapse rows to distinct covariate patterns with (trials, events).

    ``first_levels`` puts a given level first (the baseline) for a column;
    ``categorical`` lists columns treated as categorical whatever their dtype.
    """
    first_levels = dict(first_levels or {})
    y = binary_outcome(data, outcome)
    w = frequency_weights(data, weights)
    cols_codes, levels, cats = [], [], []
    for c in covariates:
        codes, lev, cat = _column_codes(data[c], c, first_levels.get(c), c in categorical)
        cols_codes.append(codes)
        levels.append(lev)
        cats.append(cat)
    n_total = len(y)
    y_missing = np.isnan(y)
    if (
        y_missing.any()
        or (w is not None and (w == 0).any())
        or any(len(c) and c.min() < 0 for c in cols_codes)
    ):  # drop incomplete rows (rare path: copies the arrays)
        keep = ~y_missing
        if w is not None:
            keep &= w > 0
        for codes in cols_codes:
            keep &= codes >= 0
        idx = np.flatnonzero(keep)
        y = y[idx]
        w = None if w is None else w[idx]
        cols_codes = [c[idx] for c in cols_codes]
    n_rows = len(y)
    # mixed-radix pattern key, re-compressed if it could overflow
    key = np.zeros(n_rows, dtype=np.int64)
    space = 1
    recompressed = False
    for codes, lev in zip(cols_codes, levels):
        card = max(len(lev), 1)
        if space * card > 2**62:
            uniq, key = np.unique(key, return_inverse=True)
            key = key.astype(np.int64)
            space = len(uniq)
            recompressed = True
        key *= card
        key += codes
        space *= card
    if space <= max(4 * n_rows, 1 << 22):
        trials_all = np.bincount(key, weights=w, minlength=space)
        ev_w = y if w is None else y * w
        events_all = np.bincount(key, weights=ev_w, minlength=space)
        present = np.flatnonzero(trials_all > 0)  # zero-weight rows were dropped above
        pat_keys = present
        trials = trials_all[present]
        events = events_all[present]
    else:
        pat_keys, inv = np.unique(key, return_inverse=True)
        trials = np.bincount(inv, weights=w, minlength=len(pat_keys))
        events = np.bincount(inv, weights=y if w is None else y * w, minlength=len(pat_keys))
    # per-column codes of each pattern
    ncol = len(covariates)
    pcodes = np.empty((len(pat_keys), ncol), dtype=np.int64)
    if not recompressed:  # decode the mixed-radix key
        rem = pat_keys.copy()
        for j in range(ncol - 1, -1, -1):
            card = max(len(levels[j]), 1)
            pcodes[:, j] = rem % card
            rem //= card
    else:  # key was re-compressed: take the codes of a representative row
        uniq_keys, first_row = np.unique(key, return_index=True)
        rows = first_row[np.searchsorted(uniq_keys, pat_keys)]
        for j in range(ncol):
            pcodes[:, j] = cols_codes[j][rows]
    return _Patterns(
        columns=list(covariates),
        categorical=cats,
        levels=levels,
        codes=pcodes,
        trials=np.asarray(trials, dtype=float),
        events=np.asarray(events, dtype=float),
        n_rows=n_rows,
        n_dropped=n_total - n_rows,
    )


class _Design:
    """Design on patterns without a dense matrix (internal).

    Intercept, one indicator per observed non-baseline level of each
    categorical column (baseline = first observed level) and numeric columns
    as they are. Products ``X @ beta``, ``X.T @ v`` and ``X.T @ diag(w) @ X``
    are computed with gathers and ``bincount`` on the level codes, which is
    exact and much cheaper than dense algebra on indicator columns.
    ``override`` (column position -> level code for every pattern) gives the
    design with one covariate set to a level, for g-computation.
    """

    def __init__(self, pat: _Patterns) -> None:
        self.pat = pat
        self.P = pat.codes.shape[0]
        self.names: list[str] = ["intercept"]
        self.which: list[tuple[int, int]] = [(-1, -1)]
        self.cols: list[dict] = []
        k = 1
        self._pairs: dict[tuple[int, int], np.ndarray] = {}
        for j, col in enumerate(pat.columns):
            codes = np.ascontiguousarray(pat.codes[:, j], dtype=np.intp)
            if pat.categorical[j]:
                L = len(pat.levels[j])
                observed = np.flatnonzero(np.bincount(codes, minlength=L) > 0)
                base = int(observed.min())
                used = observed[observed != base]
                tmap = np.full(L, -1, dtype=np.int64)
                tmap[used] = np.arange(k, k + len(used))
                for lv in used:
                    self.names.append(f"{col}[{pat.levels[j][lv]}]")
                    self.which.append((j, int(lv)))
                k += len(used)
                self.cols.append(
                    {"cat": True, "j": j, "codes": codes, "L": L, "tmap": tmap, "used": used,
                     "base": base}
                )
            else:
                self.names.append(col)
                self.which.append((j, -1))
                self.cols.append(
                    {"cat": False, "j": j, "x": pat.levels[j][codes].astype(float), "t": k}
                )
                k += 1
        self.k = k
        # categorical columns grouped into "super" columns (joint codes with at most
        # _SUPER_CARD cells): one bincount per super column and per pair of them gives
        # every indicator cross-product block by marginalising small count tables
        self.supers: list[dict] = []
        for c in (c for c in self.cols if c["cat"]):
            last = self.supers[-1] if self.supers else None
            if last is not None and last["S"] * c["L"] <= _SUPER_CARD:
                last["members"].append(c)
                last["codes"] = last["codes"] * c["L"] + c["codes"]
                last["S"] *= c["L"]
            else:
                self.supers.append({"members": [c], "codes": c["codes"], "S": c["L"]})

    def _codes(self, c: dict, override: Mapping[int, int] | None) -> np.ndarray:
        if override and c["j"] in override:
            return np.full(self.P, int(override[c["j"]]), dtype=np.int64)
        return c["codes"]

    def eta(self, beta: np.ndarray, override: Mapping[int, int] | None = None) -> np.ndarray:
        ext = np.append(beta, 0.0)  # index -1 (baseline) -> 0
        e = np.full(self.P, beta[0])
        for c in self.cols:
            if c["cat"]:
                e += ext[c["tmap"]][self._codes(c, override)]
            else:
                e += beta[c["t"]] * c["x"]
        return e

    def _super_tables(self, v: np.ndarray) -> list[np.ndarray]:
        """Sum of ``v`` over each super column's joint cells, one axis per member."""
        return [
            np.bincount(su["codes"], weights=v, minlength=su["S"]).reshape(
                [c["L"] for c in su["members"]]
            )
            for su in self.supers
        ]

    def xtv(
        self,
        v: np.ndarray,
        override: Mapping[int, int] | None = None,
        tables: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        out = np.zeros(self.k)
        out[0] = v.sum()
        if override:
            for c in self.cols:
                if c["cat"]:
                    s = np.bincount(self._codes(c, override), weights=v, minlength=c["L"])
                    out[c["tmap"][c["used"]]] = s[c["used"]]
        else:
            tables = self._super_tables(v) if tables is None else tables
            for su, table in zip(self.supers, tables):
                n = len(su["members"])
                for a, c in enumerate(su["members"]):
                    other = tuple(i for i in range(n) if i != a)
                    s = table.sum(axis=other) if other else table
                    out[c["tmap"][c["used"]]] = s[c["used"]]
        for c in self.cols:
            if not c["cat"]:
                out[c["t"]] = _vdot(c["x"], v)
        return out

    def dense_blocks(self, row_scale: np.ndarray, size: int = 65536):
        """Yield the dense design, rows scaled by ``row_scale``, in blocks of rows."""
        for start in range(0, self.P, size):
            rows = slice(start, min(start + size, self.P))
            s = row_scale[rows]
            X = np.zeros((len(s), self.k))
            X[:, 0] = 1.0
            for c in self.cols:
                if c["cat"]:
                    t = c["tmap"][c["codes"][rows]]
                    hit = np.flatnonzero(t >= 0)
                    X[hit, t[hit]] = 1.0
                else:
                    X[:, c["t"]] = c["x"][rows]
            yield X * s[:, None]

    def xtwx(self, w: np.ndarray) -> np.ndarray:
        """``X' diag(w) X`` from joint count tables of the categorical columns."""
        k = self.k
        M = np.zeros((k, k))

        def put(rows, cols, block) -> None:
            M[np.ix_(rows, cols)] = block
            M[np.ix_(cols, rows)] = np.asarray(block).T

        tables = self._super_tables(w)
        first = self.xtv(w, tables=tables)
        M[0, :] = first
        M[:, 0] = first

        def blocks(table: np.ndarray, members: list[dict]) -> None:
            # table has one axis per member column; fill every member pair block
            n = len(members)
            for a in range(n):
                ca = members[a]
                ta = ca["tmap"][ca["used"]]
                for b in range(a, n):
                    cb = members[b]
                    if ca is cb:
                        continue
                    other = tuple(i for i in range(n) if i not in (a, b))
                    B = table.sum(axis=other) if other else table
                    put(ta, cb["tmap"][cb["used"]], B[np.ix_(ca["used"], cb["used"])])

        sup = self.supers
        for i, si in enumerate(sup):
            if len(si["members"]) > 1:
                blocks(tables[i], si["members"])
            for sj in sup[i + 1:]:
                key = (i, id(sj))
                idx = self._pairs.get(key)
                if idx is None:  # joint codes are reused at every Newton step
                    idx = si["codes"] * sj["S"] + sj["codes"]
                    self._pairs[key] = idx
                t = np.bincount(idx, weights=w, minlength=si["S"] * sj["S"])
                members = si["members"] + sj["members"]
                table = t.reshape([c["L"] for c in members])
                na = len(si["members"])
                for a, ca in enumerate(si["members"]):
                    for b, cb in enumerate(sj["members"]):
                        other = tuple(x for x in range(len(members)) if x not in (a, na + b))
                        B = table.sum(axis=other) if other else table
                        put(ca["tmap"][ca["used"]], cb["tmap"][cb["used"]],
                            B[np.ix_(ca["used"], cb["used"])])
        cols = self.cols
        for a, ca in enumerate(cols):
            if ca["cat"]:
                ta = ca["tmap"][ca["used"]]
                M[ta, ta] = first[ta]  # indicators: x * x == x
            for cb in cols[a:]:
                if ca["cat"] and cb["cat"]:
                    continue
                if ca["cat"] or cb["cat"]:
                    cc, cn = (ca, cb) if ca["cat"] else (cb, ca)
                    s = np.bincount(cc["codes"], weights=w * cn["x"], minlength=cc["L"])
                    put(cc["tmap"][cc["used"]], [cn["t"]], s[cc["used"]][:, None])
                else:
                    v = _vdot(w * ca["x"], cb["x"])
                    M[ca["t"], cb["t"]] = v
                    M[cb["t"], ca["t"]] = v
        return M

    def dense(self, override: Mapping[int, int] | None = None) -> np.ndarray:
        """Dense design matrix (for small problems and tests)."""
        X = np.zeros((self.P, self.k))
        X[:, 0] = 1.0
        for c in self.cols:
            if c["cat"]:
                t = c["tmap"][self._codes(c, override)]
                rows = np.flatnonzero(t >= 0)
                X[rows, t[rows]] = 1.0
            else:
                X[:, c["t"]] = c["x"]
        return X


# ----------------------------------------------------------------------------
# Newton-Raphson on patterns
# ----------------------------------------------------------------------------


def _loglik(eta: np.ndarray, events: np.ndarray, trials: np.ndarray) -> float:
    # sum y*eta - m*log(1+exp(eta)); row-level Bernoulli log-likelihood
    return float(_vdot(events, eta) - _vdot(trials, np.logaddexp(0.0, eta)))


def _vdot(a: np.ndarray, b: np.ndarray) -> float:
    """Dot product of long vectors without BLAS.

    OpenBLAS runs long ``ddot`` calls on several threads whose busy-waiting
    then slows every following numpy call on a shared 2-core machine; a
    multiply and pairwise sum is as fast single-threaded (and more accurate).
    """
    return float(np.multiply(a, b).sum())


@dataclass
class _Fit:
    beta: np.ndarray
    cov: np.ndarray
    loglik: float
    converged: bool
    iterations: int
    eta: np.ndarray


def _check_rank(D: _Design, trials: np.ndarray) -> None:
    """Raise when the (weighted) design is rank deficient, naming a term.

    The rank comes from pivoted QR of ``sqrt(trials) X`` itself
    (:mod:`iopstats.stats._rank`, stated tolerance ``RANK_TOL``), so it does
    not depend on how a BLAS build rounds the cross-product ``X' W X``.
    """
    R = triangular_factor(D.dense_blocks(np.sqrt(trials)), D.k)
    rank, piv = design_rank(R)
    if rank < D.k:
        dropped = [D.names[i] for i in piv[rank:]]
        raise IopstatsError(
            "covariates are collinear: a term is a combination of the others",
            value=", ".join(dropped),
            fix=f"remove or merge the covariate behind term {dropped[0]} so each term carries "
            "information of its own",
        )


def _separation_precheck(pat: _Patterns) -> None:
    """Name a categorical level whose rows are all events or all non-events."""
    for j, col in enumerate(pat.columns):
        if not pat.categorical[j]:
            continue
        codes = pat.codes[:, j]
        L = len(pat.levels[j])
        m = np.bincount(codes, weights=pat.trials, minlength=L)
        e = np.bincount(codes, weights=pat.events, minlength=L)
        present = np.flatnonzero(m > 0)
        for lv in present:
            if e[lv] <= 0 or e[lv] >= m[lv]:
                what = "no events" if e[lv] <= 0 else "only events"
                term = f"{col}[{pat.levels[j][lv]}]"
                if lv == present.min():
                    term += " (the reference level)"
                raise IopstatsError(
                    f"separation: level {pat.levels[j][lv]!r} of {col!r} has {what}, so its "
                    f"odds ratio is infinite and the model cannot be estimated (term {term})",
                    column=col,
                    value=pat.levels[j][lv],
                    fix="merge this level with a neighbouring level, drop the covariate, "
                    "or report the rates without a model",
                )


def _newton(D: _Design, events: np.ndarray, trials: np.ndarray) -> _Fit:
    """Newton-Raphson with step halving.

    Stops when the Newton step is below 1e-7 (relative to the coefficients):
    the step is taken (quadratic convergence leaves an error of order 1e-14)
    and the covariance is the inverse information at that final estimate.
    """
    k = D.k
    N = trials.sum()
    pbar = events.sum() / N
    beta = np.zeros(k)
    beta[0] = np.log(pbar / (1 - pbar))
    eta = D.eta(beta)
    ll = _loglik(eta, events, trials)
    converged = False
    cf = None
    it = 0
    for it in range(1, _MAX_ITER + 1):
        p = special.expit(eta)
        score = D.xtv(events - trials * p)
        info = D.xtwx(trials * p * (1.0 - p))
        try:
            cf = linalg.cho_factor(info, check_finite=False)
            step = linalg.cho_solve(cf, score, check_finite=False)
        except linalg.LinAlgError:
            cf = None
            step = linalg.lstsq(info, score)[0]
        if np.max(np.abs(step)) < 1e-7 * (1.0 + np.max(np.abs(beta))):
            beta = beta + step
            eta = D.eta(beta)
            ll = _loglik(eta, events, trials)
            converged = cf is not None
            break
        # step halving keeps the log-likelihood from decreasing
        t = 1.0
        for _ in range(40):
            nb = beta + t * step
            neta = D.eta(nb)
            nll = _loglik(neta, events, trials)
            if nll >= ll - 1e-12 * abs(ll):
                break
            t /= 2.0
        beta, eta, ll = nb, neta, nll
    if converged:
        # the covariance is the inverse information at the final estimate (as R's
        # summary.glm is at a converged fit), not at the point before the last step
        p = special.expit(eta)
        try:
            cf = linalg.cho_factor(D.xtwx(trials * p * (1.0 - p)), check_finite=False)
            cov = linalg.cho_solve(cf, np.eye(k), check_finite=False)
        except linalg.LinAlgError:
            cov = np.full((k, k), np.nan)
            converged = False
    else:
        cov = np.full((k, k), np.nan)
    return _Fit(beta=beta, cov=cov, loglik=ll, converged=converged, iterations=it, eta=eta)


def _fit_patterns(pat: _Patterns) -> tuple[_Fit, _Design]:
    """Validate and fit on patterns; raise IopstatsError on separation/collinearity."""
    if pat.trials.sum() <= 0:
        raise IopstatsError("no rows left to fit after dropping missing values",
                            fix="check the outcome and covariate columns for missing values")
    E, N = pat.events.sum(), pat.trials.sum()
    if E <= 0 or E >= N:
        raise IopstatsError(
            "outcome has only one value among the rows used: nothing to model",
            value="all events" if E >= N else "no events",
            fix="choose an outcome with both events and non-events",
        )
    D = _Design(pat)
    _check_rank(D, pat.trials)
    _separation_precheck(pat)
    fit = _newton(D, pat.events, pat.trials)
    bad = (np.abs(fit.eta) > _ETA_LIMIT) & (pat.trials > 0)
    if bad.any() or not fit.converged or not np.all(np.isfinite(fit.cov)):
        # the diverging term is the one with the largest coefficient
        cand = int(np.argmax(np.abs(fit.beta[1:]))) + 1 if D.k > 1 else 0
        j = D.which[cand][0]
        raise IopstatsError(
            "separation: a combination of covariates predicts the outcome perfectly, so the "
            f"estimates diverge (largest: term {D.names[cand]}, coefficient {fit.beta[cand]:.3g})",
            column=pat.columns[j] if j >= 0 else None,
            value=D.names[cand],
            fix="merge sparse levels of that covariate (or drop it) and refit",
        )
    return fit, D


# ----------------------------------------------------------------------------
# g-computation (standardization) on a fitted model
# ----------------------------------------------------------------------------


class _Standardizer:
    """Standardized risks of ``outcome ~ treatment + covariates`` (g-computation).

    The model is fitted on collapsed patterns with ``treatment`` as the first
    (categorical) column and ``reference`` as its first level (code 0). For a
    treatment code, :meth:`risk` predicts every pattern's risk with the
    treatment set to that code and averages it over all rows used, and gives
    the gradient of that average with respect to the coefficients (the
    model part of its delta-method variance).
    """

    def __init__(self, data: pd.DataFrame, outcome: str, treatment: str, covariates: Sequence[str],
                 reference: object, weights: str | None) -> None:
        self.pat = _collapse(data, outcome, [treatment, *covariates], weights,
                             first_levels={treatment: reference}, categorical=[treatment])
        self.fit, self.design = _fit_patterns(self.pat)
        self.levels = list(self.pat.levels[0])  # treatment label of each code
        self.observed = set(np.unique(self.pat.codes[:, 0]).tolist())  # codes with rows in the model
        self.m = self.pat.trials
        self.N = self.m.sum()

    def code(self, level: object) -> int:
        """Treatment code of ``level``; -1 when the level has no rows in the model."""
        code = self.levels.index(level) if level in self.levels else -1
        return code if code in self.observed else -1

    def risk(self, code: int) -> tuple[np.ndarray, float, np.ndarray]:
        """Per-pattern risks ``p``, their average ``r`` and its gradient ``g`` at treatment ``code``."""
        p = special.expit(self.design.eta(self.fit.beta, override={0: code}))
        r = _vdot(self.m, p) / self.N
        g = self.design.xtv(self.m * p * (1.0 - p), override={0: code}) / self.N
        return p, r, g
