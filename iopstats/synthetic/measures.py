"""Synthetic repeated PHQ-9 totals and weekly urine screens with known true effects by level of care.

:func:`synth_measures` takes the episodes of :func:`iopstats.synth` and adds,
per episode, seeded and vectorized:

* **baseline severity confounded with placement**: the admission PHQ-9 total
  is drawn around a level-specific mean (:data:`BASELINE_MEAN`, higher in
  more intensive care, +2 with a psychiatric problem), as if the admission
  score had driven placement (it is the only confounder, so adjusting for the
  baseline score removes the confounding);
* **weekly PHQ-9 totals** on days 0, 7, 14, ... while in treatment (at most 12
  weeks) and a research **follow-up at day 56** for every episode. Each
  episode's true line is ``baseline + week * slope``, with
  ``slope = SLOPE[level] + SEVERITY_SLOPE * (baseline - 14) + N(0, 0.3)``
  (more severe clients improve faster, so raw comparisons are confounded by
  baseline); observed totals add N(0, 2) noise, rounded and kept in 0-27;
* **informative missingness** (``missing=True``): each later measurement is
  missed with probability ``expit(-1.5 + 0.25 * (previous observed score - 14))``
  (missing at random given the last observed score: sicker clients skip more);
* **weekly urine screens** (``instrument = "uds"``, item ``opioid``) while in
  treatment for episodes with a primary opioid substance, positive with a
  probability falling with the week by a level-specific amount.

``truth`` holds the level parameters, the marginal mean weekly slope of each
level over the episodes generated (what a mixed model of score by level
estimates), and the true share with reliable improvement at the day-56
follow-up under each level for the whole cohort (potential outcomes with the
same noise), with its risk difference IOP minus level - the target of the
adjusted comparison ``compare_rates(..., adjust=["baseline_score"])``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from iopstats.exceptions import IopstatsError

__all__ = ["synth_measures", "SynthMeasures", "BASELINE_MEAN", "SLOPE", "SEVERITY_SLOPE", "RCI_SD"]

#: Mean baseline PHQ-9 total by level of care (severity drives placement).
BASELINE_MEAN: dict[str, float] = {
    "detox_inpatient": 18.0, "detox_residential": 17.5, "detox_ambulatory": 16.0, "inpatient": 18.5,
    "residential_short": 17.0, "residential_long": 17.5, "php": 16.0, "iop": 14.0, "outpatient": 11.0,
    "early_intervention": 8.0,
}
#: True mean weekly change of the PHQ-9 total at baseline 14, by level of care.
SLOPE: dict[str, float] = {
    "detox_inpatient": -0.55, "detox_residential": -0.55, "detox_ambulatory": -0.45, "inpatient": -0.65,
    "residential_short": -0.70, "residential_long": -0.70, "php": -0.65, "iop": -0.60, "outpatient": -0.40,
    "early_intervention": -0.25,
}
#: Extra weekly change per baseline point above 14.
SEVERITY_SLOPE = -0.05
#: Standard deviation used for the reliable change index in ``truth`` (pass ``sd=RCI_SD`` to change_outcomes).
RCI_SD = 5.0
_RELIABILITY = 0.89  # PHQ-9 alpha (iopstats.instruments.rules)
_FOLLOWUP_DAY = 56
_MAX_WEEKS = 12
_UDS_START = {"iop": 0.55, "outpatient": 0.55, "php": 0.55, "residential_short": 0.45, "residential_long": 0.45}
_UDS_WEEKLY = {"iop": -0.20, "outpatient": -0.12, "php": -0.22, "residential_short": -0.25, "residential_long": -0.25}


@dataclass(frozen=True)
class SynthMeasures:
    """Synthetic canonical measures (``.measures``) and the true effects (``.truth``)."""

    measures: pd.DataFrame
    truth: dict = field(default_factory=dict)


def _line(b, slope, week, noise):
    return np.clip(np.round(b + slope * week + noise), 0, 27)


def synth_measures(episodes, seed: int = 0, *, missing: bool = True) -> SynthMeasures:
    """Add PHQ-9 totals and urine screens with known true effects to synthetic episodes.

    Parameters
    ----------
    episodes : DataFrame or SynthData
        ``synth(...).episodes`` (or that SynthData). Not modified.
    seed : int
        Seed of the numpy generator.
    missing : bool
        Informative missingness of later measurements (module docstring).

    Returns
    -------
    SynthMeasures

    Examples
    --------
    >>> from iopstats.synthetic.generate import synth
    >>> sm = synth_measures(synth(300, seed=1, sessions=False), seed=2)
    >>> sorted(sm.measures.instrument.unique())
    ['phq9', 'uds']
    >>> sm.truth["slope"]["iop"]
    -0.6
    """
    eps = getattr(episodes, "episodes", episodes)
    if not isinstance(eps, pd.DataFrame) or not {"episode_id", "level_of_care", "admit_date"} <= set(eps.columns):
        raise IopstatsError("episodes must be canonical episodes (e.g. synth(...).episodes)",
                            fix="pass iopstats.synth(n).episodes")
    rng = np.random.default_rng(seed)
    n = len(eps)
    level = eps["level_of_care"].astype(str).to_numpy()
    psych = eps["psych_problem"].fillna(False).to_numpy(dtype=bool) if "psych_problem" in eps.columns else np.zeros(n, bool)
    base_mu = np.array([BASELINE_MEAN.get(lv, 14.0) for lv in level]) + 2.0 * psych
    b_true = np.clip(np.round(base_mu + rng.normal(0, 4.0, n)), 0, 27)  # the admission score, measured as is
    s_i = rng.normal(0, 0.3, n)
    slope_of = lambda lv: np.array([SLOPE.get(x, -0.5) for x in lv])  # noqa: E731
    slope = slope_of(level) + SEVERITY_SLOPE * (b_true - 14) + s_i
    los = ((pd.to_datetime(eps["discharge_date"]) - pd.to_datetime(eps["admit_date"])).dt.days
           .fillna(7 * _MAX_WEEKS).to_numpy(dtype=float))
    weeks = np.arange(_MAX_WEEKS + 1)
    noise = rng.normal(0, 2.0, (n, len(weeks)))
    fu_noise = rng.normal(0, 2.0, n)
    noise[:, 0] = 0.0
    scores = _line(b_true[:, None], slope[:, None], weeks[None, :], noise)
    planned = (7 * weeks[None, :] <= los[:, None])
    planned[:, 0] = True
    fu = _line(b_true, slope, _FOLLOWUP_DAY / 7, fu_noise)
    seen = planned.copy()
    fu_seen = np.ones(n, bool)
    if missing:
        last = scores[:, 0].copy()
        for w in weeks[1:]:
            miss = rng.random(n) < expit(-1.5 + 0.25 * (last - 14))
            seen[:, w] &= ~miss
            last = np.where(seen[:, w], scores[:, w], last)
        fu_seen = rng.random(n) >= expit(-1.0 + 0.25 * (last - 14))
    ids = eps["episode_id"].astype(str).to_numpy()
    r, c = np.nonzero(seen)
    phq = pd.DataFrame({"episode_id": ids[r], "day": 7 * weeks[c], "value": scores[r, c]})
    phq_fu = pd.DataFrame({"episode_id": ids[fu_seen], "day": _FOLLOWUP_DAY, "value": fu[fu_seen]})
    phq = pd.concat([phq, phq_fu], ignore_index=True).drop_duplicates(["episode_id", "day"])
    phq = phq.assign(instrument="phq9", item="total", source="self_report")
    uds = _urine(rng, eps, level, los, ids)
    measures = pd.concat([phq, uds], ignore_index=True)
    measures["measure_date"] = pd.to_datetime(eps.set_index(eps["episode_id"].astype(str))["admit_date"]
                                              .reindex(measures["episode_id"]).to_numpy()) + pd.to_timedelta(
        measures["day"], unit="D")
    measures = measures[["episode_id", "measure_date", "day", "instrument", "item", "value", "source"]]
    measures = measures.sort_values(["episode_id", "instrument", "day"], kind="stable", ignore_index=True)
    return SynthMeasures(measures=measures, truth=_truth(level, b_true, scores[:, 0], s_i, fu_noise, slope))


def _urine(rng, eps, level, los, ids) -> pd.DataFrame:
    opioid = (eps["primary_substance"].astype(str).isin(["heroin", "other_opioids"]).to_numpy()
              if "primary_substance" in eps.columns else np.zeros(len(eps), bool))
    weeks = np.arange(_MAX_WEEKS + 1)
    p0 = np.array([_UDS_START.get(lv, 0.5) for lv in level])
    dp = np.array([_UDS_WEEKLY.get(lv, -0.15) for lv in level])
    logit = np.log(p0 / (1 - p0))[:, None] + dp[:, None] * weeks[None, :]
    pos = rng.random((len(eps), len(weeks))) < expit(logit)
    taken = opioid[:, None] & (7 * weeks[None, :] <= los[:, None]) & (rng.random((len(eps), len(weeks))) < 0.85)
    r, c = np.nonzero(taken)
    return pd.DataFrame({"episode_id": ids[r], "day": 7 * weeks[c], "instrument": "uds",
                         "item": np.where(pos[r, c], "opioid", "none"),
                         "value": np.where(pos[r, c], 1.0, 0.0), "source": "urine_test"})


def _truth(level, b_true, base_obs, s_i, fu_noise, slope) -> dict:
    levels = [lv for lv in SLOPE if (level == lv).any()]
    threshold = 1.959963984540054 * np.sqrt(2.0) * RCI_SD * np.sqrt(1 - _RELIABILITY)
    rate = {}
    for lv in levels:  # potential outcome of every episode had it been treated at level lv
        end = _line(b_true, SLOPE[lv] + SEVERITY_SLOPE * (b_true - 14) + s_i, _FOLLOWUP_DAY / 7, fu_noise)
        rate[lv] = float(np.mean(base_obs - end > threshold))
    return {
        "slope": dict(SLOPE), "severity_slope": SEVERITY_SLOPE, "baseline_mean": dict(BASELINE_MEAN),
        "marginal_slope": {lv: float(slope[level == lv].mean()) for lv in levels},
        "followup_day": _FOLLOWUP_DAY, "rci_sd": RCI_SD, "rci_reliability": _RELIABILITY,
        "reliable_improvement_followup": {"rate": rate,
                                          "rd_iop_minus_level": {lv: rate["iop"] - rate[lv] for lv in levels
                                                                 if "iop" in rate and lv != "iop"}},
    }
