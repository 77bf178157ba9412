"""Benchmark: iopstats.logistic vs statsmodels GLM on a TEDS-D-sized table.

1.7 million rows, 8 categorical covariates (35 indicators), binary outcome.
Prints wall-clock seconds (best of ``--repeat``) for

* ours: ``iopstats.stats.logistic.logistic`` (collapse + Newton on patterns),
* statsmodels GLM on the rows (``--rows`` to include; slow, several GB of RAM),
* statsmodels GLM on collapsed patterns with ``freq_weights`` (including the
  pandas groupby that collapses the rows),

and the largest absolute differences of coefficients and standard errors.

Run: ``.venv/bin/python benchmarks/bench_logistic.py [--n 1700000] [--rows]``
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import statsmodels.api as sm

from iopstats.stats.logistic import logistic
from _timing import best_of

#: covariate -> number of levels; (levels - 1) sums to 35 indicators
CARDINALITY = {
    "level_of_care": 8,
    "age_group": 12,
    "sex": 2,
    "race": 6,
    "primary_substance": 5,
    "employment": 4,
    "payer": 4,
    "psych_problem": 2,
}


def make_data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    eta = np.full(n, -0.4)
    for name, k in CARDINALITY.items():
        probs = rng.dirichlet(np.full(k, 3.0))
        codes = rng.choice(k, size=n, p=probs).astype(np.int8)
        effects = np.r_[0.0, rng.normal(0, 0.3, k - 1)]
        eta += effects[codes]
        cols[name] = pd.Categorical.from_codes(codes, [f"{name}_{i}" for i in range(k)])
    cols["completed"] = rng.random(n) < 1.0 / (1.0 + np.exp(-eta))
    return pd.DataFrame(cols)


def design_rows(df: pd.DataFrame) -> pd.DataFrame:
    X = pd.get_dummies(df[list(CARDINALITY)], drop_first=True, dtype=float)
    return sm.add_constant(X, prepend=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_700_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rows", action="store_true", help="also time statsmodels GLM on the rows")
    args = ap.parse_args()
    covs = list(CARDINALITY)
    df = make_data(args.n)
    print(f"rows: {len(df):,}  covariates: {len(covs)}  indicators: "
          f"{sum(k - 1 for k in CARDINALITY.values())}")

    t_ours, res = best_of(lambda: logistic(df, "completed", covs), args.repeat)
    print(f"ours (iopstats.logistic, collapse + Newton): {t_ours:8.3f} s  "
          f"({res.n_patterns:,} patterns, {res.iterations} iterations)")

    def sm_collapsed():
        g = df.groupby(covs, observed=True)["completed"].agg(["sum", "size"]).reset_index()
        long = pd.concat([g.assign(y=1.0, w=g["sum"]), g.assign(y=0.0, w=g["size"] - g["sum"])])
        long = long[long["w"] > 0]
        X = design_rows(long)
        return sm.GLM(long["y"].to_numpy(), X, family=sm.families.Binomial(),
                      freq_weights=long["w"].to_numpy()).fit(tol=1e-12)

    t_col, fit_col = best_of(sm_collapsed, args.repeat)
    print(f"statsmodels GLM on collapsed patterns (freq_weights, incl. collapse): {t_col:8.3f} s")
    ours_coef = res.summary["coef"].to_numpy()
    ours_se = res.summary["se"].to_numpy()
    d_coef = np.max(np.abs(ours_coef - fit_col.params.to_numpy()))
    d_se = np.max(np.abs(ours_se - fit_col.bse.to_numpy()))
    print(f"  max |coef diff| vs collapsed: {d_coef:.2e}   max |se diff|: {d_se:.2e}")
    if args.rows:
        def sm_rows():
            X = design_rows(df)
            return sm.GLM(df["completed"].to_numpy(dtype=float), X,
                          family=sm.families.Binomial()).fit(tol=1e-12)

        t_rows, fit_rows = best_of(sm_rows, 1)
        print(f"statsmodels GLM on rows: {t_rows:8.3f} s")
        d_coef = np.max(np.abs(ours_coef - fit_rows.params.to_numpy()))
        d_rel = np.max(np.abs(ours_coef - fit_rows.params.to_numpy())
                       / np.maximum(np.abs(fit_rows.params.to_numpy()), 1e-12))
        d_se = np.max(np.abs(ours_se - fit_rows.bse.to_numpy()))
        print(f"  max |coef diff| vs rows: {d_coef:.2e} (relative {d_rel:.2e})   "
              f"max |se diff|: {d_se:.2e}   loglik diff: {abs(res.loglik - fit_rows.llf):.2e}")
    print(f"speed-up vs statsmodels collapsed: {t_col / t_ours:6.1f}x")


if __name__ == "__main__":
    main()
