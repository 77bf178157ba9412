"""Write the small input files the Cox reference values are computed from.

Run from this folder with the project's Python:
    ../../../.venv/bin/python make_inputs.py
then ``Rscript cox_reference.R`` writes the reference values beside them.
Everything is seeded; the CSVs are committed so the tests never regenerate them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHARED = "../../../../shared/data"


def addicts() -> None:
    d = pd.read_csv(f"{SHARED}/addicts/addicts.csv")
    d.to_csv("addicts.csv", index=False)


def ctn0094() -> None:
    d = pd.read_csv(f"{SHARED}/ctn0094/randomized_outcomes.csv")
    site = pd.read_csv(f"{SHARED}/ctn0094/site_masked.csv")
    d = d.merge(site, on="who", how="left")
    cols = ["who", "site_masked", "arm", "age", "is_male",
            "ctn0094_dropout_time", "ctn0094_dropout_event",
            "ctn0094_relapse_time", "ctn0094_relapse_event"]
    d[cols].to_csv("ctn0094.csv", index=False)


def ties(seed: int = 20240601, n: int = 5000) -> None:
    """Whole-day times with heavy ties, four categorical covariates."""
    rng = np.random.default_rng(seed)
    loc = rng.choice(["iop", "op", "php", "res_long", "res_short"], n, p=[.3, .3, .1, .15, .15])
    sex = rng.choice(["female", "male"], n, p=[.4, .6])
    age = rng.choice(["18-29", "30-44", "45+"], n, p=[.35, .4, .25])
    payer = rng.choice(["medicaid", "none", "other", "private"], n, p=[.45, .2, .1, .25])
    lp = (np.select([loc == "op", loc == "php", loc == "res_long", loc == "res_short"],
                    [0.3, -0.2, -0.5, 0.4], 0.0)
          + 0.15 * (sex == "male") + np.select([age == "30-44", age == "45+"], [-0.2, -0.4], 0.0)
          + np.select([payer == "none", payer == "other", payer == "private"], [0.35, 0.1, -0.25], 0.0))
    t_event = rng.exponential(15.0 * np.exp(-lp))
    t_cens = rng.uniform(3, 30, n)
    time = np.ceil(np.minimum(t_event, t_cens)).astype(int)
    event = (t_event <= t_cens).astype(int)
    rows = pd.DataFrame({"level_of_care": loc, "sex": sex, "age_group": age, "payer": payer,
                         "days": time, "dropped": event})
    rows.to_csv("ties_rows.csv", index=False)
    keys = ["level_of_care", "sex", "age_group", "payer", "days", "dropped"]
    counts = rows.groupby(keys).size().rename("n").reset_index()
    counts.to_csv("ties_counts.csv", index=False)


def clustered(seed: int = 7, n_clients: int = 700) -> None:
    """Repeated episodes per client with a shared frailty; IPTW-like non-integer weights."""
    rng = np.random.default_rng(seed)
    n_eps = rng.integers(1, 5, n_clients)
    client = np.repeat(np.arange(1, n_clients + 1), n_eps)
    frailty = np.repeat(rng.gamma(2.0, 0.5, n_clients), n_eps)
    n = client.size
    loc = rng.choice(["iop", "op", "residential"], n, p=[.4, .4, .2])
    age = np.round(rng.normal(36, 10, n)).clip(18, 75)
    site = rng.choice(["A", "B", "C"], n)
    lp = np.select([loc == "op", loc == "residential"], [0.4, -0.3], 0.0) + 0.02 * (age - 36)
    t_event = rng.exponential(60.0 / (frailty * np.exp(lp)))
    t_cens = rng.uniform(10, 200, n)
    time = np.ceil(np.minimum(t_event, t_cens)).astype(int)
    event = (t_event <= t_cens).astype(int)
    ps = 1 / (1 + np.exp(-(-0.3 + 0.02 * (age - 36))))
    w = np.round(np.where(loc == "iop", 1 / ps, 1 / (1 - ps)), 6)
    pd.DataFrame({"client_id": client, "site": site, "level_of_care": loc, "age": age,
                  "days": time, "readmitted": event, "iptw": w}).to_csv("clustered.csv", index=False)


if __name__ == "__main__":
    addicts()
    ctn0094()
    ties()
    clustered()
