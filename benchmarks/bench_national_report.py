"""Benchmark: the nightly report on ten national years (17M synthetic TEDS-D episodes) on the Dask engine.

Preparation (cached under /tmp/iopstats-bench/scaling, never in the repository,
not measured): ten synthetic TEDS-D years 2010-2019 of 1.7 million discharges
each written with ``write_tedsd_csv`` and converted by ``iopstats convert`` to
one Parquet dataset partitioned by discharge year. ``bench_scaling.py`` leaves
the same cache; it is reused when present.

Measured: one ``iopstats report`` process with a Parquet config
(``data_engine = "dask"``, no scheduler, so the notebook starts a LocalCluster
of 2 single-thread worker processes), end to end: config, dataset fingerprint,
notebook kernel, cluster start, the pooled headline and the per-year counts,
HTML export, publish. Memory: the process tree (the report process, the
notebook kernel, the Dask scheduler, nannies and workers) is polled every
50 ms with psutil (``/proc`` when psutil is missing) and the peak of the *sum*
of resident set sizes is reported, with the peak of the largest single
process. Prints the figures; asserts nothing (the machine is shared, so times
are noisy).

Usage::

    .venv/bin/python benchmarks/bench_national_report.py
    .venv/bin/python benchmarks/bench_national_report.py --engine pandas   # the in-memory path, for contrast
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

OUT = Path("/tmp/iopstats-bench/national")


def prepare() -> Path:
    """The ten-year Parquet dataset, shared (and cached) with bench_scaling.py."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_scaling import prepare as prepare_years

    return prepare_years(10)


def _tree_rss(pid: int) -> tuple[int, int]:
    """(sum, largest) resident set size in bytes of ``pid`` and all its descendants."""
    try:
        import psutil
    except ImportError:
        return _tree_rss_proc(pid)
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    sizes = []
    for p in procs:
        try:
            sizes.append(p.memory_info().rss)
        except psutil.Error:
            pass
    return sum(sizes), max(sizes, default=0)


def _tree_rss_proc(pid: int) -> tuple[int, int]:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            rss[int(d)] = int(Path(f"/proc/{d}/statm").read_text().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(children.get(p, []))
    sizes = [rss.get(p, 0) for p in seen]
    return sum(sizes), max(sizes, default=0)


def run_report(dataset: Path, engine: str) -> dict:
    out = OUT / f"reports_{engine}"
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg = OUT / f"report_{engine}.toml"
    cfg.write_text(f'[data]\nparquet = "{dataset}"\ndata_engine = "{engine}"\n\n[run]\nout = "{out}"\n'
                   "cell_timeout = 1800\n")
    exe = Path(sys.executable).with_name("iopstats")
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(exe), "report", "--config", str(cfg), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"sum": 0, "largest": 0}
    done = threading.Event()

    def poll():
        while not done.is_set():
            total, largest = _tree_rss(proc.pid)
            peak["sum"] = max(peak["sum"], total)
            peak["largest"] = max(peak["largest"], largest)
            time.sleep(0.05)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    result = {"engine": engine, "exit_code": proc.returncode, "wall_s": wall,
              "peak_tree_mb": peak["sum"] / 2**20, "peak_largest_mb": peak["largest"] / 2**20}
    if proc.returncode:
        result["error"] = (stderr.strip().splitlines() or [""])[-1]
        return result
    m = json.loads((out / "current" / "manifest.json").read_text())
    result["rows_counted"] = m["rows"]["episodes"]["counted"]
    result["patterns"] = m["rows"]["episodes"]["patterns"]
    result["dataset"] = m["dataset"]
    result["steps"] = {s["step"]: s["seconds"] for s in m["steps"]}
    result["headline_timings"] = m.get("notebook_data", {}).get("national_headline", {}).get("timings", {})
    result["html_bytes"] = (out / "current" / "national_headline.html").stat().st_size
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=("dask", "pandas"), default="dask")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    dataset = prepare()
    print(f"dataset ready: {dataset} ({time.perf_counter() - t0:.0f} s)", flush=True)
    r = run_report(dataset, args.engine)
    if r["exit_code"]:
        print(f"report failed (exit {r['exit_code']}): {r.get('error')}")
        return 1
    ht = r["headline_timings"]
    print(f"\n# Nightly national report, 10 years, data_engine = {r['engine']}\n")
    print("| figure | value |\n|---|---:|")
    print(f"| episodes counted (sum of n) | {r['rows_counted']:,} |")
    print(f"| count-table patterns | {r['patterns']:,} |")
    print(f"| dataset | {r['dataset']['files']} files, {r['dataset']['bytes'] / 2**20:,.0f} MB |")
    print(f"| wall time, whole `iopstats report` | {r['wall_s']:.1f} s |")
    for step, secs in r["steps"].items():
        print(f"| step: {step} | {secs:.1f} s |")
    if ht:
        print(f"| pooled headline: count pass (read + derive + collapse) | {ht.get('counts', float('nan')):.1f} s |")
        print(f"| pooled headline: statistics | {ht.get('statistics_total', float('nan')):.1f} s |")
    print(f"| peak RSS, whole process tree (sum) | {r['peak_tree_mb']:,.0f} MB |")
    print(f"| peak RSS, largest single process | {r['peak_largest_mb']:,.0f} MB |")
    print(f"| HTML size | {r['html_bytes'] / 1024:,.0f} KB |")
    print(f"\nmachine: {os.cpu_count()} cores, shared; Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
