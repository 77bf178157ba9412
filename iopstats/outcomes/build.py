"""Canonical episodes (+ follow-ups, sessions) -> one row of outcomes per episode.

:func:`build_outcomes` is the single entry point. Each outcome's definition,
denominator and source is in :func:`iopstats.outcomes.definitions.outcome_definitions`;
the documented choices live in the module that computes them
(:mod:`~iopstats.outcomes.retention`, :mod:`~iopstats.outcomes.engagement`,
:mod:`~iopstats.outcomes.relapse`, :mod:`~iopstats.outcomes.readmission`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from iopstats.exceptions import IopstatsError
from iopstats.io.schema import CODE_SETS, TABLES, coerce_dtypes
from iopstats.outcomes.definitions import COVARIATES
from iopstats.outcomes.engagement import engagement
from iopstats.outcomes.readmission import continuity, readmission
from iopstats.outcomes.relapse import relapse_outcomes, resolve_tolerances
from iopstats.outcomes.retention import completion, length_of_stay, retention

__all__ = ["build_outcomes", "PASSTHROUGH", "COVARIATES"]

#: Key and descriptive columns passed through, in output order.
PASSTHROUGH: tuple[str, ...] = (
    "episode_id",
    "client_id",
    "level_of_care",
    "site",
    "program",
    "modality",
    "admit_date",
    "discharge_date",
    "discharge_reason",
)

_FIXES = {
    "episodes": "load the file with iopstats.load_episodes (which maps and validates columns) "
    "or rename your columns to the canonical names (iopstats.data_dictionary('episodes'))",
    "followups": "load the file with iopstats.load_followups or rename columns to the canonical names "
    "(iopstats.data_dictionary('followups'))",
    "sessions": "load the file with iopstats.load_sessions or rename columns to the canonical names "
    "(iopstats.data_dictionary('sessions'))",
}


def _positive_ints(name: str, values, minimum: int = 1) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in values)
        ok = all(float(v) == int(v) and int(v) >= minimum for v in values)
    except (TypeError, ValueError):
        ok = False
    if not ok or len(vals) != len(set(vals)):
        raise IopstatsError(
            f"{name} must be distinct whole numbers of days >= {minimum}",
            value=values,
            fix=f"pass e.g. {name}=(30, 90)",
        )
    return vals


def _raise_at_first(bad: np.ndarray, message: str, s: pd.Series, fix: str, show_value: bool = True) -> None:
    """Raise ``message`` naming the column of ``s`` and the first row flagged in ``bad`` (if any)."""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise IopstatsError(message, column=s.name, row=i, value=s.iloc[i] if show_value else None, fix=fix)


def _prepare(df, table: str) -> pd.DataFrame:
    """Validate a canonical input table and return a coerced copy."""
    if not isinstance(df, pd.DataFrame):
        raise IopstatsError(
            f"{table} must be a pandas DataFrame",
            value=type(df).__name__,
            fix="pass the .data attribute of a LoadResult (e.g. iopstats.load_episodes(path).data)",
        )
    cols = TABLES[table]
    missing = [c.name for c in cols if c.required and c.name not in df.columns]
    if missing:
        raise IopstatsError(
            f"{table} table is missing required column(s) {', '.join(missing)}",
            column=missing[0],
            fix=_FIXES[table],
        )
    for c in cols:
        if c.name not in df.columns:
            continue
        s = df[c.name]
        if c.dtype == "category":
            codes = CODE_SETS["followup_source"] if c.name == "source" else c.codes
            bad = s.notna().to_numpy() & ~s.astype(object).isin(codes).to_numpy()
            _raise_at_first(bad, f"value outside the canonical code set in the {table} table", s,
                            f"recode to one of {', '.join(codes)} (a loader mapping's [codes] table does this)")
    try:
        out = coerce_dtypes(df, table)
    except (TypeError, ValueError) as exc:
        raise IopstatsError(
            f"a column of the {table} table has values of the wrong type ({exc})",
            fix=_FIXES[table],
        ) from None
    for c in cols:
        if c.name in df.columns and c.dtype == "datetime":
            lost = df[c.name].notna().to_numpy() & out[c.name].isna().to_numpy()
            _raise_at_first(lost, f"unreadable date in the {table} table", df[c.name],
                            "give dates as YYYY-MM-DD (or datetime values)")
    for c in cols:
        if c.required and c.name in out.columns:
            _raise_at_first(out[c.name].isna().to_numpy(),
                            f"required column has missing values in the {table} table", out[c.name],
                            "drop or repair these rows (the loaders quarantine them)", show_value=False)
    return out


def _as_of(as_of, ep: pd.DataFrame, followups, sessions) -> pd.Timestamp:
    if as_of is not None:
        try:
            ts = pd.Timestamp(as_of)
        except (TypeError, ValueError):
            ts = pd.NaT
        if pd.isna(ts):
            raise IopstatsError("as_of is not a date", value=as_of, fix="pass as_of='YYYY-MM-DD' or a Timestamp")
        return ts.tz_localize(None).normalize() if ts.tzinfo else ts.normalize()  # local date, DST-safe
    dates = [ep["admit_date"].max(), ep["discharge_date"].max()]
    if followups is not None:
        dates.append(followups["followup_date"].max())
    if sessions is not None:
        dates.append(sessions["session_date"].max())
    dates = [d for d in dates if pd.notna(d)]
    if not dates:
        raise IopstatsError("no dates in the data to take as_of from (the episodes table is empty)",
                            fix="pass as_of='YYYY-MM-DD' explicitly")
    return max(dates).normalize()


def build_outcomes(
    episodes: pd.DataFrame,
    followups: pd.DataFrame | None = None,
    sessions: pd.DataFrame | None = None,
    *,
    as_of=None,
    retention_days: Sequence[int] = (30, 60, 90),
    followup_windows: Sequence[int] = (30, 90, 180, 365),
    window_tolerance=None,
    readmission_days: Sequence[int] = (30, 90, 365),
    continuity_days: Sequence[int] = (7, 14),
    engagement_session: int = 4,
    iop_hours_threshold: float = 9.0,
) -> pd.DataFrame:
    """One row of outcomes per episode, in input order.

    Parameters
    ----------
    episodes : DataFrame
        Canonical episodes (``iopstats.load_episodes(...).data``). Required
        columns: client_id, episode_id, level_of_care, admit_date.
    followups : DataFrame, optional
        Canonical follow-ups; without them the relapse columns are missing.
    sessions : DataFrame, optional
        Canonical sessions; without them the engagement columns are missing.
    as_of : date-like, optional
        Data currency date: open episodes are censored here and windows that
        have not elapsed by it are missing. Default: the latest date found in
        the inputs. Discharges after ``as_of`` are treated as still open.
    retention_days : sequence of int
        Days *t* for ``retained_<t>`` and ``retained_or_completed_<t>``.
    followup_windows : sequence of int
        Post-discharge follow-up windows *w* for ``relapse_<w>_*``.
    window_tolerance : None, int or dict
        Matching tolerance in days around each window (default +/- 15 for 30,
        +/- 30 for 90, +/- 45 for 180 and 365).
    readmission_days : sequence of int
        Windows *N* for ``readmit_<N>``.
    continuity_days : sequence of int
        Windows *k* for ``continuity_<k>``; the longest also bounds a planned
        continuation (transfer / step-down), which is not a readmission.
    engagement_session : int
        Attended session that counts as engaged (NIATx: the 4th).
    iop_hours_threshold : float
        ASAM IOP weekly hours for adults (adolescents: 6; PHP: 20).

    Returns
    -------
    DataFrame
        Columns, in order: episode_id, client_id, level_of_care, site,
        program, modality, admit_date, discharge_date, discharge_reason,
        admit_period, admit_year, the covariates (age_group, sex, race,
        ethnicity, primary_substance, use_freq_admit, psych_problem,
        prior_treatment, referral_source, payer, employment,
        living_arrangement, opioid_medication), completed,
        completed_or_transferred, los_days, los_min, los_max,
        time_in_treatment, left_treatment, exit_cause, retained_<t> and
        retained_or_completed_<t> per *t*, n_sessions_attended, engaged,
        attendance_rate, hours_per_week, meets_asam_hours, use_at_discharge,
        relapse_<w>_responded / _cc / _mu per *w*, time_to_relapse,
        relapse_event, readmit_<N> per *N*, days_to_readmission,
        next_level_of_care, continuation_level_of_care, continuity_<k> per *k*.
        :func:`~iopstats.outcomes.definitions.outcome_definitions` defines each.

    Raises
    ------
    IopstatsError
        Missing required columns, codes outside the canonical code sets,
        duplicate episode ids, discharges before admission, admissions after
        ``as_of``, invalid windows.

    Examples
    --------
    >>> eps = pd.DataFrame({
    ...     "client_id": ["c1", "c1", "c2"], "episode_id": ["e1", "e2", "e3"],
    ...     "level_of_care": ["residential_short", "iop", "iop"],
    ...     "admit_date": ["2024-01-01", "2024-01-13", "2024-02-01"],
    ...     "discharge_date": ["2024-01-10", "2024-03-30", None],
    ...     "discharge_reason": ["completed", "completed", None]})
    >>> out = build_outcomes(eps, as_of="2024-12-31")
    >>> out[["episode_id", "los_days", "time_in_treatment", "left_treatment", "exit_cause"]]
      episode_id  los_days  time_in_treatment  left_treatment exit_cause
    0         e1       9.0                9.0               1  completed
    1         e2      77.0               77.0               1  completed
    2         e3       NaN              334.0               0   censored
    >>> out[["retained_60", "retained_or_completed_60", "continuity_7", "readmit_30"]]
       retained_60  retained_or_completed_60  continuity_7  readmit_30
    0        False                      True          True       False
    1         True                      True          <NA>       False
    2         True                      True          <NA>        <NA>
    """
    retention_days = _positive_ints("retention_days", retention_days)
    followup_windows = _positive_ints("followup_windows", followup_windows)
    readmission_days = _positive_ints("readmission_days", readmission_days)
    continuity_days = _positive_ints("continuity_days", continuity_days)
    resolve_tolerances(followup_windows, window_tolerance)
    if not isinstance(engagement_session, (int, np.integer)) or engagement_session < 1:
        raise IopstatsError("engagement_session must be a whole number >= 1", value=engagement_session,
                            fix="pass engagement_session=4 (NIATx)")
    try:
        iop_hours_threshold = float(iop_hours_threshold)
    except (TypeError, ValueError):
        iop_hours_threshold = float("nan")
    if not np.isfinite(iop_hours_threshold) or iop_hours_threshold <= 0:
        raise IopstatsError("iop_hours_threshold must be a positive number of hours per week",
                            value=iop_hours_threshold, fix="pass iop_hours_threshold=9.0 (ASAM 2.1 adults)")

    ep = _prepare(episodes, "episodes")
    fu = None if followups is None else _prepare(followups, "followups")
    ses = None if sessions is None else _prepare(sessions, "sessions")

    dup = ep["episode_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise IopstatsError("duplicate episode_id in the episodes table", column="episode_id", row=i,
                            value=ep["episode_id"].iloc[i], fix="keep one row per episode")
    back = (ep["discharge_date"] < ep["admit_date"]).to_numpy()
    if back.any():
        i = int(np.flatnonzero(back)[0])
        raise IopstatsError("discharge date before admission date", column="discharge_date", row=i,
                            value=ep["discharge_date"].iloc[i], fix="repair or drop the episode")
    for name in ("los_days", "los_min", "los_max"):
        bad = (ep[name] < 0).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise IopstatsError("negative length of stay", column=name, row=i, value=ep[name].iloc[i],
                                fix="repair or drop the episode")
    inverted = (ep["los_min"] > ep["los_max"]).to_numpy()
    if inverted.any():
        i = int(np.flatnonzero(inverted)[0])
        raise IopstatsError("los_min is greater than los_max", column="los_min", row=i,
                            value=ep["los_min"].iloc[i], fix="swap or repair the bounds")

    as_of = _as_of(as_of, ep, fu, ses)
    late = (ep["admit_date"] > as_of).to_numpy()
    if late.any():
        i = int(np.flatnonzero(late)[0])
        raise IopstatsError("episode admitted after as_of", column="admit_date", row=i,
                            value=ep["admit_date"].iloc[i],
                            fix="pass a later as_of or drop episodes admitted after it")

    # discharged by as_of: a discharge date on/before as_of, or (no date) a reason or stay recorded
    has_date = ep["discharge_date"].notna().to_numpy()
    date_ok = has_date & ~(ep["discharge_date"] > as_of).to_numpy()
    other_info = (ep["discharge_reason"].notna() | ep["los_days"].notna() | ep["los_min"].notna()).to_numpy()
    ep["_discharged"] = date_ok | (~has_date & other_info)
    ep["_disch_eff"] = ep["discharge_date"].where(pd.Series(date_ok, index=ep.index))
    ep.loc[~ep["_discharged"], "discharge_reason"] = pd.NA

    los = length_of_stay(ep, as_of)
    comp = completion(ep, los["left_treatment"])
    disc = ep["_discharged"].to_numpy()
    lower = np.where(disc, los["los_min"].to_numpy(), los["time_in_treatment"].to_numpy())
    upper = np.where(disc, los["los_max"].to_numpy(), np.inf)
    lower = np.where(np.isnan(lower), -np.inf, lower)
    upper = np.where(np.isnan(upper), np.inf, upper)
    ret = retention(ep, lower, upper, comp["completed"], retention_days)
    exact_time = ~disc | los["los_days"].notna().to_numpy()
    eng = engagement(ep, ses, los["time_in_treatment"].to_numpy(), exact_time, as_of,
                     engagement_session=int(engagement_session), iop_hours_threshold=iop_hours_threshold)

    udis = ep["use_freq_discharge"].astype(object)
    use = pd.array(udis.isin(["some", "daily"]).to_numpy(), dtype="boolean")
    use[(udis.isna() | ~ep["_discharged"]).to_numpy()] = pd.NA

    # a closed stay without a discharge date keeps NaT: its windows are taken as due
    rel = relapse_outcomes(ep.assign(discharge_date=ep["_disch_eff"]), fu, as_of, followup_windows,
                           window_tolerance)
    readm = readmission(ep, as_of, readmission_days, continuation_days=max(continuity_days))
    cont = continuity(ep, ses, as_of, continuity_days)

    out = ep[list(PASSTHROUGH)].copy()
    out["discharge_date"] = ep["_disch_eff"]
    out["admit_period"] = ep["admit_date"].dt.strftime("%Y-%m").astype("string")
    out["admit_year"] = ep["admit_date"].dt.year.astype("Int64")
    for c in COVARIATES:
        out[c] = ep[c]
    out = pd.concat([out, comp[["completed", "completed_or_transferred"]], los, comp[["exit_cause"]], ret, eng], axis=1)
    out["use_at_discharge"] = use
    out = pd.concat([out, rel, readm, cont], axis=1)
    out.index = episodes.index
    return out
