"""Funnel plots for comparing units (Spiegelhalter 2005): :func:`funnel`.

A funnel plot shows each unit's indicator (a proportion, or an observed /
expected ratio) against its precision (number of episodes, or expected
count), with control limits around a target that narrow as the precision
grows. A unit outside the 95% limits is one that would be expected by chance
about 1 time in 20 if every unit performed at the target; outside 99.8%, about
1 in 500.

Limits (Spiegelhalter, *Stat Med* 2005;24:1185-1202, appendix A.1):

* **exact** (no overdispersion): for a proportion the ``p``-quantile
  ``r_p`` of Binomial(``n``, ``theta0``), interpolated as
  ``(r_p - a) / n`` with ``a = (F(r_p) - p) / (F(r_p) - F(r_p - 1))``; for a
  ratio the same with Poisson(``theta0 * E``) and ``/ E``. Exact at every
  ``n``, so small units get the right (wide, asymmetric) limits.
* **overdispersion**, as FunnelPlotR does: z-scores on a variance-stabilised
  scale (proportion: ``y = asin(sqrt(p))``, ``s = 1 / (2 sqrt(n))``; ratio:
  ``y = sqrt(O / E)``, ``s = 1 / (2 sqrt(E))``), ``z = (y - y0) / s``;
  Winsorised at ``trim`` (10%) of each tail (R ``quantile`` type 7);
  ``phi = mean(z_w^2)``. ``"multiplicative"``: limits
  ``y0 +/- q sqrt(phi) s`` (with ``phi`` floored at 1); ``"additive"``
  (random effects): ``y0 +/- q sqrt(s^2 + tau2)`` with the DerSimonian-Laird
  ``tau2 = (n phi - (n - 1)) / (sum w - sum w^2 / sum w)``, ``w = 1 / s^2``
  (0 when ``n phi < n - 1``), back-transformed. When the inflation is nil
  (``phi <= 1`` or ``tau2 = 0``) the exact limits are used.

The unadjusted limits are FunnelPlotR's and PHEindicatormethods' choices up to
their approximations (FunnelPlotR: chi-square limits for ratios, arcsine for
proportions; PHE: Wilson-based limits for proportions, chi-square / Byar for
ratios); the exact ones here are the reference values of Spiegelhalter's
appendix. For ratios FunnelPlotR's default z-scores are on the log scale
(SHMI); the square-root scale used here is its ``sr_method = "CQC"`` option
(Spiegelhalter 2012), with the limits squared back to the ratio scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from iopstats._checks import check_frame
from iopstats._results import Result
from iopstats.compare._units import unit_counts
from iopstats.exceptions import IopstatsError

__all__ = ["funnel", "FunnelResult", "exact_funnel_limits"]

_LEVELS = (0.95, 0.998)
_OVERDISPERSION = ("additive", "multiplicative", "none")
_STATISTICS = ("proportion", "ratio")


@dataclass(frozen=True, repr=False)
class FunnelResult(Result):
    """Funnel plot of units against a target.

    Attributes
    ----------
    summary : DataFrame
        One row per unit: ``unit``, ``events`` (observed), ``n`` (trials, or the
        expected count for a ratio), ``value`` (proportion or O/E), ``z``
        (unadjusted, variance-stabilised scale), ``z_adjusted``, the limits
        used for flagging ``lower_95``, ``upper_95``, ``lower_998``,
        ``upper_998`` and ``flag`` (``"above 99.8%"``, ``"above 95%"``,
        ``"within"``, ``"below 95%"``, ``"below 99.8%"``).
    statistic : str
        ``"proportion"`` or ``"ratio"``.
    target : float
        Centre line (pooled proportion, or 1 for a ratio, unless given).
    overdispersion : str
        Method requested: ``"additive"``, ``"multiplicative"`` or ``"none"``.
    phi, tau2 : float
        Dispersion ratio of the Winsorised z-scores and the additive
        between-unit variance (on the transformed scale).
    adjusted : bool
        Whether the limits were widened (False: exact limits).
    trim : float
        Winsorising fraction of each tail.
    """

    statistic: str = "proportion"
    target: float = float("nan")
    overdispersion: str = "additive"
    phi: float = float("nan")
    tau2: float = 0.0
    adjusted: bool = False
    trim: float = 0.1

    def limits(self, n: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """Limits at precisions ``n`` (trials or expected counts), as used for the flags."""
        n = np.asarray(n, dtype=float)
        if self.adjusted:
            return _adjusted_limits(n, self.statistic, self.target, self._inflation())
        return exact_funnel_limits(n, self.target, self.statistic)

    def _inflation(self) -> tuple[str, float]:
        if self.overdispersion == "multiplicative":
            return "multiplicative", max(self.phi, 1.0)
        return "additive", self.tau2

    def plot(self, ax=None, *, title: str | None = None):
        """Funnel plot (matplotlib Axes): units, target and 95% / 99.8% limits."""
        from iopstats.compare._unit_plots import funnel_axes

        return funnel_axes(self, ax=ax, title=title)


def exact_funnel_limits(n, target: float, statistic: str = "proportion") -> pd.DataFrame:
    """Exact (interpolated) 95% and 99.8% funnel limits at precisions ``n``.

    Spiegelhalter (2005, appendix A.1.1): binomial quantiles of
    Binomial(``n``, ``target``) for a proportion (``n`` whole numbers), Poisson
    quantiles of mean ``target * n`` for a ratio (``n`` = expected count).

    Examples
    --------
    >>> exact_funnel_limits([100], 0.5).round(4)
           n  lower_95  upper_95  lower_998  upper_998
    0  100.0    0.3968    0.5932     0.3412     0.6488
    """
    n = np.asarray(n, dtype=float)
    if statistic not in _STATISTICS:
        raise IopstatsError("statistic must be 'proportion' or 'ratio'", value=statistic,
                            fix="pass statistic='proportion' or statistic='ratio'")
    out = {"n": n}
    for level in _LEVELS:
        tag = _tag(level)
        a = (1 - level) / 2
        out[f"lower_{tag}"] = _exact_quantile(n, target, a, statistic)
        out[f"upper_{tag}"] = _exact_quantile(n, target, 1 - a, statistic)
    return pd.DataFrame(out)[["n", "lower_95", "upper_95", "lower_998", "upper_998"]]


def _tag(level: float) -> str:
    return "95" if level == 0.95 else "998"


def _exact_quantile(n: np.ndarray, target: float, p: float, statistic: str) -> np.ndarray:
    if statistic == "proportion":
        nn = np.round(n)
        dist = stats.binom(nn, target)
    else:
        nn = n
        dist = stats.poisson(target * n)
    r = dist.ppf(p)
    F = dist.cdf(r)
    Fm = dist.cdf(r - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(F > Fm, (F - p) / (F - Fm), 0.0)
        lim = (r - a) / nn
    lim = np.maximum(lim, 0.0)
    return np.minimum(lim, 1.0) if statistic == "proportion" else lim


def _transform(events: np.ndarray, n: np.ndarray, target: float, statistic: str):
    """Variance-stabilised value, its target and standard error (FunnelPlotR / Spiegelhalter 2012)."""
    if statistic == "proportion":
        return np.arcsin(np.sqrt(events / n)), float(np.arcsin(np.sqrt(target))), 1.0 / (2.0 * np.sqrt(n))
    return np.sqrt(events / n), float(np.sqrt(target)), 1.0 / (2.0 * np.sqrt(n))


def _back(y: np.ndarray, statistic: str) -> np.ndarray:
    if statistic == "proportion":
        return np.sin(np.clip(y, 0.0, np.pi / 2)) ** 2
    return np.maximum(y, 0.0) ** 2


def _adjusted_limits(n: np.ndarray, statistic: str, target: float, inflation: tuple[str, float]) -> pd.DataFrame:
    kind, value = inflation
    y0 = float(np.arcsin(np.sqrt(target))) if statistic == "proportion" else float(np.sqrt(target))
    s = 1.0 / (2.0 * np.sqrt(n))
    sd = np.sqrt(value) * s if kind == "multiplicative" else np.sqrt(s**2 + value)
    out = {"n": n}
    for level in _LEVELS:
        q = stats.norm.ppf(0.5 + level / 2)
        out[f"lower_{_tag(level)}"] = _back(y0 - q * sd, statistic)
        out[f"upper_{_tag(level)}"] = _back(y0 + q * sd, statistic)
    return pd.DataFrame(out)[["n", "lower_95", "upper_95", "lower_998", "upper_998"]]


def _winsorise(z: np.ndarray, trim: float) -> np.ndarray:
    """Clip at the ``trim`` and ``1 - trim`` sample quantiles (R ``quantile`` type 7)."""
    if trim == 0:
        return z
    lo, hi = np.quantile(z, [trim, 1.0 - trim])
    return np.clip(z, lo, hi)


def _dispersion(z_w: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """``phi`` and the DerSimonian-Laird ``tau2`` of FunnelPlotR's ``tau_func``."""
    k = len(z_w)
    phi = float(np.mean(z_w**2))
    w = 1.0 / s**2
    if k < 2 or k * phi < k - 1:  # one unit: no between-unit variance to estimate
        return phi, 0.0
    tau2 = max(0.0, (k * phi - (k - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    return phi, float(tau2)


def _flags(value: np.ndarray, lim: pd.DataFrame) -> np.ndarray:
    v = value
    return np.select(
        [v > lim["upper_998"].to_numpy(), v > lim["upper_95"].to_numpy(),
         v < lim["lower_998"].to_numpy(), v < lim["lower_95"].to_numpy()],
        ["above 99.8%", "above 95%", "below 99.8%", "below 95%"], default="within")


def _unit_table(data, unit, outcome, weights, expected, statistic) -> tuple[pd.DataFrame, int]:
    """unit, events, n (trials or expected) from rows / counts or a unit-level O/E table."""
    if hasattr(data, "summary") and isinstance(getattr(data, "summary"), pd.DataFrame):
        data = data.summary
    if statistic == "proportion":
        if outcome is None:
            raise IopstatsError("a proportion funnel needs outcome=", fix="e.g. funnel(df, 'program', 'completed')")
        tab, dropped = unit_counts(data, unit, outcome, weights)
        return tab.rename(columns={"trials": "n"}), dropped
    obs = outcome or "observed"
    check_frame(data, [unit, obs, expected])
    o = pd.to_numeric(data[obs], errors="coerce").to_numpy(dtype=float)
    e = pd.to_numeric(data[expected], errors="coerce").to_numpy(dtype=float)
    if np.any(o < 0) or np.any(e <= 0) or not (np.isfinite(o).all() and np.isfinite(e).all()):
        raise IopstatsError("observed counts must be >= 0 and expected counts > 0 and finite", column=expected,
                            fix="pass the O/E table of standardized_ratio (one row per unit)")
    tab = pd.DataFrame({"unit": data[unit].to_numpy(), "events": o, "n": e})
    if tab["unit"].duplicated().any():
        raise IopstatsError("a ratio funnel needs one row per unit", column=unit,
                            fix="pass the O/E table of standardized_ratio (one row per unit)")
    return tab, 0


def _check_args(statistic, overdispersion, trim, target):
    if statistic not in _STATISTICS:
        raise IopstatsError("statistic must be 'proportion' or 'ratio'", value=statistic,
                            fix="pass statistic='proportion' or statistic='ratio'")
    if overdispersion not in _OVERDISPERSION:
        raise IopstatsError("unknown overdispersion method", value=overdispersion,
                            fix=f"use one of {list(_OVERDISPERSION)}")
    if not isinstance(trim, (int, float)) or not 0 <= trim < 0.5:
        raise IopstatsError("trim must be a fraction in [0, 0.5)", value=trim, fix="e.g. trim=0.1 (10% each tail)")
    if target is not None:
        t = float(target)
        if not (0 < t < 1 if statistic == "proportion" else t > 0):
            raise IopstatsError("target out of range", value=target,
                                fix="a proportion target in (0, 1), a ratio target > 0")


def funnel(
    data,
    unit: str,
    outcome: str | None = None,
    *,
    weights: str | None = None,
    statistic: str = "proportion",
    expected: str = "expected",
    target: float | None = None,
    overdispersion: str = "additive",
    trim: float = 0.1,
) -> FunnelResult:
    """Funnel plot of a proportion or an O/E ratio per unit, with 95% and 99.8% limits.

    Parameters
    ----------
    data : DataFrame or StandardizedRatioResult
        ``statistic="proportion"``: episode rows or a collapsed count table
        (``weights="n"``) with a unit column and a binary ``outcome``.
        ``statistic="ratio"``: one row per unit with observed (``outcome``,
        default ``"observed"``) and ``expected`` counts, e.g. the result of
        :func:`iopstats.standardized_ratio`. Not modified.
    unit : str
        Column naming the unit (program, site, state).
    outcome : str, optional
        Binary outcome (proportion) or the observed-count column (ratio).
    weights : str, optional
        Frequency weights of a collapsed table.
    statistic : {"proportion", "ratio"}
    expected : str
        Expected-count column (ratio).
    target : float, optional
        Centre line: default the pooled proportion ``sum(events) / sum(n)``,
        or 1 for a ratio.
    overdispersion : {"additive", "multiplicative", "none"}
        How limits are widened when units vary more than chance allows (see
        the module docstring); the choice and its ``phi`` / ``tau2`` are stated
        in the remarks.
    trim : float
        Winsorising fraction of each tail for ``phi`` (default 10%).

    Returns
    -------
    FunnelResult
        ``.summary`` (one row per unit with limits and ``flag``), ``.limits(n)``,
        ``.plot(ax=)``.

    Examples
    --------
    >>> df = pd.DataFrame({"program": ["a"] * 200 + ["b"] * 200 + ["c"] * 30,
    ...                    "completed": [1] * 150 + [0] * 50 + [1] * 80 + [0] * 120 + [1] * 12 + [0] * 18})
    >>> res = funnel(df, "program", "completed", overdispersion="none")
    >>> res.summary[["unit", "events", "n", "value", "flag"]]
      unit  events      n  value         flag
    0    a   150.0  200.0   0.75  above 99.8%
    1    b    80.0  200.0   0.40  below 99.8%
    2    c    12.0   30.0   0.40       within
    """
    _check_args(statistic, overdispersion, trim, target)
    tab, dropped = _unit_table(data, unit, outcome, weights, expected, statistic)
    events, n = tab["events"].to_numpy(float), tab["n"].to_numpy(float)
    if statistic == "proportion":
        theta0 = float(events.sum() / n.sum()) if target is None else float(target)
        if not 0 < theta0 < 1:
            raise IopstatsError("every unit has the same outcome (pooled proportion 0 or 1): no funnel to draw",
                                column=outcome, fix="check the outcome column")
    else:
        theta0 = 1.0 if target is None else float(target)
    y, y0, s = _transform(events, n, theta0, statistic)
    z = (y - y0) / s
    phi, tau2 = _dispersion(_winsorise(z, trim), s)
    if overdispersion == "none":
        adjusted, z_adj = False, z
    elif overdispersion == "multiplicative":
        adjusted, z_adj = phi > 1, z / np.sqrt(max(phi, 1.0))
    else:
        adjusted, z_adj = tau2 > 0, (y - y0) / np.sqrt(s**2 + tau2)
    value = events / n
    res_kw = dict(statistic=statistic, target=theta0, overdispersion=overdispersion, phi=phi, tau2=tau2,
                  adjusted=bool(adjusted), trim=float(trim))
    proto = FunnelResult(summary=pd.DataFrame(), **res_kw)
    lim = proto.limits(n)
    summary = pd.DataFrame({"unit": tab["unit"].to_numpy(), "events": events, "n": n, "value": value, "z": z,
                            "z_adjusted": z_adj})
    for c in ("lower_95", "upper_95", "lower_998", "upper_998"):
        summary[c] = lim[c].to_numpy()
    summary["flag"] = _flags(value, lim)
    return FunnelResult(summary=summary, title=_title(statistic, outcome), remarks=_remarks(proto, len(tab), dropped),
                        **res_kw)


def _title(statistic: str, outcome: str | None) -> str:
    what = (outcome or "outcome").replace("_", " ")
    return f"Funnel plot of {what}" + (" (observed / expected)" if statistic == "ratio" else "")


def _remarks(r: FunnelResult, k: int, dropped: int) -> tuple[str, ...]:
    centre = f"{r.target:.1%}" if r.statistic == "proportion" else f"{r.target:g}"
    out = [f"{k} units; centre line {centre}; limits at 95% and 99.8%."]
    disp = (f"Overdispersion method '{r.overdispersion}': phi = {r.phi:.3g} from z-scores Winsorised at "
            f"{r.trim:.0%} per tail"
            f"{'' if r.overdispersion != 'additive' else f', tau2 = {r.tau2:.3g} (DerSimonian-Laird)'}.")
    out.append(disp)
    if r.overdispersion == "none":
        out.append("Limits are exact (binomial or Poisson), not widened for overdispersion (overdispersion='none').")
    elif r.adjusted:
        how = ("multiplied by sqrt(phi)" if r.overdispersion == "multiplicative"
               else "widened by the between-unit variance tau2 (random effects)")
        out.append(f"Limits are {how} on the variance-stabilised scale, as FunnelPlotR does.")
    else:
        out.append(f"No overdispersion found ({r.overdispersion} method): limits are exact (binomial or Poisson).")
    out.append("A unit outside the limits differs from the centre more than chance alone would usually allow; "
               "it is a prompt to look closer (data, case mix), not a verdict on quality.")
    if dropped:
        out.append(f"{dropped} rows left out for a missing unit or outcome.")
    return tuple(out)
