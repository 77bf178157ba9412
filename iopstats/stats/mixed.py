"""Symptom trajectories: a linear mixed model of score over weeks in treatment by level of care.

:func:`trajectories` fits, with statsmodels ``MixedLM`` (REML or ML),

``score ~ level * week``, level of care treatment-coded (reference level first),

with a random intercept and slope per episode (correlated, unstructured 2x2
covariance) - lme4 ``lmer(score ~ level * week + (week | episode))``. When
clients have several episodes (``client="auto"`` and some client repeats, or
``client=True``), client is a higher level: a random client intercept, and
episode intercepts and slopes nested in clients as independent variance
components - lme4 ``lmer(score ~ level * week + (1 | client) + (1 | client:episode)
+ (0 + week | client:episode))``.

Estimates, standard errors and variance components agree with R lme4 / nlme
(tests/reference/mixed). Predicted mean curves are ``X b`` for each level over
the weeks, with Wald intervals from the fixed-effect covariance. Standard
errors are model-based (REML: from the REML information, as lme4); an MAR
missingness of later measurements (dropout depending on earlier observed
scores) leaves the likelihood estimates consistent, unlike per-visit
complete-case means.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from iopstats._results import Result
from iopstats.exceptions import IopstatsError

__all__ = ["trajectories", "TrajectoryResult", "trajectory_frame"]


@dataclass(frozen=True, repr=False)
class TrajectoryResult(Result):
    """Fixed effects (``.summary``), variance components, predicted mean curves and fit details."""

    variance_components: pd.DataFrame = field(default_factory=pd.DataFrame)
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    cov_fixed: pd.DataFrame = field(default_factory=pd.DataFrame)
    loglik: float = float("nan")
    method: str = "REML"
    model: str = ""
    n_obs: int = 0
    n_episodes: int = 0
    n_clients: int = 0

    def plot(self, ax=None):
        """Mean curves with confidence bands by level of care (matplotlib Axes)."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(6, 4))[1]
        for lev, g in self.curves.groupby("level", sort=False, observed=True):
            ax.plot(g["week"], g["mean"], label=str(lev))
            ax.fill_between(g["week"], g["ci_low"], g["ci_high"], alpha=0.2)
        ax.set_xlabel("weeks since admission")
        ax.set_ylabel("mean score")
        ax.legend(title="level of care")
        return ax


def trajectory_frame(measures, episodes, instrument: str, scale: str = "total", by: str = "level_of_care"):
    """Long table (episode_id, client_id, level, week, score) of valid scores joined to episodes.

    ``measures`` may be canonical measures (scored with
    :func:`iopstats.score_instrument` when the instrument has shipped rules; an
    instrument without rules uses its ``item = "total"`` rows) or
    ``score_instrument(...)`` output.
    """
    from iopstats.outcomes.change import _episodes, _scores  # same score selection as change_outcomes

    eps = _episodes(episodes)
    s, _ = _scores(measures, instrument, scale, eps)
    cols = ["episode_id", by] + (["client_id"] if "client_id" in eps.columns else [])
    d = s[["episode_id", "day", "score"]].merge(eps[cols], on="episode_id", how="inner")
    if "client_id" not in d.columns:
        d["client_id"] = d["episode_id"]
    d = d.rename(columns={by: "level"})
    d["week"] = d["day"].astype(float) / 7.0
    return d[d["level"].notna()].reset_index(drop=True)


def _design(d: pd.DataFrame, levels: list[str]) -> tuple[np.ndarray, list[str]]:
    cols, names = [np.ones(len(d)), d["week"].to_numpy(float)], ["(Intercept)", "week"]
    lev = d["level"].astype(str).to_numpy()
    for l in levels[1:]:
        cols.append((lev == l).astype(float))
        names.append(f"level[{l}]")
    for l in levels[1:]:
        cols.append((lev == l) * d["week"].to_numpy(float))
        names.append(f"level[{l}]:week")
    return np.column_stack(cols), names


def _model(d: pd.DataFrame, X: np.ndarray, y: np.ndarray, nested: bool):
    """The statsmodels MixedLM of the episode-level or nested client model, and its lme4 formula."""
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    week = d["week"].to_numpy(float)
    if nested:
        groups = d["client_id"].to_numpy()
        ep_codes = pd.factorize(d["episode_id"])[0]
        idx_by = d.groupby("client_id", sort=True).indices
        labels = sorted(idx_by)
        z_int, z_week = [], []
        for cl in labels:
            sub = ep_codes[idx_by[cl]]
            z = (sub[:, None] == np.unique(sub)[None, :]).astype(float)
            z_int.append(z)
            z_week.append(z * week[idx_by[cl]][:, None])
        names_vc = ["episode", "episode_week"]
        cols_vc = [[[str(j) for j in range(z.shape[1])] for z in z_int]] * 2
        model = MixedLM(y, X, groups=groups, exog_re=np.ones((len(d), 1)),
                        exog_vc=VCSpec(names_vc, cols_vc, [z_int, z_week]))
        form = "score ~ level * week + (1 | client) + (1 | client:episode) + (0 + week | client:episode)"
    else:
        model = MixedLM(y, X, groups=d["episode_id"].to_numpy(), exog_re=np.column_stack([np.ones(len(d)), week]))
        form = "score ~ level * week + (week | episode)"
    return model, form


