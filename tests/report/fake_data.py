"""Small canonical input files for the report tests (deterministic).

Until ``iopstats.synth`` and the bundled sample land this builds canonical
episodes, follow-ups and sessions directly; planted identifiers and small
cells let the end-to-end tests check that nothing private reaches the HTML.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: Identifier-looking values planted in free-text input fields.
PLANTED = ["123-45-6789", "jane.roe@example.org", "(555) 867-5309", "CLIENT-000042"]

LEVELS = ["iop", "outpatient", "residential_short", "php"]


def make_inputs(n_clients: int = 420, seed: int = 7, small_level: bool = True) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    eid = 0
    for c in range(n_clients):
        n_eps = 1 + (rng.random() < 0.25)
        start = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 540)))
        for k in range(n_eps):
            level = rng.choice(LEVELS, p=[0.4, 0.3, 0.2, 0.1])
            eid += 1
            los = int(max(1, rng.gamma(2.0, {"iop": 25, "outpatient": 40, "residential_short": 12, "php": 18}[level])))
            admit = start + pd.Timedelta(days=k * 150)
            open_ = admit + pd.Timedelta(days=los) > pd.Timestamp("2024-09-30")
            reason = rng.choice(["completed", "dropped_out", "transferred", "terminated"], p=[0.5, 0.3, 0.12, 0.08])
            rows.append({
                "client_id": f"C{c:05d}",
                "episode_id": f"E{eid:06d}",
                "level_of_care": level,
                "admit_date": admit.date().isoformat(),
                "discharge_date": None if open_ else (admit + pd.Timedelta(days=los)).date().isoformat(),
                "discharge_reason": None if open_ else reason,
                "los_days": None if open_ else float(los),
                "site": rng.choice(["North", "South"]),
                "modality": rng.choice(["in_person", "virtual", "hybrid"]),
                "age": int(rng.integers(18, 70)),
                "sex": rng.choice(["male", "female"]),
                "race": rng.choice(["white", "black", "asian", "other"]),
                "ethnicity": rng.choice(["hispanic", "not_hispanic"]),
                "primary_substance": rng.choice(["alcohol", "heroin", "methamphetamine", "cocaine"]),
                "psych_problem": bool(rng.random() < 0.4),
                "prior_treatment": rng.choice(["none", "one_or_more"]),
                "payer": rng.choice(["private", "medicaid", "none"]),
                "employment": rng.choice(["full_time", "unemployed", "not_in_labor_force"]),
                "living_arrangement": rng.choice(["homeless", "dependent", "independent"]),
                "referral_source": rng.choice(["individual", "criminal_justice", "other_health"]),
                "use_freq_admit": rng.choice(["some", "daily"]),
            })
    eps = pd.DataFrame(rows)
    if small_level:  # a level with fewer than 11 episodes: every count of it must be suppressed
        extra = eps.iloc[:4].copy()
        extra["level_of_care"] = "inpatient"
        extra["episode_id"] = [f"X{i:06d}" for i in range(len(extra))]
        extra["client_id"] = [f"Z{i:05d}" for i in range(len(extra))]
        eps = pd.concat([eps, extra], ignore_index=True)
    # planted identifiers in the program field (free text some extracts carry)
    eps["program"] = "Main"
    eps.loc[: len(PLANTED) - 1, "program"] = PLANTED
    fu = []
    for r in eps.itertuples():
        if r.discharge_date is None:
            continue
        for d in (30, 90):
            responded = bool(rng.random() < 0.7)
            fu.append({"episode_id": r.episode_id, "days_after_discharge": d + int(rng.integers(-5, 6)),
                       "responded": responded, "any_use": (bool(rng.random() < 0.4) if responded else None),
                       "source": "self_report"})
    ses = []
    for r in eps.itertuples():
        admit = pd.Timestamp(r.admit_date)
        for k in range(int(rng.integers(1, 10))):
            ses.append({"episode_id": r.episode_id,
                        "session_date": (admit + pd.Timedelta(days=3 * k)).date().isoformat(),
                        "attended": bool(rng.random() < 0.8), "hours": 3.0})
    return {"episodes": eps, "followups": pd.DataFrame(fu), "sessions": pd.DataFrame(ses)}


def write_inputs(folder: Path, **kw) -> dict[str, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, df in make_inputs(**kw).items():
        p = folder / f"{name}.csv"
        df.to_csv(p, index=False)
        out[name] = p
    return out
