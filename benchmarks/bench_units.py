"""Benchmark: comparing every TEDS-D state at one national year (1.7M TEDS-shaped episodes).

Data: a synthetic TEDS-D 2019 CSV (``write_tedsd_csv``, cached under
/tmp/iopstats-bench/units, never in the repository), read with ``read_tedsd``
(load time not counted: see bench_tedsd_load.py). ``site`` is the state.

Measured (wall and CPU time of this process, best of ``--repeat``):

* ``headline_counts`` on all rows: the headline's one row-level pass (the yardstick);
* ``unit_count_table(eps, "site")``: the same pass with the state as a key;
* on that count table, for IOP episodes: ``funnel`` of completion,
  ``standardized_ratio`` (case-mix logistic on the headline covariates, pooled
  states), ``funnel`` of the O/E ratios, ``shrunken_rates`` (REML) with rank
  intervals.

The machine is shared (2 cores): figures are noisy, CPU time is the fairer one. Asserts nothing.

Measured 2026-12-01 at 1.7M rows, 52 states (load average 8-10 from other jobs on 2 cores), CPU s:
headline_counts 1.5-2.4; unit_count_table 3.3-3.8 (the headline count step once per state, with
its fixed cost 52 times); on the count table: funnel 0.06, standardized_ratio 0.33-0.41,
funnel of O/E 0.01, shrunken_rates 0.05-0.06 (all comparisons 0.45-0.55).

Usage::

    .venv/bin/python benchmarks/bench_units.py              # 1.7M rows
    .venv/bin/python benchmarks/bench_units.py --n 200000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import iopstats
from iopstats.compare.headline_counts import HEADLINE_COVARIATES

CACHE = Path("/tmp/iopstats-bench/units")


def timed(fn, repeat: int):
    """Best wall time, the CPU time of that call and its result."""
    best = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        w, c = time.perf_counter() - w0, time.process_time() - c0
        if best is None or w < best[0]:
            best = (w, c, out)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_700_000)
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    csv = CACHE / f"tedsd_2019_n{args.n}_seed{args.seed}.csv"
    if not csv.exists():
        print(f"writing {csv} ...", flush=True)
        iopstats.write_tedsd_csv(csv, n=args.n, year=2019, seed=args.seed)
    eps = iopstats.read_tedsd(csv).data
    covs = list(HEADLINE_COVARIATES)
    print(f"episodes {len(eps):,}; states {eps['site'].nunique()}; covariates {', '.join(covs)}", flush=True)

    rows = []

    def step(name, fn):
        w, c, out = timed(fn, args.repeat)
        rows.append((name, w, c))
        print(f"{name:<48s} wall {w:7.3f} s   cpu {c:7.3f} s", flush=True)
        return out

    step("headline_counts (yardstick, all rows)", lambda: iopstats.headline_counts(eps, covs))
    tab = step("unit_count_table (state as key, all rows)", lambda: iopstats.unit_count_table(eps, "site", covs))
    iop = tab[tab["level_of_care"] == "iop"]
    print(f"count table {len(tab):,} patterns; IOP {len(iop):,} patterns, {int(iop['n'].sum()):,} episodes")
    f = step("funnel (completion, IOP, by state)", lambda: iopstats.funnel(iop, "site", "completed", weights="n"))
    sr = step("standardized_ratio (pooled case-mix logistic)",
              lambda: iopstats.standardized_ratio(iop, "site", "completed", covs, weights="n"))
    step("funnel of O/E ratios", lambda: iopstats.funnel(sr, "unit", statistic="ratio"))
    step("shrunken_rates (REML, 2000 rank draws)",
         lambda: iopstats.shrunken_rates(iop, "site", "completed", weights="n"))
    stats_w = sum(w for name, w, _ in rows[2:])
    stats_c = sum(c for name, _, c in rows[2:])
    print(f"{'comparisons on the count table (sum)':<48s} wall {stats_w:7.3f} s   cpu {stats_c:7.3f} s")
    flagged = f.summary[f.summary["flag"].str.endswith("99.8%")]
    print(f"states flagged at 99.8%: {len(flagged)} of {len(f.summary)} (phi {f.phi:.2f}, tau2 {f.tau2:.4f})")


if __name__ == "__main__":
    main()
