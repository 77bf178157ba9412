"""Headline estimates from one collapsed count table, on pandas or Dask.

The headline set (completion by level of care, IOP against every other level,
time in treatment, adjusted models) needs only categorical covariates, the
time in treatment and how the episode ended. :func:`headline_counts` makes the
one pass over the rows: it derives those outcomes per row (with the same
functions and definitions as :func:`iopstats.build_outcomes`) and collapses
them to a table of distinct patterns with a frequency column ``n``.
:func:`headline_estimates` then fits everything from that table with
``weights="n"``; every estimator gives the row-level numbers on it.
:func:`headline_from_parquet` runs both on a Parquet dataset written by
``iopstats convert``, with pandas or on a Dask cluster (out of core: only the
collapsed table reaches this process).

The count step (:func:`headline_counts`, its packing of the keys and the Dask
driver) lives in :mod:`iopstats.compare.headline_counts`; every name of it is
re-exported here, so ``from iopstats.compare.headline import headline_counts``
keeps working.

Definitions (as in :mod:`iopstats.outcomes.retention`): ``time_in_treatment``
is the exact stay, the midpoint of a TEDS-D LOS bin, or the time from
admission to ``as_of`` for open episodes; ``left_treatment`` is 1 when the
episode ended (any reason, completion included) and 0 when it is open or the
stay is only known to exceed 365 days; ``completed`` is missing while open or
when the discharge reason is unknown.
"""

from __future__ import annotations

import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from iopstats._results import Result
from iopstats.compare.headline_counts import (  # re-exported: the count step used to live here
    _CANONICAL,
    _PACK_LIMIT,
    _STAY_COLUMNS,
    _YEAR_MAX,
    _YEAR_MIN,
    HEADLINE_COVARIATES,
    OUTCOME_KEYS,
    YEAR_KEY,
    _canonical_frame,
    _check_columns,
    _check_covariates,
    _codes,
    _dask_counts,
    _derive,
    _derive_packed,
    _is_dask,
    _is_year,
    _needed,
    _pack,
    _packing,
    _plan,
    _radix,
    _resolve_as_of,
    _same_dtype,
    _unpack,
    _year,
    headline_counts,
)
from iopstats.compare.rates import RateComparison, compare_rates
from iopstats.exceptions import IopstatsError
from iopstats.stats.counts import collapse
from iopstats.stats.cox import CoxResult, cox
from iopstats.stats.kaplan_meier import KaplanMeierResult, kaplan_meier
from iopstats.stats.logistic import LogisticResult, logistic
from iopstats.stats.logrank import LogrankResult, logrank
from iopstats.stats.rates import rates

__all__ = [
    "HEADLINE_COVARIATES",
    "OUTCOME_KEYS",
    "YEAR_KEY",
    "HeadlineResult",
    "headline_counts",
    "headline_estimates",
    "headline_from_parquet",
]


# --------------------------------------------------------------------------- estimates


@dataclass(frozen=True, repr=False)
class HeadlineResult(Result):
    """The headline set, each piece a result of its own estimator.

    Attributes
    ----------
    summary : DataFrame
        One row per level of care (reference first), indexed by ``level``:
        ``n``, ``completed``, ``completion_rate``, ``completion_ci_low``,
        ``completion_ci_high`` (Wilson); ``risk_difference`` (reference minus
        level), ``rd_ci_low``, ``rd_ci_high`` (Newcombe), ``p_holm``;
        ``adj_odds_ratio`` (odds of completion, reference / level, adjusted
        for the covariates), ``adj_or_ci_low``, ``adj_or_ci_high``;
        ``median_days`` (Kaplan-Meier median time in treatment),
        ``median_ci_low``, ``median_ci_high``; ``hazard_ratio`` (hazard of
        leaving treatment, reference / level, adjusted), ``hr_ci_low``,
        ``hr_ci_high``. Reference rows hold its own rate and median only.
    rates : DataFrame
        :func:`iopstats.stats.rates.rates` of completion by level.
    comparison : RateComparison
        :func:`iopstats.compare.rates.compare_rates` of completion, reference
        against each level (``.omnibus``; Holm and BH p-values).
    km : KaplanMeierResult
        Time in treatment by level (event: left treatment).
    logrank : LogrankResult
        Log-rank test of time in treatment across levels.
    logistic : LogisticResult
        Completion on level (reference first) + covariates.
    cox : CoxResult
        Hazard of leaving treatment on level + covariates (Efron ties).
    n : float
        Episodes in the table (sum of the weights).
    n_patterns : int
        Rows of the table the estimates were computed from.
    covariates : tuple of str
    reference : object
    by_year : DataFrame or None
        Only when the count table has the year key (``by_year=True``):
        episodes by ``level_of_care`` (reference first) and
        ``discharge_year``, with ``n`` (episodes) and ``completed``
        (completed episodes), sorted; ``n`` sums to :attr:`n`. Every other
        piece is computed after pooling over the years, so it equals the
        estimates from a table without the year.
    timings : dict
        Seconds per step (not part of equality).
    """

    rates: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparison: RateComparison | None = None
    km: KaplanMeierResult | None = None
    logrank: LogrankResult | None = None
    logistic: LogisticResult | None = None
    cox: CoxResult | None = None
    n: float = 0.0
    n_patterns: int = 0
    covariates: tuple[str, ...] = ()
    reference: object = None
    by_year: pd.DataFrame | None = None
    timings: dict = field(default_factory=dict, compare=False)


