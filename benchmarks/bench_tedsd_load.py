"""Benchmark: load one national TEDS-D year (1.7 million rows) with read_tedsd.

Generates a TEDS-D-format CSV once with ``write_tedsd_csv`` into a cache folder,
then measures in fresh processes:

* ``import only``      - interpreter + pandas/pyarrow/iopstats imports (RSS floor)
* ``pyarrow floor``    - pyarrow.csv.read_csv of exactly the columns read_tedsd reads,
                         with the same compact integer types (int64 CASEID, int16 codes;
                         dictionary-encoded strings for a text-label file such as 2021):
                         the physical floor of the parse (issue 15)
* ``read_tedsd``       - iopstats.io.tedsd.read_tedsd (canonical episodes + quarantine)
* ``pandas.read_csv``  - pandas.read_csv(path) with default settings (the peer)

Each measurement runs in its own worker process (every worker imports the same
modules), launched by a small runner process that reads
``resource.getrusage(RUSAGE_CHILDREN)`` after the worker exits: the peak RSS is
the worker's own (pyarrow allocations included, which tracemalloc would miss)
and so is its CPU time. The machine is shared, so the figures that count are
**CPU time** (user + system) and peak RSS, not wall time: ``call CPU`` is
``time.process_time()`` around the call inside the worker (all threads),
``process CPU`` the worker's whole user + system time from the runner. The
last lines print read_tedsd over the pyarrow floor for call CPU and peak RSS
(targets of issue 15: 1.3x and 1.5x). Prints a table; asserts nothing.

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
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
out["peak_rss_mb"] = ru.ru_maxrss / 1024  # Linux: kB
out["process_cpu_s"] = ru.ru_utime + ru.ru_stime
out["process_sys_s"] = ru.ru_stime
print(json.dumps(out))
"""


def worker(kind: str, path: str) -> None:
    import pandas as pd

    from iopstats.io.tedsd import read_tedsd

    t0 = time.perf_counter()
    c0 = time.process_time()
    if kind == "import":
        rows = 0
    elif kind == "pyarrow":
        rows = _pyarrow_floor(path).num_rows
    elif kind == "read_tedsd":
        res = read_tedsd(path)
        rows = res.report.n_input
    elif kind == "pandas":
        rows = len(pd.read_csv(path))
    else:
        raise SystemExit(f"unknown kind {kind}")
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(json.dumps({"kind": kind, "rows": rows, "wall_s": wall, "cpu_s": cpu}))


# the columns read_tedsd reads from a 2015+ file (setting at discharge, every mapped field)
_NEEDED = ("CASEID", "LOS", "DISYR", "SERVICES_D", "SERVSETD", "REASON", "GENDER", "SEX", "AGE", "RACE", "ETHNIC",
           "SUB1", "SUB1_D", "FREQ1", "FREQ1_D", "PSYPROB", "METHUSE", "NOPRIOR", "PSOURCE", "HLTHINS",
           "PRIMPAY", "EMPLOY", "LIVARAG", "STFIPS")


def _pyarrow_floor(path):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    import csv

    with open(path, encoding="latin-1") as fh:
        reader = csv.reader(fh)
        header, first = next(reader), next(reader)
    cols = [c for c in _NEEDED if c in header]
    text = any(not first[header.index(c)].lstrip("-").isdigit() for c in cols)
    if text:  # the 2021 release: labels, parsed as read_tedsd parses them (dictionary-encoded strings)
        types = {c: pa.string() if c == "CASEID" else pa.dictionary(pa.int32(), pa.string()) for c in cols}
    else:
        types = {c: pa.int64() if c == "CASEID" else (pa.int32() if c == "DISYR" else pa.int16()) for c in cols}
    return pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24),
                          convert_options=pacsv.ConvertOptions(column_types=types, include_columns=cols))


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

    kinds = ["import", "pyarrow", "read_tedsd"] + ([] if args.no_pandas else ["pandas"])
    labels = {"import": "import only", "pyarrow": "pyarrow floor (typed)", "read_tedsd": "read_tedsd",
              "pandas": "pandas.read_csv (default)"}
    rows = {}
    for kind in kinds:
        runs = [measure(kind, path) for _ in range(1 if kind == "import" else args.repeat)]
        best = min(runs, key=lambda r: r["cpu_s"])  # least disturbed by the other load on the machine
        best["peak_rss_mb"] = min(r["peak_rss_mb"] for r in runs)
        rows[kind] = best

    print(f"{'method':<28}{'rows':>11}{'call CPU s':>12}{'proc CPU s':>12}{'proc sys s':>12}"
          f"{'wall s':>9}{'peak RSS MB':>13}")
    for kind, r in rows.items():
        print(f"{labels[kind]:<28}{r['rows']:>11,}{r['cpu_s']:>12.2f}{r['process_cpu_s']:>12.2f}"
              f"{r['process_sys_s']:>12.2f}{r['wall_s']:>9.2f}{r['peak_rss_mb']:>13,.0f}")
    floor, ours, imp = rows["pyarrow"], rows["read_tedsd"], rows["import"]
    print(f"\nread_tedsd / pyarrow floor: call CPU {ours['cpu_s'] / floor['cpu_s']:.2f}x (target 1.3x), "
          f"process CPU {ours['process_cpu_s'] / floor['process_cpu_s']:.2f}x, "
          f"peak RSS {ours['peak_rss_mb'] / floor['peak_rss_mb']:.2f}x (target 1.5x), "
          f"RSS above imports {(ours['peak_rss_mb'] - imp['peak_rss_mb']) / (floor['peak_rss_mb'] - imp['peak_rss_mb']):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
