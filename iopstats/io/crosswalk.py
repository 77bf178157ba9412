"""Crosswalk between ASAM 3rd / 4th edition level codes, TEDS SERVICES codes
and the canonical ``level_of_care`` codes.

Sources: ASAM Criteria 3rd ed. (2013) and 4th ed. (2023) level tables; TEDS-D
codebook SERVICES / SERVICES_D. See DOMAIN.md in the shared folder.
"""

from __future__ import annotations

import pandas as pd

from iopstats.exceptions import IopstatsError

__all__ = ["ASAM3", "ASAM4", "TEDS_SERVICES", "crosswalk_table", "to_level_of_care"]

#: ASAM 3rd edition (2013) level -> canonical.
ASAM3: dict[str, str] = {
    "0.5": "early_intervention",
    "1": "outpatient",
    "1.0": "outpatient",
    "2.1": "iop",
    "2.5": "php",
    "3.1": "residential_long",
    "3.3": "residential_long",
    "3.5": "residential_short",
    "3.7": "residential_short",
    "4": "inpatient",
    "4.0": "inpatient",
    "1-WM": "detox_ambulatory",
    "2-WM": "detox_ambulatory",
    "3.2-WM": "detox_residential",
    "3.7-WM": "detox_residential",
    "4-WM": "detox_inpatient",
}

#: ASAM 4th edition (2023) level -> canonical. Withdrawal management folds
#: into the .7 levels and 4.0; 3.3 no longer exists.
ASAM4: dict[str, str] = {
    "1.0": "early_intervention",  # long-term remission monitoring
    "1.5": "outpatient",
    "1.7": "outpatient",  # medically managed outpatient
    "2.1": "iop",
    "2.5": "php",  # high-intensity outpatient (formerly PHP)
    "2.7": "iop",  # medically managed intensive outpatient
    "3.1": "residential_long",
    "3.5": "residential_short",
    "3.7": "residential_short",  # medically managed residential
    "4.0": "inpatient",
}

#: TEDS SERVICES / SERVICES_D / SERVSETD codes -> canonical.
TEDS_SERVICES: dict[int, str] = {
    1: "detox_inpatient",
    2: "detox_residential",
    3: "inpatient",
    4: "residential_short",
    5: "residential_long",
    6: "iop",
    7: "outpatient",
    8: "detox_ambulatory",
}

_SYSTEMS = {"asam3": ASAM3, "asam4": ASAM4, "teds": TEDS_SERVICES}


def crosswalk_table() -> pd.DataFrame:
    """All crosswalk entries as a tidy table (system, code, level_of_care).

    Examples
    --------
    >>> t = crosswalk_table()
    >>> t[(t.system == "teds") & (t.code == "6")].level_of_care.item()
    'iop'
    """
    rows = [
        {"system": s, "code": str(k), "level_of_care": v}
        for s, table in _SYSTEMS.items()
        for k, v in table.items()
    ]
    return pd.DataFrame(rows)


def to_level_of_care(codes, system: str) -> pd.Series:
    """Translate codes of one system to canonical levels of care.

    Unknown codes raise :class:`~iopstats.IopstatsError` naming them.

    Parameters
    ----------
    codes : array-like
        Codes as strings ("2.1", "3.7-WM") or TEDS integers.
    system : {"asam3", "asam4", "teds"}

    Examples
    --------
    >>> to_level_of_care(["2.1", "3.7", "2.7"], "asam4").tolist()
    ['iop', 'residential_short', 'iop']
    >>> to_level_of_care([6, 7], "teds").tolist()
    ['iop', 'outpatient']
    """
    if system not in _SYSTEMS:
        raise IopstatsError(
            f"unknown crosswalk system {system!r}", fix="use one of 'asam3', 'asam4', 'teds'"
        )
    table = _SYSTEMS[system]
    s = pd.Series(codes)
    if system == "teds":
        keys = pd.to_numeric(s, errors="coerce")
    else:
        keys = s.astype("string").str.strip().str.upper().str.replace("WM", "WM", regex=False)
    out = keys.map(table)
    bad = out.isna() & s.notna()
    if bad.any():
        raise IopstatsError(
            f"{int(bad.sum())} code(s) not in the {system} crosswalk",
            value=s[bad].iloc[0],
            fix=f"use one of {sorted(map(str, table))} or map the code in the mapping file",
        )
    return out.astype("object")