def _prepare_levels(data: pd.DataFrame, reference, weights: str | None) -> pd.Series:
    lv = data["level_of_care"]
    present = lv.notna()
    if weights is not None:
        present &= data[weights].to_numpy() > 0
    values = lv[present]
    if not isinstance(lv.dtype, pd.CategoricalDtype):
        lv = lv.astype("category")
    levels = [c for c in lv.cat.categories if (values == c).any()]
    if reference not in levels:
        raise IopstatsError("the reference level of care is not in the data", column="level_of_care",
                            value=reference, fix=f"choose one of {', '.join(map(str, levels))}")
    if len(levels) < 2:
        raise IopstatsError("only one level of care in the data: nothing to compare", column="level_of_care",
                            value=reference, fix="use data with at least two levels of care")
    order = [reference, *[c for c in levels if c != reference]]
    return lv.cat.set_categories(order, ordered=False)


def _missing_as_category(s: pd.Series) -> pd.Series:
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("category")
    s = s.cat.remove_unused_categories()
    if s.isna().any():
        s = s.cat.add_categories("missing").fillna("missing")
    return s


def _inverse(summary: pd.DataFrame, term: str, scale: str) -> tuple[float, float, float]:
    """exp(-coef) and its interval: the reference relative to the level."""
    if term not in summary.index:
        return (np.nan, np.nan, np.nan)
    row = summary.loc[term]
    return (1.0 / float(row[scale]), 1.0 / float(row["ci_high"]), 1.0 / float(row["ci_low"]))


