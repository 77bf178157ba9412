"""Draft ``iopstats/io/tedsd_codes/codes.csv`` from the TEDS-D codebook text files.

Run once by hand (``python tests/data/tedsd/build_code_tables.py``) when a codebook is
added; review the diff. The labels and pages come from the codebooks; the
canonical values (``value``) and the pooled groups (``pooled``) are the decisions
written below, one dict per variable and era group. The eras without a codebook
here (2020-2023) repeat the 2019 codes with an empty codebook and page, and the
2021 text labels quoted in DOMAIN.md are added as era ``2021`` rows.
``tests/io/test_tedsd_codebook.py`` checks the shipped table against the codebooks.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from codebook_parse import CODEBOOK_FILES, parse_codebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "reference" / "tedsd"  # as tests/io/conftest.py finds it
OUT = ROOT / "iopstats" / "io" / "tedsd_codes" / "codes.csv"

AGE_GROUPS = ["12-14", "15-17", "18-20", "21-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
              "55-64", "65+"]
SERVICES = {1: "detox_inpatient", 2: "detox_residential", 3: "inpatient", 4: "residential_short",
            5: "residential_long", 6: "iop", 7: "outpatient", 8: "detox_ambulatory"}
SUBST = {1: "none", 2: "alcohol", 3: "cocaine", 4: "marijuana", 5: "heroin", 6: "other_opioids",
         7: "other_opioids", 8: "hallucinogens", 9: "hallucinogens", 10: "methamphetamine",
         11: "other_stimulants", 12: "other_stimulants", 13: "benzodiazepines", 14: "sedatives",
         15: "sedatives", 16: "sedatives", 17: "other", 18: "other"}
YES_NO = {1: "yes", 2: "no"}

# variable -> era group ("old" = 2006-2014, "new" = 2015+) -> {code: (value, pooled)}
VALUES = {
    "SERVICES": {"new": {k: (v, "") for k, v in SERVICES.items()}},
    "REASON": {g: {1: ("completed", ""), 2: ("dropped_out", ""), 3: ("terminated", ""), 4: ("transferred", ""),
                   5: ("incarcerated", ""), 6: ("died", ""), 7: ("other", "")} for g in ("old", "new")},
    "AGE": {
        "old": {**{k: (AGE_GROUPS[k - 2], AGE_GROUPS[k - 2]) for k in range(2, 12)}, 12: ("55+", "55+")},
        "new": {**{k: (AGE_GROUPS[k - 1], AGE_GROUPS[k - 1]) for k in range(1, 11)},
                11: ("55-64", "55+"), 12: ("65+", "55+")},
    },
    "GENDER": {g: {1: ("male", ""), 2: ("female", "")} for g in ("old", "new")},
    "RACE": {
        "old": {1: ("native_american", "native_american"), 2: ("native_american", "native_american"),
                3: ("other", "asian_pacific_islander"), 4: ("black", "black"), 5: ("white", "white"),
                13: ("asian", "asian_pacific_islander"), 20: ("other", "other"),
                21: ("multiracial", "multiracial"), 23: ("pacific_islander", "asian_pacific_islander")},
        "new": {1: ("native_american", "native_american"), 2: ("native_american", "native_american"),
                3: ("other", "asian_pacific_islander"), 4: ("black", "black"), 5: ("white", "white"),
                6: ("asian", "asian_pacific_islander"), 7: ("other", "other"),
                8: ("multiracial", "multiracial"), 9: ("pacific_islander", "asian_pacific_islander")},
    },
    "ETHNIC": {
        "old": {1: ("hispanic", "puerto_rican"), 2: ("hispanic", "mexican"), 3: ("hispanic", "cuban_or_other_specific"),
                4: ("hispanic", "cuban_or_other_specific"), 5: ("not_hispanic", "not_hispanic"),
                6: ("hispanic", "hispanic_not_specified")},
        "new": {1: ("hispanic", "puerto_rican"), 2: ("hispanic", "mexican"), 3: ("hispanic", "cuban_or_other_specific"),
                4: ("not_hispanic", "not_hispanic"), 5: ("hispanic", "hispanic_not_specified")},
    },
    "SUB1": {"old": {**{k: (v, "") for k, v in SUBST.items()}, 20: ("other", "")},
             "new": {**{k: (v, "") for k, v in SUBST.items()}, 19: ("other", "")}},
    "FREQ1": {"old": {1: ("none", ""), 2: ("some", ""), 3: ("some", ""), 4: ("some", ""), 5: ("daily", "")},
              "new": {1: ("none", ""), 2: ("some", ""), 3: ("daily", "")}},
    "NOPRIOR": {"old": {0: ("none", ""), **{k: ("one_or_more", "") for k in range(1, 6)}},
                "new": {0: ("none", ""), 1: ("one_or_more", "")}},
    "PSOURCE": {g: dict(enumerate([("individual", ""), ("sud_provider", ""), ("other_health", ""), ("school", ""),
                                   ("employer", ""), ("community", ""), ("criminal_justice", "")], start=1))
                for g in ("old", "new")},
    "HLTHINS": {g: {1: ("private", ""), 2: ("medicaid", ""), 3: ("medicare_other", ""), 4: ("none", "")}
                for g in ("old", "new")},
    # value = the payment source; pooled = the canonical payer it is collapsed to
    "PRIMPAY": {
        "old": {1: ("self_pay", "none"), 2: ("private_insurance", "private"),
                3: ("medicare_workers_comp", "medicare_other"), 4: ("medicaid", "medicaid"),
                5: ("other_government", "medicare_other"), 8: ("no_charge", "none"), 9: ("other", "")},
        "new": {1: ("self_pay", "none"), 2: ("private_insurance", "private"), 3: ("medicare", "medicare_other"),
                4: ("medicaid", "medicaid"), 5: ("other_government", "medicare_other"), 6: ("no_charge", "none"),
                7: ("other", "")},
    },
    "EMPLOY": {g: {1: ("full_time", ""), 2: ("part_time", ""), 3: ("unemployed", ""), 4: ("not_in_labor_force", "")}
               for g in ("old", "new")},
    "LIVARAG": {g: {1: ("homeless", ""), 2: ("dependent", ""), 3: ("independent", "")} for g in ("old", "new")},
    "PSYPROB": {g: {k: (v, "") for k, v in YES_NO.items()} for g in ("old", "new")},
    "METHUSE": {g: {k: (v, "") for k, v in YES_NO.items()} for g in ("old", "new")},
    "LOS": {g: {**{d: (f"{d}-{d}", "") for d in range(1, 31)},
                31: ("31-45", ""), 32: ("46-60", ""), 33: ("61-90", ""), 34: ("91-120", ""),
                35: ("121-180", ""), 36: ("181-365", ""), 37: ("366-inf", "")} for g in ("old", "new")},
}
VALUES["SERVSETD"] = {"old": VALUES["SERVICES"]["new"]}
VALUES["SERVICES_D"] = {"new": VALUES["SERVICES"]["new"]}
VALUES["SUB1_D"] = {"new": VALUES["SUB1"]["new"]}
VALUES["FREQ1_D"] = {"new": VALUES["FREQ1"]["new"]}

# Census FIPS state codes (not every state reports every year, so codebooks list a subset)
STATES = {
    1: "Alabama", 2: "Alaska", 4: "Arizona", 5: "Arkansas", 6: "California", 8: "Colorado", 9: "Connecticut",
    10: "Delaware", 11: "District of Columbia", 12: "Florida", 13: "Georgia", 15: "Hawaii", 16: "Idaho",
    17: "Illinois", 18: "Indiana", 19: "Iowa", 20: "Kansas", 21: "Kentucky", 22: "Louisiana", 23: "Maine",
    24: "Maryland", 25: "Massachusetts", 26: "Michigan", 27: "Minnesota", 28: "Mississippi", 29: "Missouri",
    30: "Montana", 31: "Nebraska", 32: "Nevada", 33: "New Hampshire", 34: "New Jersey", 35: "New Mexico",
    36: "New York", 37: "North Carolina", 38: "North Dakota", 39: "Ohio", 40: "Oklahoma", 41: "Oregon",
    42: "Pennsylvania", 44: "Rhode Island", 45: "South Carolina", 46: "South Dakota", 47: "Tennessee",
    48: "Texas", 49: "Utah", 50: "Vermont", 51: "Virginia", 53: "Washington", 54: "West Virginia",
    55: "Wisconsin", 56: "Wyoming", 72: "Puerto Rico",
}
POSTAL = dict(zip(STATES, "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
                           "NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR".split()))

# 2021 file labels quoted in DOMAIN.md (no 2021 codebook in the reference folder)
LABELS_2021 = [
    ("AGE", 1, "12-14 years old"), ("AGE", 12, "65 years and older"),
    ("NOPRIOR", 0, "No prior treatment episode"), ("NOPRIOR", 1, "One or more prior treatment episodes"),
    ("REASON", 1, "Treatment completed"), ("LOS", 31, "31 to 45 days"),
    ("SERVICES", 6, "Ambulatory, intensive outpatient"), ("SERVICES_D", 6, "Ambulatory, intensive outpatient"),
]


def main() -> None:
    rows = []
    variables = [*VALUES, "STFIPS"]
    parsed = {era: parse_codebook(SHARED / f, [*variables, "GENDER"]) for era, f in CODEBOOK_FILES.items()}
    for era, book in parsed.items():
        group = "old" if era == "2006-2014" else "new"
        for var in variables:
            cb = book.get(var, {})
            if var == "STFIPS":
                for code, name in STATES.items():
                    lab, page = cb.get(code, (name, ""))
                    rows.append([var, era, code, lab, POSTAL[code], "", CODEBOOK_FILES[era] if page else "", page])
                continue
            table = VALUES[var].get(group)
            if table is None:
                continue
            if not cb:  # a variable this era's codebook does not list (e.g. SERVICES in 2015-16)
                continue
            for code, (value, pooled) in table.items():
                lab, page = cb[code]
                rows.append([var, era, code, lab, value, pooled, CODEBOOK_FILES[era], page])
            if -9 in cb:
                lab, page = cb[-9]
                rows.append([var, era, -9, lab, "", "", CODEBOOK_FILES[era], page])
            extra = set(cb) - set(table) - {-9}
            if extra:
                raise SystemExit(f"{era} {var}: codebook codes {sorted(extra)} have no value")
    for r in [r for r in rows if r[1] == "2019"]:
        rows.append([r[0], "2020-2023", *r[2:5], r[5], "", ""])
    for var, code, lab in LABELS_2021:
        value = next(r for r in rows if r[0] == var and r[1] == "2019" and r[2] == code)
        rows.append([var, "2021", code, lab, value[4], value[5], "", ""])
    OUT.parent.mkdir(exist_ok=True)
    with open(OUT, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["variable", "era", "code", "label", "value", "pooled", "codebook", "page"])
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
