"""Write the reference data of the mixed-model tests (run once; the CSV is committed).

Three levels of care, 150 episodes of 120 clients (some clients have two
episodes), weekly scores with per-episode random intercepts and slopes and
informative dropout (MAR: the chance of missing later weeks grows with the last
observed score).
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261201)
rows = []
levels = ["iop", "outpatient", "residential_short"]
slope = {"iop": -0.9, "outpatient": -0.5, "residential_short": -1.1}
start = {"iop": 15.0, "outpatient": 12.0, "residential_short": 18.0}
clients = [f"c{i:03d}" for i in range(120)] + [f"c{i:03d}" for i in range(30)]
client_effect = dict(zip(sorted(set(clients)), rng.normal(0, 1.5, 120)))
for e, client in enumerate(clients):
    lev = levels[e % 3]
    c_eff = client_effect[client]
    b0 = start[lev] + c_eff + rng.normal(0, 3.0)
    b1 = slope[lev] + rng.normal(0, 0.35)
    last = None
    for w in range(0, 9):
        if last is not None and rng.random() < 1 / (1 + np.exp(-(last - 16) / 3)) * 0.35:
            break
        score = b0 + b1 * w + rng.normal(0, 2.0)
        rows.append((f"e{e:03d}", client, lev, 7 * w + int(rng.integers(-1, 2)) if w else 0, round(score, 3)))
        last = score
out = pd.DataFrame(rows, columns=["episode_id", "client_id", "level_of_care", "day", "score"])
out.to_csv(Path(__file__).with_name("mixed_data.csv"), index=False)
print(len(out), out.episode_id.nunique())
