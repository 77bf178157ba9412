"""Parse the value tables of the SAMHSA TEDS-D codebook text files.

Used by ``tests/io/test_tedsd_codebook.py`` (the shipped code tables against the
codebooks) and by ``build_code_tables.py`` (which drafted the tables). The text
files are the PDF text extracts in ``/work/shared/reference/tedsd/``: pages are
marked ``=== PAGE n ===`` (n is the PDF page, cited in the tables), a variable
starts with a line ``NAME: title``, and its value table runs from the line
``Value Label ...`` to the line ``Total ...``. A label may wrap over lines, the
frequency then sits on a line of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Codebook text file of each era that has one.
CODEBOOK_FILES = {
    "2006-2014": "TEDS-D-2006-2014-DS0001-info-codebook.txt",
    "2015": "TEDS-D-2015-DS0001-info-codebook.txt",
    "2016": "TEDS-D-2016-DS0001-info-codebook.txt",
    "2017": "TEDS-D-2017-DS0001-info-codebook.txt",
    "2018": "TEDS-D-2018-DS0001-info-codebook.txt",
    "2019": "TEDS-D-2019-DS0001-info-codebook_V1.txt",
}

#: Headings spelled otherwise in some codebooks (2016: "ETHNICITY: ...").
_ALIASES = {"ETHNICITY": "ETHNIC"}
_PAGE = re.compile(r"=== PAGE (\d+) ===")
_HEAD = re.compile(r"^([A-Z][A-Z0-9_]*): ")
_FREQ = r"(?:[\d,]+|\*)\s+[\d.]+%"
_ROW = re.compile(rf"^(-?\d+)\s+(.+?)\s+{_FREQ}\s*$")
_ROW_START = re.compile(r"^(-?\d+)\s+(\S.*?)\s*$")
_FREQ_ONLY = re.compile(rf"^\s*{_FREQ}\s*$")


def parse_codebook(path, variables) -> dict[str, dict[int, tuple[str, int]]]:
    """``{variable: {code: (label, pdf page)}}`` for the named variables."""
    variables = set(variables)
    out: dict[str, dict[int, tuple[str, int]]] = {}
    var = page = None
    in_table = False
    pending = None  # [code, label parts, page] of a wrapped row
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        m = _PAGE.match(line)
        if m:
            page = int(m.group(1))
            continue
        m = _HEAD.match(line)
        name = _ALIASES.get(m.group(1), m.group(1)) if m else None
        if name in variables and not in_table:
            var = name
            continue
        if line.startswith("Value Label"):
            in_table = var is not None
            continue
        if not in_table:
            continue
        if line.startswith("Total"):
            in_table, var, pending = False, None, None
            continue
        if line in ("Unweighted", "Frequency %", ""):
            continue
        m = _ROW.match(line)
        if m:
            out.setdefault(var, {})[int(m.group(1))] = (m.group(2).strip(), page)
            pending = None
            continue
        if pending is not None and _FREQ_ONLY.match(line):
            out.setdefault(var, {})[pending[0]] = (" ".join(pending[1]), pending[2])
            pending = None
            continue
        m = _ROW_START.match(line)
        if m and pending is None:
            pending = [int(m.group(1)), [m.group(2)], page]
        elif pending is not None:
            pending[1].append(line)
    return out
