"""Small confounded data set for the R reference checks of iopstats.compare.adjust.

Run from the repository root: ``.venv/bin/python tests/reference/adjust/make_inputs.py``,
then ``Rscript tests/reference/adjust/adjust_reference.R``. The ``iptw`` column holds the
stabilized ATE weights from ``iopstats.compare.adjust.iptw`` (R checks the weighted
survival fits given those weights, and recomputes the binary-treatment weights itself).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from iopstats.compare.adjust import iptw

HERE = Path(__file__).parent
rng = np.random.default_rng(20240611)
n = 240
sev = rng.choice(["low", "mid", "high"], size=n, p=[0.4, 0.35, 0.25])
sex = rng.choice(["female", "male"], size=n)
age = np.round(rng.uniform(18, 70, size=n))
s = (sev == "mid") * 0.8 + (sev == "high") * 1.6 + 0.01 * (age - 40)
logits = np.column_stack([np.zeros(n), 0.3 - 0.6 * s + 0.2 * (sex == "female"), -1.2 + 0.9 * s])
p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
loc = np.array(["iop", "outpatient", "residential_short"])[
    (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)]
lp = 0.4 - 0.7 * s + 0.3 * (loc == "residential_short") - 0.2 * (loc == "outpatient")
done = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
haz = 0.02 * np.exp(0.5 * s - 0.3 * (loc == "residential_short") + 0.2 * (loc == "outpatient"))
t_event = rng.exponential(1 / haz)
t_cens = rng.uniform(20, 150, size=n)
days = np.ceil(np.minimum(t_event, t_cens))  # whole days: ties, as in real data
left = (t_event <= t_cens).astype(int)
df = pd.DataFrame({"id": np.arange(1, n + 1), "level_of_care": loc, "sex": sex, "sev": sev, "age": age,
                   "done": done, "days": days, "left": left})
df["sev"] = pd.Categorical(df["sev"], categories=["low", "mid", "high"])
df["iptw"] = iptw(df, "level_of_care", ["sex", "sev", "age"]).weights.round(12)
df.to_csv(HERE / "adjust_data.csv", index=False)
print(df["level_of_care"].value_counts())
