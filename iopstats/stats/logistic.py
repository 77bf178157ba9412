"""Logistic regression, exact and fast on collapsed covariate patterns.

The model is the binomial GLM with logit link that R fits with
``glm(y ~ ..., family = binomial, weights = w)`` on 0/1 rows. The log-likelihood
depends on the data only through the number of trials and events per distinct
covariate pattern, so the fit collapses the rows to patterns first (an integer
key from the category codes, one ``bincount``) and runs Newton-Raphson
(= IRLS for the canonical link) on the patterns: each step is a k x k solve,
whatever the number of rows. Estimates, standard errors, log-likelihood,
deviance and AIC are those of the row-level fit (not of a grouped binomial fit,
whose deviance differs by the saturated term).

Design conventions (shared with :func:`iopstats.stats.cox.cox`):

* ``bool``, ``category``, ``object`` and string columns are categorical: one
  indicator per level against the *first* level (categorical order for
  ``category`` dtype, ``False`` before ``True`` for booleans, sorted order for
  text). Term names are ``"col[level]"``. Levels not present in the fitted
  rows are dropped.
* Numeric columns enter as they are; the term name is the column name.
* The intercept is the term ``"intercept"``.
* Rows with a missing outcome, covariate or weight are left out (as R's
  ``na.omit``); the count is in ``n_dropped``.

Standard errors are model-based (inverse Fisher information), intervals and
p-values are Wald, as ``summary(glm)`` and ``confint.default``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from iopstats._checks import check_confidence, check_frame, column_list
from iopstats._results import Result
from iopstats.exceptions import IopstatsError
from iopstats.stats._logistic_patterns import _collapse, _Fit, _fit_patterns, _Patterns
from iopstats.stats.design import with_interactions

__all__ = ["logistic", "LogisticResult"]


# ----------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogisticResult(Result):
    """Fitted logistic regression.

    Attributes
    ----------
    summary : DataFrame
        Indexed by term: ``coef``, ``se``, ``odds_ratio``, ``ci_low``,
        ``ci_high`` (odds-ratio scale), ``z``, ``p_value``.
    cov : DataFrame
        Covariance matrix of the coefficients.
    loglik, deviance, null_deviance, aic : float
        Row-level values, as R's ``logLik``, ``deviance``, ``$null.deviance``
        and ``AIC`` on the 0/1 rows.
    n : float
        Number of observations (sum of frequency weights).
    n_patterns : int
        Distinct covariate patterns the model was fitted on.
    n_dropped : int
        Rows left out for a missing outcome, covariate or weight (or weight 0).
    converged : bool
    iterations : int
    """

    cov: pd.DataFrame = field(default_factory=pd.DataFrame)
    loglik: float = float("nan")
    deviance: float = float("nan")
    null_deviance: float = float("nan")
    aic: float = float("nan")
    n: float = 0.0
    n_patterns: int = 0
    n_dropped: int = 0
    converged: bool = False
    iterations: int = 0

    def plot(self, ax=None, **kw):
        """Forest plot of the odds ratios (intercept left out); returns the Axes."""
        from iopstats.plots import forest

        return forest(self.summary.drop(index="intercept", errors="ignore"), ax=ax, estimate="odds_ratio",
                      xlabel=kw.pop("xlabel", "odds ratio (95% interval)"), title=kw.pop("title", self.title), **kw)


def logistic(
    data: pd.DataFrame,
    outcome: str,
    covariates: str | Sequence[str],
    weights: str | None = None,
    confidence: float = 0.95,
    interactions: Sequence[tuple[str, str]] | None = None,
) -> LogisticResult:
    """Logistic regression of a binary outcome, fitted on collapsed patterns.

    Parameters
    ----------
    data : DataFrame
        Rows (episodes) or a collapsed count table with ``weights``.
    outcome : str
        Binary column (bool, pandas ``boolean`` or 0/1).
    covariates : str or list of str
        Categorical columns become indicators against their first level
        (terms ``"col[level]"``); numeric columns enter as they are.
    weights : str, optional
        Column of frequency weights; the fit equals the row-level fit.
    confidence : float
        Level of the Wald intervals.
    interactions : list of (str, str), optional
        Pairs of covariates whose interaction enters the model (both must be in
        ``covariates``), as R's ``glm(y ~ a * b)``; terms are named as in
        :func:`iopstats.stats.design.with_interactions`.

    Returns
    -------
    LogisticResult
        ``.summary`` indexed by term with ``coef``, ``se``, ``odds_ratio``,
        ``ci_low``, ``ci_high``, ``z``, ``p_value``; ``loglik``, ``deviance``,
        ``null_deviance``, ``aic``, ``n``, ``converged``.

    Raises
    ------
    IopstatsError
        Missing columns, non-binary outcome, collinear covariates, or
        separation (the message names the term; merge sparse levels).

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop", "iop", "iop", "op", "op", "op"] * 2,
    ...                    "y": [1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1]})
    >>> res = logistic(df, "y", ["loc"])
    >>> list(res.summary.index)
    ['intercept', 'loc[op]']
    >>> res.summary.loc["loc[op]", ["coef", "se", "odds_ratio"]].round(4).tolist()
    [-1.3863, 1.2247, 0.25]
    >>> round(res.deviance, 4)
    15.2763
    """
    conf = check_confidence(confidence)
    covs = column_list(covariates, "covariates")
    if not covs:
        raise IopstatsError("give at least one covariate", fix='e.g. covariates=["level_of_care"]')
    check_frame(data, [outcome, *covs] + ([weights] if weights else []))
    if outcome in covs:
        raise IopstatsError("the outcome cannot also be a covariate", column=outcome)
    data, covs, _ = with_interactions(data, covs, interactions)
    pat = _collapse(data, outcome, covs, weights)
    fit, D = _fit_patterns(pat)
    return _result(fit, pat, D.names, conf, outcome)


def _result(fit: _Fit, pat: _Patterns, names: list[str], conf: float, outcome: str) -> LogisticResult:
    se = np.sqrt(np.diag(fit.cov))
    z = fit.beta / se
    q = stats.norm.ppf(0.5 + conf / 2.0)
    summary = pd.DataFrame(
        {
            "coef": fit.beta,
            "se": se,
            "odds_ratio": np.exp(fit.beta),
            "ci_low": np.exp(fit.beta - q * se),
            "ci_high": np.exp(fit.beta + q * se),
            "z": z,
            "p_value": 2.0 * stats.norm.sf(np.abs(z)),
        },
        index=pd.Index(names, name="term"),
    )
    N, E = pat.trials.sum(), pat.events.sum()
    pbar = E / N
    null_ll = E * np.log(pbar) + (N - E) * np.log1p(-pbar)
    k = len(names)
    remarks = [
        f"Binomial GLM with logit link fitted by Newton-Raphson on {len(pat.trials)} distinct "
        f"covariate patterns ({pat.n_rows} rows{'' if N == pat.n_rows else f', {N:g} weighted'}).",
        f"Intervals and p-values are Wald ({conf:.0%}); categorical covariates are coded "
        "against their first level.",
    ]
    if pat.n_dropped:
        remarks.append(f"{pat.n_dropped} rows left out for a missing outcome, covariate or zero weight.")
    return LogisticResult(
        summary=summary,
        title=f"Logistic regression of {outcome}",
        remarks=tuple(remarks),
        cov=pd.DataFrame(fit.cov, index=names, columns=names),
        loglik=fit.loglik,
        deviance=-2.0 * fit.loglik,
        null_deviance=-2.0 * float(null_ll),
        aic=-2.0 * fit.loglik + 2.0 * k,
        n=float(N),
        n_patterns=int(len(pat.trials)),
        n_dropped=int(pat.n_dropped),
        converged=fit.converged,
        iterations=fit.iterations,
    )
