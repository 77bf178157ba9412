"""Dose-response curves: an outcome against treatment received (sessions attended, hours per week).

:func:`dose_response` regresses an episode-level outcome (symptom change,
negative-screen share, or a yes/no outcome) on a natural cubic regression
spline of the exposure (patsy ``cr``, ``df`` degrees of freedom; ``df=1`` is a
straight line), optionally adjusted for covariates held at their means
(baseline severity first), and predicts the mean outcome over a grid of the
exposure with Wald confidence bands: ordinary least squares with HC3
heteroscedasticity-robust standard errors for a numeric outcome, a binomial
GLM (logit link, band on the logit scale) for a yes/no one.

This is an association among the episodes observed: clients who stay longer
attend more sessions *and* differ in ways that affect outcomes, so the curve
is not the effect of prescribing more sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from iopstats._results import Result
from iopstats.exceptions import IopstatsError

__all__ = ["dose_response", "DoseResponse"]


@dataclass(frozen=True, repr=False)
class DoseResponse(Result):
    """Predicted mean outcome over the exposure (``.curve``) and model terms (``.summary``)."""

    curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    exposure: str = ""
    outcome: str = ""
    n: int = 0

    def plot(self, ax=None):
        """The curve with its confidence band (matplotlib Axes)."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(6, 4))[1]
        c = self.curve
        ax.plot(c[self.exposure], c["estimate"])
        ax.fill_between(c[self.exposure], c["ci_low"], c["ci_high"], alpha=0.25)
        ax.set_xlabel(self.exposure.replace("_", " "))
        ax.set_ylabel(self.outcome.replace("_", " "))
        return ax


def dose_response(
    data: pd.DataFrame,
    outcome: str,
    exposure: str = "n_sessions_attended",
    *,
    adjust: Sequence[str] = (),
    df: int = 4,
    grid: np.ndarray | None = None,
    confidence: float = 0.95,
) -> DoseResponse:
    """Mean outcome as a smooth function of the exposure, with confidence bands.

    Parameters
    ----------
    data : DataFrame
        One row per episode, e.g. :func:`iopstats.change_outcomes` merged with
        :func:`iopstats.build_outcomes` engagement columns. Rows with a missing
        outcome, exposure or covariate are left out (counted in ``remarks``).
    outcome : str
        Numeric (``change``, ``share_negative_mp``) or yes/no column.
    exposure : str
        ``n_sessions_attended`` or ``hours_per_week`` (any numeric column).
    adjust : sequence of str
        Numeric covariates held at their means in the prediction.
    df : int
        Spline degrees of freedom (1 = linear).
    grid : array, optional
        Exposure values for the curve (default 30 points from the 2.5th to
        the 97.5th percentile).
    confidence : float
        Level of the pointwise bands.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 30, 400).astype(float)
    >>> d = pd.DataFrame({"n_sessions_attended": x, "change": -0.2 * x + rng.normal(0, 2, 400)})
    >>> r = dose_response(d, "change", df=1, grid=[0, 10, 20])
    >>> r.curve["estimate"].round(1).tolist()  # truth 0, -2, -4
    [-0.3, -2.2, -4.0]
    """
    import statsmodels.api as sm
    from patsy import dmatrix

    if not 0 < confidence < 1:
        raise IopstatsError("confidence must be between 0 and 1", value=confidence, fix="pass confidence=0.95")
    cols = [outcome, exposure, *adjust]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise IopstatsError("column not found", column=missing[0], fix="pass outcome=, exposure=, adjust= columns of data")
    if not isinstance(df, (int, np.integer)) or df < 1:
        raise IopstatsError("df must be a whole number >= 1", value=df, fix="pass df=4")
    d = data[cols].copy()
    y_raw = d[outcome]
    binary = str(y_raw.dtype) in ("bool", "boolean")
    d[outcome] = pd.to_numeric(y_raw.astype("Float64") if binary else y_raw, errors="coerce")
    for c in (exposure, *adjust):
        d[c] = pd.to_numeric(d[c], errors="coerce")
    d = d.dropna().astype(float)
    dropped = len(data) - len(d)
    if len(d) < df + len(adjust) + 5 or d[exposure].nunique() < 3:
        raise IopstatsError("too few episodes with outcome and exposure for a curve", value=len(d),
                            fix="check the columns, or lower df")
    x = d[exposure].to_numpy()
    if grid is None:
        grid = np.linspace(*np.percentile(x, [2.5, 97.5]), 30)
    grid = np.asarray(grid, dtype=float)
    if df == 1:
        basis = dmatrix("x", {"x": x}, return_type="dataframe")
        g_basis = dmatrix(basis.design_info, {"x": grid}, return_type="dataframe")
    else:
        basis = dmatrix(f"cr(x, df={int(df)}, constraints='center')", {"x": x}, return_type="dataframe")
        g_basis = dmatrix(basis.design_info, {"x": np.clip(grid, x.min(), x.max())}, return_type="dataframe")
    Z = d[list(adjust)].to_numpy()
    X = np.column_stack([basis.to_numpy(), Z])
    Xg = np.column_stack([g_basis.to_numpy(), np.tile(Z.mean(axis=0), (len(grid), 1))]) if len(adjust) else g_basis.to_numpy()
    y = d[outcome].to_numpy()
    if binary:
        fit = sm.GLM(y, X, family=sm.families.Binomial()).fit()
    else:
        fit = sm.OLS(y, X).fit(cov_type="HC3")
    cov = np.asarray(fit.cov_params())
    eta = Xg @ fit.params
    se = np.sqrt(np.einsum("ij,jk,ik->i", Xg, cov, Xg))
    q = stats.norm.ppf(0.5 + confidence / 2)
    lo, hi = eta - q * se, eta + q * se
    if binary:
        expit = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        eta, lo, hi = expit(eta), expit(lo), expit(hi)
    curve = pd.DataFrame({exposure: grid, "estimate": eta, "ci_low": lo, "ci_high": hi})
    names = list(basis.columns) + list(adjust)
    summary = pd.DataFrame({"term": names, "estimate": np.asarray(fit.params), "se": np.sqrt(np.diag(cov))})
    kind = "binomial GLM (logit)" if binary else "OLS with HC3 standard errors"
    remarks = (f"{outcome} on a natural cubic spline of {exposure} (df={df})"
               + (f" adjusted for {', '.join(adjust)} (held at their means)" if adjust else "")
               + f"; {kind}; {len(d)} episodes, {dropped} left out for missing values.",
               "An association among the episodes observed, not the effect of prescribing more treatment.")
    return DoseResponse(summary=summary, title=f"{outcome} by {exposure}", remarks=remarks, curve=curve,
                        exposure=exposure, outcome=outcome, n=len(d))
