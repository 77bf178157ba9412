"""Benchmark: iopstats.cox against lifelines' CoxPHFitter (and statsmodels PHReg).

1.7 million episodes, 8 categorical covariates (35 indicator columns), whole-day
times 1..400 with heavy ties, ~60% events. Prints seconds, speed-up and the largest
coefficient difference. Run:  .venv/bin/python benchmarks/bench_cox.py [--n 1700000]
[--no-lifelines] [--no-statsmodels]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from iopstats.stats.cox import cox

LEVELS = {  # 8 covariates, 43 levels -> 35 indicators
    "level_of_care": ["iop", "detox", "op", "php", "res_long", "res_short", "hospital"],
    "age_group": ["18-20", "21-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
                  "55-64", "65+", "15-17", "12-14"],
    "sex": ["female", "male"],
    "primary_substance": ["alcohol", "opioids", "stimulants", "cannabis", "other"],
    "payer": ["medicaid", "private", "medicare_other", "none"],
    "employment": ["full_time", "part_time", "unemployed", "not_in_lf"],
    "living_arrangement": ["independent", "dependent", "homeless"],
    "referral_source": ["individual", "provider", "health", "school", "community", "court"],
}


def make_data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    lp = np.zeros(n)
    for name, levels in LEVELS.items():
        L = len(levels)
        p = rng.dirichlet(np.full(L, 2.0))
        codes = rng.choice(L, n, p=p)
        eff = np.r_[0.0, rng.normal(0, 0.3, L - 1)]
        lp += eff[codes]
        cols[name] = pd.Categorical.from_codes(codes, categories=levels)
    t_event = rng.exponential(300.0 * np.exp(-lp))
    t_cens = rng.uniform(10, 700, n)
    cols["days"] = np.clip(np.ceil(np.minimum(t_event, t_cens)), 1, 400).astype(np.int64)
    cols["left"] = ((t_event <= t_cens) & (np.ceil(t_event) <= 400)).astype(np.int64)
    return pd.DataFrame(cols)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_700_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-lifelines", action="store_true")
    ap.add_argument("--no-statsmodels", action="store_true")
    args = ap.parse_args()
    df = make_data(args.n)
    covs = list(LEVELS)
    print(f"rows {len(df):,}, events {df['left'].mean():.1%}, distinct days {df['days'].nunique()}, "
          f"indicator columns {sum(len(v) - 1 for v in LEVELS.values())}")
    cox(df.iloc[:1000], "days", "left", covs)  # warm-up (imports)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ours = cox(df, "days", "left", covs)
        times.append(time.perf_counter() - t0)
    t_ours = min(times)
    rows = [("iopstats.cox (Efron)", t_ours, 1.0, 0.0, ours.n_iter)]
    b = ours.summary["coef"]

    if not args.no_lifelines:
        from lifelines import CoxPHFitter

        X = pd.get_dummies(df[covs], drop_first=True, dtype=float)
        X.columns = list(ours.summary.index)  # same column order: levels after the first
        X["days"], X["left"] = df["days"].to_numpy(), df["left"].to_numpy()
        t0 = time.perf_counter()
        ll = CoxPHFitter().fit(X, "days", "left")
        t_ll = time.perf_counter() - t0
        diff = float(np.max(np.abs(ll.params_.reindex(b.index).to_numpy() - b.to_numpy())))
        rows.append(("lifelines CoxPHFitter (Efron, rows)", t_ll, t_ll / t_ours, diff, None))
    if not args.no_statsmodels:
        from statsmodels.duration.hazard_regression import PHReg

        Xd = pd.get_dummies(df[covs], drop_first=True, dtype=float).to_numpy()
        t0 = time.perf_counter()
        sm = PHReg(df["days"].to_numpy(float), Xd, status=df["left"].to_numpy(), ties="efron").fit()
        t_sm = time.perf_counter() - t0
        diff = float(np.max(np.abs(np.asarray(sm.params) - b.to_numpy())))
        rows.append(("statsmodels PHReg (Efron, rows)", t_sm, t_sm / t_ours, diff, None))
    out = pd.DataFrame(rows, columns=["method", "seconds", "speed_up_vs_ours", "max_abs_coef_diff", "iterations"])
    with pd.option_context("display.width", 120):
        print(out.to_string(index=False, float_format=lambda x: f"{x:.3g}"))


if __name__ == "__main__":
    main()
