"""Case-mix models for expected counts: :class:`CaseMixModel` and :func:`national_model`.

A case-mix model is a logistic regression of an outcome on client
characteristics, fitted with :func:`iopstats.logistic` on a reference
population, kept as its coefficients and the levels of each covariate, and
nothing else: no record, no count table. It predicts each episode's
probability of the outcome, which :func:`iopstats.standardized_ratio` sums
into a unit's expected count. :func:`national_model` fits it on TEDS-D
episodes (any years) and :meth:`CaseMixModel.save` writes it to a small JSON
file that a site can load with :meth:`CaseMixModel.load` and apply to its own
episodes on the covariates both share.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from iopstats._checks import binary_outcome, check_frame, column_list, frequency_weights
from iopstats.exceptions import IopstatsError
from iopstats.stats.logistic import logistic

__all__ = ["CaseMixModel", "fit_case_mix", "national_model"]

_FORMAT = "iopstats.case_mix_model"
_VERSION = 1


def _is_categorical(s: pd.Series) -> bool:
    """The rule of :func:`iopstats.logistic`: bool, category and text are categorical."""
    dt = s.dtype
    return (isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dt)
            or not pd.api.types.is_numeric_dtype(dt))


@dataclass(frozen=True)
class CaseMixModel:
    """Coefficients and covariate levels of a fitted case-mix logistic model.

    Attributes
    ----------
    outcome : str
    covariates : tuple of str
    coef : dict
        Term -> coefficient, terms named as :func:`iopstats.logistic` names
        them (``"intercept"``, ``"col[level]"``, numeric column names).
    levels : dict
        Categorical covariate -> its levels as text, the reference (baseline)
        first; numeric covariates are absent.
    n, events : float
        Episodes and events the model was fitted on (the reference
        population); ``rate = events / n`` is the reference rate.
    source : str
        What the model was fitted on (free text).
    """

    outcome: str
    covariates: tuple[str, ...]
    coef: dict = field(default_factory=dict)
    levels: dict = field(default_factory=dict)
    n: float = 0.0
    events: float = 0.0
    source: str = ""

    @property
    def rate(self) -> float:
        """Outcome rate of the reference population."""
        return self.events / self.n if self.n else float("nan")

    def linear_predictor(self, data: pd.DataFrame) -> np.ndarray:
        """Linear predictor per row (NaN where a covariate is missing).

        Raises
        ------
        IopstatsError
            A covariate is absent, or holds a level the model has never seen.
        """
        check_frame(data, list(self.covariates))
        eta = np.full(len(data), float(self.coef.get("intercept", 0.0)))
        for col in self.covariates:
            s = data[col]
            if col in self.levels:
                eta += self._categorical_part(col, s)
            else:
                v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                eta += float(self.coef.get(col, 0.0)) * v
        return eta

    def _categorical_part(self, col: str, s: pd.Series) -> np.ndarray:
        levels = self.levels[col]
        table = {lev: float(self.coef.get(f"{col}[{lev}]", 0.0)) for lev in levels}
        labels = s.astype("string") if not isinstance(s.dtype, pd.CategoricalDtype) else s
        if isinstance(labels.dtype, pd.CategoricalDtype):
            cats = [str(c) for c in labels.cat.categories]
            lookup = np.array([table.get(c, np.nan) for c in cats] + [np.nan])
            codes = labels.cat.codes.to_numpy()
            part = lookup[np.where(codes < 0, len(cats), codes)]
            unseen = sorted({cats[c] for c in np.unique(codes[codes >= 0]) if cats[c] not in table})
        else:
            txt = labels.to_numpy(dtype=object, na_value=None)
            part = np.array([np.nan if t is None else table.get(t, np.nan) for t in txt], dtype=float)
            unseen = sorted({t for t in txt if t is not None and t not in table})
        if unseen:
            raise IopstatsError(
                "a covariate holds a level the case-mix model was not fitted on", column=col, value=unseen[:5],
                fix=f"merge it into one of {levels[:12]} or refit the model on data holding it")
        return part

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        """Probability of the outcome per row (NaN where a covariate is missing)."""
        return special.expit(self.linear_predictor(data))

    # ---------------------------------------------------------------- files

    def to_dict(self) -> dict:
        """Plain dictionary (what :meth:`save` writes)."""
        return {"format": _FORMAT, "version": _VERSION, "outcome": self.outcome,
                "covariates": list(self.covariates), "coef": dict(self.coef),
                "levels": {k: list(v) for k, v in self.levels.items()}, "n": self.n, "events": self.events,
                "source": self.source}

    def save(self, path) -> Path:
        """Write the model to a small JSON file (coefficients and levels, no records)."""
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True), encoding="utf-8")
        return p

    @classmethod
    def from_dict(cls, d: dict, where: str = "") -> "CaseMixModel":
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise IopstatsError("not an iopstats case-mix model file", file=where or None,
                                fix="write it with CaseMixModel.save or national_model(...).save(path)")
        if d.get("version") != _VERSION:
            raise IopstatsError("unsupported case-mix model version", file=where or None, value=d.get("version"),
                                fix="refit the model with this version of iopstats")
        coef = {str(k): float(v) for k, v in d["coef"].items()}
        if not all(np.isfinite(list(coef.values()))):
            raise IopstatsError("case-mix model has a non-finite coefficient", file=where or None,
                                fix="refit the model")
        return cls(outcome=str(d["outcome"]), covariates=tuple(d["covariates"]), coef=coef,
                   levels={str(k): [str(x) for x in v] for k, v in d["levels"].items()}, n=float(d["n"]),
                   events=float(d["events"]), source=str(d.get("source", "")))

    @classmethod
    def load(cls, path) -> "CaseMixModel":
        """Read a model written by :meth:`save`."""
        p = Path(path)
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IopstatsError("cannot read the case-mix model file", file=str(p),
                                fix="pass the path of a JSON file written by CaseMixModel.save") from exc
        return cls.from_dict(d, str(p))


def _observed_levels(data: pd.DataFrame, col: str, keep: np.ndarray) -> list[str]:
    s = data[col][keep]
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.cat.codes.to_numpy())
        return [str(c) for i, c in enumerate(s.cat.categories) if i in present]
    return sorted({str(v) for v in s.dropna().unique()})


def fit_case_mix(data: pd.DataFrame, outcome: str, covariates: str | Sequence[str], weights: str | None = None,
                 source: str = "") -> CaseMixModel:
    """Fit a case-mix logistic model with :func:`iopstats.logistic` and keep its coefficients and levels.

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["f"] * 10 + ["m"] * 10, "y": [1] * 7 + [0] * 3 + [1] * 4 + [0] * 6})
    >>> m = fit_case_mix(df, "y", ["sex"])
    >>> m.levels, round(m.coef["sex[m]"], 4)
    ({'sex': ['f', 'm']}, -1.2528)
    >>> np.round(m.predict(pd.DataFrame({"sex": ["f", "m"]})), 4).tolist()
    [0.7, 0.4]
    """
    covs = column_list(covariates, "covariates")
    fit = logistic(data, outcome, covs, weights=weights)
    coef = {str(k): float(v) for k, v in fit.summary["coef"].items()}
    y = binary_outcome(data, outcome)
    w = frequency_weights(data, weights)
    w = np.ones(len(y)) if w is None else w
    keep = ~np.isnan(y) & (w > 0)
    for c in covs:
        keep &= data[c].notna().to_numpy()
    levels = {}
    for c in covs:
        if not _is_categorical(data[c]):
            continue
        seen = _observed_levels(data, c, keep)
        with_term = [lv for lv in seen if f"{c}[{lv}]" in coef]
        base = [lv for lv in seen if f"{c}[{lv}]" not in coef]
        levels[c] = base[:1] + with_term
    return CaseMixModel(outcome=outcome, covariates=tuple(covs), coef=coef, levels=levels, n=float(fit.n),
                        events=float((y * w)[keep].sum()), source=source)


def national_model(episodes, covariates: Sequence[str] | None = None, *, outcome: str = "completed",
                   level_of_care: str | Sequence[str] | None = "iop", as_of=None,
                   source: str = "TEDS-D") -> CaseMixModel:
    """Fit a national case-mix model of completion on TEDS-D episodes (any years).

    The episodes (as read by :func:`iopstats.read_tedsd`, pandas or Dask, one
    year or many) are collapsed once with :func:`iopstats.headline_counts`
    and the model is fitted on the count table, so a national year costs what
    the headline costs. Episodes with a missing covariate or an unknown
    discharge reason are left out of the fit.

    Parameters
    ----------
    episodes : DataFrame or dask.dataframe.DataFrame
        Canonical episodes (TEDS-D or any other reference population).
    covariates : sequence of str, optional
        Canonical categorical columns of the case mix. Choose those a program
        also records (the covariates both share); default the headline set.
    outcome : {"completed"}
        Completion (discharge reason "completed"), as in ``build_outcomes``.
    level_of_care : str, list or None
        Keep these levels of care (default ``"iop"``); with several, the level
        enters the model as a covariate; ``None`` keeps every level.
    as_of : date-like, optional
        Passed to :func:`iopstats.headline_counts`.
    source : str
        Description stored in the file.

    Returns
    -------
    CaseMixModel
        Use ``standardized_ratio(..., model=)``; ``.save(path)`` writes JSON.
    """
    from iopstats.compare.headline_counts import HEADLINE_COVARIATES, headline_counts

    if outcome != "completed":
        raise IopstatsError("national_model fits completion only", value=outcome, fix="pass outcome='completed'")
    covs = list(HEADLINE_COVARIATES if covariates is None else column_list(covariates, "covariates"))
    table = headline_counts(episodes, covs, as_of=as_of)
    levels = None if level_of_care is None else column_list(level_of_care, "level_of_care")
    model_covs = list(covs)
    if levels is not None:
        table = table[table["level_of_care"].isin(levels)]
        if table.empty:
            raise IopstatsError("no episodes at the requested level of care", value=levels,
                                fix="check level_of_care= against the canonical levels (e.g. 'iop')")
    if levels is None or len(levels) > 1:
        table = table.assign(level_of_care=table["level_of_care"].cat.remove_unused_categories())
        model_covs = ["level_of_care", *covs]
    desc = f"{source}, level of care {', '.join(levels) if levels else 'all'}"
    return fit_case_mix(table, outcome, model_covs, weights="n", source=desc)
