"""Time iopstats.synth at program and TEDS-D scale and print the figures.

CPU time is printed beside wall time because the machine may be shared.

Run: ``.venv/bin/python benchmarks/bench_synth.py [n ...]`` (default 100000 1700000).
"""

from __future__ import annotations

import sys
import time

from iopstats.synthetic import synth


def main(sizes: list[int]) -> None:
    for n in sizes:
        for sessions in (False, True):
            t0, c0 = time.perf_counter(), time.process_time()
            d = synth(n, seed=0, sessions=sessions)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            mem = sum(df.memory_usage(deep=True).sum() for df in (d.episodes, d.followups, d.sessions)) / 1e6
            print(f"synth({n:>9,}, sessions={sessions!s:5}): {wall:6.1f} s wall, {cpu:6.1f} s CPU; "
                  f"episodes {len(d.episodes):,}, follow-ups {len(d.followups):,}, sessions {len(d.sessions):,} "
                  f"({mem:,.0f} MB in memory)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_700_000])