def headline_estimates(
    counts: pd.DataFrame,
    *,
    covariates: Sequence[str] | None = None,
    reference: object = "iop",
    weights: str | None = "n",
    confidence: float = 0.95,
    missing_covariates: str = "drop",
) -> HeadlineResult:
    """Completion, IOP comparisons, time in treatment and adjusted models from the count table.

    Parameters
    ----------
    counts : DataFrame
        The table from :func:`headline_counts` (``weights="n"``), or row-level
        data with the same columns (e.g. :func:`iopstats.build_outcomes`
        output, ``weights=None``): the numbers are the same. Not modified.
        A ``discharge_year`` column (``headline_counts(..., by_year=True)``)
        is counted into ``.by_year`` and then pooled over (the table is
        collapsed over the year with the weights), so every estimate equals
        the one from the table without it.
    covariates : sequence of str, optional
        Case-mix covariates of the logistic and Cox models. Default: every
        column of the count table that is not the level, the year, an outcome
        or the weight (with ``weights=None``: :data:`HEADLINE_COVARIATES`).
    reference : object
        Level every other level is compared with (IOP).
    weights : str or None
        Frequency-weight column (``"n"`` for the count table).
    confidence : float
        Level of every interval.
    missing_covariates : {"drop", "category"}
        ``"drop"``: the models leave out episodes with a missing covariate
        (complete case, as R's ``na.omit``; counted in their remarks).
        ``"category"``: a missing value is a level of its own (``"missing"``).
        Rates, comparisons and curves always use every episode.

    Returns
    -------
    HeadlineResult
        ``.summary`` compact table by level, ``.rates``, ``.comparison``,
        ``.km``, ``.logrank``, ``.logistic``, ``.cox``; ``.by_year`` with a
        year key.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = 400
    >>> rows = pd.DataFrame({"client_id": [f"c{i}" for i in range(m)], "episode_id": [f"e{i}" for i in range(m)],
    ...     "level_of_care": rng.choice(["iop", "outpatient", "residential_short"], m),
    ...     "admit_date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 300, m), unit="D"),
    ...     "sex": rng.choice(["male", "female"], m)})
    >>> stay = pd.to_timedelta(rng.integers(1, 120, m), unit="D")
    >>> rows["discharge_date"] = rows["admit_date"] + stay
    >>> rows["discharge_reason"] = rng.choice(["completed", "dropped_out", "transferred"], m)
    >>> res = headline_estimates(headline_counts(rows, covariates=["sex"], as_of="2024-06-30"))
    >>> list(res.summary.index)  # reference first, then canonical order
    ['iop', 'residential_short', 'outpatient']
    >>> int(res.summary["n"].sum()), res.n_patterns < m
    (400, True)
    >>> list(res.cox.summary.index)
    ['level_of_care[residential_short]', 'level_of_care[outpatient]', 'sex[female]']
    >>> yr = headline_estimates(headline_counts(rows, covariates=["sex"], as_of="2024-06-30", by_year=True))
    >>> yr.summary.equals(res.summary), int(yr.by_year["n"].sum())
    (True, 400)
    """
    if not isinstance(counts, pd.DataFrame):
        raise IopstatsError("counts must be a pandas DataFrame", value=type(counts).__name__,
                            fix="pass the table from headline_counts (Dask results are collapsed there)")
    if missing_covariates not in ("drop", "category"):
        raise IopstatsError("unknown missing_covariates", value=missing_covariates,
                            fix='use missing_covariates="drop" or "category"')
    base = ["level_of_care", *OUTCOME_KEYS]
    for c in base + ([weights] if weights else []):
        if c not in counts.columns:
            raise IopstatsError("count table is missing a column", column=c,
                                fix="build it with headline_counts (or build_outcomes for row-level data)")
    if covariates is None:
        covs = ([c for c in counts.columns if c not in (*base, YEAR_KEY, weights)] if weights
                else list(HEADLINE_COVARIATES))
    else:
        covs = [covariates] if isinstance(covariates, str) else list(covariates)
    for c in covs:
        if c not in counts.columns:
            raise IopstatsError("covariate not in the count table", column=c,
                                fix=f"use columns of the table: {', '.join(map(str, counts.columns))}")
        if c in base or c == weights:
            raise IopstatsError("a covariate is also the level, an outcome or the weight", column=c,
                                fix="list case-mix columns only")
        if c == YEAR_KEY:
            raise IopstatsError("the discharge year is the table's year key, not a case-mix covariate", column=c,
                                fix="leave it out of covariates= (the estimates pool over years; counts by year "
                                    "are in .by_year)")
    timings: dict[str, float] = {}
    year_tab = None
    if YEAR_KEY in counts.columns:
        t0 = _time.perf_counter()
        year_tab = _year_counts(counts, reference, weights)
        if weights:  # pool over the years: the table without the year key, same rows, order and counts
            pooled = [c for c in counts.columns if c not in (YEAR_KEY, weights)]
            counts = collapse(counts, pooled, weights=weights, name=weights)
        timings["pool_years"] = _time.perf_counter() - t0

    def timed(step, fn, *args, **kwargs):
        t0 = _time.perf_counter()
        out = fn(*args, **kwargs)
        timings[step] = _time.perf_counter() - t0
        return out

    data = counts[[*base, *covs] + ([weights] if weights else [])].copy()
    data["level_of_care"] = _prepare_levels(data, reference, weights)
    if missing_covariates == "category":
        for c in covs:
            data[c] = _missing_as_category(data[c])

    t_all = _time.perf_counter()
    rate_tab = timed("rates", rates, data, "completed", by="level_of_care", confidence=confidence, weights=weights)
    comp = timed("compare_rates", compare_rates, data, "completed", by="level_of_care", reference=reference,
                 confidence=confidence, weights=weights)
    km = timed("kaplan_meier", kaplan_meier, data, "time_in_treatment", "left_treatment", by="level_of_care",
               confidence=confidence, weights=weights)
    lr = timed("logrank", logrank, data, "time_in_treatment", "left_treatment", by="level_of_care",
               weights=weights)
    model_terms = ["level_of_care", *covs]
    logit_data = data
    if weights:  # the binary model needs no time: collapse it away first (same fit, fewer rows)
        logit_data = timed("logistic_collapse", collapse, data, [*model_terms, "completed"], weights=weights,
                           name=weights)
    logit = timed("logistic", logistic, logit_data, "completed", model_terms, weights=weights,
                  confidence=confidence)
    cx = timed("cox", cox, data, "time_in_treatment", "left_treatment", model_terms, weights=weights,
               confidence=confidence)
    timings["statistics_total"] = _time.perf_counter() - t_all

    summary = _compact_summary(rate_tab, comp, km, logit, cx, reference)
    n = float(data[weights].sum()) if weights else float(len(data))
    remarks = (
        f"Completion = discharge reason 'completed', over discharged episodes with a known reason "
        f"({int(summary['n'].sum()):,} of {n:,.0f} episodes).",
        f"Differences, adjusted odds ratios and hazard ratios are {reference} relative to each level "
        f"({reference} minus level; {reference} / level). The .logistic and .cox tables give each level "
        f"against {reference} instead.",
        "Leaving treatment counts every discharge, completion included: a higher hazard means shorter "
        "stays, not worse outcomes. Use exit_cause for cause-specific analyses.",
        f"Adjusted for {', '.join(covs) if covs else 'nothing'}; missing covariate values "
        + ("left out (complete case)." if missing_covariates == "drop" else "as a 'missing' level."),
    )
    return HeadlineResult(
        summary=summary,
        title=f"Headline estimates: {reference} against each level of care",
        remarks=remarks,
        rates=rate_tab,
        comparison=comp,
        km=km,
        logrank=lr,
        logistic=logit,
        cox=cx,
        n=n,
        n_patterns=len(data),
        covariates=tuple(covs),
        reference=reference,
        by_year=year_tab,
        timings=timings,
    )


