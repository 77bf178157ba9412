"""Behaviour of the unit comparisons: funnel, standardized_ratio, national_model, shrunken_rates, control_chart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import iopstats
from iopstats import IopstatsError
from iopstats.compare.standardize import poisson_ratio_interval


def _programs(seed=0, outlier_shift=1.2):
    """Twelve programs of varied size at about 45% completion, one planted high, one tiny."""
    rng = np.random.default_rng(seed)
    sizes = [400, 350, 300, 300, 250, 250, 200, 200, 150, 150, 300, 14]
    names = [f"program {chr(65 + i)}" for i in range(len(sizes))]
    rows = []
    for name, n in zip(names, sizes):
        sex = rng.choice(["female", "male"], n)
        shift = outlier_shift if name == "program K" else 0.0
        lp = -0.3 + 0.4 * (sex == "male") + shift + rng.normal(0, 0.05)
        y = rng.random(n) < 1 / (1 + np.exp(-lp))
        rows.append(pd.DataFrame({"program": name, "sex": sex, "completed": y}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def programs():
    return _programs()


def test_funnel_flags_planted_outlier_not_small_program(programs):
    before = programs.copy()
    res = iopstats.funnel(programs, "program", "completed")
    pd.testing.assert_frame_equal(programs, before)
    s = res.summary.set_index("unit")
    assert s.loc["program K", "flag"] == "above 99.8%"
    assert s.loc["program L", "flag"] == "within"  # 14 episodes: wide exact limits
    assert not s.drop(index="program K")["flag"].str.endswith("99.8%").any()
    assert any("phi" in r for r in res.remarks)


def test_funnel_counts_equal_rows(programs):
    from iopstats.stats.counts import collapse

    counts = collapse(programs, ["program", "completed"])
    a = iopstats.funnel(programs, "program", "completed").summary
    b = iopstats.funnel(counts, "program", "completed", weights="n").summary
    pd.testing.assert_frame_equal(a, b)


def test_funnel_overdispersion_methods_are_stated(programs):
    for method in ("additive", "multiplicative", "none"):
        res = iopstats.funnel(programs, "program", "completed", overdispersion=method)
        assert res.overdispersion == method
        assert any(method in r or "exact" in r for r in res.remarks)
    none = iopstats.funnel(programs, "program", "completed", overdispersion="none")
    assert not none.adjusted
    lim = none.limits([14])
    assert lim["lower_95"].iloc[0] < 0.25 and lim["upper_95"].iloc[0] > 0.7


def test_funnel_of_ratios_from_standardized_ratio(programs):
    sr = iopstats.standardized_ratio(programs, "program", "completed", ["sex"])
    res = iopstats.funnel(sr, "unit", statistic="ratio")
    s = res.summary.set_index("unit")
    assert res.target == 1.0
    assert s.loc["program K", "flag"].startswith("above")
    assert s.loc["program L", "flag"] == "within"
    np.testing.assert_allclose(s["value"], sr.summary.set_index("unit")["ratio"])


def test_funnel_bad_input():
    df = pd.DataFrame({"u": ["a", "b"], "y": [1, 1]})
    with pytest.raises(IopstatsError, match="same outcome"):
        iopstats.funnel(df, "u", "y")
    with pytest.raises(IopstatsError, match="overdispersion"):
        iopstats.funnel(df, "u", "y", overdispersion="huge")
    with pytest.raises(IopstatsError, match="trim"):
        iopstats.funnel(df, "u", "y", trim=0.6)
    with pytest.raises(IopstatsError, match="expected"):
        iopstats.funnel(pd.DataFrame({"u": ["a"], "observed": [3], "expected": [0.0]}), "u", statistic="ratio")


def test_standardized_ratio_unseen_level_and_missing(programs, tmp_path):
    model = iopstats.fit_case_mix(programs, "completed", ["sex"])
    other = pd.DataFrame({"program": ["x", "x"], "sex": ["female", "unknown"], "completed": [True, False]})
    with pytest.raises(IopstatsError, match="level the case-mix model was not fitted on"):
        iopstats.standardized_ratio(other, "program", "completed", model=model)
    with pytest.raises(IopstatsError, match="covariates"):
        iopstats.standardized_ratio(programs, "program", "completed")
    with pytest.raises(IopstatsError, match="case-mix model"):
        iopstats.standardized_ratio(programs, "program", "completed", model=tmp_path / "missing.json")
    gaps = programs.copy()
    gaps.loc[:9, "sex"] = None
    res = iopstats.standardized_ratio(gaps, "program", "completed", ["sex"])
    assert res.n_dropped == 10
    assert res.summary["n"].sum() == len(programs) - 10


def test_garwood_interval_covers(programs):
    """Coverage of the exact O/E interval when O ~ Poisson(E): at least nominal (it is conservative)."""
    rng = np.random.default_rng(5)
    for e in (2.0, 15.0, 120.0):
        o = rng.poisson(e, 4000)
        lo, hi = poisson_ratio_interval(o, np.full(len(o), e))
        cover = np.mean((lo <= 1) & (1 <= hi))
        assert 0.95 <= cover <= 0.995


def test_national_model_from_tedsd_roundtrip(tmp_path):
    path = iopstats.write_tedsd_csv(tmp_path / "teds.csv", n=6000, year=2019, seed=4)
    eps = iopstats.read_tedsd(path).data
    covs = ["sex", "age_group", "prior_treatment"]
    model = iopstats.national_model(eps, covs)
    assert model.outcome == "completed" and model.covariates == tuple(covs)
    saved = model.save(tmp_path / "national.json")
    assert saved.stat().st_size < 20_000
    loaded = iopstats.CaseMixModel.load(saved)
    assert loaded == model
    # apply to a program's own episodes (synthetic site data, same canonical levels)
    site = iopstats.build_outcomes(iopstats.synth(1500, seed=2, sessions=False).episodes)
    iop = site[(site["level_of_care"] == "iop") & site["sex"].isin(model.levels["sex"])]
    res = iopstats.standardized_ratio(iop, "program", "completed", model=saved)
    assert res.reference_rate == pytest.approx(model.rate)
    assert (res.summary["expected"] > 0).all()
    # the national model reproduces the national total (score equations at IOP)
    nat = iopstats.build_outcomes(eps)
    nat = nat[nat["level_of_care"] == "iop"].assign(all="nation")
    self_check = iopstats.standardized_ratio(nat, "all", "completed", model=model)
    assert self_check.summary["ratio"].iloc[0] == pytest.approx(1.0, rel=1e-8)


def test_shrunken_rates_behaviour(programs):
    res = iopstats.shrunken_rates(programs, "program", "completed")
    s = res.summary.set_index("unit")
    # the tiny program is pulled toward the mean the most
    assert s["shrinkage"].idxmax() == "program L"
    assert res.tau2 > 0
    assert s["expected_rank"].idxmin() == "program K"
    with pytest.raises(IopstatsError, match="two units"):
        iopstats.shrunken_rates(programs.assign(program="one"), "program", "completed")
    with pytest.raises(IopstatsError, match="REML"):
        iopstats.shrunken_rates(programs, "program", "completed", method="ML")


def test_control_chart_per_unit_and_u_chart():
    rng = np.random.default_rng(1)
    months = pd.period_range("2023-01", periods=18, freq="M").astype(str)
    rows = pd.DataFrame({"site": np.repeat(["a", "b"], 18 * 50), "month": np.tile(np.repeat(months, 50), 2)})
    shift = (rows["site"] == "b") & (rows["month"] >= "2024-01")
    rows["completed"] = rng.random(len(rows)) < np.where(shift, 0.8, 0.45)
    rows["days"] = rng.integers(1, 90, len(rows))
    rows["readmits"] = rng.poisson(0.02 * rows["days"])
    res = iopstats.control_chart(rows, "month", "completed", unit="site")
    runs = res.runs.set_index("unit")
    assert bool(runs.loc["b", "runs_signal"]) and runs.loc["b", "n_outside"] > 0
    assert list(res.summary.columns[:5]) == ["unit", "period", "events", "n", "rate"]
    u = iopstats.control_chart(rows, "month", "readmits", unit="site", chart="u_prime", exposure="days")
    assert (u.summary["lcl"] >= 0).all() and np.isfinite(u.runs["sigma_z"]).all()
    with pytest.raises(IopstatsError, match="exposure"):
        iopstats.control_chart(rows, "month", "readmits", chart="u")
    with pytest.raises(IopstatsError, match="chart"):
        iopstats.control_chart(rows, "month", "completed", chart="x")


def test_plots_return_axes_and_accept_ax(programs):
    fig = Figure()
    ax = fig.subplots()
    results = [iopstats.funnel(programs, "program", "completed"),
               iopstats.standardized_ratio(programs, "program", "completed", ["sex"]),
               iopstats.shrunken_rates(programs, "program", "completed"),
               iopstats.control_chart(programs.assign(m=np.arange(len(programs)) % 12), "m", "completed")]
    sr = results[1]
    results.append(iopstats.funnel(sr, "unit", statistic="ratio"))
    for r in results:
        a = r.plot()
        assert isinstance(a, Axes)
        assert r.plot(ax=ax) is ax
        assert isinstance(r.summary, pd.DataFrame) and "<table" in r.to_html()


def test_unit_count_table_matches_headline_and_rows(tmp_path):
    path = iopstats.write_tedsd_csv(tmp_path / "teds.csv", n=4000, year=2019, seed=9)
    eps = iopstats.read_tedsd(path).data
    covs = ["sex", "age_group"]
    tab = iopstats.unit_count_table(eps, "site", covs)
    assert tab["n"].sum() == eps["site"].notna().sum()
    whole = iopstats.headline_counts(eps, covs)
    keys = ["level_of_care", *covs, "time_in_treatment", "left_treatment", "exit_cause", "completed"]
    pooled = tab.groupby(keys, observed=True, dropna=False, sort=True)["n"].sum().reset_index()
    np.testing.assert_array_equal(pooled["n"].to_numpy(), whole["n"].to_numpy())
    # the funnel from the count table equals the funnel from build_outcomes rows
    rows = iopstats.build_outcomes(eps)
    a = iopstats.funnel(tab, "site", "completed", weights="n").summary
    b = iopstats.funnel(rows, "site", "completed").summary
    pd.testing.assert_frame_equal(a.astype({"unit": str}), b.astype({"unit": str}))


def test_exact_funnel_limits_hold_their_level_by_simulation():
    """Under the null (every unit at the target) about 5% / 0.2% of units fall outside the exact limits."""
    rng = np.random.default_rng(8)
    n = np.repeat([15, 60, 400], 4000)
    x = rng.binomial(n, 0.4)
    from iopstats.compare.funnel import exact_funnel_limits

    lim = exact_funnel_limits(n, 0.4)
    p = x / n
    out95 = np.mean((p < lim["lower_95"]) | (p > lim["upper_95"]))
    out998 = np.mean((p < lim["lower_998"]) | (p > lim["upper_998"]))
    assert 0.03 <= out95 <= 0.06
    assert out998 <= 0.005


def test_empirical_bayes_intervals_cover_by_simulation():
    """Units drawn from the normal-normal model: the 95% EB intervals cover the true rates about 95%."""
    from iopstats.compare.shrinkage import _logits, random_effects_logit

    rng = np.random.default_rng(21)
    hits = []
    for _ in range(300):
        theta = rng.normal(-0.2, 0.4, 30)
        n = rng.integers(40, 400, 30)
        x = rng.binomial(n, 1 / (1 + np.exp(-theta)))
        fit = random_effects_logit(*_logits(x.astype(float), n.astype(float)), method="REML")
        hits.append(np.abs(fit["blup"] - theta) <= 1.959964 * fit["blup_se"])
    cover = np.mean(hits)
    assert 0.93 <= cover <= 0.97


def test_single_unit_and_constant_outcome_edges():
    one = pd.DataFrame({"u": ["a"] * 30, "y": [1] * 12 + [0] * 18})
    res = iopstats.funnel(one, "u", "y")
    assert res.tau2 == 0.0 and res.summary["flag"].iloc[0] == "within"
    flat = pd.DataFrame({"m": [1, 2, 3] * 10, "y": [0] * 30})
    with pytest.raises(IopstatsError, match="prime chart"):
        iopstats.control_chart(flat, "m", "y", chart="p_prime")
    assert iopstats.control_chart(flat, "m", "y").summary["ucl"].eq(0).all()
