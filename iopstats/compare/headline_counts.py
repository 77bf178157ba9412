"""The count step of the headline: episodes to one collapsed count table, on pandas or Dask.

The headline set (completion by level of care, IOP against every other level,
time in treatment, adjusted models) needs only categorical covariates, the
time in treatment and how the episode ended. :func:`headline_counts` makes the
one pass over the rows: it derives those outcomes per row (with the same
functions and definitions as :func:`iopstats.build_outcomes`) and collapses
them to a table of distinct patterns with a frequency column ``n``. The
categorical keys are packed into int64 codes per partition (``_plan``,
``_pack``) and decoded once on the collapsed table (``_unpack``);
``_dask_counts`` runs the count on a Dask cluster. The estimates fitted from
the table live in :mod:`iopstats.compare.headline`, which re-exports every
name of this module.

Definitions (as in :mod:`iopstats.outcomes.retention`): ``time_in_treatment``
is the exact stay, the midpoint of a TEDS-D LOS bin, or the time from
admission to ``as_of`` for open episodes; ``left_treatment`` is 1 when the
episode ended (any reason, completion included) and 0 when it is open or the
stay is only known to exceed 365 days; ``completed`` is missing while open or
when the discharge reason is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.io.schema import EPISODE_COLUMNS, _dtype
from iopstats.outcomes.retention import completion, length_of_stay
from iopstats.stats.counts import collapse

__all__ = [
    "HEADLINE_COVARIATES",
    "OUTCOME_KEYS",
    "YEAR_KEY",
    "headline_counts",
]

#: Default case-mix covariates of the adjusted models (categorical, canonical).
HEADLINE_COVARIATES: tuple[str, ...] = (
    "age_group",
    "sex",
    "race",
    "ethnicity",
    "primary_substance",
    "psych_problem",
    "prior_treatment",
    "employment",
)

#: Outcome columns of the count table, named as in :func:`iopstats.build_outcomes`.
OUTCOME_KEYS: tuple[str, ...] = ("time_in_treatment", "left_treatment", "exit_cause", "completed")

#: Count-table key of the discharge year (``by_year=True``), named as the Parquet partition column.
YEAR_KEY = "discharge_year"

#: Episode columns the count step reads (plus the covariates).
_STAY_COLUMNS: tuple[str, ...] = ("admit_date", "discharge_date", "discharge_reason", "los_days", "los_min", "los_max")

_CANONICAL = {c.name: c for c in EPISODE_COLUMNS}


# --------------------------------------------------------------------------- counts


def _is_dask(data) -> bool:
    return type(data).__module__.startswith("dask")


def _check_covariates(covariates) -> list[str]:
    covs = [covariates] if isinstance(covariates, str) else list(covariates)
    for c in covs:
        col = _CANONICAL.get(c)
        if col is None or col.dtype not in ("category", "boolean"):
            allowed = [k for k, v in _CANONICAL.items() if v.dtype in ("category", "boolean") and k not in
                       ("level_of_care", "discharge_reason", "modality", "use_freq_discharge")]
            raise IopstatsError("headline covariates must be canonical categorical episode columns", value=c,
                                fix=f"choose from {', '.join(allowed)}")
    if len(set(covs)) != len(covs):
        raise IopstatsError("a covariate is listed twice", value=covs, fix="list each covariate once")
    return covs


def _needed(covs: list[str]) -> list[str]:
    return ["level_of_care", *covs, *_STAY_COLUMNS]


def _check_columns(columns, covs: list[str]) -> None:
    for c in ["level_of_care", "admit_date", *covs]:
        if c not in columns:
            raise IopstatsError("episodes are missing a column the headline needs", column=c,
                                fix="pass canonical episodes (LoadResult.data, read_tedsd or read_episodes_parquet)"
                                    " or leave the covariate out of covariates=")


def _same_dtype(have, want) -> bool:
    """Exactly the canonical dtype (for categoricals: same categories in the same order)."""
    if isinstance(want, pd.CategoricalDtype):
        return (isinstance(have, pd.CategoricalDtype) and have.ordered == want.ordered
                and list(have.categories) == list(want.categories))
    return str(have) == str(want)


def _canonical_frame(df: pd.DataFrame, covs: list[str]) -> pd.DataFrame:
    """The needed columns with canonical dtypes (a new frame; codes checked)."""
    out = {}
    for name in _needed(covs):
        col = _CANONICAL[name]
        want = _dtype(col)
        if name not in df.columns:
            out[name] = pd.Series(None if col.dtype in ("float", "datetime") else pd.NA, index=df.index, dtype=want)
            continue
        s = df[name]
        if _same_dtype(s.dtype, want):
            out[name] = s
            continue
        try:
            if col.dtype == "category":
                if isinstance(s.dtype, pd.CategoricalDtype):
                    extra = [c for c in s.cat.categories if c not in col.codes]
                    bad = s.isin(extra).to_numpy() if extra else np.zeros(len(s), dtype=bool)
                else:
                    bad = s.notna().to_numpy() & ~s.astype(object).isin(col.codes).to_numpy()
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    raise IopstatsError("value outside the canonical code set", column=name, row=i,
                                        value=s.iloc[i], fix=f"recode to one of {', '.join(col.codes)}")
                if isinstance(s.dtype, pd.CategoricalDtype):  # recode, no object round trip
                    out[name] = s.cat.set_categories(list(want.categories), ordered=want.ordered)
                else:
                    out[name] = s.astype(object).astype(want)
            elif col.dtype == "datetime":
                conv = pd.to_datetime(s, errors="coerce")
                lost = s.notna().to_numpy() & conv.isna().to_numpy()
                if lost.any():
                    i = int(np.flatnonzero(lost)[0])
                    raise IopstatsError("unreadable date", column=name, row=i, value=s.iloc[i],
                                        fix="give dates as YYYY-MM-DD (or datetime values)")
                out[name] = conv.astype(want)
            else:
                out[name] = s.astype(want)
        except (TypeError, ValueError) as exc:
            raise IopstatsError(f"column has values of the wrong type ({exc})", column=name,
                                fix="load the episodes with iopstats.load_episodes or read_tedsd") from None
    return pd.DataFrame(out, index=df.index)


def _year(part: pd.DataFrame) -> np.ndarray:
    """Discharge year, admission year when there is no discharge date: the rule
    :func:`iopstats.io.parquet.write_episodes_parquet` partitions by (int64)."""
    return part["discharge_date"].fillna(part["admit_date"]).dt.year.to_numpy(dtype=np.int64)


def _derive(part: pd.DataFrame, covs: list[str], as_of: pd.Timestamp, by_year: bool = False) -> pd.DataFrame:
    """Per-row outcomes of one partition (same rules as build_outcomes)."""
    if part["admit_date"].isna().any():
        raise IopstatsError("episodes with a missing admission date", column="admit_date",
                            fix="drop or repair them (the loaders quarantine them)")
    if (part["discharge_date"] < part["admit_date"]).any():
        raise IopstatsError("discharge date before admission date", column="discharge_date",
                            fix="repair or drop the episode")
    if (part["admit_date"] > as_of).any():
        raise IopstatsError("episode admitted after as_of", column="admit_date",
                            fix="pass a later as_of or drop episodes admitted after it")
    for name in ("los_days", "los_min", "los_max"):
        if (part[name] < 0).any():
            raise IopstatsError("negative length of stay", column=name, fix="repair or drop the episode")
    has_date = part["discharge_date"].notna().to_numpy()
    date_ok = has_date & ~(part["discharge_date"] > as_of).to_numpy()
    other = (part["discharge_reason"].notna() | part["los_days"].notna() | part["los_min"].notna()).to_numpy()
    stay = part[list(_STAY_COLUMNS)].assign(_discharged=date_ok | (~has_date & other))
    stay.loc[~stay["_discharged"], "discharge_reason"] = pd.NA
    los = length_of_stay(stay, as_of)
    comp = completion(stay, los["left_treatment"])
    out = part[["level_of_care"]].copy()
    if by_year:
        out[YEAR_KEY] = _year(part)
    for c in covs:
        out[c] = part[c]
    out["time_in_treatment"] = los["time_in_treatment"]
    out["left_treatment"] = los["left_treatment"]
    out["exit_cause"] = comp["exit_cause"]
    out["completed"] = comp["completed"]
    return out


_PACK_LIMIT = 2**62
#: Years a datetime64[ns] can hold: the year key is packed as an offset from the first.
_YEAR_MIN, _YEAR_MAX = pd.Timestamp.min.year, pd.Timestamp.max.year


def _is_year(dtype) -> bool:
    return isinstance(dtype, np.dtype) and dtype == np.int64


def _radix(dtype) -> int:
    """Number of codes of a key column: its values plus one for missing."""
    if isinstance(dtype, pd.CategoricalDtype):
        return len(dtype.categories) + 1
    if _is_year(dtype):
        return _YEAR_MAX - _YEAR_MIN + 1  # never missing (the admission year stands in)
    return 3  # boolean / Int64 0-1: False(0), True(1), missing(2)


def _codes(s: pd.Series) -> np.ndarray:
    """Integer codes in sort order, missing last (as groupby(sort=True, dropna=False))."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        c = s.cat.codes.to_numpy().astype(np.int64)
        return np.where(c < 0, len(s.dtype.categories), c)
    if _is_year(s.dtype):
        return s.to_numpy() - _YEAR_MIN
    v = s.to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isnan(v), 2, v).astype(np.int64)


