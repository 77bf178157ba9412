"""Benchmark: how the headline pipeline scales with national TEDS-D years, pandas vs Dask.

Scales: 1, 3 and 10 discharge years (2019; 2017-2019; 2010-2019) of synthetic
TEDS-D files, about 1.7 million episodes each (1.7M, 5.1M, 17M rows).

Preparation (cached under /tmp/iopstats-bench/scaling, never in the repository,
not measured against the targets): one CSV per year with ``write_tedsd_csv``,
then ``iopstats convert`` of all years into ONE Parquet dataset partitioned by
discharge year. Each scale reads its years by partition pruning (``years=``).

Measurements, each in a fresh process (``python bench_scaling.py --worker ...``)
started by a small runner process:

* ``load``     - read the columns the headline needs. pandas: into memory
  (``read_episodes_parquet``). Dask: one pass over the same columns on the
  cluster (read + decode + row count per partition; nothing is kept).
* ``headline`` - load + ``headline_counts`` + ``headline_estimates``, i.e. the
  whole statistics section end to end, with the time of each phase.

Memory: the runner polls the whole process tree (the measured process, and
with Dask the nanny and worker processes of its LocalCluster) with psutil every
50 ms and reports the peak of the *sum* of their resident set sizes
("peak RSS, tree"). It also reports ``resource.getrusage(RUSAGE_CHILDREN)
.ru_maxrss`` read after the measured process exits, which is the peak of the
largest *single* descendant ("peak RSS, largest process"): the kernel's exact
figure for the pandas path, a lower bound for Dask. Dask runs use a
LocalCluster of 2 single-thread worker processes started inside the measured
process; its start-up time is reported separately and not included in the
phase times (production points ``scheduler=`` at a running cluster).

Targets on a 2-core machine: 1 year end to end < 15 s and < 2 GB; 10 years
from Parquet < 2 min and < 4 GB (Dask, out of core). The machine is shared with
other jobs: figures are noisy. Prints a markdown table and writes it to
benchmarks/results/scaling.md. Asserts nothing.

Usage::

    .venv/bin/python benchmarks/bench_scaling.py                  # 1, 3, 10 years
    .venv/bin/python benchmarks/bench_scaling.py --scales 1 3 --engines dask
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

CACHE = Path("/tmp/iopstats-bench/scaling")
YEARS = {1: [2019], 3: [2017, 2018, 2019], 10: list(range(2010, 2020))}
ROWS_PER_YEAR = 1_700_000
RESULTS = Path(__file__).resolve().parent / "results" / "scaling.md"


# ----------------------------------------------------------------------------- worker side


def worker(kind: str, engine: str, dataset: str, years: list[int]) -> dict:
    from iopstats.compare.headline import (
        HEADLINE_COVARIATES,
        _needed,
        headline_counts,
        headline_estimates,
    )
    from iopstats.io.parquet import read_episodes_parquet

    columns = _needed(list(HEADLINE_COVARIATES))
    out: dict = {"kind": kind, "engine": engine, "years": len(years)}
    client = cluster = None
    if engine == "dask":
        from dask.distributed import Client, LocalCluster

        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        out["cluster_start_s"] = time.perf_counter() - t0
    t_start = time.perf_counter()
    if engine == "pandas":
        t0 = time.perf_counter()
        frame = read_episodes_parquet(dataset, columns=columns, years=years)
        out["load_s"] = time.perf_counter() - t0
        out["rows"] = len(frame)
        if kind == "headline":
            t0 = time.perf_counter()
            counts = headline_counts(frame)
            out["counts_s"] = time.perf_counter() - t0
            del frame
    else:
        ddf = read_episodes_parquet(dataset, columns=columns, years=years, engine="dask")
        out["partitions"] = ddf.npartitions
        if kind == "load":
            t0 = time.perf_counter()
            out["rows"] = int(ddf.map_partitions(len).sum().compute())
            out["load_s"] = time.perf_counter() - t0
        else:
            t0 = time.perf_counter()
            counts = headline_counts(ddf)  # read + derive + collapse on the cluster
            out["counts_s"] = time.perf_counter() - t0
            out["rows"] = int(counts["n"].sum())
    if kind == "headline":
        t0 = time.perf_counter()
        res = headline_estimates(counts)
        out["stats_s"] = time.perf_counter() - t0
        out["patterns"] = len(counts)
        out["cox_s"] = res.timings["cox"]
        out["check"] = {
            "iop_completion": float(res.summary.loc["iop", "completion_rate"]),
            "hr_outpatient": float(res.summary.loc["outpatient", "hazard_ratio"]),
            "cox_loglik": float(res.cox.loglik),
        }
    out["total_s"] = time.perf_counter() - t_start
    if client is not None:
        client.close()
        cluster.close()
    return out


# ----------------------------------------------------------------------------- runner side


def measure(kind: str, engine: str, dataset: Path, years: list[int]) -> dict:
    """Run one measurement in a fresh process; peak RSS of the process tree by polling."""
    import psutil

    runner = (
        "import json, resource, subprocess, sys\n"
        "proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "if proc.returncode:\n    sys.stderr.write(proc.stderr); sys.exit(proc.returncode)\n"
        "out = json.loads(proc.stdout.strip().splitlines()[-1])\n"
        "out['maxrss_largest_mb'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps(out))\n"
    )
    cmd = [sys.executable, "-c", runner, sys.executable, __file__, "--worker", kind, engine, str(dataset),
           *map(str, years)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def poll():
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                total = 0
                for p in procs[1:]:  # the tiny runner itself is not counted
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], total)
            except psutil.Error:
                pass
            time.sleep(0.05)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    stdout, stderr = proc.communicate()
    done.set()
    th.join()
    if proc.returncode:
        sys.stderr.write(stderr[-3000:])
        return {"kind": kind, "engine": engine, "years": len(years), "error": stderr.strip().splitlines()[-1]}
    out = json.loads(stdout.strip().splitlines()[-1])
    out["peak_tree_mb"] = peak[0] / 2**20
    return out


def prepare(max_years: int) -> Path:
    """Cache the TEDS-D CSVs and the partitioned Parquet dataset; returns the dataset."""
    from iopstats.synthetic.tedsd import write_tedsd_csv

    years = sorted({y for k, ys in YEARS.items() if k <= max_years for y in ys})
    CACHE.mkdir(parents=True, exist_ok=True)
    dataset = CACHE / "episodes.parquet"
    marker = dataset / f"_years_{'-'.join(map(str, years))}.done"
    if marker.exists():
        return dataset
    csvs = []
    for y in years:
        csv = CACHE / f"tedsd_{y}.csv"
        if not csv.exists():
            t0 = time.perf_counter()
            write_tedsd_csv(csv, n=ROWS_PER_YEAR, year=y, seed=y)
            print(f"wrote {csv.name} ({time.perf_counter() - t0:.0f} s)", flush=True)
        csvs.append(str(csv))
    if dataset.exists():
        import shutil

        shutil.rmtree(dataset)
    t0 = time.perf_counter()
    exe = Path(sys.executable).with_name("iopstats")
    subprocess.run([str(exe), "convert", *csvs, "--out", str(dataset)], check=True)
    print(f"converted {len(csvs)} years to {dataset} ({time.perf_counter() - t0:.0f} s)", flush=True)
    marker.touch()
    return dataset


def fmt(x, unit=""):
    return "" if x is None else f"{x:,.1f}{unit}"


def table(results: list[dict]) -> str:
    lines = [
        "| years | rows | engine | load s | load peak MB | count s | statistics s | patterns | "
        "end to end s | peak RSS tree MB | largest process MB | Dask cluster start s |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by = {(r["years"], r["engine"], r["kind"]): r for r in results}
    for (years, engine) in sorted({(r["years"], r["engine"]) for r in results}):
        ld = by.get((years, engine, "load"), {})
        hd = by.get((years, engine, "headline"), {})
        if "error" in hd or "error" in ld:
            lines.append(f"| {years} | | {engine} | failed: {hd.get('error') or ld.get('error')} |||||||||")
            continue
        count = hd.get("counts_s")
        lines.append(
            f"| {years} | {hd.get('rows', ld.get('rows', 0)):,} | {engine} | {fmt(ld.get('load_s'))} | "
            f"{fmt(ld.get('peak_tree_mb'))} | {fmt(count)}{' (incl. load)' if engine == 'dask' else ''} | "
            f"{fmt(hd.get('stats_s'))} | {hd.get('patterns', 0):,} | {fmt(hd.get('total_s'))} | "
            f"{fmt(hd.get('peak_tree_mb'))} | {fmt(hd.get('maxrss_largest_mb'))} | "
            f"{fmt(hd.get('cluster_start_s'))} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, engine, dataset, *years = sys.argv[2:]
        print(json.dumps(worker(kind, engine, dataset, [int(y) for y in years])))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 3, 10], choices=sorted(YEARS))
    ap.add_argument("--engines", nargs="+", default=["pandas", "dask"], choices=["pandas", "dask"])
    args = ap.parse_args()
    dataset = prepare(max(args.scales))
    results = []
    for scale in args.scales:
        for engine in args.engines:
            for kind in ("load", "headline"):
                r = measure(kind, engine, dataset, YEARS[scale])
                results.append(r)
                print(json.dumps(r), flush=True)
    md = table(results)
    checks = [f"- {r['years']} yr {r['engine']}: {r['check']}" for r in results if "check" in r]
    header = (
        "# Headline pipeline scaling (synthetic TEDS-D years)\n\n"
        f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}; "
        f"shared with other jobs, so times are noisy. Generated by benchmarks/bench_scaling.py "
        f"on {time.strftime('%Y-%m-%d %H:%M')}.\n\n"
        "load: read the needed columns (Dask: one pass over them, nothing kept). count: derive outcomes and "
        "collapse (Dask: read + count on the cluster). end to end = load + count + statistics, excluding the "
        "Dask cluster start. peak RSS tree = peak of the summed RSS of the measured process and its children "
        "(Dask workers), polled every 50 ms; largest process = ru_maxrss of the largest single process.\n\n"
    )
    text = header + md + "\n\nSame estimates on both engines (spot checks):\n\n" + "\n".join(checks) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
