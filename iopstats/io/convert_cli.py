"""``iopstats convert``: TEDS-D CSV years (or canonical episode files) to one
partitioned Parquet dataset with compact dtypes."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "convert TEDS-D CSV years (or canonical episode files) into one Parquet dataset partitioned by discharge year"
DESCRIPTION = (
    HELP
    + ". Each input is read with the loader that loses nothing (rows failing checks are "
    "counted as quarantined and left out of the dataset); read the result with "
    "iopstats.io.parquet.read_episodes_parquet(path, columns=..., engine='pandas'|'dask')."
)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="TEDS-D CSV/zip files (one per year) or canonical episode files")
    p.add_argument("--out", required=True, help="Parquet dataset folder to create or append to")
    p.add_argument("--input-format", choices=["tedsd", "canonical"], default="tedsd")
    p.add_argument("--mapping", help="TOML mapping for canonical inputs")
    p.add_argument("--quarantine-out", help="write all quarantined rows to this CSV")


def run(args: argparse.Namespace) -> int:
    from iopstats.io.parquet import write_episodes_parquet

    total_in = total_loaded = 0
    quarantines = []
    for src in args.inputs:
        t0 = time.perf_counter()
        if args.input_format == "tedsd":
            from iopstats.io.tedsd import read_tedsd

            res = read_tedsd(src)
        else:
            from iopstats.io.load import load_episodes

            res = load_episodes(src, mapping=args.mapping)
        write_episodes_parquet(res.data, args.out)
        rep = res.report
        total_in += rep.n_input
        total_loaded += rep.n_loaded
        if len(res.quarantine):
            quarantines.append(res.quarantine.assign(source=str(src)))
        print(
            f"{Path(src).name}: {rep.n_input:,} rows, {rep.n_loaded:,} written, "
            f"{rep.n_quarantined:,} quarantined ({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    if args.quarantine_out and quarantines:
        import pandas as pd

        pd.concat(quarantines, ignore_index=True).to_csv(args.quarantine_out, index=False)
    print(f"dataset {args.out}: {total_loaded:,} of {total_in:,} rows written")
    return 0