def _packing(cols: list[str], dtypes) -> list[list[str]]:
    """Split consecutive key columns into groups whose code products fit one int64."""
    groups: list[list[str]] = [[]]
    prod = 1
    for c in cols:
        r = _radix(dtypes[c])
        if groups[-1] and prod * r >= _PACK_LIMIT:
            groups.append([])
            prod = 1
        groups[-1].append(c)
        prod *= r
    return groups


def _plan(covs: list[str], dtypes, by_year: bool = False) -> list[tuple[str, list[str] | None]]:
    """Grouping keys of the fast count: packed integer codes around the float time."""
    pre = _packing(["level_of_care", *([YEAR_KEY] if by_year else []), *covs], dtypes)
    post = _packing(["left_treatment", "exit_cause", "completed"], dtypes)
    plan = [(f"_k{i}", g) for i, g in enumerate(pre)]
    plan.append(("time_in_treatment", None))
    plan += [(f"_k{len(pre) + i}", g) for i, g in enumerate(post)]
    return plan


def _pack(derived: pd.DataFrame, plan) -> pd.DataFrame:
    """Replace the key columns by packed int64 codes (mixed radix, order preserved)."""
    out = {}
    for name, group in plan:
        if group is None:
            out[name] = derived[name].to_numpy()
            continue
        code = np.zeros(len(derived), dtype=np.int64)
        for c in group:
            code = code * _radix(derived[c].dtype) + _codes(derived[c])
        out[name] = code
    return pd.DataFrame(out, index=derived.index)