def _fit(model, reml: bool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(reml=reml, method=["lbfgs"], maxiter=2000)
        # polish from the optimum with a Newton-type step so estimates agree with lme4 to ~1e-6
        try:
            res2 = model.fit(reml=reml, start_params=res.params, method=["bfgs"], maxiter=500,
                             gtol=1e-10)
            if np.isfinite(res2.llf) and res2.llf >= res.llf - 1e-12:
                res = res2
        except (np.linalg.LinAlgError, ValueError):
            pass
    return res


def trajectories(
    measures,
    episodes,
    instrument: str = "phq9",
    *,
    scale: str = "total",
    by: str = "level_of_care",
    reference: str | None = None,
    reml: bool = True,
    client: str | bool = "auto",
    weeks: np.ndarray | None = None,
    confidence: float = 0.95,
) -> TrajectoryResult:
    """Linear mixed model of score over weeks in treatment by level of care.

    Parameters
    ----------
    measures : DataFrame, LoadResult or ScoreResult
        Canonical measures or scores (see :func:`trajectory_frame`).
    episodes : DataFrame or LoadResult
        Canonical episodes (level of care, admission date, client id).
    instrument, scale : str
        The score analysed.
    by : str
        Level-of-care column of ``episodes``.
    reference : str, optional
        Reference level (default ``"iop"`` when present, else the first level).
    reml : bool
        REML (default, as lme4) or maximum likelihood (for likelihood-ratio tests).
    client : "auto", True or False
        Client as a higher level ("auto": when any client has several episodes).
    weeks : array, optional
        Weeks at which mean curves are predicted (default 0 to the 95th
        percentile of observed weeks, by whole weeks).
    confidence : float
        Level of the Wald intervals.

    Returns
    -------
    TrajectoryResult
        ``.summary`` fixed effects (term, estimate, se, z, p_value, ci_low,
        ci_high); ``.variance_components`` (component, variance, sd, corr);
        ``.curves`` (level, week, mean, se, ci_low, ci_high); ``.loglik``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rows = []
    >>> for i in range(60):
    ...     lev = "iop" if i % 2 else "outpatient"
    ...     b0, b1 = rng.normal(15, 3), rng.normal(-1.0 if lev == "iop" else -0.5, 0.3)
    ...     rows += [(f"e{i}", lev, 7 * w, b0 + b1 * w + rng.normal(0, 1.5)) for w in range(6)]
    >>> m = pd.DataFrame(rows, columns=["episode_id", "level_of_care", "day", "value"])
    >>> eps = m.drop_duplicates("episode_id")[["episode_id", "level_of_care"]].assign(admit_date=pd.Timestamp("2024-01-01"))
    >>> fit = trajectories(m.assign(instrument="score", item="total"), eps, "score")
    >>> est = fit.summary.set_index("term").loc["level[outpatient]:week", "estimate"]
    >>> bool(abs(est - 0.5) < 0.2)  # true difference in weekly slope: +0.5
    True
    """
    if not 0 < confidence < 1:
        raise IopstatsError("confidence must be between 0 and 1", value=confidence, fix="pass confidence=0.95")
    d = trajectory_frame(measures, episodes, instrument, scale, by)
    if d["episode_id"].nunique() < 3:
        raise IopstatsError("too few episodes with scores for a mixed model", value=int(d["episode_id"].nunique()),
                            fix="check instrument= / scale= and that episodes= holds the measured episodes")
    present = [str(v) for v in pd.Series(d["level"]).astype("category").cat.categories
               if (d["level"].astype(str) == str(v)).any()]
    reference = reference if reference is not None else ("iop" if "iop" in present else present[0])
    if reference not in present:
        raise IopstatsError("reference level has no scores", value=reference, fix=f"use one of {present}")
    levels = [reference] + [l for l in present if l != reference]
    d = d.sort_values(["client_id", "episode_id", "week"], kind="stable").reset_index(drop=True)
    X, names = _design(d, levels)
    y = d["score"].to_numpy(float)
    repeat = d.groupby("client_id")["episode_id"].nunique().gt(1).any()
    nested = bool(repeat) if client == "auto" else bool(client)
    model, form = _model(d, X, y, nested)
    res = _fit(model, reml)
    k = X.shape[1]
    beta = np.asarray(res.fe_params)
    cov = _fixed_cov(model, res)
    se = np.sqrt(np.diag(cov))
    zq = stats.norm.ppf(0.5 + confidence / 2)
    summary = pd.DataFrame({"term": names, "estimate": beta, "se": se, "z": beta / se,
                            "p_value": 2 * stats.norm.sf(np.abs(beta / se)),
                            "ci_low": beta - zq * se, "ci_high": beta + zq * se})
    vc = _variance_components(res, nested)
    curves = _curves(levels, d, beta, cov, weeks, zq)
    span = d.groupby("level", observed=True)["week"].agg(lambda w: w.max() - w.min())
    short = [str(l) for l, v in span.items() if v < 2]
    remarks = [f"Model: {form}. Weeks = days since admission / 7; reference level {reference}.",
               "Likelihood-based: consistent when later measurements are missing at random given earlier scores."]
    if short:
        remarks.append(f"Measurements of {', '.join(short)} span less than two weeks: their slopes (and curves "
                       "beyond that span) are extrapolations, not estimates to report.")
    return TrajectoryResult(
        summary=summary, title=f"Trajectories of {instrument} {scale} ({'REML' if reml else 'ML'})",
        remarks=tuple(remarks),
        variance_components=vc, curves=curves, cov_fixed=pd.DataFrame(cov, index=names, columns=names),
        loglik=float(res.llf), method="REML" if reml else "ML", model=form, n_obs=len(d),
        n_episodes=int(d["episode_id"].nunique()), n_clients=int(d["client_id"].nunique()))


def _fixed_cov(model, res) -> np.ndarray:
    """``(X' V^-1 X)^-1`` at the estimated variance components (what lme4 ``vcov`` and nlme report).

    statsmodels' ``cov_params`` inverts the joint observed Hessian instead, whose fixed-effect
    block differs from lme4's by O(1e-3) in the standard errors.
    """
    scale = float(res.scale)
    g = np.asarray(res.cov_re)
    vcomp = np.asarray(res.vcomp) if model.k_vc else np.zeros(0)
    k = model.exog.shape[1]
    info = np.zeros((k, k))
    for i, _ in enumerate(model.group_labels):
        rows = model.row_indices[model.group_labels[i]]
        x = model.exog[rows]
        v = scale * np.eye(len(rows))
        if model.k_re:
            z = model.exog_re_li[i]
            v += z @ g @ z.T
        for j in range(model.k_vc):
            zv = model.exog_vc.mats[j][i]
            v += vcomp[j] * zv @ zv.T
        info += x.T @ np.linalg.solve(v, x)
    cov = np.linalg.inv(info)
    return (cov + cov.T) / 2


def _variance_components(res, nested: bool) -> pd.DataFrame:
    scale = float(res.scale)
    re = np.asarray(res.cov_re)
    rows = []
    if nested:
        rows.append(("client intercept", re[0, 0], np.nan))
        for name, v in zip(res.model.exog_vc.names, np.asarray(res.vcomp)):
            rows.append(({"episode": "episode intercept", "episode_week": "episode slope (week)"}[name], v, np.nan))
    else:
        corr = re[0, 1] / np.sqrt(re[0, 0] * re[1, 1]) if re[0, 0] > 0 and re[1, 1] > 0 else np.nan
        rows += [("episode intercept", re[0, 0], np.nan), ("episode slope (week)", re[1, 1], np.nan),
                 ("intercept-slope", re[0, 1], corr)]
    rows.append(("residual", scale, np.nan))
    out = pd.DataFrame(rows, columns=["component", "variance", "corr"])
    out.insert(2, "sd", np.sqrt(out["variance"].clip(lower=0)).where(out["component"] != "intercept-slope"))
    return out


def _curves(levels, d, beta, cov, weeks, zq) -> pd.DataFrame:
    if weeks is None:
        top = float(np.ceil(np.nanpercentile(d["week"], 95)))
        weeks = np.arange(0, max(top, 1.0) + 1)
    weeks = np.asarray(weeks, dtype=float)
    frames = []
    for lev in levels:
        g = pd.DataFrame({"level": lev, "week": weeks})
        X, _ = _design(g, levels)
        mean = X @ beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
        frames.append(g.assign(mean=mean, se=se, ci_low=mean - zq * se, ci_high=mean + zq * se))
    return pd.concat(frames, ignore_index=True)
