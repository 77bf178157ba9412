"""Interactions in cox() / logistic() and effect_modification() against R coxph / glm.

Reference: tests/reference/interactions/interactions_reference.R. Real data: CTN-0094 episodes;
synthetic: tests/reference/adjust/adjust_data.csv (three levels of care, numeric age).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iopstats import cox, effect_modification, logistic
from iopstats.exceptions import IopstatsError
from iopstats.stats.design import with_interactions

REF = Path(__file__).resolve().parents[1] / "reference"
CTN = pd.read_csv(REF / "pipeline" / "ctn0094_outcomes.csv").dropna(subset=["race"]).reset_index(drop=True)
ADJ = pd.read_csv(REF / "adjust" / "adjust_data.csv")
COEF = pd.read_csv(REF / "interactions" / "interaction_coef.csv")
TESTS = pd.read_csv(REF / "interactions" / "interaction_tests.csv").set_index("model")
EM = pd.read_csv(REF / "interactions" / "effect_modification.csv")
MODELS = {  # name -> (kind, data, columns, covariates, pair)
    "ctn_cox": ("cox", CTN, ("time_in_treatment", "left_treatment"), ["level_of_care", "sex", "race"],
                ("level_of_care", "sex")),
    "ctn_logit": ("logistic", CTN, ("completed",), ["level_of_care", "race", "sex"], ("level_of_care", "race")),
    "adj_cox_ff": ("cox", ADJ, ("days", "left"), ["level_of_care", "sev", "age"], ("level_of_care", "sev")),
    "adj_cox_fn": ("cox", ADJ, ("days", "left"), ["level_of_care", "age", "sev"], ("level_of_care", "age")),
    "adj_logit_ff": ("logistic", ADJ, ("done",), ["level_of_care", "sev", "sex"], ("level_of_care", "sev")),
    "adj_logit_fn": ("logistic", ADJ, ("done",), ["level_of_care", "age", "sex"], ("level_of_care", "age")),
}


def _r_name(term: str, pair: tuple[str, str]) -> str:
    """Our term name -> R's coefficient name."""
    if term == "intercept":
        return "(Intercept)"
    m = re.fullmatch(r"(\w+):(\w+)\[(.+):(.+)\]", term)  # factor x factor
    if m:
        return f"{m[1]}{m[3]}:{m[2]}{m[4]}"
    m = re.fullmatch(r"(\w+):(\w+)\[(.+)\]", term)  # numeric x factor (factor first in R's formula)
    if m:
        return f"{m[2]}{m[3]}:{m[1]}"
    m = re.fullmatch(r"(\w+)\[(.+)\]", term)
    return f"{m[1]}{m[2]}" if m else term


def _fit(name, interactions=True):
    kind, data, cols, covs, pair = MODELS[name]
    inter = [pair] if interactions else None
    if kind == "cox":
        return cox(data, cols[0], cols[1], covs, interactions=inter)
    return logistic(data, cols[0], covs, interactions=inter)


@pytest.mark.parametrize("name", list(MODELS))
def test_interaction_models_against_R(name):
    fit = _fit(name)
    pair = MODELS[name][4]
    ref = COEF[COEF["model"] == name].set_index("term")
    names = [_r_name(t, pair) for t in fit.summary.index]
    assert sorted(names) == sorted(ref.index)
    np.testing.assert_allclose(fit.summary["coef"].to_numpy(), ref.loc[names, "coef"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fit.summary["se"].to_numpy(), ref.loc[names, "se"], rtol=1e-6)
    assert fit.loglik == pytest.approx(TESTS.loc[name, "loglik_full"], rel=1e-10)


@pytest.mark.parametrize("name", ["ctn_cox", "ctn_logit", "adj_cox_ff", "adj_logit_ff"])
def test_effect_modification_against_R(name):
    kind, data, cols, covs, (exp, mod) = MODELS[name]
    kw = {"time": cols[0], "event": cols[1]} if kind == "cox" else {"outcome": cols[0]}
    em = effect_modification(data, exp, mod, [c for c in covs if c not in (exp, mod)], model=kind, **kw)
    ref = EM[EM["model"] == name].reset_index(drop=True)
    got = em.summary
    assert list(got["modifier_level"]) == list(ref["modifier_level"])
    for col in ["ratio", "ci_low", "ci_high"]:
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-6)
    t = TESTS.loc[name]
    assert em.tests.loc["likelihood_ratio", "statistic"] == pytest.approx(t["lr"], rel=1e-6, abs=1e-9)
    assert em.tests.loc["wald", "statistic"] == pytest.approx(t["wald"], rel=1e-6)
    assert em.tests.loc["wald", "df"] == t["df"]


def test_interactions_on_a_collapsed_table_equal_rows():
    rows = cox(ADJ, "days", "left", ["level_of_care", "sev"], interactions=[("level_of_care", "sev")])
    table = ADJ.groupby(["days", "left", "level_of_care", "sev"], as_index=False).size()
    coll = cox(table, "days", "left", ["level_of_care", "sev"], interactions=[("level_of_care", "sev")],
               weights="size")
    pd.testing.assert_frame_equal(rows.summary, coll.summary, rtol=1e-9)


def test_numeric_by_numeric_is_the_product():
    work, covs, new = with_interactions(ADJ, ["age", "days"], [("age", "days")])
    assert covs[-1] == "age:days"
    np.testing.assert_array_equal(work["age:days"], ADJ["age"] * ADJ["days"])
    assert "age:days" not in ADJ.columns  # caller's frame untouched


def test_interaction_errors():
    with pytest.raises(IopstatsError, match="not a covariate"):
        logistic(ADJ, "done", ["level_of_care"], interactions=[("level_of_care", "sev")])
    with pytest.raises(IopstatsError, match="list of column pairs"):
        logistic(ADJ, "done", ["level_of_care", "sev"], interactions=["level_of_care:sev"])
    with pytest.raises(IopstatsError, match="twice"):
        logistic(ADJ, "done", ["level_of_care", "sev"],
                 interactions=[("level_of_care", "sev"), ("sev", "level_of_care")])
    with pytest.raises(IopstatsError, match="categorical"):
        effect_modification(ADJ, "level_of_care", "age", model="logistic", outcome="done")