def _unpack(table: pd.DataFrame, plan, dtypes, keys: list[str]) -> pd.DataFrame:
    """Decode packed codes back to the key columns with their exact dtypes."""
    cols = {}
    for name, group in plan:
        if group is None:
            cols[name] = table[name].to_numpy()
            continue
        code = table[name].to_numpy().copy()
        for c in reversed(group):
            r = _radix(dtypes[c])
            v = code % r
            code //= r
            dt = dtypes[c]
            if isinstance(dt, pd.CategoricalDtype):
                cols[c] = pd.Categorical.from_codes(np.where(v == r - 1, -1, v), dtype=dt)
            elif _is_year(dt):
                cols[c] = v + _YEAR_MIN
            else:
                arr = pd.array(v == 1, dtype="boolean")
                arr[v == 2] = pd.NA
                cols[c] = arr.astype(dt)
    out = pd.DataFrame({k: cols[k] for k in keys})
    out["n"] = table["n"].to_numpy(dtype=np.int64)
    return out


def _derive_packed(part: pd.DataFrame, covs: list[str], as_of: pd.Timestamp, plan, by_year: bool) -> pd.DataFrame:
    """One Dask partition: canonical dtypes (codes must mean the same everywhere), derive, pack."""
    return _pack(_derive(_canonical_frame(part, covs), covs, as_of, by_year), plan)


