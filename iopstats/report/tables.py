"""Report-ready tables: every one built from aggregates and passed through privacy.

Each function returns a :class:`ReportTable`: ``values`` holds numbers with
suppressed cells missing (for figures), ``mask`` marks the suppressed cells,
``summary`` is the formatted display table (suppressed cells show ``<11``)
and ``to_html()`` renders it with the suppression footnote. Text cells that
look like identifiers are redacted; row-level identifier or exact-date
columns are refused.

The tables live by report section and are all importable from here:
:mod:`iopstats.report.tables_base` (:class:`ReportTable`, :func:`make_table`),
:mod:`iopstats.report.tables_quality` (data quality),
:mod:`iopstats.report.tables_outcomes` (rates, comparisons, cohort and
national headline tables) and :mod:`iopstats.report.tables_survival`
(Kaplan-Meier tables, numbers at risk, truncated curves).
"""

from __future__ import annotations

# re-exported: every table used to live in this module
from iopstats.report.tables_base import T, ReportTable, _fmt, _suppressed, make_table
from iopstats.report.tables_outcomes import (
    _EFFECT_FORMATS,
    adjusted_table,
    cohort_kpis,
    cohort_year_table,
    comparison_table,
    describe_comparison,
    describe_ratio,
    filter_period,
    funnel_table,
    headline_effects_table,
    p_chart_table,
    rate_table,
    relapse_table,
    transition_table,
)
from iopstats.report.tables_quality import identifier_flags, load_summary, missingness, quarantine_reasons
from iopstats.report.tables_survival import (
    at_risk_table,
    km_at_risk_from_table,
    km_curve_from_table,
    km_summary_table,
    truncate_curve,
)


__all__ = [
    "ReportTable",
    "make_table",
    "load_summary",
    "quarantine_reasons",
    "identifier_flags",
    "missingness",
    "rate_table",
    "relapse_table",
    "comparison_table",
    "describe_comparison",
    "adjusted_table",
    "km_summary_table",
    "at_risk_table",
    "truncate_curve",
    "funnel_table",
    "transition_table",
    "p_chart_table",
    "cohort_kpis",
    "filter_period",
    "cohort_year_table",
    "km_curve_from_table",
    "km_at_risk_from_table",
    "headline_effects_table",
    "describe_ratio",
]
