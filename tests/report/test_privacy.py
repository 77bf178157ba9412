"""Unit tests of the suppression rules in iopstats.report.privacy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from iopstats.exceptions import IopstatsError
from iopstats.report import privacy
from iopstats.report.privacy import (
    find_identifiers,
    redact_identifiers,
    suppress_at_risk,
    suppress_counts,
    suppress_matrix,
    suppression_mask,
)


def _extended(values, supp):
    """Table with totals and the matching hidden mask (rows and columns public)."""
    R, C = values.shape
    ext = np.zeros((R + 1, C + 1))
    ext[:R, :C] = values
    ext[:R, C] = values.sum(axis=1)
    ext[R, :C] = values.sum(axis=0)
    ext[R, C] = values.sum()
    hid = np.zeros(ext.shape, dtype=bool)
    hid[:R, :C] = supp.cells.to_numpy()
    hid[:R, C] = supp.row_totals.to_numpy()
    hid[R, :C] = supp.col_totals.to_numpy()
    hid[R, C] = supp.grand_total
    return ext, hid


def _attacker_intervals(ext, hid):
    """Independent attacker: bounds on each hidden cell from every published number.

    Unknowns are all cells of the extended table; published cells are fixed by
    their bounds; every row and column (totals included) must add up.
    """
    Re, Ce = ext.shape
    n = Re * Ce
    var = lambda i, j: i * Ce + j  # noqa: E731
    A, b = [], []
    for i in range(Re):
        row = np.zeros(n)
        for j in range(Ce - 1):
            row[var(i, j)] = 1
        row[var(i, Ce - 1)] = -1
        A.append(row)
        b.append(0)
    for j in range(Ce):
        row = np.zeros(n)
        for i in range(Re - 1):
            row[var(i, j)] = 1
        row[var(Re - 1, j)] = -1
        A.append(row)
        b.append(0)
    bounds = [
        (0, None) if hid[i, j] else (ext[i, j], ext[i, j]) for i in range(Re) for j in range(Ce)
    ]
    out = {}
    for i, j in zip(*np.nonzero(hid)):
        c = np.zeros(n)
        c[var(i, j)] = 1
        lo = linprog(c, A_eq=A, b_eq=b, bounds=bounds, method="highs")
        hi = linprog(-c, A_eq=A, b_eq=b, bounds=bounds, method="highs")
        assert lo.status == 0
        out[(i, j)] = (lo.fun, -hi.fun if hi.status == 0 else np.inf)
    return out


def test_no_suppressed_cell_recoverable_bruteforce_random_tables():
    rng = np.random.default_rng(20240501)
    checked = 0
    for _ in range(150):
        R, C = rng.integers(2, 6), rng.integers(2, 6)
        # mix of small, zero and large counts
        kind = rng.random((R, C))
        values = np.where(kind < 0.3, rng.integers(1, 11, (R, C)), rng.integers(11, 60, (R, C)))
        values = np.where(kind > 0.9, 0, values)
        supp = suppress_matrix(values)
        ext, hid = _extended(values, supp)
        # primary rule: every published count is 0 or >= 11
        pub = ext[~hid]
        assert np.all((pub == 0) | (pub >= 11)), values
        # line rule: no row or column with exactly one hidden cell
        assert not np.any(hid.sum(axis=1) == 1)
        assert not np.any(hid.sum(axis=0) == 1)
        for (i, j), (lo, hi) in _attacker_intervals(ext, hid).items():
            assert hi - lo >= 1 - 1e-9, (values, (i, j), lo, hi)
            assert lo - 1e-9 <= ext[i, j] <= hi + 1e-9
            checked += 1
    assert checked > 100


# Tables where the line rules alone leave a cell recoverable (found by search
# with the audit switched off); the linear-programming audit must fix them.
RULES_ALONE_LEAK = [
    [[38, 4, 21, 27], [9, 0, 6, 9], [7, 0, 0, 39]],
    [[0, 2, 9, 26], [23, 6, 11, 30], [0, 28, 13, 28], [15, 27, 0, 9], [3, 3, 0, 12]],
    [[21, 9, 30, 19, 18], [11, 31, 0, 36, 9], [28, 0, 5, 14, 0], [28, 18, 6, 2, 13],
     [12, 0, 5, 22, 26]],
    [[34, 16, 4, 21], [32, 26, 26, 35], [24, 8, 18, 23], [17, 28, 32, 10], [1, 2, 0, 30]],
]


@pytest.mark.parametrize("values", RULES_ALONE_LEAK)
def test_audit_breaks_recoverable_cells_left_by_line_rules(values):
    values = np.array(values)
    supp = suppress_matrix(values)
    ext, hid = _extended(values, supp)
    for (i, j), (lo, hi) in _attacker_intervals(ext, hid).items():
        assert hi - lo >= 1 - 1e-9, ((i, j), lo, hi)


def test_primary_suppression_threshold_and_zero_shows():
    t = pd.DataFrame({"level": list("abcd"), "n": [0, 1, 10, 11]})
    out = suppress_counts(t, ["n"])
    assert out["n"].tolist()[0] == 0
    assert out["n"].tolist()[1] == "<11"
    assert out["n"].tolist()[2] == "<11"
    # 11 shows unless needed as a complement: here two small cells are hidden
    # and they sum to 11, so no extra complement is needed
    assert out["n"].tolist()[3] == 11


def test_single_small_cell_gets_a_complement_in_its_column():
    t = pd.DataFrame({"level": list("abc"), "n": [5, 40, 90]})
    out = suppress_counts(t, ["n"])
    assert out["n"].tolist() == ["<11", "<11", 90]


def test_suppressed_cells_summing_under_threshold_get_one_more():
    t = pd.DataFrame({"level": list("abcd"), "n": [2, 3, 40, 90]})
    out = suppress_counts(t, ["n"])
    # 2 + 3 = 5 < 11 would reveal a small aggregate: 40 is hidden too
    assert out["n"].tolist() == ["<11", "<11", "<11", 90]


def test_complement_of_events_is_a_cell_and_rates_follow():
    t = pd.DataFrame(
        {"level": ["iop", "op", "res"], "n": [50, 80, 60], "events": [48, 40, 20],
         "rate": [0.96, 0.5, 0.333], "ci_low": [0.86, 0.39, 0.22], "ci_high": [0.99, 0.61, 0.46]}
    )
    out = suppress_counts(t, ["events"], total="n")
    row = out.iloc[0]
    assert row["events"] == "<11" and row["rate"] == "<11" and row["ci_low"] == "<11"
    # complementary suppression: another row's events are hidden too
    assert (out["events"] == "<11").sum() >= 2
    # no rate published whose row has a hidden count
    mask = suppression_mask(t, ["events"], total="n")
    assert (mask["rate"] == mask[["events", "n"]].any(axis=1)).all()


def test_explicit_derived_mapping():
    t = pd.DataFrame({"g": ["a", "b", "c"], "n": [5, 50, 60], "mean_los": [3.0, 4.0, 5.0],
                      "site_count": [2, 3, 4]})
    out = suppress_counts(t, ["n"], derived={"mean_los": ["n"]})
    assert out["mean_los"].tolist()[0] == "<11"
    assert out["site_count"].tolist() == [2, 3, 4]


def test_marker_none_keeps_numbers_for_figures():
    t = pd.DataFrame({"g": ["a", "b", "c"], "n": [5, 50, 60], "rate": [0.2, 0.4, 0.5]})
    out = suppress_counts(t, ["n"], marker_text=None)
    assert pd.api.types.is_float_dtype(out["n"]) and np.isnan(out["n"].iloc[0])
    assert np.isnan(out["rate"].iloc[0])


def test_input_table_is_not_modified():
    t = pd.DataFrame({"g": ["a", "b", "c"], "n": [5, 50, 60], "rate": [0.2, 0.4, 0.5]})
    before = t.copy(deep=True)
    suppress_counts(t, ["n"])
    suppression_mask(t, ["n"])
    redact_identifiers(t)
    pd.testing.assert_frame_equal(t, before)


def test_custom_threshold():
    t = pd.DataFrame({"g": ["a", "b", "c"], "n": [5, 50, 60]})
    assert suppress_counts(t, ["n"], threshold=5)["n"].tolist() == [5, 50, 60]
    assert suppress_counts(t, ["n"], threshold=20)["n"].tolist()[0] == "<20"


@pytest.mark.parametrize("bad", [0, -3, 2.5, "eleven"])
def test_bad_threshold_raises_clear_error(bad):
    with pytest.raises(IopstatsError, match="threshold"):
        suppress_counts(pd.DataFrame({"n": [1, 2]}), ["n"], threshold=bad)


def test_bad_counts_raise_iopstats_error():
    with pytest.raises(IopstatsError, match="count column not found"):
        suppress_counts(pd.DataFrame({"n": [1]}), ["events"])
    with pytest.raises(IopstatsError, match="missing or non-numeric"):
        suppress_counts(pd.DataFrame({"n": [1, None]}), ["n"])
    with pytest.raises(IopstatsError, match="more than the total"):
        suppress_counts(pd.DataFrame({"n": [5], "events": [6]}), ["events"], total="n")
    with pytest.raises(IopstatsError, match="non-negative whole numbers"):
        suppress_matrix(np.array([[1.5, 2], [3, 4]]))


def test_empty_table_passes_through():
    t = pd.DataFrame({"g": pd.Series([], dtype=object), "n": pd.Series([], dtype=int)})
    assert len(suppress_counts(t, ["n"])) == 0


def test_at_risk_rows_obey_the_rule():
    ar = pd.DataFrame({"group": ["a"] * 3 + ["b"] * 3, "time": [0, 30, 60] * 2,
                       "n_at_risk": [40, 20, 5, 60, 30, 12]})
    out = suppress_at_risk(ar)
    got = dict(zip(zip(out.group, out.time), out.n_at_risk))
    assert got[("a", 60)] == "<11"
    # complementary: the other group's count at the same time is hidden too
    assert got[("b", 60)] == "<11"
    assert got[("a", 0)] == "40"
    for v in out["n_at_risk"]:
        assert v == "<11" or int(v.replace(",", "")) >= 11 or v == "0"


def test_identifier_patterns():
    text = "SSN 123-45-6789, mail jane.doe@example.com, call (555) 867-5309, http://x.org"
    found = find_identifiers(text)
    assert found["ssn"] == 1 and found["email"] == 1 and found["phone"] == 1 and found["url"] == 1
    assert find_identifiers("completion 45.2% (95% CI 40.1 to 50.3), n = 1,234") == {}
    assert find_identifiers("admitted 2023-04-17") == {"exact_date": 1}
    assert "exact_date" not in find_identifiers("period 2023-04")


def test_redact_identifiers_in_cells_index_and_labels():
    t = pd.DataFrame({"site": pd.Categorical(["North", "123-45-6789"]), "n": [20, 30]},
                     index=["a", "x@y.com"])
    out = redact_identifiers(t)
    assert out["site"].tolist() == ["North", "[redacted]"]
    assert list(out.index) == ["a", "[redacted]"]


def test_check_publishable_refuses_ids_and_dates():
    with pytest.raises(IopstatsError, match="identifier"):
        privacy.check_publishable(pd.DataFrame({"client_id": ["c1"]}))
    with pytest.raises(IopstatsError):
        privacy.check_publishable(pd.DataFrame({"when": pd.to_datetime(["2024-01-02"])}))
    privacy.check_publishable(pd.DataFrame({"admit_period": ["2024-01"], "n": [12]}))
