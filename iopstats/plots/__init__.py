"""Plots of iopstats results: matplotlib Axes in, Axes out.

Every function takes ``ax=`` (draw into an existing Axes, e.g. of a report figure
built without pyplot) or creates a new figure with pyplot (so Jupyter shows it), and
returns the Axes. The result objects call these from their ``.plot()`` methods:

* :func:`km` -- Kaplan-Meier curves with interval bands and the number-at-risk table
  under the axis, as survminer draws it (``KaplanMeierResult.plot``);
* :func:`cif` -- cumulative incidence curves per group and cause (``CumIncResult.plot``,
  ``FineGrayResult.adjusted_cif``);
* :func:`forest` -- ratios with intervals on a log axis (``CoxResult.plot``);
* :func:`comparison` -- differences from the reference with intervals
  (``RateComparison.plot``, ``RMSTResult.plot``);
* :func:`trend` -- a rate over time (e.g. discharge year) per group with intervals.

Private by default: counts 1-10 in the number-at-risk table are shown as "<11" and
curves stop where fewer than 11 are at risk (``suppress_below=None`` to turn off for
internal work).
"""

from iopstats.plots.curves import cif, km
from iopstats.plots.effects import comparison, forest, trend

__all__ = ["km", "cif", "forest", "comparison", "trend"]
