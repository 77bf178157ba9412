"""Realistic synthetic program data with known true effects: :func:`synth`.

A client population with covariates and a latent severity is placed into
levels of care (more severe clients go to detox, inpatient and residential
care), treated, discharged, followed up at 30/90/180/365 days and readmitted.
Outcomes follow the models in :mod:`iopstats.synthetic.truth`, whose true effects
come back in ``SynthData.truth``. Everything is vectorized and seeded.

Generation, in order
--------------------
1. Clients: age, sex, race, ethnicity, primary substance, use frequency,
   psychiatric problem, prior treatment, referral, payer, employment and
   living arrangement, correlated through a client-level severity.
2. Episodes in rounds: index admissions uniform over ``[start, end]``; after
   each discharge a step-down (residential, inpatient or withdrawal
   management to IOP, PHP, outpatient or short-term residential within 1-14
   days), a transfer between community levels, or a readmission after an
   exponential gap (faster after relapse). Admissions after ``end`` and
   episodes of clients who died are not generated. The first ``n_episodes``
   episodes in client order are kept (the last client's chain may be cut).
3. Exit cause and time from the Weibull competing-risks model; stays ending
   after ``as_of`` are open (no discharge date or reason).
4. Follow-ups for every closed episode (not after death) at 30/90/180/365
   days +/- a few days, when due by ``as_of``; users respond less often.
5. Sessions for IOP (3/week, 3 h), PHP (5/week, 4-6 h) and outpatient
   (1/week, 1 h) episodes, at most :data:`MAX_SESSIONS` per episode (the
   first ones), attendance falling in the weeks before a dropout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from iopstats.exceptions import IopstatsError
from iopstats.io.schema import CODE_SETS, ORDERED, coerce_dtypes, empty_frame
from iopstats.synthetic.truth import (
    LEVELS,
    PARAMS,
    TERMS,
    WINDOWS,
    completion_probability,
    model_matrix,
    true_effects,
)

__all__ = ["SynthData", "synth", "MAX_SESSIONS", "SITES"]

#: Sessions recorded per episode at most (the first ones), to keep files small.
MAX_SESSIONS = 40
#: Sites and the levels each offers (sampling weight of the site for that level).
SITES: dict[str, dict[str, float]] = {
    "Riverside": {lv: 1.0 for lv in LEVELS},
    "Hillcrest": {"detox_residential": 1.0, "residential_short": 1.0, "residential_long": 1.5,
                  "iop": 0.8, "outpatient": 0.8},
    "Lakeview": {"detox_ambulatory": 1.0, "php": 1.0, "iop": 1.2, "outpatient": 1.2,
                 "early_intervention": 1.0},
    "Downtown": {"detox_inpatient": 1.0, "inpatient": 1.0, "php": 0.8, "iop": 1.0, "outpatient": 1.0},
}
_LABEL = {
    "detox_inpatient": "Inpatient Withdrawal Management", "detox_residential": "Residential Withdrawal Management",
    "detox_ambulatory": "Ambulatory Withdrawal Management", "inpatient": "Inpatient Unit",
    "residential_short": "Short-Term Residential", "residential_long": "Long-Term Residential",
    "php": "Partial Hospitalization", "iop": "IOP", "outpatient": "Outpatient",
    "early_intervention": "Early Intervention",
}
# placement: multinomial logit b0 + b1 * severity
_PLACE_B0 = {
    "detox_inpatient": -4.71, "detox_residential": -3.42, "detox_ambulatory": -2.96, "inpatient": -5.51,
    "residential_short": -3.82, "residential_long": -3.90, "php": -4.05, "iop": -1.40, "outpatient": 0.00,
    "early_intervention": -3.50,
}
_PLACE_B1 = {"detox_inpatient": 1.92, "detox_residential": 1.60, "detox_ambulatory": 0.80,
             "inpatient": 2.08, "residential_short": 1.60, "residential_long": 1.76,
             "php": 0.96, "iop": 0.48, "outpatient": 0.00, "early_intervention": -1.28}
_SEVERITY = {"age10": -0.05, "female": 0.0, "psych": 0.5, "prior": 0.4, "use_some": 0.3,
             "use_daily": 0.8, "homeless": 0.6, "opioid": 0.5, "stimulant": 0.4,
             "justice": 0.0, "unemployed": 0.2}
_STEP_FROM_DETOX = {"residential_short": 0.25, "iop": 0.35, "outpatient": 0.25, "php": 0.15}
_STEP_FROM_ACUTE = {"iop": 0.45, "outpatient": 0.35, "php": 0.20}
_TRANSFER_COMMUNITY = {
    "php": {"iop": 0.6, "outpatient": 0.4},
    "iop": {"outpatient": 0.5, "php": 0.25, "residential_short": 0.25},
    "outpatient": {"iop": 0.6, "residential_short": 0.4},
    "early_intervention": {"outpatient": 1.0},
}
_SESSIONS = {"iop": (3, 3.0), "php": (5, None), "outpatient": (1, 1.0)}
_MODALITY = {"iop": (0.75, 0.18, 0.07), "outpatient": (0.70, 0.22, 0.08), "php": (0.90, 0.05, 0.05),
             "early_intervention": (0.60, 0.30, 0.10)}
_LV = {lv: i for i, lv in enumerate(LEVELS)}
_REASON = {r: i for i, r in enumerate(CODE_SETS["discharge_reason"])}


def _code(col: str, value: str) -> int:
    return CODE_SETS[col].index(value)


@dataclass(frozen=True, eq=False)
class SynthData:
    """Synthetic canonical tables and the true effects behind them.

    Attributes
    ----------
    episodes, followups, sessions : DataFrame
        Canonical tables (:mod:`iopstats.io.schema` columns and dtypes).
    truth : dict
        True effects (JSON-serialisable); see :mod:`iopstats.synthetic.truth`.
    latent : DataFrame
        Unobservable per-episode values, for checking estimators (not saved):
        ``episode_id``, ``p_completed`` (model completion probability),
        ``stay_days`` (continuous stay, also beyond ``as_of``) and
        ``use_30`` ... ``use_365`` (true past-30-day use at each follow-up
        window, for responders and non-responders alike).
    """

    episodes: pd.DataFrame
    followups: pd.DataFrame
    sessions: pd.DataFrame
    truth: dict
    latent: pd.DataFrame

    def save(self, folder, format: str = "csv") -> dict[str, Path]:
        """Write episodes, followups, sessions (CSV or Parquet) and truth.json to ``folder``.

        The folder is created if needed. Returns the written paths by table.
        """
        if format not in ("csv", "parquet"):
            raise IopstatsError("unknown output format", value=format, fix="use format='csv' or 'parquet'")
        out = Path(folder)
        try:
            out.mkdir(parents=True, exist_ok=True)
            paths = {}
            for name in ("episodes", "followups", "sessions"):
                df = getattr(self, name)
                p = out / f"{name}.{format}"
                if format == "csv":
                    df.to_csv(p, index=False, date_format="%Y-%m-%d", float_format="%.10g")
                else:
                    df.to_parquet(p, index=False)
                paths[name] = p
            p = out / "truth.json"
            p.write_text(json.dumps(self.truth, indent=1, sort_keys=False) + "\n")
            paths["truth"] = p
        except OSError as exc:
            raise IopstatsError(f"cannot write synthetic data: {exc.strerror}", file=str(out),
                                fix="choose a writable folder") from None
        return paths


def _pick(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw from unnormalised log-probabilities (Gumbel-max)."""
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)


