"""The privacy attacker: knows every count a run publishes, how they relate, and that counts are
non-negative whole numbers, and tries to pin a count of 1-10.

Definition: a count is *disclosed* when its feasible range given every published number (integer
programming over the finest cells, scipy.optimize.milp) lies inside [1, threshold - 1]. Quantities
attacked: every finest cell, every count of the run (printed or hidden), every implied count (e.g.
an interval's censored exits) and every difference of two nested counts (n - events, at risk at
day 30 minus at risk at day 60, rows read minus rows loaded). The attacker solves independently of
the ledger's own LP audit (integer, not relaxed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

import iopstats
from iopstats.report import pages
from iopstats.report.config import load_inputs

REPO = Path(__file__).resolve().parents[2]
CTN = REPO.parent / "shared" / "data" / "ctn0094"
ADJUST = ["age_group", "sex", "primary_substance", "psych_problem", "prior_treatment", "payer"]


def _solve(c, A, b):
    r = milp(c, constraints=LinearConstraint(A, b, b), integrality=np.ones(len(c)), bounds=Bounds(0, np.inf))
    return r


def attack(ledger) -> list[str]:
    """Names of the quantities of 1 to threshold-1 whose integer range lies inside [1, threshold-1]."""
    t = ledger.threshold
    qs, A, w, keys = ledger.quantities()
    pub = [k for k, key in enumerate(keys[: len(ledger.keys)]) if key not in ledger.hidden]
    if not pub or not qs:
        return []
    B = sparse.csr_matrix(A[pub].astype(float))
    _, lab = connected_components(sparse.bmat([[None, B], [B.T, None]]).tocsr(), directed=False)
    atom_lab, row_lab = lab[len(pub):], lab[: len(pub)]
    found = []
    by_block: dict[tuple, list] = {}
    for q in qs:
        by_block.setdefault(tuple(sorted(set(atom_lab[q.cells > 0]))), []).append(q)
    for comps, group in by_block.items():
        atoms = np.nonzero(np.isin(atom_lab, comps))[0]
        rr = [p for p, lb in zip(pub, row_lab) if lb in comps]
        if not rr:
            continue
        Ab = A[np.ix_(rr, atoms)].astype(float)
        b = (A[rr].astype(np.int64) @ w).astype(float)
        rest = [(q, q.cells[atoms].astype(float)) for q in group]
        for sign, safe in ((1.0, lambda v: v < 0.5), (-1.0, lambda v: v > t - 0.5)):
            while rest:  # sweeps: one integer solution rules out many quantities at once
                r = _solve(sign * np.sum([c for _, c in rest], axis=0), Ab, b)
                assert r.status == 0, "the published numbers must be consistent with the data"
                keep = [(q, c) for q, c in rest if not safe(c @ r.x)]
                if len(keep) == len(rest):
                    break
                rest = keep
        for q, c in rest:
            lo = _solve(c, Ab, b).fun
            hi = -_solve(-c, Ab, b).fun
            if lo >= 0.5 and hi <= t - 0.5:
                found.append(f"{q.name} = {q.value} pinned to [{lo:.0f}, {hi:.0f}]")
    return found


def _check_run(data, outcomes):
    run = pages.build_run(data, outcomes, adjust=ADJUST, threshold=11)
    for name, led in run.ledgers.items():
        leaks = attack(led)
        assert not leaks, f"{name}: {leaks[:5]}"
    return run


@pytest.fixture(scope="module")
def sample_run():
    data = load_inputs("sample", None, None, None, None, None)
    o = iopstats.build_outcomes(data["episodes"].data, data["followups"].data, data["sessions"].data)
    return data, o, _check_run(data, o)


def test_attacker_finds_nothing_on_the_bundled_sample(sample_run):
    data, o, run = sample_run
    led = run.ledger
    assert any(led.primary(k) for k in led.keys)  # there were small counts to protect


def test_attacker_catches_an_unprotected_table(sample_run):
    """The attacker is not blind: completion by level and sex, published whole, gives cells away."""
    from iopstats.report.ledger import Ledger
    from iopstats.report.sections import Context, rate_table

    data, o, _ = sample_run
    led = Ledger(len(o))
    ctx = Context(o, led, np.arange(len(o)), reference="iop", margin=0.1, adjust=[], seed=0)
    rate_table(ctx, "completed", "x", subgroup="sex")
    rate_table(ctx, "completed", "x")
    led.hidden = set()
    assert attack(led)
    led.protect()
    assert not attack(led)


def _loaded(eps):
    from types import SimpleNamespace

    rep = SimpleNamespace(n_input=len(eps), n_loaded=len(eps), n_quarantined=0, reasons=pd.DataFrame())
    return SimpleNamespace(data=eps, report=rep, quarantine=None)


def test_attacker_finds_nothing_on_planted_small_cells():
    """Planted: one PHP episode of sex 'other' who completed, a level of 12 episodes, a 3-episode month."""
    s = iopstats.synth(n_episodes=600, seed=11)
    eps = s.episodes.copy()
    php = np.nonzero((eps["level_of_care"].astype(str) == "php").to_numpy())[0]
    eps.loc[eps.index[php[0]], "sex"] = "other"
    eps.loc[eps.index[eps["sex"].astype(str) == "other"].difference(eps.index[php[:1]]), "sex"] = "male"
    o = iopstats.build_outcomes(eps)
    run = _check_run({"episodes": _loaded(eps)}, o)
    assert any(run.ledger.primary(k) for k in run.ledger.keys)


@pytest.mark.slow
@pytest.mark.skipif(not CTN.is_dir(), reason="CTN-0094 data not found")
def test_attacker_finds_nothing_on_ctn0094():
    data = load_inputs("ctn0094", None, None, None, None, str(CTN))
    fu = data["followups"].data if data.get("followups") is not None else None
    o = iopstats.build_outcomes(data["episodes"].data, fu)
    _check_run(data, o)


def test_no_small_mark_on_a_count_of_eleven_or_more(sample_run):
    """'<11' stands only on counts of 1-10; every other hidden cell reads n/p."""
    from iopstats.report.blocks import Count, Table, _cell

    _, _, run = sample_run
    led = run.ledger
    seen_np = 0
    for sec in run.outcomes:
        for b in sec.blocks:
            if not isinstance(b, Table):
                continue
            for row in b.rows:
                for c in row:
                    text, mark = _cell(c, led)
                    if text == "<11":
                        assert isinstance(c, Count) and 1 <= led.value(c.key) <= 10, (b.title, c)
                    seen_np += text == "n/p"
    assert seen_np > 0
    html = run.outcomes_html()
    assert "n/p: not published, to protect another cell" in html


def test_non_inferiority_column_follows_the_interval_beside_it(sample_run):
    """Each conclusion is what the printed interval says at the printed margin (10 points)."""
    import re

    from iopstats.report.blocks import Table, _cell
    from iopstats.report.sections import ni_verdict

    _, _, run = sample_run
    led = run.ledger
    checked = 0
    for sec in run.outcomes:
        for b in sec.blocks:
            if not isinstance(b, Table) or not any(h.startswith("Non-inferiority of IOP (margin 10 percentage points)")
                                                   for h in b.headers):
                continue
            ci_col = [i for i, h in enumerate(b.headers) if "CI" in h][0]
            ni_col = [i for i, h in enumerate(b.headers) if h.startswith("Non-inferiority of IOP")][0]
            for row in b.rows:
                ci, verdict = _cell(row[ci_col], led)[0], _cell(row[ni_col], led)[0]
                if ci == "n/p":
                    assert verdict == "n/p"
                    continue
                lo, hi = (float(x) / 100 for x in re.findall(r"[+-]\d+\.\d", ci))
                assert verdict == ni_verdict(lo, hi, 0.10), (b.title, ci, verdict)
                checked += 1
    assert checked > 0


def test_summary_sentences_repeat_the_numbers_beside_them(sample_run):
    from iopstats.report.blocks import Text

    _, _, run = sample_run
    summary = run.outcomes[0]
    assert summary.id == "summary"
    html = run.outcomes_html()
    for b in summary.blocks:
        if isinstance(b, Text) and callable(b.text):
            sentence = b.text(run.ledger)
            for num in __import__("re").findall(r"95% CI ([+-]\d+\.\d) to ([+-]\d+\.\d)", sentence):
                assert f"{num[0]} to {num[1]}" in html.split("About this report")[1].split("</table>", 2)[-1]


def test_rmst_table_prints_rmst_difference_where_its_counts_are_shown(sample_run):
    """The restricted-mean table repeats iopstats.rmst_difference (IOP minus level, tau 90 days)."""
    from iopstats.report import labels
    from iopstats.report.blocks import Table, _cell

    _, o, run = sample_run
    led = run.ledger
    ref = iopstats.rmst_difference(o, "time_in_treatment", "left_treatment", by="level_of_care", tau=90,
                                   reference="iop").summary
    ref = ref.set_index(ref["group"].astype(str).map(labels.level))
    tables = [b for s in run.outcomes for b in s.blocks
              if isinstance(b, Table) and b.title.startswith("Restricted mean days in treatment over")]
    assert len(tables) == 1
    shown = 0
    for row in tables[0].rows:
        cells = [_cell(c, led)[0] for c in row[1:]]
        if cells[2] == "n/p":
            assert set(cells) == {"n/p"}  # the whole row rests on the same counts
            continue
        r = ref.loc[row[0]]
        assert cells[2] == f"{r.difference:.1f}" and cells[3] == f"{r.ci_low:.1f} to {r.ci_high:.1f}"
        shown += 1
    assert shown >= 1
