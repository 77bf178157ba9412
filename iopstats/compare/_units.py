"""Per-unit event counts from rows or a collapsed count table (internal).

The comparisons of programs and sites (:mod:`iopstats.compare.funnel`,
:mod:`iopstats.compare.standardize`, :mod:`iopstats.compare.shrinkage`,
:mod:`iopstats.compare.control_chart`) need, per unit, the number of events
and of trials. They accept episode rows or a collapsed table with a frequency
column (``weights="n"``, as made by :func:`iopstats.stats.counts.collapse`),
so a comparison of all TEDS-D states costs one ``groupby`` on the small table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from iopstats._checks import binary_outcome, check_frame, frequency_weights
from iopstats.exceptions import IopstatsError

__all__ = ["unit_counts"]


def unit_counts(data: pd.DataFrame, unit: str, outcome: str, weights: str | None = None,
                by: str | None = None) -> tuple[pd.DataFrame, int]:
    """Events and trials per unit (and per ``by`` value, e.g. a period).

    Rows with a missing unit, outcome or weight are left out; their number
    (unweighted rows) is returned beside the table. Units keep their labels
    exactly as given (text, never re-coded).

    Examples
    --------
    >>> df = pd.DataFrame({"site": ["a", "a", "b", None], "y": [1, 0, 1, 1]})
    >>> tab, dropped = unit_counts(df, "site", "y")
    >>> tab
      unit  events  trials
    0    a     1.0     2.0
    1    b     1.0     1.0
    >>> dropped
    1
    """
    check_frame(data, [unit, outcome] + ([weights] if weights else []) + ([by] if by else []))
    y = binary_outcome(data, outcome)
    w = frequency_weights(data, weights)
    w = np.ones(len(y)) if w is None else w
    keep = ~np.isnan(y) & data[unit].notna().to_numpy() & ~np.isnan(w)
    if by is not None:
        keep &= data[by].notna().to_numpy()
    frame = pd.DataFrame({"unit": data[unit].to_numpy()[keep], "events": (y * w)[keep], "trials": w[keep]})
    keys = ["unit"]
    if by is not None:
        frame[by] = data[by].to_numpy()[keep]
        keys = ["unit", by]
    if frame.empty:
        raise IopstatsError("no rows with a unit and a known outcome", column=outcome,
                            fix=f"check the {unit!r} and {outcome!r} columns")
    tab = frame.groupby(keys, observed=True, sort=True)[["events", "trials"]].sum().reset_index()
    tab = tab[tab["trials"] > 0].reset_index(drop=True)
    return tab, int((~keep).sum())