def _probs(rng, n: int, p) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _clients(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    z = rng.standard_normal(n)
    teen = rng.random(n) < 0.06
    age = np.where(teen, rng.integers(12, 18, n), 18 + np.floor(rng.gamma(2.3, 8.5, n))).astype(int)
    sex = _probs(rng, n, [0.635, 0.36, 0.005])
    race = _probs(rng, n, [0.62, 0.18, 0.03, 0.015, 0.005, 0.05, 0.10])
    eth = np.where(rng.random(n) < 0.14, _code("ethnicity", "hispanic"), _code("ethnicity", "not_hispanic"))
    # primary substance: alcohol, cocaine, marijuana, heroin, other_opioids, meth, other_stim,
    # benzos, sedatives, hallucinogens, other, none
    base = np.log([0.30, 0.08, 0.10, 0.13, 0.10, 0.14, 0.02, 0.02, 0.01, 0.01, 0.09, 1e-9])
    slope = np.array([-0.3, 0.1, -0.4, 0.5, 0.4, 0.4, 0.1, 0.1, 0.0, 0.0, -0.2, 0.0])
    logits = base[None, :] + slope[None, :] * z[:, None]
    logits[teen, _code("primary_substance", "marijuana")] += 2.5
    subst = _pick(rng, logits)
    psych = rng.random(n) < expit(-0.55 + 0.6 * z + 0.3 * (sex == _code("sex", "female")))
    payer = _pick(rng, np.log([0.22, 0.50, 0.10, 0.18])[None, :] + np.outer(z, [-0.4, 0.1, 0.0, 0.2]))
    emp = _pick(rng, np.log([0.24, 0.10, 0.38, 0.28])[None, :] + np.outer(z, [-0.4, -0.1, 0.3, 0.0]))
    emp[teen] = _code("employment", "not_in_labor_force")
    homeless = rng.random(n) < expit(-2.3 + 0.7 * z)
    dependent = rng.random(n) < np.where(teen, 0.95, 0.22)
    living = np.where(homeless, _code("living_arrangement", "homeless"),
                      np.where(dependent, _code("living_arrangement", "dependent"),
                               _code("living_arrangement", "independent")))
    return {"z": z, "eps": rng.normal(0, 0.5, n), "age": age, "sex": sex, "race": race, "eth": eth,
            "subst": subst, "psych": psych, "payer": payer, "emp": emp, "living": living, "teen": teen}


_OPIOIDS = [_code("primary_substance", "heroin"), _code("primary_substance", "other_opioids")]


def _use_freq(rng, z, subst, stepdown) -> np.ndarray:
    opioid = np.isin(subst, _OPIOIDS)
    marijuana = subst == _code("primary_substance", "marijuana")
    latent = 0.8 * z + 0.6 * opioid - 0.3 * marijuana + rng.logistic(size=len(z))
    use = np.where(latent < -1.0, 0, np.where(latent < 0.45, 1, 2))
    step_use = _probs(rng, len(z), [0.45, 0.35, 0.20])
    return np.where(stepdown, step_use, use)


def _referral(rng, teen, stepdown) -> np.ndarray:
    n = len(teen)
    logits = np.tile(np.log([0.32, 0.10, 0.12, 1e-9, 0.03, 0.15, 0.24]), (n, 1))
    logits[teen, _code("referral_source", "school")] = np.log(0.25)
    ref = _pick(rng, logits)
    return np.where(stepdown, _code("referral_source", "sud_provider"), ref)


def _frame(ep: dict[str, np.ndarray]) -> pd.DataFrame:
    """Categorical frame of the model columns (for :func:`model_matrix`)."""

    def cat(col, codes):
        dt = pd.CategoricalDtype(list(CODE_SETS[col]), ordered=col in ORDERED)
        return pd.Categorical.from_codes(codes, dtype=dt)

    return pd.DataFrame({
        "age": np.minimum(ep["age"], 90),
        "sex": cat("sex", ep["sex"]),
        "psych_problem": ep["psych"],
        "prior_treatment": cat("prior_treatment", ep["prior"]),
        "use_freq_admit": cat("use_freq_admit", ep["use"]),
        "living_arrangement": cat("living_arrangement", ep["living"]),
        "primary_substance": cat("primary_substance", ep["subst"]),
        "referral_source": cat("referral_source", ep["referral"]),
        "employment": cat("employment", ep["emp"]),
    })


def _coef(name: str) -> np.ndarray:
    return np.array([PARAMS[name][t] for t in TERMS])


def _outcomes(rng: np.random.Generator, ep: dict[str, np.ndarray]) -> None:
    """Draw exit cause, continuous stay and latent relapse for a round of episodes (in place)."""
    n = len(ep["level"])
    x = ep["x"]
    lv = ep["level"]
    a = np.array([PARAMS["completion_intercept"][v] for v in LEVELS])[lv]
    nu = np.array([PARAMS["nu"][v] for v in LEVELS])[lv]
    eta_n = nu + x @ _coef("noncompletion_coef")
    lin_c = a + x @ _coef("completion_coef")  # logit P(completed)
    rate = np.exp(eta_n) * (1.0 + np.exp(lin_c))  # all-cause hazard multiplier
    k = PARAMS["weibull_shape"]
    ep["t"] = (rng.exponential(size=n) / rate) ** (1.0 / k)
    zc = rng.standard_normal(n)
    completed = ndtr(zc) < expit(lin_c)
    # non-completion reason by level shares
    shares = np.array([[PARAMS["reason_shares"][v][r] for r in ("dropped_out", "terminated", "transferred", "other")]
                       for v in LEVELS])
    shares = shares / shares.sum(axis=1, keepdims=True)
    u = rng.random(n)
    cum = np.cumsum(shares[lv], axis=1)
    which = (u[:, None] > cum[:, :3]).sum(axis=1)  # 0 dropped, 1 terminated, 2 transferred, 3 other
    split = PARAMS["other_split"]
    other = _probs(rng, n, [split["other"], split["incarcerated"], split["died"]])
    other_code = np.array([_REASON["other"], _REASON["incarcerated"], _REASON["died"]])[other]
    noncomp = np.array([_REASON["dropped_out"], _REASON["terminated"], _REASON["transferred"], 0])[which]
    noncomp = np.where(which == 3, other_code, noncomp)
    ep["reason"] = np.where(completed, _REASON["completed"], noncomp)
    # relapse latents: Gaussian copula linked to the completion latent
    rho, lam = PARAMS["relapse_completion_corr"], PARAMS["relapse_window_loading"]
    f = rho * zc + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    g = np.array([PARAMS["relapse_level"][v] for v in LEVELS])[lv] + x @ _coef("relapse_coef")
    for w in WINDOWS:
        zw = lam * f + np.sqrt(1 - lam**2) * rng.standard_normal(n)
        ep[f"use{w}"] = ndtr(zw) < expit(PARAMS["relapse_intercept"][w] + g)


def _place(rng, ep: dict[str, np.ndarray], client: dict[str, np.ndarray]) -> np.ndarray:
    x = ep["x"]
    sev = x @ _terms_vector(_SEVERITY) + client["eps"][ep["client"]] + rng.normal(0, 0.3, len(x))
    b0 = np.array([_PLACE_B0[v] for v in LEVELS])
    b1 = np.array([_PLACE_B1[v] for v in LEVELS])
    logits = b0[None, :] + np.outer(sev, b1)
    teen = ep["age"] < 18
    for v in ("detox_inpatient", "detox_residential", "inpatient"):
        logits[teen, _LV[v]] -= 1.5
    return _pick(rng, logits)


def _terms_vector(d: dict) -> np.ndarray:
    return np.array([d[t] for t in TERMS])


def _matrix_draw(rng, from_level: np.ndarray, table: dict[str, dict[str, float]]) -> np.ndarray:
    out = np.full(len(from_level), -1)
    for src, dest in table.items():
        sel = from_level == _LV[src]
        if sel.any():
            out[sel] = np.array([_LV[d] for d in dest])[_probs(rng, int(sel.sum()), list(dest.values()))]
    return out


def _chains(rng, client: dict[str, np.ndarray], start_day: int, end_day: int, as_of_day: int) -> dict:
    """All episodes of a batch of clients (days are integers relative to the epoch)."""
    n = len(client["z"])
    cur = {"client": np.arange(n), "admit": rng.integers(start_day, end_day + 1, n), "seq": np.zeros(n, int),
           "stepdown": np.zeros(n, bool), "level": np.full(n, -1)}
    first_admit = cur["admit"].copy()
    prior0 = (rng.random(n) < expit(0.1 + 0.6 * client["z"] + 0.2 * (client["age"] - 35) / 10)).astype(int)
    rounds = []
    readm = PARAMS["readmission"]
    while len(cur["client"]):
        c = cur["client"]
        m = len(c)
        ep = dict(cur)
        ep["age"] = client["age"][c] + (cur["admit"] - first_admit[c]) // 365
        for key, src in (("sex", "sex"), ("race", "race"), ("eth", "eth"), ("subst", "subst"), ("psych", "psych"),
                         ("payer", "payer"), ("emp", "emp"), ("living", "living")):
            ep[key] = client[src][c]
        ep["prior"] = np.where(cur["seq"] > 0, 1, prior0[c])
        ep["use"] = _use_freq(rng, client["z"][c], ep["subst"], cur["stepdown"])
        ep["referral"] = _referral(rng, client["teen"][c] & (ep["age"] < 18), cur["stepdown"])
        ep["x"] = model_matrix(_frame(ep)).to_numpy()  # covariate terms do not involve the level
        placed = _place(rng, ep, client)
        ep["level"] = np.where(cur["level"] >= 0, cur["level"], placed)
        _outcomes(rng, ep)
        los = np.floor(ep["t"]).astype(np.int64)
        disch = ep["admit"] + los
        closed = disch <= as_of_day
        ep["disch"], ep["closed"] = disch, closed
        rounds.append(ep)
        # next episode: step-down, community transfer or readmission
        reason, lv = ep["reason"], ep["level"]
        acute = lv <= _LV["residential_long"]
        detox = lv <= _LV["detox_ambulatory"]
        good = np.where(reason == _REASON["completed"], readm["stepdown_prob"]["completed"],
                        np.where(reason == _REASON["transferred"], readm["stepdown_prob"]["transferred"],
                                 readm["stepdown_prob"]["other"]))
        step = acute & (rng.random(m) < good)
        transfer = ~acute & (reason == _REASON["transferred"]) & (rng.random(m) < readm["community_transfer_prob"])
        planned = step | transfer
        gap_short = 1 + np.minimum(np.floor(rng.exponential(3.5, m)), readm["max_gap_days"] - 1).astype(np.int64)
        homeless = ep["living"] == _code("living_arrangement", "homeless")
        rate = readm["daily_rate"] * np.exp(readm["log_hr_use90"] * ep["use90"] + readm["log_hr_homeless"] * homeless)
        gap_long = 1 + np.floor(rng.exponential(1.0 / rate)).astype(np.int64)
        next_admit = disch + np.where(planned, gap_short, gap_long)
        next_level = np.full(m, -1)
        next_level[step & detox] = _matrix_draw(rng, lv[step & detox], {s: _STEP_FROM_DETOX for s in LEVELS[:3]})
        next_level[step & ~detox] = _matrix_draw(rng, lv[step & ~detox], {s: _STEP_FROM_ACUTE for s in LEVELS[3:6]})
        next_level[transfer] = _matrix_draw(rng, lv[transfer], _TRANSFER_COMMUNITY)
        go = closed & (reason != _REASON["died"]) & (next_admit <= end_day)
        cur = {"client": c[go], "admit": next_admit[go], "seq": ep["seq"][go] + 1, "stepdown": planned[go],
               "level": next_level[go]}
    keys = [k for k in rounds[0] if k != "x"]
    out = {k: np.concatenate([r[k] for r in rounds]) for k in keys}
    out["x"] = np.concatenate([r["x"] for r in rounds])
    return out


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    width = max(width, len(str(int(numbers.max()) if len(numbers) else 0)))
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width)).astype(object)


