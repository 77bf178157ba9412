"""Benchmark: load one national TEDS-D year (1.7 million rows) with read_tedsd.

Generates a TEDS-D-format CSV once with ``write_tedsd_csv`` into a cache folder,
then measures in fresh processes:

* ``import only``      - interpreter + pandas/pyarrow/iopstats imports (RSS floor)
* ``read_tedsd``       - iopstats.io.tedsd.read_tedsd (canonical episodes + quarantine)
* ``pandas.read_csv``  - pandas.read_csv(path) with default settings (the peer)

Each measurement runs in its own worker process, launched by a small runner
process that reads ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after the
worker exits, so the peak RSS is the worker's own (pyarrow allocations
included, which tracemalloc would miss). Wall time is measured inside the
worker around the call only. Prints a table; asserts nothing.

Usage::

    python benchmarks/bench_tedsd_load.py                 # 1.7M rows, year 2019
    python benchmarks/bench_tedsd_load.py --year 2021     # text-label release
    python benchmarks/bench_tedsd_load.py --n 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNNER = r"""
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if proc.returncode:
    sys.stderr.write(proc.stderr)
    sys.exit(proc.returncode)
out = json.loads(proc.stdout.strip().splitlines()[-1])
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: kB
print(json.dumps(out))
"""


def worker(kind: str, path: str) -> None:
    import pandas as pd

    from iopstats.io.tedsd import read_tedsd

    t0 = time.perf_counter()
    if kind == "import":
        rows = 0
    elif kind == "read_tedsd":
        res = read_tedsd(path)
        rows = res.report.n_input
    elif kind == "pandas":
        rows = len(pd.read_csv(path))
    else:
        raise SystemExit(f"unknown kind {kind}")
    wall = time.perf_counter() - t0
    print(json.dumps({"kind": kind, "rows": rows, "wall_s": wall}))


def measure(kind: str, path: Path) -> dict:
    cmd = [sys.executable, "-c", RUNNER, sys.executable, __file__, "--_worker", kind, str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{kind} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_700_000)
    ap.add_argument("--year", type=int, default=2019)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per method (best wall time is shown)")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "iopstats-bench"))
    ap.add_argument("--no-pandas", action="store_true", help="skip the pandas.read_csv peer")
    ap.add_argument("--_worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._worker:
        worker(*args._worker)
        return 0

    from iopstats.synthetic.tedsd import write_tedsd_csv

    cache = Path(args.cache)
    path = cache / f"tedsd_{args.year}_n{args.n}_seed{args.seed}.csv"
    if not path.exists():
        t0 = time.perf_counter()
        tmp = path.with_suffix(".partial")
        write_tedsd_csv(tmp, n=args.n, year=args.year, seed=args.seed)
        tmp.replace(path)
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s")
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path} ({args.n:,} rows, {size_mb:,.0f} MB, year {args.year})\n")

    kinds = ["import", "read_tedsd"] + ([] if args.no_pandas else ["pandas"])
    labels = {"import": "import only", "read_tedsd": "read_tedsd", "pandas": "pandas.read_csv (default)"}
    rows = []
    for kind in kinds:
        runs = [measure(kind, path) for _ in range(1 if kind == "import" else args.repeat)]
        best = min(runs, key=lambda r: r["wall_s"])
        peak = max(r["peak_rss_mb"] for r in runs)
        rows.append((labels[kind], best["rows"], best["wall_s"], peak))

    print(f"{'method':<28}{'rows':>12}{'wall s':>9}{'rows/s':>14}{'peak RSS MB':>13}")
    for name, n, wall, peak in rows:
        rate = f"{n / wall:,.0f}" if n else "-"
        print(f"{name:<28}{n:>12,}{wall:>9.2f}{rate:>14}{peak:>13,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
