"""Property: whatever codes a TEDS-D file holds, every row is loaded or quarantined, once."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iopstats.io.tedsd import read_tedsd

FIELDS = ["DISYR", "STFIPS", "AGE", "GENDER", "RACE", "ETHNIC", "SERVICES", "REASON", "LOS", "SUB1", "FREQ1",
          "FREQ1_D", "PSYPROB", "METHUSE", "NOPRIOR", "PSOURCE", "HLTHINS", "EMPLOY", "LIVARAG"]

code = st.one_of(
    st.integers(-12, 80),  # mostly near the codebook ranges
    st.integers(-(2**40), 2**40),  # overflow of the int16 fast path
    st.sampled_from(["", "-9", "None", "NA", "Missing/unknown/not collected/invalid", "2.5", "x", " 7 ",
                     "Ambulatory, intensive outpatient", "Treatment completed", "61 to 90 days"]),
)
row = st.fixed_dictionaries({f: code for f in FIELDS})


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, min_size=1, max_size=25), caseids=st.lists(st.integers(0, 30), min_size=25, max_size=25),
       year=st.sampled_from([None, 2010, 2021]), old_columns=st.booleans(),
       cut=st.lists(st.integers(0, 30), max_size=3))
def test_loaded_plus_quarantined_equals_rows(rows, caseids, year, old_columns, cut):
    df = pd.DataFrame(rows, columns=FIELDS).astype(str)
    df.insert(0, "CASEID", [str(c) for c in caseids[: len(df)]])
    if old_columns:
        df = df.rename(columns={"SERVICES": "SERVSETD"})
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.csv"
        df.to_csv(p, index=False)
        lines = p.read_text().splitlines()
        for c in cut:  # drop trailing fields of some data lines: malformed rows
            i = 1 + c % len(df)
            fields = next(csv.reader([lines[i]]))
            if len(fields) < 2:
                continue
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(fields[: 1 + c % (len(fields) - 1)])
            lines[i] = buf.getvalue()
        p.write_text("\n".join(lines) + "\n")
        res = read_tedsd(p, year=year)
    rep = res.report
    assert rep.n_input == len(df)
    assert rep.n_loaded + rep.n_quarantined == rep.n_input
    assert len(res.data) == rep.n_loaded and len(res.quarantine) == rep.n_quarantined
    # each input row appears exactly once
    loaded = set(res.data["episode_id"])
    quarantined_rows = set(res.quarantine["row"].dropna().astype(int))
    assert len(quarantined_rows) == rep.n_quarantined
    assert quarantined_rows <= set(range(len(df)))
    assert len(loaded) == rep.n_loaded  # ids unique among loaded rows
    # loaded rows always carry the required fields
    assert res.data[["level_of_care", "discharge_reason", "los_min", "admit_date", "discharge_date"]].notna().all().all()
    assert (res.data["los_min"] <= res.data["los_max"]).all()