def _date(epoch: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    return (np.datetime64(epoch.date(), "D") + days.astype("timedelta64[D]")).astype("datetime64[ns]")


def _check_args(n_episodes, seed, start, end, as_of):
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes < 1:
        raise IopstatsError("n_episodes must be a whole number of at least 1", value=n_episodes,
                            fix="pass e.g. n_episodes=5000")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise IopstatsError("seed must be a non-negative whole number", value=seed, fix="pass e.g. seed=0")
    out = []
    for name, v in (("start", start), ("end", end), ("as_of", as_of)):
        if name == "as_of" and v is None:
            out.append(out[1])
            continue
        try:
            ts = pd.Timestamp(v)
        except (TypeError, ValueError):
            ts = pd.NaT
        if pd.isna(ts):
            raise IopstatsError(f"{name} is not a date", value=v, fix=f"pass {name} as 'YYYY-MM-DD'")
        out.append(ts.normalize())
    t0, t1, t2 = out
    if t1 <= t0:
        raise IopstatsError("end must be after start", value=f"{start} .. {end}", fix="pass start < end")
    if t2 < t1:
        raise IopstatsError("as_of must not be before end", value=as_of,
                            fix="pass as_of on or after end (admissions run up to end)")
    return int(n_episodes), int(seed), t0, t1, t2


def synth(
    n_episodes: int = 5000,
    seed: int = 0,
    *,
    start="2023-01-01",
    end="2024-12-31",
    as_of=None,
    sessions: bool = True,
) -> SynthData:
    """Generate synthetic episodes, follow-ups and sessions with known true effects.

    Parameters
    ----------
    n_episodes : int
        Number of episodes (exact).
    seed : int
        Seed of the numpy random generator: the same seed gives identical tables.
    start, end : date-like
        Admissions fall in ``[start, end]``.
    as_of : date-like, optional
        Data currency date (default ``end``): stays ending after it are open,
        follow-ups after it are not yet made.
    sessions : bool
        Generate session records (about 10 per episode). Pass ``False`` for
        TEDS-scale runs that do not need them: ``.sessions`` is then empty.
        The other tables are the same either way.

    Returns
    -------
    SynthData
        ``.episodes``, ``.followups``, ``.sessions`` (canonical dtypes),
        ``.truth`` (see :mod:`iopstats.synthetic.truth`) and ``.save(folder)``.

    Examples
    --------
    >>> d = synth(300, seed=1)
    >>> len(d.episodes), d.episodes.episode_id.is_unique
    (300, True)
    >>> round(d.truth["completion"]["log_or_vs_iop"]["residential_short"], 2)
    1.27
    >>> bool((d.episodes.discharge_date.dropna() >= d.episodes.admit_date[d.episodes.discharge_date.notna()]).all())
    True
    """
    n_episodes, seed, t0, t1, t2 = _check_args(n_episodes, seed, start, end, as_of)
    if not isinstance(sessions, (bool, np.bool_)):
        raise IopstatsError("sessions must be True or False", value=sessions, fix="pass sessions=True or False")
    rng = np.random.default_rng(seed)
    epoch = t0
    end_day, as_of_day = (t1 - epoch).days, (t2 - epoch).days
    batches, total, offset = [], 0, 0
    while total < n_episodes:
        n_clients = max(int(np.ceil((n_episodes - total) / 1.25)) + 20, 50)
        client = _clients(rng, n_clients)
        eps = _chains(rng, client, 0, end_day, as_of_day)
        order = np.lexsort((eps["seq"], eps["client"]))
        eps = {k: v[order] for k, v in eps.items()}
        eps["client_no"] = eps["client"] + offset
        offset += n_clients
        batches.append(eps)
        total += len(eps["client"])
    ep = {k: np.concatenate([b[k] for b in batches])[:n_episodes] for k in batches[0]}
    # rows in admission order; ids numbered in that order
    order = np.lexsort((ep["seq"], ep["client_no"], ep["admit"]))
    ep = {k: v[order] for k, v in ep.items()}
    episodes = _episode_table(rng, ep, epoch, t2)
    followups_rng, sessions_rng = rng.spawn(2)
    followups = _followups(followups_rng, ep, episodes, epoch, as_of_day)
    sessions_table = _sessions(sessions_rng, ep, episodes, epoch, as_of_day) if sessions else empty_frame("sessions")
    truth = true_effects(episodes)
    truth["generation"] = {"seed": seed, "n_episodes": n_episodes, "start": str(t0.date()), "end": str(t1.date()),
                           "as_of": str(t2.date()), "max_sessions_per_episode": MAX_SESSIONS}
    latent = pd.DataFrame({
        "episode_id": episodes["episode_id"],
        "p_completed": completion_probability(ep["x"], np.array(LEVELS, dtype=object)[ep["level"]]),
        "stay_days": ep["t"],
        **{f"use_{w}": ep[f"use{w}"] for w in WINDOWS},
    })
    return SynthData(episodes=episodes, followups=followups, sessions=sessions_table, truth=truth, latent=latent)


def _episode_table(rng, ep: dict, epoch: pd.Timestamp, as_of: pd.Timestamp) -> pd.DataFrame:
    n = len(ep["level"])
    levels = np.array(LEVELS, dtype=object)[ep["level"]]
    closed = ep["closed"]
    los = np.maximum(ep["disch"] - ep["admit"], 1).astype(float)
    # site by level
    site_names = list(SITES)
    w = np.array([[SITES[s].get(lv, 0.0) for s in site_names] for lv in LEVELS])
    site_logits = np.log(np.where(w > 0, w, 1e-300))[ep["level"]]
    site = np.array(site_names, dtype=object)[_pick(rng, site_logits)]
    program = site + " " + np.array([_LABEL[lv] for lv in LEVELS], dtype=object)[ep["level"]]
    modality = np.full(n, "in_person", dtype=object)
    for lv, p in _MODALITY.items():
        sel = ep["level"] == _LV[lv]
        modality[sel] = np.array(CODE_SETS["modality"], dtype=object)[_probs(rng, int(sel.sum()), p)]
    # TEDS-style use at discharge: users (latent 30-day use) report some/daily; a third missing
    completed = ep["reason"] == _REASON["completed"]
    use_d = np.where(ep["use30"], np.where(rng.random(n) < 0.4, 2, 1), 0)
    missing_d = rng.random(n) < np.where(completed, 0.15, 0.45)
    use_dis = pd.Categorical.from_codes(np.where(missing_d | ~closed, -1, use_d),
                                        categories=list(CODE_SETS["use_freq_discharge"]))
    opioid = np.isin(ep["subst"], _OPIOIDS)
    mou = opioid & (rng.random(n) < np.where(ep["level"] == _LV["iop"], 0.45, 0.35))
    age = np.minimum(ep["age"], 90)
    frame = _frame(ep)
    df = pd.DataFrame({
        "client_id": _ids("C", ep["client_no"] + 1, 6),
        "episode_id": _ids("E", np.arange(1, n + 1), 7),
        "level_of_care": levels,
        "admit_date": _date(epoch, ep["admit"]),
        "discharge_date": np.where(closed, _date(epoch, ep["disch"]), np.datetime64("NaT")),
        "discharge_reason": pd.Categorical.from_codes(np.where(closed, ep["reason"], -1),
                                                      categories=list(CODE_SETS["discharge_reason"])),
        "los_days": np.where(closed, los, np.nan),
        "los_min": np.where(closed, los, np.nan),
        "los_max": np.where(closed, los, np.nan),
        "program": program,
        "site": site,
        "modality": modality,
        "age": age,
        "age_group": pd.cut(age, [12, 15, 18, 21, 25, 30, 35, 40, 45, 50, 55, 65, 200], right=False,
                            labels=list(CODE_SETS.get("age_group", ())) or None),
        "sex": frame["sex"],
        "race": pd.Categorical.from_codes(ep["race"], categories=list(CODE_SETS["race"])),
        "ethnicity": pd.Categorical.from_codes(ep["eth"], categories=list(CODE_SETS["ethnicity"])),
        "primary_substance": frame["primary_substance"],
        "use_freq_admit": frame["use_freq_admit"],
        "use_freq_discharge": use_dis,
        "psych_problem": ep["psych"],
        "opioid_medication": mou,
        "prior_treatment": frame["prior_treatment"],
        "referral_source": frame["referral_source"],
        "payer": pd.Categorical.from_codes(ep["payer"], categories=list(CODE_SETS["payer"])),
        "employment": frame["employment"],
        "living_arrangement": frame["living_arrangement"],
    })
    return coerce_dtypes(df, "episodes")


def _followups(rng, ep: dict, episodes: pd.DataFrame, epoch: pd.Timestamp, as_of_day: int) -> pd.DataFrame:
    eligible = ep["closed"] & (ep["reason"] != _REASON["died"])
    idx = np.flatnonzero(eligible)
    homeless = ep["living"] == _code("living_arrangement", "homeless")
    parts = []
    for w in WINDOWS:
        half = 7 if w <= 30 else 14
        days = w + rng.integers(-half, half + 1, len(idx))
        fday = ep["disch"][idx] + days
        use = ep[f"use{w}"][idx]
        p = expit(PARAMS["response_intercept"][w] + PARAMS["response_use"] * use
                  + PARAMS["response_homeless"] * homeless[idx])
        responded = rng.random(len(idx)) < p
        urine = rng.random(len(idx)) < PARAMS["urine_test_share"]
        due = fday <= as_of_day
        parts.append(pd.DataFrame({
            "_row": idx[due], "_w": w, "days_after_discharge": days[due],
            "followup_date": _date(epoch, fday[due]),
            "responded": responded[due],
            "any_use": pd.array(np.where(responded, use, False)[due], dtype="boolean"),
            "source": np.where(responded, np.where(urine, "urine_test", "self_report"), None)[due],
        }))
    fu = pd.concat(parts, ignore_index=True).sort_values(["_row", "_w"], kind="stable")
    fu.loc[~fu["responded"], "any_use"] = pd.NA
    fu.insert(0, "episode_id", episodes["episode_id"].to_numpy()[fu["_row"].to_numpy()])
    return coerce_dtypes(fu.drop(columns=["_row", "_w"]), "followups")


def _sessions(rng, ep: dict, episodes: pd.DataFrame, epoch: pd.Timestamp, as_of_day: int) -> pd.DataFrame:
    lv = ep["level"]
    per_week = np.zeros(len(lv))
    hours = np.zeros(len(lv))
    for name, (k, h) in _SESSIONS.items():
        sel = lv == _LV[name]
        per_week[sel] = k
        hours[sel] = h if h is not None else rng.choice([4.0, 5.0, 6.0], int(sel.sum()))
    idx = np.flatnonzero(per_week > 0)
    last = np.where(ep["closed"], ep["disch"], as_of_day)[idx] - ep["admit"][idx]  # days of stay observed
    n_s = np.minimum(np.floor(last * per_week[idx] / 7).astype(np.int64) + 1, MAX_SESSIONS)
    row = np.repeat(idx, n_s)
    k = np.arange(n_s.sum()) - np.repeat(np.cumsum(n_s) - n_s, n_s)
    day = np.floor(k * 7 / per_week[row]).astype(np.int64)
    reason = ep["reason"][row]
    left_early = ep["closed"][row] & np.isin(reason, [_REASON["dropped_out"], _REASON["terminated"], _REASON["other"],
                                                       _REASON["incarcerated"]])
    to_end = (ep["disch"][row] - ep["admit"][row]) - day
    p = np.where(reason == _REASON["completed"], 0.9, 0.82)
    p = np.where(left_early, p - 0.6 * np.exp(-to_end / 10.0), p)
    attended = rng.random(len(row)) < np.clip(p, 0.05, 0.98)
    df = pd.DataFrame({
        "episode_id": episodes["episode_id"].to_numpy()[row],
        "session_date": _date(epoch, ep["admit"][row] + day),
        "attended": attended,
        "hours": np.where(attended, hours[row], 0.0),
    })
    return coerce_dtypes(df, "sessions")
