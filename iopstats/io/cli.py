"""``iopstats load``: load a table, print the load report, optionally save the quarantine."""

from __future__ import annotations

import argparse
from pathlib import Path

from iopstats.exceptions import IopstatsError

HELP = "load episodes, follow-ups or sessions (CSV, Parquet, Excel) and print the load report"
DESCRIPTION = (
    "Read a table, apply an optional TOML mapping, refuse identifier columns, and report how many "
    "rows were loaded and how many were quarantined, by reason. Exit status 0 when the file was "
    "read (even with quarantined rows), 2 when it could not be read."
)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="path to a CSV, Parquet or .xlsx file")
    p.add_argument("--table", choices=["episodes", "followups", "sessions"], default="episodes",
                   help="which canonical table the file holds (default: episodes)")
    p.add_argument("--mapping", metavar="TOML", help="mapping file (see iopstats/io/mappings/example_ehr.toml)")
    p.add_argument("--header-row", metavar="N", type=int,
                   help="row number (from 1) of the column names when title rows sit above them")
    p.add_argument("--episodes", metavar="PATH",
                   help="episodes file (canonical names) to check follow-ups/sessions against")
    p.add_argument("--episodes-mapping", metavar="TOML", help="mapping for --episodes")
    p.add_argument("--quarantine-out", metavar="PATH",
                   help="write quarantined rows (reason, column, value, detail, raw fields) to this CSV")
    p.add_argument("--data-out", metavar="PATH", help="write the loaded canonical table (.csv or .parquet)")


def _write(df, path: str) -> None:
    out = Path(path)
    if out.parent and not out.parent.exists():
        raise IopstatsError("output folder does not exist", file=str(out), fix="create the folder first")
    try:
        if out.suffix.lower() == ".parquet":
            df.to_parquet(out, index=False)
        else:
            df.to_csv(out, index=False)
    except OSError as exc:
        raise IopstatsError(f"cannot write the file: {exc.strerror}", file=str(out),
                            fix="choose a writable path") from None


def run(args: argparse.Namespace) -> int:
    from iopstats.io.load import load_episodes, load_followups, load_sessions

    episodes = None
    if args.episodes:
        if args.table == "episodes":
            raise IopstatsError("--episodes applies to --table followups or sessions",
                                fix="drop --episodes or choose --table followups/sessions")
        episodes = load_episodes(args.episodes, args.episodes_mapping)
    hr = getattr(args, "header_row", None)
    if args.table == "episodes":
        res = load_episodes(args.source, args.mapping, header_row=hr)
    elif args.table == "followups":
        res = load_followups(args.source, args.mapping, episodes=episodes, header_row=hr)
    else:
        res = load_sessions(args.source, args.mapping, episodes=episodes, header_row=hr)
    print(res.report)
    if args.quarantine_out:
        _write(res.quarantine, args.quarantine_out)
        print(f"  quarantine written to {args.quarantine_out} ({len(res.quarantine):,} rows)")
    if args.data_out:
        _write(res.data, args.data_out)
        print(f"  data written to {args.data_out} ({len(res.data):,} rows)")
    return 0
