"""The shipped TEDS-D code tables against the SAMHSA codebook text, code by code and label by label.

Parses the codebook text files in ``shared/reference/tedsd/`` (the same place
tests/io/conftest.py finds the shared data) and compares every code and label
of every variable that read_tedsd maps, per era. Skipped, with the reason, when
the shared folder is not there.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from iopstats.io.tedsd_codes import TEDS_FIELDS, _norm, code_table

REF = Path(__file__).resolve().parents[3] / "shared" / "reference" / "tedsd"
_spec = importlib.util.spec_from_file_location(
    "codebook_parse", Path(__file__).resolve().parents[1] / "data" / "tedsd" / "codebook_parse.py")
codebook_parse = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(codebook_parse)

MAPPED = sorted({*TEDS_FIELDS, "LOS"})
needs_codebooks = pytest.mark.skipif(
    not REF.is_dir(), reason=f"TEDS-D codebooks not found at {REF} (shared reference folder absent)")


@pytest.fixture(scope="module")
def parsed():
    return {era: codebook_parse.parse_codebook(REF / f, MAPPED) for era, f in codebook_parse.CODEBOOK_FILES.items()}


@needs_codebooks
@pytest.mark.parametrize("era", list(codebook_parse.CODEBOOK_FILES))
def test_every_code_and_label_matches_the_codebook(parsed, era):
    t = code_table()
    t = t[t.era == era]
    book = parsed[era]
    checked = 0
    for var in MAPPED:
        shipped = {int(r.code): (r.label, r.codebook, r.page) for r in t[t.variable == var].itertuples()}
        printed = book.get(var, {})
        if var == "STFIPS":  # each codebook lists the states of its file; every shipped state it lists must agree
            for code, (label, page) in printed.items():
                assert shipped[code][0] == label and shipped[code][2] == page, (era, var, code)
            continue
        # same codes, same labels, cited page and file
        assert set(shipped) == set(printed), (era, var, sorted(set(shipped) ^ set(printed)))
        for code, (label, page) in printed.items():
            s_label, s_file, s_page = shipped[code]
            assert s_label == label, (era, var, code, s_label, label)
            assert s_page == page and s_file == codebook_parse.CODEBOOK_FILES[era], (era, var, code)
            checked += 1
    assert checked > 150


@needs_codebooks
def test_the_corrected_2006_14_codes_are_in_the_codebook(parsed):
    """The codes issue 10 found missing or inverted, read straight from the codebook text."""
    old = parsed["2006-2014"]
    assert {13, 20, 21, 23} <= set(old["RACE"]) and not {6, 7, 8, 9} & set(old["RACE"])
    assert _norm(old["ETHNIC"][5][0]) == "not of hispanic origin"
    assert _norm(old["ETHNIC"][4][0]) == "other specific hispanic"
    assert _norm(old["AGE"][12][0]) == "55 and over" and min(old["AGE"]) == 2 and max(old["AGE"]) == 12
    assert _norm(old["SUB1"][20][0]) == "other" and 19 not in old["SUB1"]
    assert sorted(old["FREQ1"]) == [-9, 1, 2, 3, 4, 5] and sorted(old["NOPRIOR"]) == [-9, 0, 1, 2, 3, 4, 5]
    assert sorted(old["PRIMPAY"]) == [-9, 1, 2, 3, 4, 5, 8, 9]
    assert "SUB1_D" not in old and "FREQ1_D" not in old and "SERVICES" not in old
    for era in ("2015", "2016"):
        assert "SERVICES" not in parsed[era] and "SERVICES_D" in parsed[era]
    assert sorted(parsed["2019"]["PRIMPAY"]) == [-9, 1, 2, 3, 4, 5, 6, 7]


@needs_codebooks
def test_outpatient_day_is_stated_in_every_codebook():
    for f in codebook_parse.CODEBOOK_FILES.values():
        text = " ".join((REF / f).read_text(encoding="utf-8").split())
        assert "One day is added to all outpatient discharges" in text, f


def test_eras_without_codebook_are_marked():
    t = code_table()
    later = t[t.era.isin(["2020-2023", "2021"])]
    assert len(later) and (later.codebook == "").all() and later.page.isna().all()
    # 2020-2023 repeat the 2019 codes and values
    a = t[t.era == "2019"].set_index(["variable", "code"])[["value", "pooled"]]
    b = t[t.era == "2020-2023"].set_index(["variable", "code"])[["value", "pooled"]]
    assert a.sort_index().equals(b.sort_index())


def test_every_cited_row_names_its_page():
    t = code_table()
    cited = t[t.codebook != ""]
    assert cited.page.notna().all() and set(cited.codebook) <= set(codebook_parse.CODEBOOK_FILES.values())
