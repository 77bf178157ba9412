"""The count step of the unit comparisons: :func:`unit_count_table`.

:func:`iopstats.headline_counts` collapses episodes to distinct patterns of
level of care x case mix x outcome with a count ``n``, in one pass. The unit
comparisons need the same table with the unit (program, site, TEDS-D state)
as one more key. :func:`unit_count_table` makes it with the headline count
step itself, once per unit and with one ``as_of`` for all, so every outcome
follows the definitions of :func:`iopstats.build_outcomes` exactly and a
funnel over all TEDS-D states costs one headline count step; the
comparisons then run on the small table (``weights="n"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from iopstats.compare.headline_counts import HEADLINE_COVARIATES, headline_counts
from iopstats.exceptions import IopstatsError

__all__ = ["unit_count_table"]

#: Episode columns the headline count step reads besides the level of care and the covariates.
_STAY = ("admit_date", "discharge_date", "discharge_reason", "los_days", "los_min", "los_max")


def _as_of(episodes: pd.DataFrame, as_of) -> pd.Timestamp:
    if as_of is not None:
        ts = pd.Timestamp(as_of)
        return ts.tz_localize(None).normalize() if ts.tzinfo else ts.normalize()
    dates = [d for d in (episodes["admit_date"].max(), episodes["discharge_date"].max()) if pd.notna(d)]
    if not dates:
        raise IopstatsError("no dates to take as_of from", fix="pass as_of='YYYY-MM-DD'")
    return pd.Timestamp(max(dates)).normalize()


def unit_count_table(
    episodes: pd.DataFrame,
    unit: str = "site",
    covariates: Sequence[str] = HEADLINE_COVARIATES,
    *,
    as_of=None,
) -> pd.DataFrame:
    """Collapsed count table by unit: the headline count table with a unit key in front.

    Parameters
    ----------
    episodes : DataFrame
        Canonical episodes (e.g. ``read_tedsd(...).data``, whose ``site`` is
        the state). Not modified. Episodes with no unit are left out.
    unit : str
        Unit column (``"site"`` or ``"program"``); labels are kept as text.
    covariates : sequence of str
        Canonical categorical case-mix columns, as for ``headline_counts``.
    as_of : date-like, optional
        Data currency date, one for every unit (default: the latest date).

    Returns
    -------
    DataFrame
        ``unit`` column, then the columns of :func:`iopstats.headline_counts`
        (``level_of_care``, covariates, ``time_in_treatment``,
        ``left_treatment``, ``exit_cause``, ``completed``, ``n``).

    Examples
    --------
    >>> eps = pd.DataFrame({"client_id": ["a", "b", "c"], "episode_id": ["1", "2", "3"],
    ...     "level_of_care": ["iop", "iop", "iop"], "site": ["AK", "AK", "WY"],
    ...     "admit_date": ["2024-01-01", "2024-01-01", "2024-02-01"],
    ...     "discharge_date": ["2024-01-31", "2024-01-31", "2024-02-11"],
    ...     "discharge_reason": ["completed", "completed", "dropped_out"], "sex": ["male", "male", "female"]})
    >>> eps = eps.astype({"admit_date": "datetime64[ns]", "discharge_date": "datetime64[ns]"})
    >>> unit_count_table(eps, "site", ["sex"])[["site", "sex", "completed", "n"]]
      site     sex  completed  n
    0   AK    male       True  2
    1   WY  female      False  1
    """
    if not isinstance(episodes, pd.DataFrame):
        raise IopstatsError("episodes must be a pandas DataFrame", value=type(episodes).__name__,
                            fix="pass LoadResult.data or read_tedsd(...).data")
    if unit not in episodes.columns:
        raise IopstatsError("episodes have no unit column", column=unit, fix="use 'site' or 'program'")
    stamp = _as_of(episodes, as_of)
    keep = [c for c in dict.fromkeys(["level_of_care", *covariates, *_STAY]) if c in episodes.columns]
    codes, labels = pd.factorize(episodes[unit], sort=True)
    order = np.argsort(codes, kind="stable")
    order = order[codes[order] >= 0]  # rows without a unit are left out
    frame = episodes[keep].take(order)  # one copy of the needed columns, sorted by unit
    bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
    parts = []
    for i, label in enumerate(labels):
        tab = headline_counts(frame.iloc[bounds[i]:bounds[i + 1]], covariates, as_of=stamp)
        tab.insert(0, unit, label)
        parts.append(tab)
    if not parts:
        raise IopstatsError("no episode has a unit", column=unit, fix="check the unit column")
    out = pd.concat(parts, ignore_index=True)
    out[unit] = out[unit].astype("string")
    return out