def _resolve_as_of(as_of, frame) -> pd.Timestamp:
    if as_of is not None:
        try:
            ts = pd.Timestamp(as_of)
        except (TypeError, ValueError):
            ts = pd.NaT
        if pd.isna(ts):
            raise IopstatsError("as_of is not a date", value=as_of, fix="pass as_of='YYYY-MM-DD' or a Timestamp")
        return ts.tz_localize(None).normalize() if ts.tzinfo else ts.normalize()
    if _is_dask(frame):
        import dask

        hi = dask.compute(frame["admit_date"].max(), frame["discharge_date"].max())
    else:
        hi = (frame["admit_date"].max(), frame["discharge_date"].max())
    dates = [d for d in hi if pd.notna(d)]
    if not dates:
        raise IopstatsError("no dates to take as_of from (the episodes table is empty)",
                            fix="pass as_of='YYYY-MM-DD' explicitly")
    return pd.Timestamp(max(dates)).normalize()


def headline_counts(
    episodes,
    covariates: Sequence[str] = HEADLINE_COVARIATES,
    *,
    as_of=None,
    by_year: bool = False,
) -> pd.DataFrame:
    """Collapse episodes to the one count table the headline estimates need.

    One pass over the rows: per row the time in treatment, whether treatment
    ended, the exit cause and completion are derived exactly as in
    :func:`iopstats.build_outcomes`, then rows are collapsed with
    :func:`iopstats.stats.counts.collapse` to distinct patterns of
    level of care x covariates x outcomes with a count ``n``. For speed the
    categorical keys are packed per partition into int64 codes (mixed radix,
    missing last, so the sort order is that of grouping on the columns
    themselves) and decoded once on the small collapsed table.

    Parameters
    ----------
    episodes : DataFrame or dask.dataframe.DataFrame
        Canonical episodes. The engine follows the frame: a Dask frame (e.g.
        ``read_episodes_parquet(path, engine="dask")``) is collapsed on the
        cluster and only the collapsed table is returned. Not modified.
    covariates : sequence of str
        Canonical categorical episode columns kept in the table (the case mix
        of the adjusted models). Missing values stay as their own pattern.
    as_of : date-like, optional
        Data currency date: open episodes are censored here (as in
        ``build_outcomes``). Default: the latest admission or discharge date
        (with Dask this is a small extra reduction over two date columns;
        pass ``as_of`` to avoid it).
    by_year : bool
        Also keep the discharge year as a key (column ``discharge_year``,
        int64, right after ``level_of_care``), in the same pass: the year of
        ``discharge_date``, or of ``admit_date`` when there is no discharge
        date, which is the rule the Parquet dataset is partitioned by (so it
        equals the ``discharge_year`` partition). It is the discharge year as
        recorded, whatever ``as_of``. :func:`headline_estimates` pools over it
        and reports the counts by year in ``HeadlineResult.by_year``.

    Returns
    -------
    DataFrame
        ``level_of_care``, ``discharge_year`` (with ``by_year=True``), the
        covariates, ``time_in_treatment`` (float days),
        ``left_treatment`` (Int64 0/1), ``exit_cause`` (categorical),
        ``completed`` (boolean, missing while open or reason unknown) and
        ``n`` (int64), sorted by the keys; identical on pandas and Dask.

    Examples
    --------
    >>> eps = pd.DataFrame({"client_id": ["a", "b", "c"], "episode_id": ["1", "2", "3"],
    ...     "level_of_care": ["iop", "iop", "outpatient"],
    ...     "admit_date": ["2024-01-01", "2024-01-01", "2024-02-01"],
    ...     "discharge_date": ["2024-01-31", "2024-01-31", None],
    ...     "discharge_reason": ["completed", "completed", None], "sex": ["male", "male", "female"]})
    >>> tab = headline_counts(eps, covariates=["sex"], as_of="2024-03-02")
    >>> tab[["level_of_care", "sex", "time_in_treatment", "left_treatment", "completed", "n"]]
      level_of_care     sex  time_in_treatment  left_treatment  completed  n
    0           iop    male               30.0               1       True  2
    1    outpatient  female               30.0               0       <NA>  1
    >>> headline_counts(eps, covariates=[], as_of="2024-03-02", by_year=True)[["level_of_care", "discharge_year", "n"]]
      level_of_care  discharge_year  n
    0           iop            2024  2
    1    outpatient            2024  1
    """
    covs = _check_covariates(covariates)
    if not isinstance(by_year, bool):
        raise IopstatsError("by_year must be True or False", value=by_year, fix="pass by_year=True or by_year=False")
    keys = ["level_of_care", *([YEAR_KEY] if by_year else []), *covs, *OUTCOME_KEYS]
    if _is_dask(episodes):
        for c in _needed(covs):
            if c not in episodes.columns:
                raise IopstatsError("the Dask frame is missing a column the headline needs", column=c,
                                    fix="read canonical episodes with read_episodes_parquet(engine='dask')")
        frame = episodes[_needed(covs)]
        for name in _needed(covs):  # categories are made canonical per partition
            want = _dtype(_CANONICAL[name])
            if str(frame._meta[name].dtype) != str(want):
                raise IopstatsError("a Dask frame must carry canonical dtypes", column=name,
                                    value=str(frame._meta[name].dtype),
                                    fix="read it with iopstats.io.parquet.read_episodes_parquet(engine='dask')")
        stamp = _resolve_as_of(as_of, frame)
        meta = _derive(_canonical_frame(frame._meta.iloc[:0].astype(
            {c: _dtype(_CANONICAL[c]) for c in _needed(covs)}), covs), covs, stamp, by_year)
        dtypes = meta.dtypes
        plan = _plan(covs, dtypes, by_year)
        packed = frame.map_partitions(_derive_packed, covs, stamp, plan, by_year, meta=_pack(meta, plan))
        return _unpack(collapse(packed, [name for name, _ in plan]), plan, dtypes, keys)
    if not isinstance(episodes, pd.DataFrame):
        raise IopstatsError("episodes must be a pandas or Dask DataFrame", value=type(episodes).__name__,
                            fix="pass LoadResult.data or read_episodes_parquet(...)")
    _check_columns(episodes.columns, covs)
    frame = _canonical_frame(episodes, covs)
    stamp = _resolve_as_of(as_of, frame)
    derived = _derive(frame, covs, stamp, by_year)
    del frame
    plan = _plan(covs, derived.dtypes, by_year)
    return _unpack(collapse(_pack(derived, plan), [name for name, _ in plan]), plan, derived.dtypes, keys)