def _year_counts(counts: pd.DataFrame, reference, weights: str | None) -> pd.DataFrame:
    """Episodes and completed episodes by level of care (reference first) and discharge year."""
    year = counts[YEAR_KEY]
    if year.isna().any() or not pd.api.types.is_integer_dtype(year.dtype):
        raise IopstatsError("the discharge_year column must hold whole years, none missing", column=YEAR_KEY,
                            fix="build the table with headline_counts(..., by_year=True)")
    w = counts[weights].to_numpy() if weights else np.ones(len(counts), dtype=np.int64)
    done = counts["completed"].eq(True).fillna(False).to_numpy(dtype=bool)
    tab = pd.DataFrame({"level_of_care": _prepare_levels(counts, reference, weights),
                        YEAR_KEY: year.to_numpy(dtype=np.int64), "n": w, "completed": np.where(done, w, 0)})
    return tab.groupby(["level_of_care", YEAR_KEY], observed=True, dropna=False, sort=True).sum().reset_index()


def _compact_summary(rate_tab, comp, km, logit, cx, reference) -> pd.DataFrame:
    r = rate_tab.set_index("level_of_care")
    levels = list(r.index)
    out = pd.DataFrame(index=pd.Index(levels, name="level"))
    for col, src in (("n", "n"), ("completed", "events")):
        v = r[src].astype(float)
        out[col] = v.astype("int64") if bool(np.all(v == np.rint(v))) else v
    out["completion_rate"] = r["rate"]
    out["completion_ci_low"] = r["ci_low"]
    out["completion_ci_high"] = r["ci_high"]
    c = comp.summary.set_index("level")
    for col, src in (("risk_difference", "risk_difference"), ("rd_ci_low", "rd_ci_low"),
                     ("rd_ci_high", "rd_ci_high"), ("p_holm", "p_holm")):
        out[col] = c[src].reindex(levels).astype(float)
    for prefix, res, scale in (("adj_or", logit, "odds_ratio"), ("hr", cx, "hr")):
        vals = [_inverse(res.summary, f"level_of_care[{lv}]", scale) if lv != reference else (np.nan,) * 3
                for lv in levels]
        arr = np.array(vals, dtype=float).reshape(len(levels), 3)
        name = "adj_odds_ratio" if prefix == "adj_or" else "hazard_ratio"
        out[name], out[f"{prefix}_ci_low"], out[f"{prefix}_ci_high"] = arr[:, 0], arr[:, 1], arr[:, 2]
    k = km.summary.set_index("group")
    out["median_days"] = k["median"].reindex(levels).astype(float)
    out["median_ci_low"] = k["median_ci_low"].reindex(levels).astype(float)
    out["median_ci_high"] = k["median_ci_high"].reindex(levels).astype(float)
    order = ["n", "completed", "completion_rate", "completion_ci_low", "completion_ci_high", "risk_difference",
             "rd_ci_low", "rd_ci_high", "p_holm", "adj_odds_ratio", "adj_or_ci_low", "adj_or_ci_high",
             "median_days", "median_ci_low", "median_ci_high", "hazard_ratio", "hr_ci_low", "hr_ci_high"]
    return out[order]


