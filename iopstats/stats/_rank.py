"""Numerical rank of a design matrix by pivoted QR (internal).

Collinearity is decided on the design itself, never on ``X' W X``: forming the
cross-product squares the condition number, so whether a dependent column's
eigenvalue comes out as ``0``, ``-1e-16`` or ``+1e-15`` depends on the BLAS
build, and its square root (about ``3e-8``) then passes any sensible
tolerance. Here the design is reduced block by block to its triangular factor
``R`` (``R' R = X' W X`` to rounding, Householder QR being backward stable),
its columns are scaled to unit length (so the units of a numeric covariate do
not matter) and pivoted QR of the scaled ``R`` takes the same pivots as
pivoted QR of the scaled design.

The stated rule: a column is a combination of the others when its pivoted
diagonal ``|r_jj|`` is at most ``RANK_TOL * |r_11|`` (``RANK_TOL = 1e-9``),
with every column scaled to unit Euclidean norm first.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import linalg

RANK_TOL = 1e-9


def triangular_factor(blocks: Iterable[np.ndarray], k: int) -> np.ndarray:
    """``R`` (k x k) with ``R' R = X' X`` for ``X`` given as row blocks.

    Examples
    --------
    >>> X = np.arange(12.0).reshape(4, 3)
    >>> R = triangular_factor([X[:2], X[2:]], 3)
    >>> bool(np.allclose(R.T @ R, X.T @ X))
    True
    """
    R = np.zeros((0, k))
    for block in blocks:
        stacked = np.vstack([R, np.asarray(block, dtype=float)])
        R = linalg.qr(stacked, mode="r", check_finite=False)[0][: min(k, stacked.shape[0])]
    return R


def design_rank(R: np.ndarray, tol: float = RANK_TOL) -> tuple[int, np.ndarray]:
    """Rank and column pivots of a design from its triangular factor ``R``.

    Returns ``(rank, pivots)``; ``pivots[rank:]`` are the columns that are
    combinations of the columns before them.

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), np.arange(6.0), 2 * np.arange(6.0) + 1])
    >>> rank, piv = design_rank(triangular_factor([X], 3))
    >>> rank
    2
    """
    k = R.shape[1]
    if R.shape[0] == 0 or k == 0:
        return 0, np.arange(k)
    norms = np.sqrt((R * R).sum(axis=0))
    scale = np.where(norms > 0, norms, 1.0)
    _, r, piv = linalg.qr(R / scale, mode="economic", pivoting=True, check_finite=False)
    d = np.abs(np.diag(r))
    pad = np.zeros(k - d.size)  # fewer rows than columns: the rest are dependent
    d = np.concatenate([d, pad])
    rank = int((d > tol * d[0]).sum()) if d[0] > 0 else 0
    return rank, piv
