"""``iopstats report``: run the report notebooks and publish private HTML.

With no arguments it reports on the bundled sample (``data/sample/*.csv``, or
``IOPSTATS_SAMPLE_DIR``) and writes ``reports/``. ``--parquet PATH`` reports
on a national Parquet dataset (``iopstats convert``) with the national
headline notebook, on pandas or (``--data-engine dask``) out of core on Dask.
"""

from __future__ import annotations

import argparse
import sys

from iopstats.report.config import load_config

HELP = "run the report notebooks and publish private-by-default HTML (nightly job)"
DESCRIPTION = (
    "Execute the IOP outcomes and data-quality notebooks on the configured data (with --parquet: the "
    "national headline notebook on a Parquet dataset, pandas or Dask engine), export them "
    "as self-contained HTML with small cells suppressed, and publish them atomically under "
    "OUT/runs/<timestamp>/ with OUT/current pointing at the last good run and OUT/index.html "
    "listing every run. Exit status: 0 published, 1 a step failed (previous report kept), "
    "2 bad configuration, 3 another run is in progress."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="report TOML file ([data], [analysis], [privacy], [run])")
    parser.add_argument("--episodes", metavar="PATH", help="episodes file (CSV, Parquet or Excel); overrides the config")
    parser.add_argument("--followups", metavar="PATH", help="follow-up contacts file")
    parser.add_argument("--sessions", metavar="PATH", help="session attendance file")
    parser.add_argument("--mapping", metavar="PATH", help="mapping TOML for the input files")
    parser.add_argument("--parquet", metavar="PATH",
                        help="Parquet dataset written by `iopstats convert`: run the national headline report on it")
    parser.add_argument("--data-engine", choices=("pandas", "dask"), dest="data_engine",
                        help="engine reading the Parquet dataset (default pandas; dask never holds the rows)")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster of 2 workers)")
    parser.add_argument("--years", metavar="YEAR", type=int, nargs="+",
                        help="discharge years of the Parquet dataset to report on (default: all)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: reports)")
    parser.add_argument("--cell-timeout", type=int, metavar="SECONDS", help="per-cell timeout")
    parser.add_argument("--quiet", action="store_true", help="no progress lines (the log file still gets them)")


def run(args: argparse.Namespace) -> int:
    from iopstats.report.nightly import run_reports

    cfg = load_config(args.config).with_overrides(
        episodes=args.episodes,
        followups=args.followups,
        sessions=args.sessions,
        mapping=args.mapping,
        parquet=getattr(args, "parquet", None),
        data_engine=getattr(args, "data_engine", None),
        scheduler=getattr(args, "scheduler", None),
        years=getattr(args, "years", None),
        out=args.out,
        cell_timeout=getattr(args, "cell_timeout", None),
    )
    echo = None if getattr(args, "quiet", False) else (lambda line: print(line, file=sys.stderr, flush=True))
    outcome = run_reports(cfg, echo=echo)
    if outcome.exit_code == 0:
        print(f"published {outcome.run_dir}", flush=True)
    elif outcome.status == "locked":
        print(f"iopstats report: {outcome.manifest['error']}", file=sys.stderr)
    else:
        print(f"iopstats report: run failed: {outcome.manifest.get('error')}", file=sys.stderr)
        print(f"iopstats report: previous report left in place; see {outcome.run_dir}", file=sys.stderr)
    return outcome.exit_code
