"""Benchmark: the whole headline set on one national year (1.7M TEDS-shaped episodes).

Data: a synthetic TEDS-D 2019 CSV (``write_tedsd_csv``, cached under
/tmp/iopstats-bench/headline, never in the repository), read with ``read_tedsd``
(load time not counted here: see bench_tedsd_load.py / bench_scaling.py).

Measured (wall time, one process, after a warm-up of the imports):

* iopstats: ``headline_counts`` (the one row-level pass) and every estimator of
  ``headline_estimates`` on the collapsed table (times from ``result.timings``).
* peers on the same model and the same rows (the row-level table is the count
  table expanded, i.e. exactly the derived rows):
  statsmodels GLM Binomial on rows, and on collapsed covariate patterns with
  ``freq_weights``; lifelines CoxPHFitter (Efron) on rows; lifelines
  KaplanMeierFitter per level of care on rows.
* agreement: largest absolute difference of logistic and Cox coefficients and of
  the KM median time in treatment per level.

Targets: the whole headline set (count step + statistics) < 10 s on 2 cores.
The machine is shared: figures are noisy. Asserts nothing.

Usage::

    .venv/bin/python benchmarks/bench_headline.py               # 1.7M rows
    .venv/bin/python benchmarks/bench_headline.py --n 200000 --no-lifelines-cox
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from iopstats.compare.headline import HEADLINE_COVARIATES, headline_counts, headline_estimates
from iopstats.io.tedsd import read_tedsd
from iopstats.synthetic.tedsd import write_tedsd_csv

CACHE = Path("/tmp/iopstats-bench/headline")


def load(n: int, seed: int) -> pd.DataFrame:
    csv = CACHE / f"tedsd_2019_n{n}_seed{seed}.csv"
    if not csv.exists():
        print(f"writing {csv} ...", flush=True)
        write_tedsd_csv(csv, n=n, year=2019, seed=seed)
    return read_tedsd(csv).data


def design(frame: pd.DataFrame, covs: list[str], term_names: list[str]) -> pd.DataFrame:
    """Indicator matrix for the iopstats terms ("col[level]") in their order."""
    as_text = {c: frame[c].astype(object).astype(str).to_numpy() for c in covs}
    cols = {}
    for term in term_names:
        if term == "intercept":
            continue
        col, level = term[:-1].split("[", 1)
        cols[term] = (as_text[col] == level).astype(np.float64)
    return pd.DataFrame(cols, index=frame.index)


def timed(fn, *a, **k):
    t0 = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_700_000)
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument("--no-lifelines-cox", action="store_true", help="skip the (slow) lifelines Cox fit on rows")
    args = ap.parse_args()

    eps = load(args.n, args.seed)
    covs = list(HEADLINE_COVARIATES)
    print(f"episodes {len(eps):,}; covariates {', '.join(covs)}", flush=True)

    counts, t_counts = timed(headline_counts, eps, covs)
    res, t_stats = timed(headline_estimates, counts)
    steps = [("headline_counts (row pass + collapse)", t_counts)] + [
        (k, v) for k, v in res.timings.items() if k != "statistics_total"]
    print(f"\ncount table: {len(counts):,} patterns from {len(eps):,} episodes; "
          f"logistic patterns {res.logistic.n_patterns:,}\n")
    print("| iopstats step | seconds |\n|---|---:|")
    for k, v in steps:
        print(f"| {k} | {v:.2f} |")
    print(f"| **whole headline set** | **{t_counts + t_stats:.2f}** |\n", flush=True)

    # ------------------------------------------------------------------ peers
    import statsmodels.api as sm

    lv = counts["level_of_care"].cat.remove_unused_categories()
    lv = lv.cat.reorder_categories(["iop", *[c for c in lv.cat.categories if c != "iop"]])
    tab = counts.assign(level_of_care=lv)
    model_cols = ["level_of_care", *covs]
    rows = tab.loc[tab.index.repeat(tab["n"].to_numpy())].reset_index(drop=True).drop(columns="n")
    cc = rows.dropna(subset=model_cols)  # complete case, as iopstats
    peers = []

    lt = res.logistic.summary
    names = list(lt.index)
    fitrows = cc.dropna(subset=["completed"])
    X = sm.add_constant(design(fitrows, model_cols, names), has_constant="add")
    y = fitrows["completed"].astype(float).to_numpy()
    glm, t = timed(lambda: sm.GLM(y, X, family=sm.families.Binomial()).fit())
    diff = np.max(np.abs(glm.params.to_numpy() - lt["coef"].to_numpy()))
    peers.append(("statsmodels GLM logistic, rows", len(y), t, res.timings["logistic"], diff))

    pat = tab.dropna(subset=[*model_cols, "completed"]).groupby(
        [*model_cols, "completed"], observed=True, dropna=False)["n"].sum().reset_index()
    Xp = sm.add_constant(design(pat, model_cols, names), has_constant="add")
    glmp, t = timed(lambda: sm.GLM(pat["completed"].astype(float).to_numpy(), Xp,
                                   family=sm.families.Binomial(),
                                   freq_weights=pat["n"].to_numpy(dtype=float)).fit())
    diff = np.max(np.abs(glmp.params.to_numpy() - lt["coef"].to_numpy()))
    peers.append(("statsmodels GLM logistic, patterns + freq_weights", len(pat), t,
                  res.timings["logistic"] + res.timings.get("logistic_collapse", 0.0), diff))

    from lifelines import CoxPHFitter, KaplanMeierFitter

    km_ours = res.km.summary.set_index("group")["median"]
    t0 = time.perf_counter()
    meds = {}
    for level, g in rows.groupby("level_of_care", observed=True):
        kmf = KaplanMeierFitter().fit(g["time_in_treatment"], g["left_treatment"].astype(int))
        meds[level] = kmf.median_survival_time_
    t = time.perf_counter() - t0
    diff = max(abs(float(meds[k]) - float(km_ours[k])) for k in meds)
    peers.append(("lifelines KaplanMeierFitter by level, rows", len(rows), t, res.timings["kaplan_meier"], diff))

    if not args.no_lifelines_cox:
        ct = res.cox.summary
        cnames = list(ct.index)
        Xc = design(cc, model_cols, ["intercept", *cnames])
        Xc["T"] = cc["time_in_treatment"].to_numpy()
        Xc["E"] = cc["left_treatment"].astype(int).to_numpy()
        cph = CoxPHFitter()
        _, t = timed(cph.fit, Xc, duration_col="T", event_col="E")
        diff = np.max(np.abs(cph.params_[cnames].to_numpy() - ct["coef"].to_numpy()))
        peers.append(("lifelines CoxPHFitter (Efron), rows", len(Xc), t, res.timings["cox"], diff))

    print("| same fit | rows fitted | peer s | iopstats s | max abs difference |\n|---|---:|---:|---:|---:|")
    for name, n, tp, to, d in peers:
        print(f"| {name} | {n:,} | {tp:.2f} | {to:.2f} | {d:.1e} |")
    print("\n(iopstats times are on the collapsed table; peers fit the rows or patterns named. "
          "Differences: coefficients, or KM median days.)")


if __name__ == "__main__":
    main()
