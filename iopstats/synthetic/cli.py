"""``iopstats synth``: write synthetic episodes, follow-ups, sessions and their true effects."""

from __future__ import annotations

import argparse

HELP = "write synthetic program data (episodes, follow-ups, sessions) with known true effects"
DESCRIPTION = (
    "Generate realistic synthetic substance-use treatment records (all levels of care, "
    "confounded case mix, informative follow-up non-response, readmissions and step-downs) "
    "and write episodes, followups and sessions plus truth.json (the true effects) to a folder. "
    "The same --seed always writes the same data."
)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=5000, metavar="N", help="number of episodes (default: 5000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv", help="table file format (default: csv)")
    p.add_argument("--start", default="2023-01-01", help="first admission date (default: 2023-01-01)")
    p.add_argument("--end", default="2024-12-31", help="last admission date (default: 2024-12-31)")
    p.add_argument("--as-of", default=None, help="data currency date (default: --end)")


def run(args: argparse.Namespace) -> int:
    from iopstats.synthetic.generate import synth

    data = synth(args.n, args.seed, start=args.start, end=args.end, as_of=args.as_of)
    paths = data.save(args.out, format=args.format)
    print(
        f"wrote {len(data.episodes):,} episodes, {len(data.followups):,} follow-ups and "
        f"{len(data.sessions):,} sessions (seed {args.seed}) to {args.out}"
    )
    for name, path in paths.items():
        print(f"  {name}: {path}")
    return 0
