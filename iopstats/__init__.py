"""iopstats: outcome metrics for intensive outpatient programs against other levels of care.

The public API is re-exported here lazily so ``import iopstats`` stays fast:

* loading: :func:`load_episodes`, :func:`load_followups`, :func:`load_sessions`,
  :func:`read_tedsd`, :func:`load_ctn0094`, :func:`data_dictionary`
* synthetic data: :func:`synth`
* outcomes: :func:`build_outcomes`
* statistics: :func:`kaplan_meier`, :func:`logrank`, :func:`cumulative_incidence`,
  :func:`cox`, :func:`cox_zph`, :func:`rates`, :func:`compare_rates`,
  :func:`logistic`, :func:`standardized_rates`, :func:`iptw`, :func:`power_two_proportions`
* survival and causal comparisons: :func:`rmst_difference`, :func:`fine_gray`, :func:`aipw`,
  :func:`e_value`, :func:`effect_modification` (plots of results: :mod:`iopstats.plots`)
* repeated measures: :func:`load_measures`, :func:`load_ctn0094_measures`, :func:`score_instrument`,
  :func:`change_outcomes`, :func:`change_rates`, :func:`urine_outcomes`, :func:`trajectories`,
  :func:`dose_response`, :func:`synth_measures`, :func:`section_measures`
"""

from __future__ import annotations

import importlib

from iopstats.exceptions import IopstatsError

__version__ = "0.1.0"

_API = {
    # io
    "load_episodes": "iopstats.io.load",
    "load_followups": "iopstats.io.load",
    "load_sessions": "iopstats.io.load",
    "LoadResult": "iopstats.io.load",
    "read_tedsd": "iopstats.io.tedsd",
    "load_ctn0094": "iopstats.io.ctn0094",
    "data_dictionary": "iopstats.io.schema",
    "crosswalk_table": "iopstats.io.crosswalk",
    # synthetic data
    "synth": "iopstats.synthetic.generate",
    "write_tedsd_csv": "iopstats.synthetic.tedsd",
    # outcomes
    "build_outcomes": "iopstats.outcomes.build",
    "outcome_definitions": "iopstats.outcomes.definitions",
    "relapse_rates": "iopstats.compare.relapse",
    # statistics
    "kaplan_meier": "iopstats.stats.kaplan_meier",
    "logrank": "iopstats.stats.logrank",
    "cumulative_incidence": "iopstats.stats.cuminc",
    "cox": "iopstats.stats.cox",
    "cox_zph": "iopstats.stats.cox_zph",
    "logistic": "iopstats.stats.logistic",
    "wilson_interval": "iopstats.stats.rates",
    "rates": "iopstats.stats.rates",
    "compare_rates": "iopstats.compare.rates",
    "power_two_proportions": "iopstats.compare.power",
    "sample_size_two_proportions": "iopstats.compare.power",
    "standardized_rates": "iopstats.compare.adjust",
    "iptw": "iopstats.compare.adjust",
    "iptw_rates": "iopstats.compare.adjust",
    "iptw_kaplan_meier": "iopstats.compare.adjust",
    "iptw_cox": "iopstats.compare.adjust",
    "balance_table": "iopstats.compare.balance",
    "headline_estimates": "iopstats.compare.headline",
    "headline_counts": "iopstats.compare.headline",
    "headline_from_parquet": "iopstats.compare.headline",
    "write_episodes_parquet": "iopstats.io.parquet",
    "read_episodes_parquet": "iopstats.io.parquet",
    # comparison of programs and sites (issue 13)
    "funnel": "iopstats.compare.funnel",
    "standardized_ratio": "iopstats.compare.standardize",
    "national_model": "iopstats.compare.casemix",
    "fit_case_mix": "iopstats.compare.casemix",
    "CaseMixModel": "iopstats.compare.casemix",
    "shrunken_rates": "iopstats.compare.shrinkage",
    "control_chart": "iopstats.compare.control_chart",
    "unit_count_table": "iopstats.compare.unit_counts",
    "national_discharge_table": "iopstats.compare.national_table",
    "national_table_from_parquet": "iopstats.compare.national_table",
    # issue 14: survival and causal comparisons
    "rmst_difference": "iopstats.stats.rmst",
    "fine_gray": "iopstats.stats.fine_gray",
    "aipw": "iopstats.compare.aipw",
    "e_value": "iopstats.compare.evalue",
    "effect_modification": "iopstats.stats.effect_modification",
    # repeated measures (issue 12)
    "load_measures": "iopstats.io.measures",
    "load_ctn0094_measures": "iopstats.io.ctn0094_measures",
    "score_instrument": "iopstats.instruments.scoring",
    "instrument_rules": "iopstats.instruments.rules",
    "change_outcomes": "iopstats.outcomes.change",
    "urine_outcomes": "iopstats.outcomes.urine",
    "trajectories": "iopstats.stats.mixed",
    "change_rates": "iopstats.compare.change",
    "dose_response": "iopstats.stats.dose_response",
    "synth_measures": "iopstats.synthetic.measures",
    "section_measures": "iopstats.report.section_measures",
}

__all__ = ["IopstatsError", "__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        module = importlib.import_module(_API[name])
        return getattr(module, name)
    raise AttributeError(f"module 'iopstats' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
