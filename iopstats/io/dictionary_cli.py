"""``iopstats dictionary``: print the canonical data dictionary."""

from __future__ import annotations

import argparse

HELP = "print the canonical data dictionary (episodes, follow-ups, sessions) and the level-of-care crosswalk"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", choices=["episodes", "followups", "sessions", "measures", "crosswalk"])
    p.add_argument("--format", choices=["text", "markdown", "csv"], default="text")


def run(args: argparse.Namespace) -> int:
    from iopstats.io.crosswalk import crosswalk_table
    from iopstats.io.schema import data_dictionary

    df = crosswalk_table() if args.table == "crosswalk" else data_dictionary(args.table)
    if args.format == "csv":
        print(df.to_csv(index=False), end="")
    elif args.format == "markdown":
        cols = list(df.columns)
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        for row in df.itertuples(index=False):
            print("| " + " | ".join(str(v) for v in row) + " |")
    else:
        print(df.to_string(index=False))
    return 0
