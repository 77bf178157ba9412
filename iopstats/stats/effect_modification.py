"""Effect modification: the effect of one factor (e.g. level of care) within levels of another.

Fits the model twice, with and without the ``exposure x modifier`` interaction
(:func:`iopstats.cox` or :func:`iopstats.logistic`), and reports

* for every modifier level and exposure level, the hazard (odds) ratio against the
  exposure's reference: ``exp(b_exposure + b_interaction)`` with the variance of the
  sum from the model's covariance matrix (R: ``exp(coef[a] + coef[a:m])``);
* the interaction test: likelihood ratio (full vs reduced model, as R ``anova``)
  and Wald (the interaction block of the covariance; robust when the fit is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from iopstats._checks import check_confidence, check_frame
from iopstats._results import Result
from iopstats.exceptions import IopstatsError
from iopstats.stats.design import _categorical_codes, is_categorical

__all__ = ["effect_modification", "EffectModificationResult"]


@dataclass(frozen=True, repr=False)
class EffectModificationResult(Result):
    """Stratum-specific effects and the interaction test.

    Attributes
    ----------
    summary : DataFrame
        modifier_level, exposure_level, ratio (HR or OR vs the exposure reference),
        ci_low, ci_high, p_value.
    tests : DataFrame
        Indexed by test (likelihood_ratio, wald): statistic, df, p_value.
    full, reduced : result objects of the model with and without the interaction.
    """

    tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    full: Any = None
    reduced: Any = None

    def plot(self, ax=None, **kw):
        """Forest plot of the effect in each modifier level; returns the Axes."""
        from iopstats.plots import forest

        s = self.summary.copy()
        s["label"] = s["modifier_level"].astype(str) + ": " + s["exposure_level"].astype(str)
        return forest(s, ax=ax, estimate="ratio", label="label", xlabel=kw.pop("xlabel", "ratio (95% interval)"),
                      title=kw.pop("title", self.title), **kw)


def _levels(data: pd.DataFrame, col: str) -> tuple[Any, ...]:
    if not is_categorical(data[col]):
        raise IopstatsError("exposure and modifier must be categorical columns", column=col,
                            fix="cut a numeric modifier into groups first (e.g. pd.cut)")
    codes, levels = _categorical_codes(data[col])
    present = np.bincount(codes[codes >= 0], minlength=len(levels)) > 0
    return tuple(lv for lv, p in zip(levels, present) if p)


def _fit(model, data, time, event, outcome, covs, inter, weights, fit_kw):
    if model == "cox":
        from iopstats.stats.cox import cox

        if time is None or event is None:
            raise IopstatsError("model='cox' needs time= and event=", fix="pass the follow-up time and event columns")
        return cox(data, time, event, covs, weights=weights, interactions=inter, **fit_kw)
    from iopstats.stats.logistic import logistic

    if outcome is None:
        raise IopstatsError("model='logistic' needs outcome=", fix="pass the binary outcome column")
    return logistic(data, outcome, covs, weights=weights, interactions=inter, **fit_kw)


def _coef_cov(fit) -> tuple[pd.Series, pd.DataFrame]:
    cov = fit.variance if hasattr(fit, "variance") else fit.cov
    return fit.summary["coef"], cov


def effect_modification(
    data: pd.DataFrame,
    exposure: str,
    modifier: str,
    covariates: Sequence[str] = (),
    model: str = "cox",
    time: str | None = None,
    event: str | None = None,
    outcome: str | None = None,
    weights: str | None = None,
    confidence: float = 0.95,
    **fit_kw: Any,
) -> EffectModificationResult:
    """Effect of ``exposure`` within each level of ``modifier``, with the interaction test.

    Parameters
    ----------
    data : DataFrame
        Not modified.
    exposure, modifier : str
        Categorical columns, e.g. ``"level_of_care"`` and ``"sex"``.
    covariates : list of str
        Other adjustment covariates (main effects).
    model : {"cox", "logistic"}
    time, event : str
        For ``model="cox"``.
    outcome : str
        For ``model="logistic"``.
    weights : str, optional
        Frequency weights (or case weights for Cox, with robust variance).
    confidence : float
    **fit_kw
        Passed to :func:`iopstats.cox` (e.g. ``ties=``, ``strata=``, ``cluster=``).

    Returns
    -------
    EffectModificationResult

    Examples
    --------
    >>> df = pd.DataFrame({"loc": ["iop", "op"] * 8, "sex": ["f"] * 8 + ["m"] * 8,
    ...                    "done": [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 0]})
    >>> em = effect_modification(df, "loc", "sex", model="logistic", outcome="done")
    >>> em.summary[["modifier_level", "exposure_level", "ratio"]].round(3)  # (1/3) / 3 and 3 / 1
      modifier_level exposure_level  ratio
    0              f             op  0.111
    1              m             op  3.000
    >>> em.tests.round(3)  # R: anova(glm(done ~ loc + sex), glm(done ~ loc * sex), test = "LRT")
                      statistic  df  p_value
    test                                    
    likelihood_ratio      2.375   1    0.123
    wald                  2.173   1    0.140
    """
    conf = check_confidence(confidence)
    if model not in ("cox", "logistic"):
        raise IopstatsError("unknown model", value=model, fix='use model="cox" or model="logistic"')
    if exposure == modifier:
        raise IopstatsError("exposure and modifier must differ", column=exposure)
    covs = [exposure, modifier] + [c for c in covariates if c not in (exposure, modifier)]
    check_frame(data, covs)
    e_lv, m_lv = _levels(data, exposure), _levels(data, modifier)
    full = _fit(model, data, time, event, outcome, covs, [(exposure, modifier)], weights, fit_kw)
    reduced = _fit(model, data, time, event, outcome, covs, None, weights, fit_kw)
    b, V = _coef_cov(full)
    z = stats.norm.ppf(0.5 + conf / 2)
    rows = []
    for m in m_lv:
        for a in e_lv[1:]:
            terms = [f"{exposure}[{a}]"] + ([f"{exposure}:{modifier}[{a}:{m}]"] if m != m_lv[0] else [])
            if not all(t in b.index for t in terms):
                rows.append({"modifier_level": m, "exposure_level": a, "ratio": np.nan, "ci_low": np.nan,
                             "ci_high": np.nan, "p_value": np.nan})
                continue
            est = float(b[terms].sum())
            se = float(np.sqrt(V.loc[terms, terms].to_numpy().sum()))
            rows.append({"modifier_level": m, "exposure_level": a, "ratio": np.exp(est),
                         "ci_low": np.exp(est - z * se), "ci_high": np.exp(est + z * se),
                         "p_value": float(2 * stats.norm.sf(abs(est) / se))})
    inter = [t for t in b.index if t.startswith(f"{exposure}:{modifier}[")]
    tests = _tests(full, reduced, b, V, inter)
    what = "hazard" if model == "cox" else "odds"
    remarks = [f"{what.capitalize()} ratios of {exposure} (vs {e_lv[0]!r}) within each level of {modifier}, "
               f"from a {model} model with the {exposure} x {modifier} interaction"
               + (f" adjusted for {' + '.join(covs[2:])}" if covs[2:] else "") + "."]
    if getattr(full, "robust", False):
        remarks.append("Robust variance: read the Wald test; the likelihood-ratio test assumes model-based errors.")
    return EffectModificationResult(summary=pd.DataFrame(rows), tests=tests, full=full, reduced=reduced,
                                    title=f"Effect of {exposure} by {modifier} ({what} ratios)",
                                    remarks=tuple(remarks))


def _tests(full, reduced, b, V, inter) -> pd.DataFrame:
    df = len(inter)
    lr = 2 * (full.loglik - reduced.loglik)
    bi = b[inter].to_numpy()
    wald = float(bi @ np.linalg.solve(V.loc[inter, inter].to_numpy(), bi)) if df else float("nan")
    out = pd.DataFrame({"statistic": [lr, wald], "df": [df, df]},
                       index=pd.Index(["likelihood_ratio", "wald"], name="test"))
    out["p_value"] = stats.chi2.sf(out["statistic"], out["df"])
    return out