# --------------------------------------------------------------------------- Dask driver


def _dask_counts(path, columns, covs, as_of, years, scheduler, by_year) -> pd.DataFrame:
    from iopstats.io.parquet import read_episodes_parquet

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on extras
        raise IopstatsError("the Dask engine needs dask[distributed]", fix="pip install 'iopstats[dask]'") from exc

    def run(client) -> pd.DataFrame:
        ddf = read_episodes_parquet(path, columns=columns, engine="dask", years=years)
        import dask

        with dask.config.set(scheduler=client.get if client is not None else None):
            return headline_counts(ddf, covs, as_of=as_of, by_year=by_year)

    if isinstance(scheduler, Client):
        return run(scheduler)
    if scheduler is None:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
                Client(cluster, set_as_default=False) as client:
            return run(client)
    if not isinstance(scheduler, str):
        raise IopstatsError("scheduler must be a scheduler address or a dask.distributed Client",
                            value=type(scheduler).__name__, fix="e.g. scheduler='tcp://127.0.0.1:8786'")
    try:
        client = Client(scheduler, set_as_default=False, timeout="10s")
    except OSError as exc:
        raise IopstatsError("cannot connect to the Dask scheduler", value=scheduler,
                            fix="check the address (dask scheduler prints it) or pass scheduler=None") from exc
    with client:
        return run(client)
