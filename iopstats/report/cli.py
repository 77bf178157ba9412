"""``iopstats report``: run the report notebooks and publish private HTML.

With no arguments it reports on the bundled sample (``data/sample/*.csv``, or
``IOPSTATS_SAMPLE_DIR``) and writes ``reports/``. ``--parquet PATH`` reports
on a national Parquet dataset (``iopstats convert``) with the national
headline notebook, on pandas or (``--data-engine dask``) out of core on Dask.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iopstats.exceptions import IopstatsError
from iopstats.report.config import load_config

HELP = "run the report notebooks and publish private-by-default HTML (nightly job)"
DESCRIPTION = (
    "Execute the IOP outcomes and data-quality notebooks on the configured data (with --parquet: the "
    "national headline notebook on a Parquet dataset, pandas or Dask engine), export them "
    "as self-contained HTML with small cells suppressed, and publish them atomically under "
    "OUT/runs/<timestamp>/ with OUT/current pointing at the last good run and OUT/index.html "
    "listing every run. Logs, executed notebooks, quarantined rows and exact counts go to a private "
    "folder outside it (OUT.private by default, owner-only). Exit status: 0 published; 1 the run failed "
    "(a notebook failed or timed out, too many rows quarantined; previous report kept); 2 usage error "
    "(bad configuration or option, a missing input file; nothing run); 3 another run is in progress; "
    "4 a folder cannot be written (disk full, read-only, permission denied)."
)

#: option -> config field of the input files checked before anything runs
_INPUT_OPTIONS = {"--episodes": "episodes", "--followups": "followups", "--sessions": "sessions",
                  "--mapping": "mapping", "--episodes-mapping": "episodes_mapping",
                  "--followups-mapping": "followups_mapping", "--sessions-mapping": "sessions_mapping"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="report TOML file ([data], [analysis], [privacy], [run])")
    parser.add_argument("--episodes", metavar="PATH",
                        help="episodes file (CSV, Parquet or Excel); overrides the config")
    parser.add_argument("--followups", metavar="PATH", help="follow-up contacts file")
    parser.add_argument("--sessions", metavar="PATH", help="session attendance file")
    parser.add_argument("--mapping", metavar="PATH",
                        help="mapping TOML of the episodes file (same as --episodes-mapping)")
    parser.add_argument("--episodes-mapping", metavar="PATH", dest="episodes_mapping",
                        help="mapping TOML of the episodes file")
    parser.add_argument("--followups-mapping", metavar="PATH", dest="followups_mapping",
                        help="mapping TOML of the follow-ups file")
    parser.add_argument("--sessions-mapping", metavar="PATH", dest="sessions_mapping",
                        help="mapping TOML of the sessions file")
    parser.add_argument("--parquet", metavar="PATH",
                        help="Parquet dataset written by `iopstats convert`: run the national headline report on it")
    parser.add_argument("--data-engine", choices=("pandas", "dask"), dest="data_engine",
                        help="engine reading the Parquet dataset (default pandas; dask never holds the rows)")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster of 2 workers)")
    parser.add_argument("--years", metavar="YEAR", type=int, nargs="+",
                        help="discharge years of the Parquet dataset to report on (default: all)")
    parser.add_argument("--out", metavar="DIR", help="published output folder (default: reports)")
    parser.add_argument("--private-dir", metavar="DIR", dest="private_dir",
                        help="private folder for the log, executed notebooks and quarantined rows, outside --out "
                             "(default: OUT.private beside it)")
    parser.add_argument("--cell-timeout", type=int, metavar="SECONDS", help="per-cell timeout")
    parser.add_argument("--quiet", action="store_true", help="no progress lines (the log file still gets them)")


def _check_input_options(args: argparse.Namespace) -> None:
    """A file named on the command line must exist (usage error, exit 2, naming the option and path)."""
    if getattr(args, "mapping", None) and getattr(args, "episodes_mapping", None):
        raise IopstatsError("--mapping and --episodes-mapping name the same file", fix="pass one of them")
    for option, attr in _INPUT_OPTIONS.items():
        value = getattr(args, attr, None)
        if value and not Path(value).expanduser().is_file():
            what = "is a folder, not a file" if Path(value).expanduser().is_dir() else "file not found"
            raise IopstatsError(f"{option} {value}: {what}", file=value,
                                fix=f"pass an existing file with {option}")


def run(args: argparse.Namespace) -> int:
    from iopstats.report.nightly import run_reports

    _check_input_options(args)
    cfg = load_config(args.config).with_overrides(
        episodes=args.episodes,
        followups=args.followups,
        sessions=args.sessions,
        mapping=args.mapping or getattr(args, "episodes_mapping", None),
        followups_mapping=getattr(args, "followups_mapping", None),
        sessions_mapping=getattr(args, "sessions_mapping", None),
        parquet=getattr(args, "parquet", None),
        data_engine=getattr(args, "data_engine", None),
        scheduler=getattr(args, "scheduler", None),
        years=getattr(args, "years", None),
        out=args.out,
        private_dir=getattr(args, "private_dir", None),
        cell_timeout=getattr(args, "cell_timeout", None),
    )
    quiet = getattr(args, "quiet", False)
    echo = None if quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    outcome = run_reports(cfg, echo=echo)
    if outcome.exit_code == 0:
        print(f"published {outcome.run_dir}", flush=True)
        return 0
    error = " ".join(str(outcome.manifest.get("error", "")).split())  # one line
    if outcome.status == "usage":
        print(f"iopstats report: error: {error}", file=sys.stderr)
    elif outcome.status in ("locked", "unwritable") or outcome.run_dir is None:
        if quiet or outcome.manifest.get("logged") is False:  # else the progress echo printed it already
            print(f"iopstats report: {error}", file=sys.stderr)
    elif quiet:
        print(f"iopstats report: run failed: {error} (previous report left in place; private files in "
              f"{outcome.private_dir})", file=sys.stderr)
    return outcome.exit_code
