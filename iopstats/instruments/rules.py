"""Scoring rules of the supported instruments, as data, each rule with its source.

Every :class:`Instrument` states the item names and ranges, reverse-scored
items, the missing-item rule, the scales scored (a total, or subscales such as
the BAM's), severity bands, the clinical cut-off, the published reliability
used by the Jacobson-Truax reliable change index, and response / remission
rules where the literature defines them. ``citations`` names the source of
each rule; a rule the sources do not give is labelled an iopstats convention.

Items are named ``<key>_<n>`` (``phq9_1`` ... ``phq9_9``; BAM ``bam_1`` ...
``bam_17``, with ``bam_7a`` ... ``bam_7g`` accepted but not scored).

Examples
--------
>>> r = RULES["phq9"]
>>> r.scales["total"][:3], r.item_range, r.band(14), r.band(15)
(('phq9_1', 'phq9_2', 'phq9_3'), (0, 3), 'moderate', 'moderately severe')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Instrument", "RULES", "instrument_rules"]


@dataclass(frozen=True)
class Instrument:
    """One instrument's scoring rules (see the module docstring)."""

    key: str
    name: str
    item_range: tuple[int, int]
    scales: dict[str, tuple[str, ...]]
    #: at most this many missing items of a scale are prorated (mean of answered x n items); more -> invalid
    max_prorated: int = 0
    reverse: tuple[str, ...] = ()
    unscored: tuple[str, ...] = ()
    #: (lower bound, label) in increasing order, for the "total" scale
    bands: tuple[tuple[float, str], ...] = ()
    #: scores >= cutoff are clinical cases (caseness) on the primary scale
    cutoff: float | None = None
    higher_is_worse: bool = True
    #: internal consistency (Cronbach's alpha) of the primary scale, for the reliable change index
    reliability: float | None = None
    #: published reliable-change threshold in points (absolute change counted as reliable)
    reliable_change_points: float | None = None
    #: response = a reduction of at least this fraction of the baseline score
    response_reduction: float | None = None
    #: remission = a score strictly below this
    remission_below: float | None = None
    #: per-subscale flags: scale -> (operator, threshold), e.g. ("ge", 12)
    flags: dict[str, tuple[str, float]] = field(default_factory=dict)
    citations: dict[str, str] = field(default_factory=dict)

    @property
    def items(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for its in self.scales.values():
            seen.update(dict.fromkeys(its))
        return tuple(seen) + self.unscored

    @property
    def primary(self) -> str:
        return next(iter(self.scales))

    def band(self, score: float) -> str | None:
        """Severity band of a total score (None without bands or for a missing score)."""
        if not self.bands or pd.isna(score):
            return None
        label = None
        for lo, name in self.bands:
            if score >= lo:
                label = name
        return label


def _items(key: str, n: int) -> tuple[str, ...]:
    return tuple(f"{key}_{i}" for i in range(1, n + 1))


_KROENKE_2001 = ("Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression severity measure. "
                 "J Gen Intern Med 2001;16(9):606-613")
_SPITZER_2006 = ("Spitzer RL, Kroenke K, Williams JBW, Lowe B. A brief measure for assessing generalized anxiety "
                 "disorder: the GAD-7. Arch Intern Med 2006;166(10):1092-1097")
_IAPT = "IAPT / NHS Talking Therapies Manual (NHS England): reliable change PHQ-9 >= 6 points, GAD-7 >= 4 points"

PHQ9 = Instrument(
    key="phq9", name="Patient Health Questionnaire-9 (depression)", item_range=(0, 3),
    scales={"total": _items("phq9", 9)}, max_prorated=2,
    bands=((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately severe"), (20, "severe")),
    cutoff=10, reliability=0.89, reliable_change_points=6, response_reduction=0.5, remission_below=5,
    citations={
        "items": _KROENKE_2001 + ": 9 items scored 0-3, total 0-27",
        "bands": _KROENKE_2001 + ": 5, 10, 15, 20 = mild, moderate, moderately severe, severe",
        "cutoff": _KROENKE_2001 + ": a score >= 10 (sensitivity and specificity 88% for major depression)",
        "reliability": _KROENKE_2001 + ": Cronbach's alpha 0.89 (primary care); test-retest 0.84",
        "missing": "Arrieta J, et al. J Clin Psychol 2017;73(9):1076-1090, doi:10.1002/jclp.22390 (as applied by the "
                   "qscorer scoring_phq9 function): up to 2 missing items, each replaced by the mean of the answered "
                   "items (total = mean x 9); more missing items -> no score",
        "reliable_change_points": _IAPT,
        "response_remission": "Kroenke K, Spitzer RL. The PHQ-9: a new depression diagnostic and severity measure. "
                              "Psychiatr Ann 2002;32(9):509-515: response >= 50% reduction, remission < 5",
    },
)

GAD7 = Instrument(
    key="gad7", name="Generalized Anxiety Disorder-7", item_range=(0, 3),
    scales={"total": _items("gad7", 7)}, max_prorated=1,
    bands=((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe")),
    cutoff=10, reliability=0.92, reliable_change_points=4, response_reduction=0.5, remission_below=5,
    citations={
        "items": _SPITZER_2006 + ": 7 items scored 0-3, total 0-21",
        "bands": _SPITZER_2006 + ": 5, 10, 15 = mild, moderate, severe anxiety",
        "cutoff": _SPITZER_2006 + ": cut-point 10 (sensitivity 89%, specificity 82%); IAPT uses >= 8 for caseness",
        "reliability": _SPITZER_2006 + ": Cronbach's alpha 0.92; test-retest intraclass correlation 0.83",
        "missing": "iopstats convention (the GAD-7 paper gives no proration rule): 1 missing item prorated "
                   "(mean x 7), more -> no score",
        "reliable_change_points": _IAPT,
        "response_remission": "iopstats convention by analogy with the PHQ-9 (Kroenke & Spitzer 2002): "
                              ">= 50% reduction; remission = minimal band (< 5)",
    },
)

_BAM = ("Cacciola JS, Alterman AI, DePhilippis D, et al. Development and initial evaluation of the Brief Addiction "
        "Monitor (BAM). J Subst Abuse Treat 2013;44(3):256-263; BAM-R scoring guide, VA VISN 4 MIRECC")
BAM = Instrument(
    key="bam", name="Brief Addiction Monitor (BAM-R, 17 items)", item_range=(0, 4),
    scales={
        "use": ("bam_4", "bam_5", "bam_6"),
        "risk": ("bam_1", "bam_2", "bam_3", "bam_8", "bam_11", "bam_15"),
        "protective": ("bam_9", "bam_10", "bam_12", "bam_13", "bam_14", "bam_16"),
    },
    unscored=("bam_7", "bam_7a", "bam_7b", "bam_7c", "bam_7d", "bam_7e", "bam_7f", "bam_7g", "bam_17"),
    flags={"use": ("ge", 1), "risk": ("ge", 12), "protective": ("le", 12)},
    citations={
        "items": _BAM + ": 17 items, each scored 0-4 on the BAM-R (item 7A-7G elaborate item 6; item 17 satisfaction "
                 "with recovery progress); no total score",
        "scales": _BAM + ": Use = items 4+5+6 (0-12); Risk = 1+2+3+8+11+15 (0-24); Protective = "
                  "9+10+12+13+14+16 (0-24)",
        "flags": _BAM + ": clinically significant: Use >= 1, Risk >= 12, Protective <= 12",
        "missing": "iopstats convention (the BAM-R guide gives no proration rule): a subscale with any missing "
                   "item has no score",
    },
)

PCL5 = Instrument(
    key="pcl5", name="PTSD Checklist for DSM-5", item_range=(0, 4),
    scales={"total": _items("pcl5", 20)}, cutoff=33, reliability=0.94,
    citations={
        "items": "Weathers FW, Litz BT, Keane TM, et al. The PTSD Checklist for DSM-5 (PCL-5). National Center for "
                 "PTSD, 2013: 20 items scored 0-4, total 0-80",
        "cutoff": "Bovin MJ, Marx BP, Weathers FW, et al. Psychol Assess 2016;28(11):1379-1391: 31-33 optimal; "
                  "iopstats uses 33 (National Center for PTSD guidance)",
        "reliability": "Blevins CA, Weathers FW, Davis MT, et al. J Trauma Stress 2015;28(6):489-498: alpha 0.94, "
                       "test-retest 0.82",
        "missing": "iopstats convention: any missing item -> no score",
    },
)

AUDITC = Instrument(
    key="auditc", name="AUDIT-C (alcohol consumption)", item_range=(0, 4),
    scales={"total": _items("auditc", 3)}, cutoff=4,
    citations={
        "items": "Bush K, Kivlahan DR, McDonell MB, et al. The AUDIT alcohol consumption questions (AUDIT-C). "
                 "Arch Intern Med 1998;158(16):1789-1795: 3 items scored 0-4, total 0-12",
        "cutoff": "Bush et al. 1998: >= 4 positive (men); Bradley KA et al. Alcohol Clin Exp Res 2007;31(7):1208-1217: "
                  ">= 3 for women (use cutoff= in change analyses to apply it)",
        "missing": "iopstats convention: any missing item -> no score",
    },
)

DAST10 = Instrument(
    key="dast10", name="Drug Abuse Screening Test-10", item_range=(0, 1),
    scales={"total": _items("dast10", 10)}, reverse=("dast10_3",),
    bands=((0, "none reported"), (1, "low"), (3, "moderate"), (6, "substantial"), (9, "severe")),
    cutoff=3,
    citations={
        "items": "Skinner HA. The Drug Abuse Screening Test. Addict Behav 1982;7(4):363-371: 10 yes/no items "
                 "(1 = yes), item 3 ('always able to stop') reverse-scored, total 0-10",
        "bands": "Skinner 1982 / Yudko E, Lozhkina O, Fouts A. J Subst Abuse Treat 2007;32(2):189-198: 0 none, 1-2 low, "
                 "3-5 moderate, 6-8 substantial, 9-10 severe",
        "cutoff": "Yudko et al. 2007: >= 3 suggests further assessment",
        "missing": "iopstats convention: any missing item -> no score",
    },
)

RULES: dict[str, Instrument] = {r.key: r for r in (PHQ9, GAD7, BAM, PCL5, AUDITC, DAST10)}


def instrument_rules(instrument: str | None = None) -> pd.DataFrame:
    """The shipped scoring rules as a tidy table (one row per instrument and rule, with its source).

    Examples
    --------
    >>> t = instrument_rules("gad7")
    >>> t.loc[t.rule == "cutoff", "value"].item()
    '10'
    """
    rows = []
    for key, r in RULES.items():
        if instrument is not None and key != instrument:
            continue
        values = {
            "items": f"{len(r.items) - len(r.unscored)} scored items, each {r.item_range[0]}-{r.item_range[1]}",
            "scales": "; ".join(f"{k} = {' + '.join(v)}" for k, v in r.scales.items()),
            "bands": ", ".join(f">= {lo:g} {name}" for lo, name in r.bands),
            "cutoff": "" if r.cutoff is None else f"{r.cutoff:g}",
            "reliability": "" if r.reliability is None else f"{r.reliability:g}",
            "missing": f"up to {r.max_prorated} missing item(s) prorated" if r.max_prorated else "any missing -> no score",
            "reliable_change_points": "" if r.reliable_change_points is None else f"{r.reliable_change_points:g}",
            "response_remission": "" if r.response_reduction is None else
            f">= {r.response_reduction:.0%} reduction; remission < {r.remission_below:g}",
            "flags": "; ".join(f"{k} {op} {t:g}" for k, (op, t) in r.flags.items()),
        }
        for rule, value in values.items():
            if value:
                rows.append({"instrument": key, "rule": rule, "value": value, "source": r.citations.get(rule, r.citations["items"])})
    return pd.DataFrame(rows)