# --------------------------------------------------------------------------- engines


def headline_from_parquet(
    path,
    engine: str = "pandas",
    scheduler=None,
    *,
    covariates: Sequence[str] = HEADLINE_COVARIATES,
    as_of=None,
    years: Sequence[int] | None = None,
    by_year: bool = False,
    reference: object = "iop",
    confidence: float = 0.95,
    missing_covariates: str = "drop",
) -> HeadlineResult:
    """Headline estimates straight from a Parquet episode dataset.

    Reads only the columns the count table needs (column pruning; ``years``
    prunes partitions), builds it with :func:`headline_counts` and fits
    :func:`headline_estimates`. Both engines give identical results.

    Parameters
    ----------
    path : path-like
        Dataset written by ``iopstats convert`` /
        :func:`iopstats.io.parquet.write_episodes_parquet`.
    engine : {"pandas", "dask"}
        ``"pandas"`` reads the needed columns into memory. ``"dask"`` counts
        partition by partition on a Dask cluster: the row-level table is never
        held in this process, only the collapsed table comes back.
    scheduler : str or distributed.Client, optional
        Dask only: address of an existing scheduler (``"tcp://host:8786"``) or
        a connected client. ``None`` starts a local cluster of 2 single-thread
        worker processes for the call and closes it afterwards.
    covariates, as_of : see :func:`headline_counts`.
    years : sequence of int, optional
        Discharge years to read.
    by_year : bool
        Count the discharge year too, in the same pass (see
        :func:`headline_counts`): ``.by_year`` holds episodes and completions
        by level and year; every estimate is the pooled one.
    reference, confidence, missing_covariates : see :func:`headline_estimates`.

    Returns
    -------
    HeadlineResult
        With ``timings["read"]`` (pandas) and ``timings["counts"]`` (Dask:
        read and count together) besides the per-estimator times.
    """
    from iopstats.io.parquet import read_episodes_parquet

    covs = _check_covariates(covariates)
    columns = _needed(covs)
    if engine == "pandas":
        if scheduler is not None:
            raise IopstatsError("scheduler= is for the Dask engine", value=scheduler,
                                fix="pass engine='dask', or drop scheduler=")
        t0 = _time.perf_counter()
        frame = read_episodes_parquet(path, columns=columns, years=years)
        t_read = _time.perf_counter() - t0
        t0 = _time.perf_counter()
        table = headline_counts(frame, covs, as_of=as_of, by_year=by_year)
        del frame
        pre = {"read": t_read, "counts": _time.perf_counter() - t0}
    elif engine == "dask":
        t0 = _time.perf_counter()
        table = _dask_counts(path, columns, covs, as_of, years, scheduler, by_year)
        pre = {"counts": _time.perf_counter() - t0}
    else:
        raise IopstatsError("unknown engine", value=engine, fix="use engine='pandas' or engine='dask'")
    res = headline_estimates(table, covariates=covs, reference=reference, confidence=confidence,
                             missing_covariates=missing_covariates)
    return _with_timings(res, pre)


def _with_timings(res: HeadlineResult, pre: dict) -> HeadlineResult:
    import dataclasses

    return dataclasses.replace(res, timings={**pre, **res.timings})
