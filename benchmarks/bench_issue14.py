"""CPU time of the issue-14 estimators at one national year (1.7M synthetic episodes, collapsed).

Synthetic TEDS-D-like year: level of care (7), age group (12), sex, primary substance (5);
whole days 1..400 with heavy ties; exit cause dropped_out / completed / transferred /
censored. Each estimator runs on the collapsed count table (weights="n"); the numbers are
those of the rows. CPU seconds (process time; the machine is shared, wall time varies).
Run:  .venv/bin/python benchmarks/bench_issue14.py [--n 1700000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import iopstats

LEVELS = {
    "level_of_care": ["iop", "detox", "op", "php", "res_long", "res_short", "hospital"],
    "age_group": ["12-14", "15-17", "18-20", "21-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
                  "55-64", "65+"],
    "sex": ["female", "male"],
    "primary_substance": ["alcohol", "opioids", "stimulants", "cannabis", "other"],
}


def make_year(n: int, seed: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols, lp = {}, np.zeros(n)
    for name, levels in LEVELS.items():
        L = len(levels)
        codes = rng.choice(L, n, p=rng.dirichlet(np.full(L, 2.0)))
        lp += np.r_[0.0, rng.normal(0, 0.3, L - 1)][codes]
        cols[name] = pd.Categorical.from_codes(codes, categories=levels)
    t_event = rng.exponential(200.0 * np.exp(-lp))
    t_cens = rng.uniform(10, 700, n)
    days = np.clip(np.ceil(np.minimum(t_event, t_cens)), 1, 400).astype(np.int64)
    ended = (t_event <= t_cens) & (np.ceil(t_event) <= 400)
    cause = rng.choice(["dropped_out", "completed", "transferred"], n, p=[0.5, 0.4, 0.1])
    cols["days"] = days
    cols["left"] = ended.astype(np.int64)
    cols["exit_cause"] = np.where(ended, cause, "censored")
    cols["completed"] = (ended & (cause == "completed")).astype(np.int64)
    return pd.DataFrame(cols)


def cpu(fn):
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_700_000)
    args = ap.parse_args()
    rows = make_year(args.n)
    covs = list(LEVELS)
    t_coll, surv = cpu(lambda: rows.groupby(["days", "left", "exit_cause", *covs], observed=True,
                                            as_index=False).size().rename(columns={"size": "n"}))
    binary = rows.groupby(["completed", *covs], observed=True, as_index=False).size().rename(columns={"size": "n"})
    print(f"rows {len(rows):,}; survival table {len(surv):,} rows (collapse {t_coll:.2f} s); "
          f"binary table {len(binary):,} rows")
    jobs = {
        "rmst_difference (raw, tau=90)": lambda: iopstats.rmst_difference(
            surv, "days", "left", by="level_of_care", tau=90, reference="iop", weights="n"),
        "iptw ATO (balance table incl.)": lambda: iopstats.iptw(
            surv, "level_of_care", covs[1:], estimand="ATO", weights="n"),
        "logrank rho=1 gamma=1": lambda: iopstats.logrank(
            surv, "days", "left", by="level_of_care", rho=1, gamma=1, weights="n"),
        "kaplan_meier robust=True": lambda: iopstats.kaplan_meier(
            surv, "days", "left", by="level_of_care", weights="n", robust=True),
        "fine_gray (dropout; 4 covariates, 22 columns)": lambda: iopstats.fine_gray(
            surv, "days", "exit_cause", covs, event="dropped_out", censor_code="censored", weights="n"),
        "aipw (completion)": lambda: iopstats.aipw(binary, "completed", covs[1:], weights="n"),
        "cox with level x sex interaction": lambda: iopstats.cox(
            surv, "days", "left", covs, weights="n", interactions=[("level_of_care", "sex")]),
        "logistic with level x sex interaction": lambda: iopstats.logistic(
            binary, "completed", covs, weights="n", interactions=[("level_of_care", "sex")]),
        "effect_modification (logistic)": lambda: iopstats.effect_modification(
            binary, "level_of_care", "sex", covs[1:], model="logistic", outcome="completed", weights="n"),
        "e_value (6 hazard ratios)": lambda: iopstats.e_value(
            [0.8, 0.9, 1.1, 1.2, 1.3, 0.7], measure="HR", rare=False),
    }
    prop = None
    for name, fn in jobs.items():
        t_first, out = cpu(fn)  # includes first imports (statsmodels, scipy submodules)
        t, out = cpu(fn)
        if name.startswith("iptw"):
            prop = out
        print(f"{name:48s} {t:7.2f} s CPU (first call {t_first:.2f} s)")
    t, _ = cpu(lambda: iopstats.rmst_difference(surv, "days", "left", by="level_of_care", tau=90, reference="iop",
                                                weights="n", propensity=prop))
    print(f"{'rmst_difference (ATO-weighted, robust IJ)':48s} {t:7.2f} s CPU")


if __name__ == "__main__":
    main()
