"""change_outcomes: Jacobson-Truax reliable change (closed form), categories, windows, ITT and imputation."""

import numpy as np
import pandas as pd
import pytest

import iopstats
from iopstats.compare.change import change_rates
from iopstats.outcomes.change import classify_scores, jacobson_truax_cutoff, reliable_change


def _eps(n, level="iop", los=60):
    return pd.DataFrame({"episode_id": [f"e{i}" for i in range(n)], "level_of_care": level,
                         "admit_date": pd.Timestamp("2024-01-01"),
                         "discharge_date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=los)})


def _totals(rows):
    return pd.DataFrame(rows, columns=["episode_id", "day", "value"]).assign(instrument="phq9", item="total")


def test_rci_closed_form_jacobson_truax_1991():
    # JT 1991: SE = s1 * sqrt(1 - rxx); S_diff = sqrt(2 * SE^2); RC = (x2 - x1) / S_diff
    s1, rxx = 7.5, 0.88
    se = s1 * np.sqrt(1 - rxx)
    s_diff = np.sqrt(2 * se**2)
    assert reliable_change(30, 18, s1, rxx) == pytest.approx((18 - 30) / s_diff, rel=1e-12)
    assert s_diff == pytest.approx(3.674235, abs=1e-6)  # sqrt(2 * 7.5^2 * 0.12)
    # criterion c (weighted midpoint of clinical and functional norms)
    assert jacobson_truax_cutoff(30.0, 7.5, 10.0, 5.0) == pytest.approx((7.5 * 10 + 5 * 30) / 12.5)


def test_categories_follow_the_reliable_change_threshold_and_cutoff():
    attrs = {"instrument": "phq9", "scale": "total", "sd": 5.0, "reliability": 0.84, "cutoff": 10}
    # s_diff = sqrt(2) * 5 * 0.4 = 2.8284; threshold 1.96 * 2.8284 = 5.54 points
    b = [18, 18, 18, 18, 8, 12]
    e = [9, 12, 13, 24, 2, 12]
    t = classify_scores(b, e, attrs)
    assert t["category"].tolist() == ["recovered", "improved", "unchanged", "deteriorated", "improved", "unchanged"]
    # 18 -> 12: change 6 > 5.54 reliable but still >= 10: improved, not recovered
    assert t["response_cc"].tolist() == [True, False, False, False, True, False]  # >= 50% reduction
    assert t["remission_cc"].tolist() == [False, False, False, False, True, False]  # < 5


def test_every_episode_kept_single_and_no_baseline_categories():
    eps = _eps(4)
    m = _totals([("e0", 0, 20), ("e0", 30, 8), ("e1", 2, 15), ("e2", 40, 15), ("e3", -3, 22), ("e3", 90, 3)])
    t = iopstats.change_outcomes(m, eps, "phq9", sd=6.0)
    assert t["episode_id"].tolist() == ["e0", "e1", "e2", "e3"]
    # e3's second score is after discharge (day 60): not during treatment
    assert t["category"].astype(str).tolist() == ["recovered", "single_measurement", "no_baseline",
                                                  "single_measurement"]
    assert t["reliable_improvement_itt"].tolist()[:2] == [True, False]
    assert pd.isna(t["reliable_improvement_itt"].iloc[2]) and pd.isna(t["reliable_improvement_cc"].iloc[1])
    fu = iopstats.change_outcomes(m, eps, "phq9", sd=6.0, end=(76, 104))
    assert fu["category"].astype(str).tolist()[3] == "recovered" and fu["end_day"].iloc[3] == 90


def test_sd_defaults_to_baseline_sd_and_reliability_from_rules():
    eps = _eps(3)
    m = _totals([("e0", 0, 10), ("e1", 0, 14), ("e2", 0, 18), ("e0", 20, 5)])
    t = iopstats.change_outcomes(m, eps, "phq9")
    a = t.attrs["rci"]
    assert a["sd"] == pytest.approx(4.0) and a["reliability"] == 0.89
    assert t["rci"].iloc[0] == pytest.approx(-5 / (np.sqrt(2) * 4 * np.sqrt(0.11)))
    with pytest.raises(iopstats.IopstatsError, match="reliability"):
        iopstats.change_outcomes(m.assign(instrument="bam_custom"), eps, "bam_custom")
    own = iopstats.change_outcomes(m.assign(instrument="bam_custom"), eps, "bam_custom", reliability=0.8)
    assert own["change"].iloc[0] == -5 and own["category"].iloc[0] == "improved"  # no cut-off: not "recovered"


def test_itt_and_imputation_bracket_under_informative_missingness():
    rng = np.random.default_rng(4)
    n = 3000
    b = np.clip(rng.normal(17, 4, n).round(), 0, 27)
    end = np.clip((b - 7 + rng.normal(0, 4, n)).round(), 0, 27)
    # informative: the worse the baseline, the likelier the end score is missing (MAR given baseline)
    miss = rng.random(n) < 1 / (1 + np.exp(-(b - 17) / 2))
    truth = classify_scores(b, end, {"instrument": "phq9", "scale": "total", "sd": 4.0, "reliability": 0.89,
                                     "cutoff": 10})["reliable_improvement_cc"].mean()
    ids = [f"e{i}" for i in range(n)]
    m = pd.concat([_totals(zip(ids, [0] * n, b)), _totals(zip(np.array(ids)[~miss], [30] * (~miss).sum(), end[~miss]))])
    t = iopstats.change_outcomes(m, _eps(n), "phq9", sd=4.0)
    r = change_rates(t, "reliable_improvement", m=20, seed=2).set_index("method")
    assert r.loc["missing_is_not_improved", "rate"] < truth < r.loc["complete_case", "rate"]
    assert r.loc["multiple_imputation", "ci_low"] < truth < r.loc["multiple_imputation", "ci_high"]


def test_multiple_imputation_interval_coverage_by_simulation():
    """MAR missingness given baseline: the Rubin interval covers the population rate about 95% of the time."""
    attrs = {"instrument": "phq9", "scale": "total", "sd": 4.0, "reliability": 0.89, "cutoff": 10}
    n = 300
    ids = [f"e{i}" for i in range(n)]
    eps = _eps(n)

    def draw(rng, size):
        b = np.clip(rng.normal(17, 4, size).round(), 0, 27)
        return b, np.clip((b - 7 + rng.normal(0, 4, size)).round(), 0, 27)

    b, end = draw(np.random.default_rng(999), 400_000)
    truth = classify_scores(b, end, attrs)["reliable_improvement_cc"].to_numpy(dtype=float).mean()
    covered = []
    for seed in range(120):
        rng = np.random.default_rng(seed)
        b, end = draw(rng, n)
        miss = rng.random(n) < 1 / (1 + np.exp(-(b - 17) / 2))
        m = pd.concat([_totals(zip(ids, [0] * n, b)), _totals(zip(np.array(ids)[~miss], [30] * (~miss).sum(), end[~miss]))])
        t = iopstats.change_outcomes(m, eps, "phq9", sd=4.0)
        r = change_rates(t, "reliable_improvement", m=10, seed=seed).set_index("method").loc["multiple_imputation"]
        covered.append(r["ci_low"] < truth < r["ci_high"])
    assert 0.87 <= np.mean(covered) <= 0.99  # 0.933 with these seeds
