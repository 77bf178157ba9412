"""``iopstats tedsd``: read a SAMHSA TEDS-D public-use file and print what was loaded."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from iopstats.exceptions import IopstatsError

HELP = "read a SAMHSA TEDS-D public-use CSV (or zip); print the load report and level-of-care counts"
DESCRIPTION = (
    "Read a SAMHSA TEDS-D discharge file (any year 2006-2023, CSV or a zip holding one CSV) into "
    "canonical episodes. Prints the load report (rows loaded and quarantined, with reasons and notes "
    "on nominal dates and binned lengths of stay) and the number of discharges by level of care. "
    "Optionally writes the canonical episodes to Parquet (--out) and the quarantined rows to CSV."
)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="TEDS-D CSV file or zip (e.g. tedsd_puf_2019.csv)")
    p.add_argument("--year", type=int, default=None,
                   help="codebook year (decides the 2006-14 vs 2015+ codes; default: from the columns)")
    p.add_argument("--columns", default=None,
                   help="comma-separated extra TEDS-D fields to keep as tedsd_<field> columns, e.g. DAYWAIT,ARRESTS")
    p.add_argument("--level-of-care", choices=("discharge", "admission"), default="discharge",
                   help="setting used as level of care: at discharge (SERVSETD/SERVICES_D, default, as SAMHSA's "
                   "discharge tables) or at admission (SERVICES, 2017 on)")
    p.add_argument("--harmonize", action="store_true",
                   help="add the coding common to every era 2006-2023 (tedsd_age_pooled with 55+, "
                   "tedsd_race_pooled, tedsd_ethnicity_pooled)")
    p.add_argument("--keep-outpatient-day", action="store_true",
                   help="keep the day TEDS-D adds to every outpatient LOS (default: subtract it)")
    p.add_argument("--out", default=None, help="write the canonical episodes to this Parquet file")
    p.add_argument("--quarantine-out", default=None, help="write the quarantined rows to this CSV file")


def level_of_care_counts(data: pd.DataFrame) -> pd.DataFrame:
    """Discharges by level of care: n, percent, completed and completion percent.

    Examples
    --------
    >>> df = pd.DataFrame({"level_of_care": pd.Categorical(["iop", "iop", "outpatient"]),
    ...                    "discharge_reason": ["completed", "dropped_out", "completed"]})
    >>> level_of_care_counts(df)
      level_of_care  n  percent  completed  completed_percent
    0           iop  2     66.7          1               50.0
    1    outpatient  1     33.3          1              100.0
    """
    done = (data["discharge_reason"].astype("object") == "completed").astype(int)
    g = pd.DataFrame({"level_of_care": data["level_of_care"], "completed": done}).groupby(
        "level_of_care", observed=True, sort=True
    )
    out = g.agg(n=("completed", "size"), completed=("completed", "sum")).reset_index()
    total = out["n"].sum()
    out.insert(2, "percent", (100 * out["n"] / total).round(1) if total else 0.0)
    out["completed_percent"] = (100 * out["completed"] / out["n"]).round(1)
    out["level_of_care"] = out["level_of_care"].astype(str)
    return out


def run(args: argparse.Namespace) -> int:
    from iopstats.io.tedsd import read_tedsd

    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    res = read_tedsd(args.path, year=args.year, columns=columns, level_of_care=args.level_of_care,
                     harmonize=args.harmonize, outpatient_day=not args.keep_outpatient_day)
    print(res.report)
    print()
    if len(res.data):
        print("Discharges by level of care:")
        print(level_of_care_counts(res.data).to_string(index=False))
    else:
        print("No rows loaded.")
    if args.out:
        out = _write(args.out, lambda p: res.data.to_parquet(p, index=False), "Parquet", "--out")
        print(f"\nWrote {len(res.data):,} episodes to {out}")
    if args.quarantine_out:
        q = _write(args.quarantine_out, lambda p: res.quarantine.to_csv(p, index=False),
                   "the quarantine", "--quarantine-out")
        print(f"Wrote {len(res.quarantine):,} quarantined rows to {q}")
    return 0


def _write(path, write, what: str, flag: str) -> Path:
    """Create the folder and write; an OS error becomes an IopstatsError with the fix."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
    except OSError as exc:
        raise IopstatsError(f"could not write {what}: {exc.strerror or exc}", file=path,
                            fix=f"choose a writable path for {flag}") from None
    return path
