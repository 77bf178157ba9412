"""Benchmark: iopstats Kaplan-Meier / log-rank vs lifelines on a TEDS-sized year.

1.7 million synthetic episodes, whole-day times 1..400, 9 levels of care.
Prints wall-clock seconds (best of ``--repeat``) and the largest difference
between the two libraries' numbers. Run:

    .venv/bin/python benchmarks/bench_survival.py [--rows 1700000] [--repeat 3]

lifelines is a peer for comparison only (never imported by iopstats).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from iopstats.stats.counts import collapse
from iopstats.stats.cuminc import cumulative_incidence
from iopstats.stats.kaplan_meier import kaplan_meier
from iopstats.stats.logrank import logrank
from _timing import best_of as best


def make_data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = np.array(["op", "iop", "php", "res_st", "res_lt", "hosp", "detox_h", "detox_r", "detox_a"])
    g = rng.integers(0, len(groups), size=n)
    scale = np.linspace(40, 160, len(groups))[g]
    t_event = rng.exponential(scale)
    t_cens = rng.uniform(1, 400, size=n)
    time = np.clip(np.ceil(np.minimum(t_event, t_cens)), 1, 400)
    event = (t_event <= t_cens).astype(np.int64)
    cause = np.where(event == 1, rng.integers(1, 4, size=n), 0)
    return pd.DataFrame({"level_of_care": groups[g], "days": time, "left": event, "cause": cause})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_700_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    df = make_data(args.rows)
    labels = sorted(df["level_of_care"].unique())
    rows = []

    t_km, km = best(lambda: kaplan_meier(df, "days", "left", by="level_of_care"), args.repeat)

    def ll_km():
        out = {}
        for g in labels:
            sub = df[df["level_of_care"] == g]
            out[g] = KaplanMeierFitter().fit(sub["days"], sub["left"])
        return out

    t_llkm, llkm = best(ll_km, args.repeat)
    diff = 0.0
    for g in labels:
        ours = km.table[km.table["group"] == g].set_index("time")["survival"]
        theirs = llkm[g].survival_function_.iloc[:, 0].reindex(ours.index)
        diff = max(diff, float(np.max(np.abs(ours - theirs))))
    rows.append(("Kaplan-Meier, 9 groups", t_km, t_llkm, diff))

    t_lr, lr = best(lambda: logrank(df, "days", "left", by="level_of_care"), args.repeat)
    t_lllr, lllr = best(
        lambda: multivariate_logrank_test(df["days"], df["level_of_care"], df["left"]), args.repeat
    )
    rows.append(("log-rank, 9 groups", t_lr, t_lllr,
                 abs(lr.summary["statistic"].iloc[0] - lllr.test_statistic)))

    two = df[df["level_of_care"].isin(["iop", "op"])]
    t_lr2, lr2 = best(lambda: logrank(two, "days", "left", by="level_of_care"), args.repeat)
    a, b = two[two["level_of_care"] == "iop"], two[two["level_of_care"] == "op"]
    t_lllr2, lllr2 = best(lambda: logrank_test(a["days"], b["days"], a["left"], b["left"]), args.repeat)
    rows.append(("log-rank, iop vs op", t_lr2, t_lllr2,
                 abs(lr2.summary["statistic"].iloc[0] - lllr2.test_statistic)))

    t_pw, _ = best(lambda: logrank(df, "days", "left", by="level_of_care", pairwise=True), args.repeat)
    rows.append(("log-rank + 36 pairwise", t_pw, float("nan"), float("nan")))

    t_col, agg = best(lambda: collapse(df, ["level_of_care", "days", "left"]), args.repeat)
    t_kmc, _ = best(lambda: kaplan_meier(agg, "days", "left", by="level_of_care", weights="n"), args.repeat)
    t_lrc, _ = best(lambda: logrank(agg, "days", "left", by="level_of_care", weights="n"), args.repeat)
    rows.append((f"collapse() to {len(agg)} rows", t_col, float("nan"), float("nan")))
    rows.append(("Kaplan-Meier on collapsed", t_kmc, float("nan"), float("nan")))
    rows.append(("log-rank on collapsed", t_lrc, float("nan"), float("nan")))

    t_ci, _ = best(lambda: cumulative_incidence(df, "days", "cause", by="level_of_care"), args.repeat)
    rows.append(("cum. incidence + Gray, 3 causes", t_ci, float("nan"), float("nan")))

    out = pd.DataFrame(rows, columns=["task", "iopstats_s", "lifelines_s", "max_abs_diff"])
    out["speedup"] = out["lifelines_s"] / out["iopstats_s"]
    print(f"{args.rows:,} rows, 9 groups, whole days 1..400; best of {args.repeat}")
    print(out.to_string(index=False, float_format=lambda x: f"{x:.3g}"))


if __name__ == "__main__":
    main()
