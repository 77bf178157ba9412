"""The generative model behind :func:`iopstats.synth` and its true effects.

Every outcome of a synthetic episode depends only on its level of care and on
the covariates in its own episode row, through the linear predictors below
(coded by :func:`model_matrix`). A latent severity score that is *not* a
function of the row alone (it adds client-level noise) drives placement, so
raw level-of-care comparisons are confounded while a correctly specified
regression on :data:`TERMS` recovers the truth.

Estimands (all conditional on the :data:`TERMS` covariates unless "standardized")
-------------------------------------------------------------------------------
* **Completion** (``truth["completion"]``): ``logit P(discharge_reason ==
  "completed") = intercept[level] + sum(coef[t] * x_t)``; ``log_or_vs_iop`` is
  ``intercept[level] - intercept["iop"]``. ``standardized_risk[level]`` is the
  g-formula risk: the average of the model probability over the covariates of
  *every* episode in the data set (open ones included) with the level set to
  ``level``, computed exactly from the model; ``risk_difference_iop_minus`` is
  ``standardized_risk["iop"] - standardized_risk[level]``. Open episodes have a
  completion status that is censored; it is independent of the time in
  treatment given level and covariates, so closed episodes alone estimate the
  same logistic model without bias.
* **Leaving treatment** (``truth["dropout"]``): competing risks in continuous
  days with Weibull cause-specific hazards sharing one shape ``k``:
  ``h_cause(t) = k t^(k-1) exp(eta_cause)``. Leaving without completing has
  ``eta = nu[level] + sum(delta[t] x_t)``, split by level-specific shares into
  dropout (``dropped_out`` or ``terminated``), ``transferred`` and other
  (``incarcerated``, ``died``, ``other``); completion has
  ``eta = nu[level] + intercept[level] + sum((coef + delta)[t] x_t)``, which
  makes the completion probability exactly the logistic model above.
  ``log_hr_vs_iop[level]`` is the true log cause-specific hazard ratio of
  *dropout* vs IOP (event: dropped out or terminated; other exits and open
  episodes censored), ``log_hr`` its covariate log hazard ratios;
  ``cause_specific`` holds the same for every exit cause. The hazards are in
  continuous time; recorded stays are whole days (``floor``), a stay under one
  day counting as one day. Open episodes are censored at ``as_of``.
* **Relapse** (``truth["relapse"]``): past-30-day use at *w* days after
  discharge (w = 30, 90, 180, 365), ``logit P(use_w) = intercept[w] +
  level_effect[level] + sum(coef[t] x_t)`` for every closed episode, whether
  or not the client responds. Uses at different windows are linked by a
  Gaussian copula (and completers use less at equal covariates) without
  changing these margins. Non-response is informative: users respond less.
* **Readmission**: stored as generation parameters (``truth["readmission"]``);
  the realised rates are properties of the data, not model estimands.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from iopstats.exceptions import IopstatsError

__all__ = ["TERMS", "LEVELS", "WINDOWS", "PARAMS", "model_matrix", "completion_probability",
           "relapse_probability", "true_effects"]

#: Levels generated, in :data:`iopstats.io.schema.LEVELS_OF_CARE` order.
LEVELS: tuple[str, ...] = (
    "detox_inpatient", "detox_residential", "detox_ambulatory", "inpatient",
    "residential_short", "residential_long", "php", "iop", "outpatient", "early_intervention",
)
WINDOWS: tuple[int, ...] = (30, 90, 180, 365)

#: Covariate terms of every outcome model and how they are coded from an episode row.
TERMS: dict[str, str] = {
    "age10": "(age - 35) / 10, age top-coded at 90",
    "female": "sex == 'female'",
    "psych": "psych_problem is true",
    "prior": "prior_treatment == 'one_or_more'",
    "use_some": "use_freq_admit == 'some'",
    "use_daily": "use_freq_admit == 'daily'",
    "homeless": "living_arrangement == 'homeless'",
    "opioid": "primary_substance in ('heroin', 'other_opioids')",
    "stimulant": "primary_substance in ('cocaine', 'methamphetamine', 'other_stimulants')",
    "justice": "referral_source == 'criminal_justice'",
    "unemployed": "employment == 'unemployed'",
}

#: Model parameters. Intercepts, time scales and placement were calibrated so
#: raw rates, reason mix and median stays land near the TEDS 2004 figures
#: (DOMAIN.md); see data/README.md for the achieved values.
PARAMS: dict = {
    "completion_coef": {
        "age10": 0.26, "female": 0.09, "psych": -0.53, "prior": -0.35, "use_some": -0.26,
        "use_daily": -0.70, "homeless": -0.79, "opioid": -0.53, "stimulant": -0.61,
        "justice": 0.53, "unemployed": -0.35,
    },
    "completion_intercept": {
        "detox_inpatient": 2.10, "detox_residential": 2.04, "detox_ambulatory": 1.16, "inpatient": 2.52,
        "residential_short": 1.92, "residential_long": 1.21, "php": 1.09, "iop": 0.65, "outpatient": 0.35,
        "early_intervention": 0.53,
    },
    # covariate log hazard ratios of leaving without completing
    "noncompletion_coef": {
        "age10": -0.40, "female": -0.08, "psych": 0.72, "prior": 0.48, "use_some": 0.40, "use_daily": 0.96,
        "homeless": 1.12, "opioid": 0.72, "stimulant": 0.80, "justice": -0.72, "unemployed": 0.48,
    },
    "weibull_shape": 1.25,
    # log baseline hazard of leaving without completing (days), at x = 0
    "nu": {
        "detox_inpatient": -5.39, "detox_residential": -5.28, "detox_ambulatory": -4.94, "inpatient": -6.88,
        "residential_short": -7.17, "residential_long": -8.25, "php": -6.74, "iop": -7.25,
        "outpatient": -7.53, "early_intervention": -6.63,
    },
    # shares of non-completion exits (TEDS 2004 row % among non-completers)
    "reason_shares": {
        "detox_inpatient": {"dropped_out": 16.4, "terminated": 2.1, "transferred": 13.6, "other": 5.6},
        "detox_residential": {"dropped_out": 16.4, "terminated": 2.1, "transferred": 13.6, "other": 5.6},
        "detox_ambulatory": {"dropped_out": 20.0, "terminated": 3.0, "transferred": 12.0, "other": 6.0},
        "inpatient": {"dropped_out": 10.9, "terminated": 2.6, "transferred": 14.9, "other": 2.3},
        "residential_short": {"dropped_out": 14.1, "terminated": 6.3, "transferred": 14.3, "other": 3.9},
        "residential_long": {"dropped_out": 28.1, "terminated": 7.7, "transferred": 12.5, "other": 8.8},
        "php": {"dropped_out": 20.0, "terminated": 9.0, "transferred": 18.0, "other": 5.0},
        "iop": {"dropped_out": 23.2, "terminated": 14.0, "transferred": 17.9, "other": 7.2},
        "outpatient": {"dropped_out": 27.2, "terminated": 10.5, "transferred": 11.7, "other": 14.2},
        "early_intervention": {"dropped_out": 25.0, "terminated": 5.0, "transferred": 10.0, "other": 10.0},
    },
    # "other" exits split into these recorded reasons
    "other_split": {"other": 0.80, "incarcerated": 0.15, "died": 0.05},
    "relapse_intercept": {30: -0.95, 90: -0.55, 180: -0.30, 365: -0.10},
    "relapse_level": {
        "detox_inpatient": 0.40, "detox_residential": 0.40, "detox_ambulatory": 0.45,
        "inpatient": -0.10, "residential_short": -0.10, "residential_long": -0.15, "php": -0.05,
        "iop": 0.0, "outpatient": 0.15, "early_intervention": 0.10,
    },
    "relapse_coef": {
        "age10": -0.10, "female": -0.05, "psych": 0.30, "prior": 0.30, "use_some": 0.20,
        "use_daily": 0.50, "homeless": 0.40, "opioid": 0.30, "stimulant": 0.30,
        "justice": 0.0, "unemployed": 0.20,
    },
    # Gaussian copula: corr(completion latent, relapse factor) and window loading
    "relapse_completion_corr": -0.4,
    "relapse_window_loading": 0.8,
    # follow-up response: logit P(respond) = intercept[w] + use + homeless
    "response_intercept": {30: 1.45, 90: 1.30, 180: 1.05, 365: 0.85},
    "response_use": -1.0,
    "response_homeless": -0.5,
    "urine_test_share": 0.2,
    "readmission": {
        "daily_rate": 0.00035,  # hazard of returning to treatment (per day) at baseline
        "log_hr_use90": 0.9,  # relapsed at 90 days (latent, observed or not)
        "log_hr_homeless": 0.3,
        "stepdown_prob": {"completed": 0.60, "transferred": 0.75, "other": 0.12},
        "community_transfer_prob": 0.6,
        "max_gap_days": 14,
    },
}


def model_matrix(episodes: pd.DataFrame) -> pd.DataFrame:
    """Code canonical episode columns into the :data:`TERMS` design matrix.

    Missing values code as 0 (not in the category); synthetic episodes have
    no missing covariates.

    Examples
    --------
    >>> ep = pd.DataFrame({"age": [35, 45], "sex": ["female", "male"],
    ...     "psych_problem": [True, False], "prior_treatment": ["none", "one_or_more"],
    ...     "use_freq_admit": ["daily", "some"], "living_arrangement": ["homeless", "independent"],
    ...     "primary_substance": ["heroin", "alcohol"], "referral_source": ["individual"] * 2,
    ...     "employment": ["unemployed", "full_time"]})
    >>> model_matrix(ep).loc[1].tolist()
    [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """

    needed = ["age", "sex", "psych_problem", "prior_treatment", "use_freq_admit", "living_arrangement",
              "primary_substance", "referral_source", "employment"]
    missing = [c for c in needed if c not in episodes.columns]
    if missing:
        raise IopstatsError("episodes lack columns the synthetic outcome models use", column=missing[0],
                            fix=f"pass canonical episodes with columns {needed}")

    def isin(col, values):
        return episodes[col].isin(values).to_numpy(dtype=float)

    age = pd.to_numeric(episodes["age"], errors="coerce").astype(float).clip(upper=90)
    out = {
        "age10": ((age - 35.0) / 10.0).fillna(0.0).to_numpy(),
        "female": isin("sex", ["female"]),
        "psych": episodes["psych_problem"].astype("boolean").fillna(False).to_numpy(dtype=float),
        "prior": isin("prior_treatment", ["one_or_more"]),
        "use_some": isin("use_freq_admit", ["some"]),
        "use_daily": isin("use_freq_admit", ["daily"]),
        "homeless": isin("living_arrangement", ["homeless"]),
        "opioid": isin("primary_substance", ["heroin", "other_opioids"]),
        "stimulant": isin("primary_substance", ["cocaine", "methamphetamine", "other_stimulants"]),
        "justice": isin("referral_source", ["criminal_justice"]),
        "unemployed": isin("employment", ["unemployed"]),
    }
    return pd.DataFrame(out, index=episodes.index)


def _lin(x: np.ndarray, coef: dict) -> np.ndarray:
    return x @ np.array([coef[t] for t in TERMS])


def _by_level(values: dict, level) -> np.ndarray | float:
    """Per-level parameter for one level name or an array of level names."""
    if isinstance(level, str):
        return values[level]
    codes = pd.Categorical(np.asarray(level, dtype=object), categories=list(LEVELS)).codes
    return np.array([values[lv] for lv in LEVELS])[codes]


def completion_probability(x: np.ndarray, level) -> np.ndarray:
    """Model probability of completion for covariate rows ``x`` (TERMS order) at ``level``.

    ``level`` is one level name (counterfactual: everyone at that level) or one per row.
    """
    return expit(_by_level(PARAMS["completion_intercept"], level) + _lin(x, PARAMS["completion_coef"]))


def relapse_probability(x: np.ndarray, level, window: int) -> np.ndarray:
    """Model probability of past-30-day use at ``window`` days after discharge."""
    g = _by_level(PARAMS["relapse_level"], level)
    return expit(PARAMS["relapse_intercept"][window] + g + _lin(x, PARAMS["relapse_coef"]))


def _shares(level: str) -> dict[str, float]:
    s = PARAMS["reason_shares"][level]
    tot = sum(s.values())
    return {"dropout": (s["dropped_out"] + s["terminated"]) / tot, "transferred": s["transferred"] / tot,
            "other": s["other"] / tot}


def true_effects(episodes: pd.DataFrame) -> dict:
    """The truth dictionary for a generated episode table (JSON-serialisable).

    Standardized risks average the model over the covariates of all rows of
    ``episodes`` (the g-formula target population).
    """
    x = model_matrix(episodes).to_numpy()
    ref = "iop"
    comp_int = PARAMS["completion_intercept"]
    lin_c = _lin(x, PARAMS["completion_coef"])
    std = {lv: float(expit(comp_int[lv] + lin_c).mean()) for lv in LEVELS}
    nu = PARAMS["nu"]
    causes = {}
    for cause in ("completed", "dropout", "transferred", "other"):
        def eta(lv):
            if cause == "completed":
                return nu[lv] + comp_int[lv]
            return nu[lv] + float(np.log(_shares(lv)[cause]))
        coef = {t: (PARAMS["noncompletion_coef"][t] + (PARAMS["completion_coef"][t] if cause == "completed" else 0.0))
                for t in TERMS}
        causes[cause] = {
            "log_hr_vs_iop": {lv: float(eta(lv) - eta(ref)) for lv in LEVELS if lv != ref},
            "log_hr": {t: float(v) for t, v in coef.items()},
            "log_baseline_rate": {lv: float(eta(lv)) for lv in LEVELS},
        }
    lin_r = _lin(x, PARAMS["relapse_coef"])
    relapse_std = {
        str(w): {lv: float(expit(PARAMS["relapse_intercept"][w] + PARAMS["relapse_level"][lv] + lin_r).mean())
                 for lv in LEVELS}
        for w in WINDOWS
    }
    return {
        "reference_level": ref,
        "terms": dict(TERMS),
        "n_episodes": int(len(episodes)),
        "completion": {
            "estimand": "logit P(completed) = intercept[level] + coef . terms (conditional); "
                        "standardized_risk = g-formula mean over all episodes",
            "intercept": {lv: float(comp_int[lv]) for lv in LEVELS},
            "coef": {t: float(v) for t, v in PARAMS["completion_coef"].items()},
            "log_or_vs_iop": {lv: float(comp_int[lv] - comp_int[ref]) for lv in LEVELS if lv != ref},
            "standardized_risk": std,
            "risk_difference_iop_minus": {lv: std[ref] - std[lv] for lv in LEVELS if lv != ref},
        },
        "dropout": {
            "estimand": "cause-specific hazard of dropout (dropped_out or terminated), Weibull "
                        "h(t) = k t^(k-1) exp(eta), t in days; other exits and open episodes censored",
            "weibull_shape": float(PARAMS["weibull_shape"]),
            "log_hr_vs_iop": causes["dropout"]["log_hr_vs_iop"],
            "log_hr": causes["dropout"]["log_hr"],
            "cause_specific": causes,
        },
        "relapse": {
            "estimand": "logit P(past-30-day use at w days after discharge) = intercept[w] + "
                        "level_effect[level] + coef . terms, for all closed episodes (responders or not)",
            "windows": list(WINDOWS),
            "intercept": {str(w): float(v) for w, v in PARAMS["relapse_intercept"].items()},
            "log_or_vs_iop": {lv: float(PARAMS["relapse_level"][lv]) for lv in LEVELS if lv != ref},
            "coef": {t: float(v) for t, v in PARAMS["relapse_coef"].items()},
            "standardized_risk": relapse_std,
            "response_model": {
                "intercept": {str(w): float(v) for w, v in PARAMS["response_intercept"].items()},
                "log_or_use": float(PARAMS["response_use"]),
                "log_or_homeless": float(PARAMS["response_homeless"]),
            },
        },
        "readmission": {
            "daily_rate": PARAMS["readmission"]["daily_rate"],
            "log_hr_use90": PARAMS["readmission"]["log_hr_use90"],
            "log_hr_homeless": PARAMS["readmission"]["log_hr_homeless"],
            "stepdown_prob": dict(PARAMS["readmission"]["stepdown_prob"]),
            "community_transfer_prob": PARAMS["readmission"]["community_transfer_prob"],
            "max_gap_days": PARAMS["readmission"]["max_gap_days"],
        },
    }
