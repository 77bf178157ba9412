"""Control charts with run rules for the nightly trend: :func:`control_chart`.

Charts (formulas of R qicharts2, ``qic.p``, ``qic.pp``, ``qic.u``, ``qic.up``):

* ``"p"``: centre ``p = sum(events) / sum(n)``, limits
  ``p +/- 3 sqrt(p (1 - p) / n_i)`` (and 2-sigma warning limits), clipped to [0, 1].
* ``"p_prime"`` (Laney 2002): the same with the standard deviation
  multiplied by ``sigma_z = mean(|z_i - z_{i-1}|) / 1.128``, the moving-range
  standard deviation of ``z_i = (p_i - p) / sqrt(p (1 - p) / n_i)``. Use it
  when the counts are large and the p-chart limits are too narrow to be useful
  (between-period variation beyond the binomial).
* ``"u"`` and ``"u_prime"``: rates per exposure (events per client-day, say):
  ``u = sum(events) / sum(exposure)``, ``u +/- 3 sqrt(u / n_i)``, Laney's
  ``sigma_z`` likewise.

Run rules (Anhoej & Olesen 2014, *PLoS ONE* 9(11): e113825; as qicharts2's
``runs.analysis``): points on the centre line are ignored; with ``m`` useful
points, non-random variation is signalled when the longest run on one side
of the centre exceeds ``round(log2(m)) + 3`` or the number of crossings of the
centre is below ``qbinom(0.05, m - 1, 0.5)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from iopstats._checks import check_frame, frequency_weights
from iopstats._results import Result
from iopstats.compare._units import unit_counts
from iopstats.exceptions import IopstatsError

__all__ = ["control_chart", "ControlChartResult", "runs_analysis"]

_CHARTS = ("p", "p_prime", "u", "u_prime")


@dataclass(frozen=True, repr=False)
class ControlChartResult(Result):
    """Control chart(s), one per unit.

    Attributes
    ----------
    summary : DataFrame
        One row per unit and period: ``unit``, ``period``, ``events``, ``n``
        (trials or exposure), ``rate``, ``center``, ``lcl``, ``ucl``,
        ``lcl_95``, ``ucl_95``, ``outside`` (beyond the 3-sigma limits).
    runs : DataFrame
        One row per unit: ``n_useful``, ``longest_run``, ``longest_run_max``,
        ``crossings``, ``crossings_min``, ``runs_signal``, ``sigma_z`` (1 for
        p and u charts), ``n_outside``.
    chart : str
    """

    runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    chart: str = "p"

    def plot(self, ax=None, *, unit=None, title: str | None = None):
        """Chart of one unit (default the first): rate, centre, 2- and 3-sigma limits, signals marked."""
        from iopstats.compare._unit_plots import control_axes

        return control_axes(self, ax=ax, unit=unit, title=title)


def runs_analysis(values, center) -> dict:
    """Anhoej run rules: longest run and number of crossings against their limits.

    Examples
    --------
    >>> r = runs_analysis([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 6.5)
    >>> r["longest_run"], r["longest_run_max"], r["crossings"], r["crossings_min"], r["runs_signal"]
    (6, 7, 1, 3, True)
    """
    y = np.asarray(values, dtype=float)
    c = np.broadcast_to(np.asarray(center, dtype=float), y.shape)
    side = np.sign(y - c)
    side = side[(side != 0) & ~np.isnan(side)]
    m = len(side)
    if m == 0:
        return {"n_useful": 0, "longest_run": np.nan, "longest_run_max": np.nan, "crossings": np.nan,
                "crossings_min": np.nan, "runs_signal": False}
    breaks = np.flatnonzero(np.diff(side) != 0)
    lengths = np.diff(np.r_[0, breaks + 1, m])
    longest = int(lengths.max())
    longest_max = int(np.round(np.log2(m))) + 3  # R round(): half to even, as numpy
    crossings = len(lengths) - 1
    crossings_min = int(stats.binom.ppf(0.05, max(m - 1, 0), 0.5))
    return {"n_useful": m, "longest_run": longest, "longest_run_max": longest_max, "crossings": crossings,
            "crossings_min": crossings_min, "runs_signal": bool(longest > longest_max or crossings < crossings_min)}


def _limits(events: np.ndarray, n: np.ndarray, chart: str) -> tuple[float, np.ndarray, float]:
    """Centre, per-period standard deviation (Laney-adjusted for primes) and sigma_z."""
    center = events.sum() / n.sum()
    rate = events / n
    if chart.endswith("_prime") and (center == 0 or (chart == "p_prime" and center == 1)):
        raise IopstatsError("every period has the same outcome: a prime chart has no z-scores to scale by",
                            fix="use chart='p' (or 'u')")
    sd = np.sqrt(center * (1 - center) / n) if chart in ("p", "p_prime") else np.sqrt(center / n)
    sigma_z = 1.0
    if chart.endswith("_prime"):
        if len(n) < 2:
            raise IopstatsError("a prime chart needs at least two periods", fix="use chart='p' or chart='u'")
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (rate - center) / sd
        sigma_z = float(np.mean(np.abs(np.diff(z))) / 1.128)
    return float(center), sd * sigma_z, sigma_z


def _tables(data, period, outcome, unit, weights, exposure, chart) -> pd.DataFrame:
    """unit, period, events, n from rows or counts."""
    df = data
    if unit is None:
        df = data.assign(_unit="all")
        unit = "_unit"
    if chart in ("p", "p_prime"):
        tab, _ = unit_counts(df, unit, outcome, weights, by=period)
        return tab.rename(columns={"trials": "n", period: "period"})
    if exposure is None:
        raise IopstatsError("a u chart needs exposure= (e.g. client-days per row)", fix="pass exposure='days'")
    check_frame(df, [unit, period, outcome, exposure])
    w = frequency_weights(df, weights)
    w = np.ones(len(df)) if w is None else w
    ev = pd.to_numeric(df[outcome], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ex = pd.to_numeric(df[exposure], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.nanmin(ev) < 0 or np.nanmin(ex) < 0:
        raise IopstatsError("event counts and exposure must be >= 0", column=outcome, fix="check the columns")
    keep = ~np.isnan(ev) & ~np.isnan(ex) & df[unit].notna().to_numpy() & df[period].notna().to_numpy()
    frame = pd.DataFrame({"unit": df[unit].to_numpy()[keep], "period": df[period].to_numpy()[keep],
                          "events": (ev * w)[keep], "n": (ex * w)[keep]})
    tab = frame.groupby(["unit", "period"], observed=True, sort=True)[["events", "n"]].sum().reset_index()
    return tab[tab["n"] > 0].reset_index(drop=True)


def control_chart(
    data: pd.DataFrame,
    period: str,
    outcome: str,
    *,
    unit: str | None = None,
    chart: str = "p",
    weights: str | None = None,
    exposure: str | None = None,
) -> ControlChartResult:
    """p, Laney p-prime, u or u-prime chart per unit, with the Anhoej run rules.

    Parameters
    ----------
    data : DataFrame
        Rows or a collapsed table (``weights="n"``) with a period column
        (e.g. ``admit_period``, sorted in time order) and the outcome. Not modified.
    period : str
        Period column; its sort order is the time order.
    outcome : str
        Binary outcome (p charts) or event count (u charts).
    unit : str, optional
        One chart per unit (program, site); default one chart of all rows.
    chart : {"p", "p_prime", "u", "u_prime"}
    weights : str, optional
        Frequency weights.
    exposure : str, optional
        Exposure column of a u chart (client-days, say).

    Returns
    -------
    ControlChartResult
        ``.summary`` per unit and period, ``.runs`` per unit, ``.plot(unit=)``.

    Examples
    --------
    >>> df = pd.DataFrame({"month": [1] * 40 + [2] * 40 + [3] * 40,
    ...                    "completed": [1] * 20 + [0] * 20 + [1] * 24 + [0] * 16 + [1] * 10 + [0] * 30})
    >>> res = control_chart(df, "month", "completed")
    >>> res.summary[["period", "rate", "center", "lcl", "ucl", "outside"]].round(3)
       period  rate  center    lcl    ucl  outside
    0       1  0.50    0.45  0.214  0.686    False
    1       2  0.60    0.45  0.214  0.686    False
    2       3  0.25    0.45  0.214  0.686    False
    """
    if chart not in _CHARTS:
        raise IopstatsError("unknown chart", value=chart, fix=f"use one of {list(_CHARTS)}")
    tab = _tables(data, period, outcome, unit, weights, exposure, chart)
    rows, runs = [], []
    for u, g in tab.groupby("unit", sort=True, observed=True):
        g = g.sort_values("period")
        ev, n = g["events"].to_numpy(float), g["n"].to_numpy(float)
        center, sd, sigma_z = _limits(ev, n, chart)
        rate = ev / n
        hi = 1.0 if chart.startswith("p") else np.inf
        part = pd.DataFrame({"unit": u, "period": g["period"].to_numpy(), "events": ev, "n": n, "rate": rate,
                             "center": center, "lcl": np.clip(center - 3 * sd, 0, hi),
                             "ucl": np.clip(center + 3 * sd, 0, hi), "lcl_95": np.clip(center - 2 * sd, 0, hi),
                             "ucl_95": np.clip(center + 2 * sd, 0, hi)})
        part["outside"] = (part["rate"] > part["ucl"]) | (part["rate"] < part["lcl"])
        rows.append(part)
        ra = runs_analysis(rate, center)
        runs.append({"unit": u, **ra, "sigma_z": sigma_z, "n_outside": int(part["outside"].sum())})
    summary = pd.concat(rows, ignore_index=True)
    runs_tab = pd.DataFrame(runs)
    return ControlChartResult(summary=summary, runs=runs_tab, chart=chart, title=_title(chart, outcome),
                              remarks=_remarks(chart))


def _title(chart: str, outcome: str) -> str:
    name = {"p": "p-chart", "p_prime": "Laney p'-chart", "u": "u-chart", "u_prime": "Laney u'-chart"}[chart]
    return f"{name} of {outcome.replace('_', ' ')}"


def _remarks(chart: str) -> tuple[str, ...]:
    out = ["Limits at 3 sigma (dashed: 2 sigma); a point outside the 3-sigma limits, a run longer than "
           "round(log2(m)) + 3 on one side of the centre, or fewer crossings than qbinom(0.05, m - 1, 0.5) "
           "(Anhoej rules, m useful points) signals non-random variation.",
           "A signal says the process changed or varies more than chance; it does not say why or whether "
           "it is better or worse care."]
    if chart.endswith("_prime"):
        out.append("Laney prime chart: the limits are widened by sigma_z, the moving-range standard deviation "
                   "of the z-scores (between-period variation beyond the binomial or Poisson).")
    return tuple(out)
