"""Inputs of the R reference checks of iopstats.stats.rmst and the robust Kaplan-Meier variance.

Run from the repository root: ``python tests/reference/rmst/make_inputs.py``, then
``cd tests/reference/rmst && Rscript rmst_reference.R``.

* ``addicts_w.csv``: the addicts data (Caplehorn & Bell) with a deterministic non-integer
  case weight ``w`` (0.5 to 2.5, from the id) and a cluster ``cl`` (id modulo 40: 40 "clients"
  with about 6 episodes each), so robust / clustered fits are checked on real times.
* ``tied.csv``: synthetic, seeded (numpy default_rng(20261201)): 300 episodes of 120 clients
  (1 to 5 episodes each), whole days 1..60 (heavy ties), groups a/b/c, non-integer weights.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
SURV = HERE.parent / "survival"

addicts = pd.read_csv(SURV / "addicts.csv")
addicts["w"] = 0.5 + (addicts["id"] * 37 % 101) / 50
addicts["cl"] = "c" + (addicts["id"] % 40).astype(str)
addicts.to_csv(HERE / "addicts_w.csv", index=False)

rng = np.random.default_rng(20261201)
n_clients = 120
k = rng.integers(1, 6, size=n_clients)
client = np.repeat([f"p{i:03d}" for i in range(n_clients)], k)
frail = np.repeat(rng.gamma(2.0, 0.5, size=n_clients), k)
n = len(client)
group = rng.choice(["a", "b", "c"], size=n, p=[0.4, 0.35, 0.25])
rate = 0.03 * frail * np.where(group == "a", 1.0, np.where(group == "b", 1.4, 0.8))
t_event = np.ceil(rng.exponential(1 / rate))
t_cens = rng.integers(5, 70, size=n)
time = np.minimum(np.minimum(t_event, t_cens), 60).astype(int)
event = ((t_event <= t_cens) & (t_event <= 60)).astype(int)
w = np.round(rng.uniform(0.3, 3.0, size=n), 3)
pd.DataFrame({"client": client, "group": group, "time": time, "event": event, "w": w}).to_csv(
    HERE / "tied.csv", index=False)
