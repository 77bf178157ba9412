"""Indirect standardisation of units: :func:`standardized_ratio` (observed / expected).

Each unit's expected count is the sum, over its episodes, of the probability
of the outcome that a case-mix model fitted on a reference population gives
that episode: ``E_j = sum_i p_hat(x_i)``. By default the reference is all the
units pooled (then ``sum_j O_j = sum_j E_j``, the logistic score equations);
``model=`` applies a model fitted elsewhere (e.g. :func:`iopstats.national_model`
on TEDS-D) so that a program sees its observed against nationally expected
outcomes for its own case mix.

The ratio ``O / E`` treats ``O`` as Poisson with mean ``E * ratio``:

* ``method="exact"`` (Garwood 1936): ``[chi2(a/2; 2O) / 2, chi2(1 - a/2; 2O + 2) / 2] / E``,
  the interval and p-value of R ``poisson.test(O, E)``;
* ``method="byar"``: Byar's approximation
  ``O (1 - 1/(9O) - z/(3 sqrt O))^3 / E`` and
  ``(O+1) (1 - 1/(9(O+1)) + z/(3 sqrt(O+1)))^3 / E`` (Breslow & Day 1987).

The risk-adjusted rate is ``ratio * reference rate`` (the outcome rate of the
reference population), with the interval scaled the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from iopstats._checks import binary_outcome, check_confidence, check_frame, column_list, frequency_weights
from iopstats._results import Result
from iopstats.compare.casemix import CaseMixModel, fit_case_mix
from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse

__all__ = ["standardized_ratio", "StandardizedRatioResult", "poisson_ratio_interval", "poisson_test_pvalue"]


@dataclass(frozen=True, repr=False)
class StandardizedRatioResult(Result):
    """Observed / expected ratios per unit.

    Attributes
    ----------
    summary : DataFrame
        ``unit``, ``n``, ``observed``, ``expected``, ``observed_rate``,
        ``expected_rate``, ``ratio``, ``ci_low``, ``ci_high``, ``p_value``
        (exact two-sided, as ``poisson.test``), ``adjusted_rate``,
        ``adjusted_ci_low``, ``adjusted_ci_high``.
    model : CaseMixModel
        The case-mix model that gave the expected counts.
    reference_rate : float
    method : str
        ``"exact"`` (Garwood) or ``"byar"``.
    confidence : float
    n_dropped : int
        Rows left out for a missing unit, outcome or covariate.
    """

    model: CaseMixModel | None = None
    reference_rate: float = float("nan")
    method: str = "exact"
    confidence: float = 0.95
    n_dropped: int = 0

    def plot(self, ax=None, *, title: str | None = None):
        """O/E ratio per unit with its interval (matplotlib Axes), reference line at 1."""
        from iopstats.compare._unit_plots import ratio_axes

        return ratio_axes(self, ax=ax, title=title)


def poisson_ratio_interval(observed, expected, confidence: float = 0.95, method: str = "exact"):
    """Interval of ``observed / expected`` for a Poisson count (Garwood exact or Byar).

    Examples
    --------
    >>> lo, hi = poisson_ratio_interval([10], [8.0])
    >>> round(float(lo[0]), 6), round(float(hi[0]), 6)
    (0.599424, 2.298795)
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    a = 1.0 - check_confidence(confidence)
    if method == "exact":
        lo = np.where(o > 0, stats.chi2.ppf(a / 2, 2 * np.maximum(o, 1e-300)) / 2, 0.0)
        hi = stats.chi2.ppf(1 - a / 2, 2 * o + 2) / 2
    elif method == "byar":
        z = stats.norm.ppf(1 - a / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.where(o > 0, o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3, 0.0)
        o1 = o + 1
        hi = o1 * (1 - 1 / (9 * o1) + z / (3 * np.sqrt(o1))) ** 3
    else:
        raise IopstatsError("method must be 'exact' or 'byar'", value=method, fix="pass method='exact' (Garwood)")
    return np.maximum(lo, 0.0) / e, hi / e


def poisson_test_pvalue(observed: float, expected: float) -> float:
    """Two-sided exact p-value of ``O ~ Poisson(E)``, the rule of R ``poisson.test``.

    Examples
    --------
    >>> round(poisson_test_pvalue(10, 4.0), 6)
    0.008132
    """
    x, m = float(observed), float(expected)
    if m == 0:
        return float(x == 0)
    if x == m:
        return 1.0
    rel = 1 + 1e-7
    d = stats.poisson.pmf(x, m)
    if x < m:
        N = int(np.ceil(2 * m - x))
        while stats.poisson.pmf(N, m) > d:
            N *= 2
        i = np.arange(int(np.ceil(m)), N + 1)
        y = int((stats.poisson.pmf(i, m) <= d * rel).sum())
        p = stats.poisson.cdf(x, m) + stats.poisson.sf(N - y, m)
    else:
        i = np.arange(0, int(np.floor(m)) + 1)
        y = int((stats.poisson.pmf(i, m) <= d * rel).sum())
        p = stats.poisson.cdf(y - 1, m) + stats.poisson.sf(x - 1, m)
    return float(min(1.0, p))


def _pattern_table(data, unit, outcome, covs, weights) -> tuple[pd.DataFrame, int]:
    """Collapse to unit x covariates x outcome with a count ``n`` (complete rows only)."""
    check_frame(data, [unit, outcome, *covs] + ([weights] if weights else []))
    y = binary_outcome(data, outcome)
    w = frequency_weights(data, weights)
    keep = ~np.isnan(y) & data[unit].notna().to_numpy()
    for c in covs:
        keep &= data[c].notna().to_numpy()
    if w is not None:
        keep &= w > 0
    frame = data.loc[keep, [unit, *covs]].copy()
    frame["_y"] = y[keep]
    if w is not None:
        frame["_w"] = w[keep]
    tab = collapse(frame, [unit, *covs, "_y"], weights="_w" if w is not None else None)
    return tab, int((~keep).sum())


def standardized_ratio(
    data: pd.DataFrame,
    unit: str,
    outcome: str,
    covariates: str | Sequence[str] | None = None,
    *,
    weights: str | None = None,
    model: CaseMixModel | str | None = None,
    method: str = "exact",
    confidence: float = 0.95,
) -> StandardizedRatioResult:
    """Observed / expected ratio and risk-adjusted rate per unit (indirect standardisation).

    Parameters
    ----------
    data : DataFrame
        Episode rows or a collapsed count table (``weights="n"``) with the unit,
        the binary outcome and the case-mix covariates. Not modified.
    unit : str
        Unit column (program, site, state).
    outcome : str
        Binary outcome (e.g. ``"completed"``, ``"retained_90"``).
    covariates : str or list, optional
        Case-mix covariates of a model fitted here on all units pooled.
        Leave out with ``model=``.
    weights : str, optional
        Frequency weights of a collapsed table.
    model : CaseMixModel or path, optional
        A model fitted elsewhere (e.g. :func:`iopstats.national_model`), or the
        path of its JSON file; its covariates must be columns of ``data``.
    method : {"exact", "byar"}
        Poisson interval of the ratio: Garwood exact (R ``poisson.test``) or Byar.
    confidence : float

    Returns
    -------
    StandardizedRatioResult

    Examples
    --------
    >>> df = pd.DataFrame({"site": ["a"] * 6 + ["b"] * 6, "sex": ["f", "m"] * 6,
    ...                    "y": [1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1]})
    >>> res = standardized_ratio(df, "site", "y", ["sex"])
    >>> res.summary[["unit", "observed", "expected", "ratio"]].round(3)
      unit  observed  expected  ratio
    0    a       4.0       3.0  1.333
    1    b       2.0       3.0  0.667
    """
    conf = check_confidence(confidence)
    if model is None:
        covs = column_list(covariates, "covariates")
        if not covs:
            raise IopstatsError("give covariates= (the case mix) or a fitted model=",
                                fix='e.g. covariates=["age_group", "sex"] or model=national_model(...)')
    else:
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            model = CaseMixModel.load(model)
        if not isinstance(model, CaseMixModel):
            raise IopstatsError("model must be a CaseMixModel or the path of its JSON file",
                                value=type(model).__name__, fix="pass national_model(...) or its saved file")
        covs = list(model.covariates)
        if covariates is not None and column_list(covariates, "covariates") != covs:
            raise IopstatsError("covariates= differ from the covariates of model=", value=covariates,
                                fix=f"leave covariates= out (the model uses {covs})")
    tab, dropped = _pattern_table(data, unit, outcome, covs, weights)
    if model is None:
        model = fit_case_mix(tab, "_y", covs, weights="n", source="all units pooled")
        ref_rate = model.rate
    else:
        ref_rate = model.rate
    p = model.predict(tab)
    tab = tab.assign(_e=p * tab["n"], _o=tab["_y"] * tab["n"])
    g = tab.groupby(unit, observed=True, sort=True)[["n", "_o", "_e"]].sum()
    return _result(g, ref_rate, model, method, conf, dropped, outcome)


def _result(g: pd.DataFrame, ref_rate: float, model: CaseMixModel, method: str, conf: float, dropped: int,
            outcome: str) -> StandardizedRatioResult:
    o, e, n = g["_o"].to_numpy(float), g["_e"].to_numpy(float), g["n"].to_numpy(float)
    lo, hi = poisson_ratio_interval(o, e, conf, method)
    ratio = o / e
    summary = pd.DataFrame({
        "unit": g.index.to_numpy(), "n": n, "observed": o, "expected": e, "observed_rate": o / n,
        "expected_rate": e / n, "ratio": ratio, "ci_low": lo, "ci_high": hi,
        "p_value": [poisson_test_pvalue(a, b) for a, b in zip(o, e)],
        "adjusted_rate": ratio * ref_rate, "adjusted_ci_low": lo * ref_rate, "adjusted_ci_high": hi * ref_rate,
    })
    label = "Garwood exact" if method == "exact" else "Byar"
    remarks = [
        f"Expected counts from a logistic case-mix model on {', '.join(model.covariates)}, fitted on "
        f"{model.source or 'a reference population'} (reference rate {ref_rate:.1%}).",
        f"O/E intervals: {label} Poisson ({conf:.0%}); p-values exact two-sided (as R poisson.test).",
        "The risk-adjusted rate is O/E times the reference rate: the reference rate scaled by how the unit "
        "did against what its own case mix predicts; it adjusts only for the covariates in the model.",
    ]
    if dropped:
        remarks.append(f"{dropped} rows left out for a missing unit, outcome or covariate.")
    return StandardizedRatioResult(summary=summary, title=f"Observed / expected {outcome.replace('_', ' ')}",
                                   remarks=tuple(remarks), model=model, reference_rate=float(ref_rate),
                                   method=method, confidence=conf, n_dropped=dropped)
